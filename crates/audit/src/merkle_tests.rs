//! RFC 9162 hashing and proofs, against the reference vectors of the
//! Certificate Transparency implementations (the eight-leaf tree of
//! RFC 6962's test data, as in Go's `transparency-dev/merkle` and
//! Trillian) and against a naive recursive definition for every size up
//! to 70.

use super::*;

fn h(hex: &str) -> Hash {
    let bytes = hex::decode(hex).unwrap();
    <[u8; 32]>::try_from(bytes.as_slice()).unwrap()
}

/// The reference tree's leaf data.
fn reference_leaves() -> Vec<Vec<u8>> {
    [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
    .iter()
    .map(|x| hex::decode(x).unwrap())
    .collect()
}

/// The reference roots of the first 1..=8 leaves.
const ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// (leaf index from 0, tree size, proof).
fn reference_inclusion() -> Vec<(u64, u64, Vec<Hash>)> {
    vec![
        (
            0,
            8,
            vec![
                h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
                h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
            ],
        ),
        (
            5,
            8,
            vec![
                h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
                h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
                h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
            ],
        ),
        (
            2,
            3,
            vec![h(
                "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            )],
        ),
        (
            1,
            5,
            vec![
                h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
                h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            ],
        ),
    ]
}

/// (old size, new size, proof).
fn reference_consistency() -> Vec<(u64, u64, Vec<Hash>)> {
    vec![
        (1, 1, vec![]),
        (
            1,
            8,
            vec![
                h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
                h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
            ],
        ),
        (
            6,
            8,
            vec![
                h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
                h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
                h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
            ],
        ),
        (
            2,
            5,
            vec![
                h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            ],
        ),
    ]
}

/// A tree built leaf by leaf, with every node it completed stored.
fn build(leaves: &[Hash]) -> (TreeBuilder, Nodes) {
    let mut tree = TreeBuilder::new();
    let mut nodes = Nodes::new();
    for leaf in leaves {
        for (id, hash) in tree.push(*leaf) {
            nodes.insert(id, hash);
        }
    }
    (tree, nodes)
}

/// RFC 9162's MTH, as written there.
fn naive_root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n as u64) as usize;
            node_hash(&naive_root(&leaves[..k]), &naive_root(&leaves[k..]))
        }
    }
}

fn numbered(n: usize) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(&(i as u64).to_be_bytes()))
        .collect()
}

#[test]
fn the_empty_tree_and_a_leaf_hash_as_rfc_9162() {
    assert_eq!(
        empty_root(),
        h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    );
    assert_eq!(TreeBuilder::new().root(), empty_root());
    assert_eq!(leaf_hash(b""), h(ROOTS[0]));
}

#[test]
fn roots_match_the_reference_for_every_size() {
    let leaves: Vec<Hash> = reference_leaves().iter().map(|d| leaf_hash(d)).collect();
    for size in 1..=8 {
        let (tree, nodes) = build(&leaves[..size]);
        assert_eq!(tree.root(), h(ROOTS[size - 1]), "size {size}");
        assert_eq!(
            root_from_nodes(size as u64, &nodes).unwrap(),
            h(ROOTS[size - 1])
        );
    }
}

#[test]
fn inclusion_proofs_match_the_reference_and_verify() {
    let leaves: Vec<Hash> = reference_leaves().iter().map(|d| leaf_hash(d)).collect();
    let (_, nodes) = build(&leaves);
    for (index, size, expected) in reference_inclusion() {
        let made = inclusion_proof(index, size, &nodes).unwrap();
        assert_eq!(made, expected, "leaf {index} of {size}");
        let root = h(ROOTS[size as usize - 1]);
        assert!(verify_inclusion(
            index,
            size,
            &leaves[index as usize],
            &expected,
            &root
        ));
    }
}

#[test]
fn consistency_proofs_match_the_reference_and_verify() {
    let leaves: Vec<Hash> = reference_leaves().iter().map(|d| leaf_hash(d)).collect();
    let (_, nodes) = build(&leaves);
    for (old, new, expected) in reference_consistency() {
        let made = consistency_proof(old, new, &nodes).unwrap();
        assert_eq!(made, expected, "{old} -> {new}");
        let (a, b) = (h(ROOTS[old as usize - 1]), h(ROOTS[new as usize - 1]));
        assert!(verify_consistency(old, new, &a, &b, &expected));
    }
}

#[test]
fn every_proof_of_every_size_up_to_70_verifies_and_no_corruption_does() {
    let leaves = numbered(70);
    let (_, nodes) = build(&leaves);
    let bad = leaf_hash(b"not in the tree");
    for size in 1..=70u64 {
        let root = naive_root(&leaves[..size as usize]);
        assert_eq!(root_from_nodes(size, &nodes).unwrap(), root);
        for index in 0..size {
            let leaf = leaves[index as usize];
            let proof = inclusion_proof(index, size, &nodes).unwrap();
            assert!(verify_inclusion(index, size, &leaf, &proof, &root));
            assert!(!verify_inclusion(index, size, &bad, &proof, &root));
            assert!(!verify_inclusion(index, size * 2, &leaf, &proof, &root));
            if size > 1 {
                assert!(!verify_inclusion(
                    (index + 1) % size,
                    size,
                    &leaf,
                    &proof,
                    &root
                ));
            }
            for i in 0..proof.len() {
                let mut flipped = proof.clone();
                flipped[i][0] ^= 8;
                assert!(!verify_inclusion(index, size, &leaf, &flipped, &root));
            }
            let mut longer = proof.clone();
            longer.push(root);
            assert!(!verify_inclusion(index, size, &leaf, &longer, &root));
        }
        for old in 1..=size {
            let old_root = naive_root(&leaves[..old as usize]);
            let proof = consistency_proof(old, size, &nodes).unwrap();
            assert!(
                verify_consistency(old, size, &old_root, &root, &proof),
                "{old} -> {size}"
            );
            if old < size {
                assert!(!verify_consistency(old, size, &bad, &root, &proof));
                assert!(!verify_consistency(old, size, &old_root, &bad, &proof));
                assert!(!verify_consistency(old, size, &old_root, &root, &[]));
                for i in 0..proof.len() {
                    let mut flipped = proof.clone();
                    flipped[i][0] ^= 16;
                    assert!(!verify_consistency(old, size, &old_root, &root, &flipped));
                }
            }
        }
    }
}

#[test]
fn proofs_name_what_they_cannot_be_made_from() {
    let (_, nodes) = build(&numbered(5));
    assert_eq!(
        inclusion_proof(5, 5, &nodes),
        Err(ProofError::LeafOutOfRange)
    );
    assert_eq!(consistency_proof(0, 5, &nodes), Err(ProofError::BadSizes));
    assert_eq!(consistency_proof(6, 5, &nodes), Err(ProofError::BadSizes));
    assert!(matches!(
        inclusion_proof(0, 8, &nodes),
        Err(ProofError::Missing(_))
    ));
    assert_eq!(inclusion_nodes(5, 5), Err(ProofError::LeafOutOfRange));
}

#[test]
fn a_tree_resumed_from_its_frontier_grows_as_if_never_stopped() {
    let leaves = numbered(45);
    let (whole, _) = build(&leaves);
    let (part, nodes) = build(&leaves[..29]);
    let frontier: Vec<Hash> = root_nodes(29).iter().map(|id| nodes[id]).collect();
    let mut resumed = TreeBuilder::resume(29, frontier).unwrap();
    assert_eq!(resumed.root(), part.root());
    for leaf in &leaves[29..] {
        resumed.push(*leaf);
    }
    assert_eq!(resumed, whole);
    assert!(TreeBuilder::resume(29, vec![]).is_none());
}

#[test]
fn the_nodes_named_are_the_nodes_used() {
    let leaves = numbered(70);
    let (_, all) = build(&leaves);
    for size in [1u64, 2, 7, 33, 64, 70] {
        for index in [0, size / 2, size - 1] {
            let needed: Nodes = inclusion_nodes(index, size)
                .unwrap()
                .into_iter()
                .map(|id| (id, all[&id]))
                .collect();
            assert_eq!(
                inclusion_proof(index, size, &needed).unwrap(),
                inclusion_proof(index, size, &all).unwrap()
            );
        }
        for old in [1, size / 2 + 1, size] {
            let needed: Nodes = consistency_nodes(old, size)
                .unwrap()
                .into_iter()
                .map(|id| (id, all[&id]))
                .collect();
            assert_eq!(
                consistency_proof(old, size, &needed).unwrap(),
                consistency_proof(old, size, &all).unwrap()
            );
        }
    }
}
