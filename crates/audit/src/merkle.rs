//! The audit log as a Merkle tree, hashed as RFC 9162 §2.1 (Certificate
//! Transparency 2.0) hashes it: a leaf is `SHA-256(0x00 || data)`, an
//! interior node `SHA-256(0x01 || left || right)`, and a tree of `n`
//! leaves splits at the largest power of two below `n`.
//!
//! Leaf `i` (from 0) is the event with sequence number `i + 1`; its data
//! are the event's canonical bytes ([`crate::canonical`]), the same bytes
//! the hash chain hashes, so an auditor holding an exported line can
//! recompute its leaf.
//!
//! Sans-IO and two-phase: a proof needs the hashes of a few complete
//! subtrees (a node at `level` and `index` covers leaves
//! `[index << level, (index + 1) << level)`), which the caller reads from
//! wherever it keeps them. [`inclusion_nodes`] / [`consistency_nodes`]
//! name the nodes; [`inclusion_proof`] / [`consistency_proof`] build the
//! proof from them. Verification ([`verify_inclusion`],
//! [`verify_consistency`]) needs nothing but the proof and the roots.

use std::collections::HashMap;

use aws_lc_rs::digest;

/// A SHA-256 value.
pub type Hash = [u8; 32];

/// A complete subtree's position: `(level, index)`, covering leaves
/// `[index << level, (index + 1) << level)`.
pub type NodeId = (u32, u64);

/// The hashes of complete subtrees a proof is built from.
pub type Nodes = HashMap<NodeId, Hash>;

fn sha256(parts: &[&[u8]]) -> Hash {
    let mut ctx = digest::Context::new(&digest::SHA256);
    for p in parts {
        ctx.update(p);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// The hash of a leaf holding `data`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    sha256(&[&[0x00], data])
}

/// The hash of an interior node over `left` and `right`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    sha256(&[&[0x01], left, right])
}

/// The root of the empty tree: SHA-256 of nothing.
pub fn empty_root() -> Hash {
    sha256(&[])
}

/// The largest power of two smaller than `n` (`n` ≥ 2): where a tree of
/// `n` leaves splits.
fn split(n: u64) -> u64 {
    let below = n.saturating_sub(1);
    if below == 0 {
        return 0;
    }
    1u64 << (63 - below.leading_zeros())
}

/// The complete subtrees whose roots, folded right to left, make the root
/// of leaves `[start, end)`, left to right. `start` must be a multiple of
/// the largest power of two not above `end - start` (true of every range
/// RFC 9162's recursions produce, and of `[0, n)`).
fn range_nodes(start: u64, end: u64, out: &mut Vec<NodeId>) {
    let mut a = start;
    while a < end {
        let n = end - a;
        let width = if n.is_power_of_two() { n } else { split(n) };
        let level = width.trailing_zeros();
        out.push((level, a >> level));
        a += width;
    }
}

/// The root of leaves `[start, end)` from the stored complete subtrees.
fn range_hash(start: u64, end: u64, nodes: &Nodes) -> Result<Hash, MissingNode> {
    let mut ids = Vec::new();
    range_nodes(start, end, &mut ids);
    let hashes: Vec<Hash> = ids
        .iter()
        .map(|id| nodes.get(id).copied().ok_or(MissingNode(*id)))
        .collect::<Result<_, _>>()?;
    let mut acc: Option<Hash> = None;
    // Fold from the right: the last (smallest) subtree is the deepest.
    for h in hashes.iter().rev() {
        acc = Some(match acc {
            None => *h,
            Some(right) => node_hash(h, &right),
        });
    }
    Ok(acc.unwrap_or_else(empty_root))
}

/// A node a proof needed was not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingNode(pub NodeId);

impl std::fmt::Display for MissingNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the tree lacks the node at level {} index {}",
            self.0 .0, self.0 .1
        )
    }
}

impl std::error::Error for MissingNode {}

/// The ranges whose roots make the inclusion proof of leaf `m` in leaves
/// `[start, end)`, in proof order (RFC 9162 §2.1.3.1 PATH).
fn path_ranges(m: u64, start: u64, end: u64, out: &mut Vec<(u64, u64)>) {
    let n = end - start;
    if n <= 1 {
        return;
    }
    let k = split(n);
    if m < k {
        path_ranges(m, start, start + k, out);
        out.push((start + k, end));
    } else {
        path_ranges(m - k, start + k, end, out);
        out.push((start, start + k));
    }
}

/// The ranges of RFC 9162 §2.1.4.1 SUBPROOF(m, D[start:end], b).
fn subproof_ranges(m: u64, start: u64, end: u64, whole: bool, out: &mut Vec<(u64, u64)>) {
    let n = end - start;
    if m == n {
        if !whole {
            out.push((start, end));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof_ranges(m, start, start + k, whole, out);
        out.push((start + k, end));
    } else {
        subproof_ranges(m - k, start + k, end, false, out);
        out.push((start, start + k));
    }
}

fn nodes_of(ranges: &[(u64, u64)]) -> Vec<NodeId> {
    let mut out = Vec::new();
    for (a, b) in ranges {
        range_nodes(*a, *b, &mut out);
    }
    out
}

/// Why a proof cannot be made for these sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProofError {
    /// The leaf is not in a tree of that size.
    LeafOutOfRange,
    /// Consistency needs `0 < old <= new`.
    BadSizes,
    /// A node the proof needs was not given.
    Missing(MissingNode),
}

impl From<MissingNode> for ProofError {
    fn from(m: MissingNode) -> Self {
        ProofError::Missing(m)
    }
}

impl std::fmt::Display for ProofError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProofError::LeafOutOfRange => write!(f, "the leaf is not in a tree of that size"),
            ProofError::BadSizes => write!(f, "a consistency proof needs 0 < old size <= new size"),
            ProofError::Missing(m) => m.fmt(f),
        }
    }
}

impl std::error::Error for ProofError {}

/// The complete subtrees [`inclusion_proof`] needs for leaf `index` in a
/// tree of `size` leaves.
pub fn inclusion_nodes(index: u64, size: u64) -> Result<Vec<NodeId>, ProofError> {
    if index >= size {
        return Err(ProofError::LeafOutOfRange);
    }
    let mut ranges = Vec::new();
    path_ranges(index, 0, size, &mut ranges);
    Ok(nodes_of(&ranges))
}

/// The inclusion proof (audit path) of leaf `index` in a tree of `size`
/// leaves, from the nodes [`inclusion_nodes`] named.
pub fn inclusion_proof(index: u64, size: u64, nodes: &Nodes) -> Result<Vec<Hash>, ProofError> {
    if index >= size {
        return Err(ProofError::LeafOutOfRange);
    }
    let mut ranges = Vec::new();
    path_ranges(index, 0, size, &mut ranges);
    ranges
        .iter()
        .map(|(a, b)| range_hash(*a, *b, nodes).map_err(ProofError::from))
        .collect()
}

/// The complete subtrees [`consistency_proof`] needs between sizes `old`
/// and `new`.
pub fn consistency_nodes(old: u64, new: u64) -> Result<Vec<NodeId>, ProofError> {
    if old == 0 || old > new {
        return Err(ProofError::BadSizes);
    }
    let mut ranges = Vec::new();
    subproof_ranges(old, 0, new, true, &mut ranges);
    Ok(nodes_of(&ranges))
}

/// The consistency proof that the tree of `new` leaves extends the tree
/// of its first `old` leaves, from the nodes [`consistency_nodes`] named.
/// Empty when the sizes are equal.
pub fn consistency_proof(old: u64, new: u64, nodes: &Nodes) -> Result<Vec<Hash>, ProofError> {
    if old == 0 || old > new {
        return Err(ProofError::BadSizes);
    }
    let mut ranges = Vec::new();
    subproof_ranges(old, 0, new, true, &mut ranges);
    ranges
        .iter()
        .map(|(a, b)| range_hash(*a, *b, nodes).map_err(ProofError::from))
        .collect()
}

/// The nodes that make the root of a tree of `size` leaves.
pub fn root_nodes(size: u64) -> Vec<NodeId> {
    let mut out = Vec::new();
    range_nodes(0, size, &mut out);
    out
}

/// The root of a tree of `size` leaves from the nodes [`root_nodes`]
/// named.
pub fn root_from_nodes(size: u64, nodes: &Nodes) -> Result<Hash, MissingNode> {
    range_hash(0, size, nodes)
}

/// Checks that `leaf` is leaf `index` of the tree of `size` leaves whose
/// root is `root` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    sn == 0 && &r == root
}

/// Checks that the tree of `new` leaves with root `new_root` extends the
/// tree of `old` leaves with root `old_root` (RFC 9162 §2.1.4.2). Equal
/// sizes need an empty proof and equal roots.
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> bool {
    if old > new {
        return false;
    }
    if old == 0 {
        // Every tree extends the empty one.
        return proof.is_empty();
    }
    if old == new {
        return proof.is_empty() && old_root == new_root;
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let (mut fn_, mut sn) = (old - 1, new - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    &fr == old_root && &sr == new_root && sn == 0
}

/// Builds the tree a leaf at a time, keeping only the roots of its
/// complete subtrees (one per set bit of the size): the root of a log of
/// any length in O(log n) memory, and the nodes each new leaf completes,
/// to store for proofs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeBuilder {
    size: u64,
    /// Roots of the complete subtrees, largest (leftmost) first.
    frontier: Vec<Hash>,
}

impl TreeBuilder {
    /// The empty tree.
    pub fn new() -> Self {
        TreeBuilder::default()
    }

    /// A tree of `size` leaves resumed from the roots of its complete
    /// subtrees, largest first ([`root_nodes`] names them); `None` when
    /// their number does not fit the size.
    pub fn resume(size: u64, frontier: Vec<Hash>) -> Option<Self> {
        (frontier.len() == size.count_ones() as usize).then_some(TreeBuilder { size, frontier })
    }

    /// Leaves so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Adds a leaf hash; returns the complete subtrees it completed,
    /// itself (level 0) first.
    pub fn push(&mut self, leaf: Hash) -> Vec<(NodeId, Hash)> {
        let index = self.size;
        let mut made = vec![((0, index), leaf)];
        let mut hash = leaf;
        let mut level = 0u32;
        // Each trailing 1 bit of the old size is a subtree of the same
        // size as the new one: merge them.
        while (index >> level) & 1 == 1 {
            let Some(left) = self.frontier.pop() else {
                break;
            };
            hash = node_hash(&left, &hash);
            level += 1;
            made.push(((level, index >> level), hash));
        }
        self.frontier.push(hash);
        self.size += 1;
        made
    }

    /// The root of the tree so far.
    pub fn root(&self) -> Hash {
        let mut acc: Option<Hash> = None;
        for h in self.frontier.iter().rev() {
            acc = Some(match acc {
                None => *h,
                Some(right) => node_hash(h, &right),
            });
        }
        acc.unwrap_or_else(empty_root)
    }
}

#[cfg(test)]
#[path = "merkle_tests.rs"]
mod tests;
