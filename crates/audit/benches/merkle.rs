//! The Merkle tree at the size issue 19 names: inclusion proofs in a
//! tree of 1,000,000 leaves (goal: under 1 ms to verify each),
//! consistency proofs between two large sizes, and building the tree a
//! leaf at a time (what the sealer and `audit verify` do per event).
//!
//! `cargo bench -p keybound-audit --bench merkle`
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::collections::HashSet;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use keybound_audit::merkle::{self, Hash, Nodes, TreeBuilder};

const SIZE: u64 = 1_000_000;
/// Proofs sampled, spread over the tree.
const SAMPLES: u64 = 1000;

fn leaf(i: u64) -> Hash {
    merkle::leaf_hash(&i.to_be_bytes())
}

/// Builds the tree of `SIZE` leaves keeping only the nodes the sampled
/// proofs need (the rest would be 2,000,000 hashes for nothing).
/// A leaf index, its hash and its inclusion proof.
type Sample = (u64, Hash, Vec<Hash>);

fn setup() -> (Hash, Hash, Vec<Sample>, Vec<Hash>) {
    let indices: Vec<u64> = (0..SAMPLES).map(|k| (k * 7919 * 127) % SIZE).collect();
    let old = SIZE - 12_345;
    let mut wanted: HashSet<_> = indices
        .iter()
        .flat_map(|&i| merkle::inclusion_nodes(i, SIZE).unwrap())
        .collect();
    wanted.extend(merkle::consistency_nodes(old, SIZE).unwrap());
    let mut nodes = Nodes::new();
    let mut tree = TreeBuilder::new();
    let mut old_root = [0; 32];
    for i in 0..SIZE {
        for (id, h) in tree.push(leaf(i)) {
            if wanted.contains(&id) {
                nodes.insert(id, h);
            }
        }
        if tree.size() == old {
            old_root = tree.root();
        }
    }
    let root = tree.root();
    let proofs = indices
        .iter()
        .map(|&i| {
            (
                i,
                leaf(i),
                merkle::inclusion_proof(i, SIZE, &nodes).unwrap(),
            )
        })
        .collect();
    let consistency = merkle::consistency_proof(old, SIZE, &nodes).unwrap();
    (root, old_root, proofs, consistency)
}

fn benches(c: &mut Criterion) {
    let (root, old_root, proofs, consistency) = setup();
    for (i, l, p) in &proofs {
        assert!(merkle::verify_inclusion(*i, SIZE, l, p, &root));
    }
    let mut k = 0usize;
    c.bench_function("verify_inclusion, 1,000,000 leaves", |b| {
        b.iter(|| {
            let (i, l, p) = &proofs[k % proofs.len()];
            k += 1;
            assert!(merkle::verify_inclusion(
                black_box(*i),
                SIZE,
                black_box(l),
                black_box(p),
                &root
            ));
        })
    });
    c.bench_function("verify_consistency, 987,655 -> 1,000,000 leaves", |b| {
        b.iter(|| {
            assert!(merkle::verify_consistency(
                SIZE - 12_345,
                SIZE,
                black_box(&old_root),
                &root,
                black_box(&consistency)
            ))
        })
    });
    let leaves: Vec<Hash> = (0..10_000).map(leaf).collect();
    c.bench_function("TreeBuilder: 10,000 leaves pushed, root", |b| {
        b.iter(|| {
            let mut t = TreeBuilder::new();
            for l in &leaves {
                black_box(t.push(*l));
            }
            black_box(t.root())
        })
    });
    c.bench_function("TreeBuilder: root of a 1,000,000-leaf frontier", |b| {
        let mut t = TreeBuilder::new();
        for i in 0..SIZE {
            t.push(leaf(i));
        }
        b.iter(|| black_box(t.root()))
    });
}

/// What tagging costs an event (`keybound_audit::mac`): one HMAC to write
/// it and one to check it, beside the yardstick of one raw aws-lc-rs
/// Ed25519 verification.
fn tag_benches(c: &mut Criterion) {
    use aws_lc_rs::signature::{self, Ed25519KeyPair, KeyPair};
    let key = keybound_audit::mac::EventMac::derive(&[7; 32]);
    let hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    let tag = key.tag(123_456, hash);
    c.bench_function("event tag: tag one event", |b| {
        b.iter(|| black_box(key.tag(black_box(123_456), black_box(hash))))
    });
    c.bench_function("event tag: verify one event's tag", |b| {
        b.iter(|| assert!(key.verify(black_box(123_456), black_box(hash), black_box(&tag))))
    });
    let pair = Ed25519KeyPair::from_seed_unchecked(&[9; 32]).unwrap();
    let message = [7u8; 128];
    let sig = pair.sign(&message);
    let public =
        signature::UnparsedPublicKey::new(&signature::ED25519, pair.public_key().as_ref().to_vec());
    c.bench_function("yardstick: aws-lc-rs Ed25519 verify", |b| {
        b.iter(|| {
            public
                .verify(black_box(&message), black_box(sig.as_ref()))
                .unwrap()
        })
    });
}

criterion_group! {
    name = merkle_benches;
    config = Criterion::default().sample_size(30);
    targets = benches, tag_benches
}
criterion_main!(merkle_benches);
