//! The TPM key derivation functions (TPM 2.0 Part 1 §11.4.10), SHA-256
//! only.

use crate::crypto::{hmac_sha256, sha256};

/// KDFa (Part 1 §11.4.10.2): SP 800-108 counter mode with HMAC-SHA-256.
/// `K(i) = HMAC(key, [i]32 || label || 0x00 || context_u || context_v ||
/// [bits]32)`, concatenated and cut to `bits / 8` bytes.
pub(crate) fn kdfa(
    key: &[u8],
    label: &[u8],
    context_u: &[u8],
    context_v: &[u8],
    bytes: usize,
) -> Vec<u8> {
    let bits = u32::try_from(bytes.saturating_mul(8)).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(bytes + 32);
    let mut counter: u32 = 1;
    while out.len() < bytes {
        out.extend_from_slice(&hmac_sha256(
            key,
            &[
                &counter.to_be_bytes(),
                label,
                &[0],
                context_u,
                context_v,
                &bits.to_be_bytes(),
            ],
        ));
        counter = counter.wrapping_add(1);
    }
    out.truncate(bytes);
    out
}

/// KDFe (Part 1 §11.4.10.3): SP 800-56A concatenation with SHA-256.
/// `H([i]32 || Z || label || 0x00 || party_u || party_v)`, concatenated and
/// cut to `bytes`.
pub(crate) fn kdfe(
    z: &[u8],
    label: &[u8],
    party_u: &[u8],
    party_v: &[u8],
    bytes: usize,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes + 32);
    let mut counter: u32 = 1;
    while out.len() < bytes {
        let mut input =
            Vec::with_capacity(4 + z.len() + label.len() + 1 + party_u.len() + party_v.len());
        input.extend_from_slice(&counter.to_be_bytes());
        input.extend_from_slice(z);
        input.extend_from_slice(label);
        input.push(0);
        input.extend_from_slice(party_u);
        input.extend_from_slice(party_v);
        out.extend_from_slice(&sha256(&input));
        counter = counter.wrapping_add(1);
    }
    out.truncate(bytes);
    out
}
