//! Quotes: `TPMS_ATTEST` (TPM 2.0 Part 2 §10.12.12) of type
//! `TPM_ST_ATTEST_QUOTE` and the AK's `TPMT_SIGNATURE` (§11.3.4) over it.
//!
//! A restricted signing key signs only digests of structures that start
//! with `TPM_GENERATED_VALUE` when the TPM made them, so a verified quote
//! with our nonce in `extraData` proves the AK's TPM answered now.

use crate::alg::*;
use crate::crypto;
use crate::marshal::Reader;
use crate::public::{Public, PublicKey};
use crate::Error;

/// Largest `TPMS_ATTEST` accepted (`TPM2B_ATTEST` holds at most ~1 KiB).
pub const MAX_ATTEST_LEN: usize = 2048;
/// Largest `TPMT_SIGNATURE` accepted (RSA 4096: 518 bytes).
pub const MAX_SIGNATURE_LEN: usize = 1024;
/// `TPML_PCR_SELECTION` holds at most one entry per bank.
const MAX_PCR_BANKS: u32 = 16;
/// A `pcrSelect` bitmap is at most 4 bytes on TPMs with 32 PCRs.
const MAX_PCR_SELECT: u8 = 8;

/// A verified quote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    /// `clockInfo.clock`: ms the TPM has been powered (informational).
    pub clock: u64,
    /// `clockInfo.resetCount`.
    pub reset_count: u32,
    /// `clockInfo.restartCount`.
    pub restart_count: u32,
    /// `firmwareVersion`.
    pub firmware_version: u64,
    /// `attested.quote.pcrSelect`: `(hash algorithm, bitmap)` per bank.
    pub pcr_selection: Vec<(u16, Vec<u8>)>,
    /// `attested.quote.pcrDigest`.
    pub pcr_digest: Vec<u8>,
}

/// Verifies a quote made by `ak` over `expected_nonce`: the signature
/// (ECDSA P-256 / SHA-256 for an ECC AK, RSASSA-PKCS1-v1_5 / SHA-256 for
/// an RSA AK) over `attest`, then magic, type and `extraData` (constant
/// time). The AK's attributes are the caller's to check
/// ([`crate::check_ak_policy`]) before trusting it.
///
/// # Errors
/// [`Error::MalformedAttest`], [`Error::MalformedSignature`],
/// [`Error::QuoteSignatureAlgorithm`], [`Error::QuoteSignatureInvalid`],
/// [`Error::QuoteNotTpmGenerated`], [`Error::QuoteWrongType`],
/// [`Error::QuoteNonceMismatch`].
pub fn verify_quote(
    ak: &Public,
    attest: &[u8],
    signature: &[u8],
    expected_nonce: &[u8],
) -> Result<Quote, Error> {
    if attest.len() > MAX_ATTEST_LEN {
        return Err(Error::MalformedAttest);
    }
    verify_signature(ak, attest, signature)?;

    let m = Error::MalformedAttest;
    let mut r = Reader::new(attest);
    let magic = r.u32().ok_or(m)?;
    let kind = r.u16().ok_or(m)?;
    let _qualified_signer = r.sized(66).ok_or(m)?;
    let extra_data = r.sized(64).ok_or(m)?;
    let clock = r.u64().ok_or(m)?;
    let reset_count = r.u32().ok_or(m)?;
    let restart_count = r.u32().ok_or(m)?;
    let _safe = r.u8().ok_or(m)?;
    let firmware_version = r.u64().ok_or(m)?;
    if magic != TPM_GENERATED_VALUE {
        return Err(Error::QuoteNotTpmGenerated);
    }
    if kind != TPM_ST_ATTEST_QUOTE {
        return Err(Error::QuoteWrongType);
    }
    let count = r.u32().ok_or(m)?;
    if count > MAX_PCR_BANKS {
        return Err(m);
    }
    let mut pcr_selection = Vec::new();
    for _ in 0..count {
        let hash = r.u16().ok_or(m)?;
        let size = r.u8().ok_or(m)?;
        if size > MAX_PCR_SELECT {
            return Err(m);
        }
        pcr_selection.push((hash, r.take(usize::from(size)).ok_or(m)?.to_vec()));
    }
    let pcr_digest = r.sized(64).ok_or(m)?.to_vec();
    r.finish().ok_or(m)?;
    if !crypto::ct_eq(extra_data, expected_nonce) {
        return Err(Error::QuoteNonceMismatch);
    }
    Ok(Quote {
        clock,
        reset_count,
        restart_count,
        firmware_version,
        pcr_selection,
        pcr_digest,
    })
}

/// Parses `TPMT_SIGNATURE` and verifies it over `message` with `ak`.
fn verify_signature(ak: &Public, message: &[u8], signature: &[u8]) -> Result<(), Error> {
    if signature.len() > MAX_SIGNATURE_LEN {
        return Err(Error::MalformedSignature);
    }
    let m = Error::MalformedSignature;
    let mut r = Reader::new(signature);
    let scheme = r.u16().ok_or(m)?;
    let hash = r.u16().ok_or(m)?;
    let ok = match (scheme, ak.key()) {
        (TPM_ALG_ECDSA, key @ PublicKey::EccP256 { .. }) => {
            let sr = r.sized(32).ok_or(m)?;
            let ss = r.sized(32).ok_or(m)?;
            r.finish().ok_or(m)?;
            if hash != TPM_ALG_SHA256 {
                return Err(Error::QuoteSignatureAlgorithm);
            }
            let mut rs = [0u8; 64];
            let (rr, rs_) = rs.split_at_mut(32);
            rr.get_mut(32 - sr.len()..).ok_or(m)?.copy_from_slice(sr);
            rs_.get_mut(32 - ss.len()..).ok_or(m)?.copy_from_slice(ss);
            let point = key.ec_point().ok_or(Error::Crypto)?;
            crypto::verify_ecdsa_p256_sha256(&point, message, &rs)
        }
        (TPM_ALG_RSASSA, PublicKey::Rsa { modulus, exponent }) => {
            let sig = r.sized(512).ok_or(m)?;
            r.finish().ok_or(m)?;
            if hash != TPM_ALG_SHA256 {
                return Err(Error::QuoteSignatureAlgorithm);
            }
            crypto::verify_rsassa_sha256(modulus, *exponent, message, sig)
        }
        _ => return Err(Error::QuoteSignatureAlgorithm),
    };
    if ok {
        Ok(())
    } else {
        Err(Error::QuoteSignatureInvalid)
    }
}

/// The nonce a node's quote must carry: `SHA-256(secret ||
/// node_key_thumbprint)`, where `secret` is what `ActivateCredential`
/// released and `node_key_thumbprint` the raw 32-byte RFC 7638 SHA-256
/// thumbprint of the node key's JWK. It binds the node key to this TPM's
/// AK and makes the quote fresh (the secret is new for every attempt).
pub fn quote_nonce(secret: &[u8], node_key_thumbprint: &[u8]) -> [u8; 32] {
    let mut input = Vec::with_capacity(secret.len() + node_key_thumbprint.len());
    input.extend_from_slice(secret);
    input.extend_from_slice(node_key_thumbprint);
    crypto::sha256(&input)
}
