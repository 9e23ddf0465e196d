//! `TPMT_PUBLIC` (TPM 2.0 Part 2 §12.2.4): the public area of a TPM
//! object, and its Name (Part 1 §16: `nameAlg || H_nameAlg(TPMT_PUBLIC)`).
//!
//! Only what node attestation needs parses: RSA 2048-4096 and ECC P-256
//! keys with `nameAlg` SHA-256. Everything else is
//! [`Error::UnsupportedKey`]; truncated, oversized or trailing input is
//! [`Error::MalformedPublic`].

use crate::alg::*;
use crate::crypto;
use crate::marshal::Reader;
use crate::Error;

/// Largest `TPM2B_PUBLIC` accepted (a 4096-bit RSA area is about 600 bytes).
pub const MAX_PUBLIC_LEN: usize = 2048;
/// Largest `authPolicy` digest (SHA-512).
const MAX_POLICY_LEN: usize = 64;
/// Largest RSA modulus (4096 bits).
const MAX_RSA_LEN: usize = 512;

/// `TPMA_OBJECT` (Part 2 §8.3): what the TPM lets one do with the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectAttributes(pub u32);

impl ObjectAttributes {
    /// The hierarchy of the object may not change (it cannot leave the TPM).
    pub const FIXED_TPM: u32 = 1 << 1;
    /// The parent of the object may not change.
    pub const FIXED_PARENT: u32 = 1 << 4;
    /// The TPM generated the sensitive part (never seen outside).
    pub const SENSITIVE_DATA_ORIGIN: u32 = 1 << 5;
    /// Authorisation with the auth value is allowed.
    pub const USER_WITH_AUTH: u32 = 1 << 6;
    /// Admin role actions need a policy session.
    pub const ADMIN_WITH_POLICY: u32 = 1 << 7;
    /// Restricted: signs only TPM-made structures / decrypts only TPM formats.
    pub const RESTRICTED: u32 = 1 << 16;
    /// A decryption (or storage) key.
    pub const DECRYPT: u32 = 1 << 17;
    /// A signing key.
    pub const SIGN: u32 = 1 << 18;

    /// Whether every bit of `mask` is set.
    pub fn has(self, mask: u32) -> bool {
        self.0 & mask == mask
    }
}

/// The key of a public area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// RSA: modulus (big-endian, as the TPM gives it) and exponent (0 in
    /// the structure means 65537 and is reported as 65537).
    Rsa {
        /// `unique.rsa`.
        modulus: Vec<u8>,
        /// `parameters.rsaDetail.exponent`.
        exponent: u32,
    },
    /// ECC P-256: the point's coordinates, 32 bytes each.
    EccP256 {
        /// `unique.ecc.x`, left-padded to 32 bytes.
        x: [u8; 32],
        /// `unique.ecc.y`, left-padded to 32 bytes.
        y: [u8; 32],
    },
}

impl PublicKey {
    /// The uncompressed SEC1 point (`04 || x || y`) of an ECC key.
    pub fn ec_point(&self) -> Option<[u8; 65]> {
        match self {
            PublicKey::EccP256 { x, y } => {
                let mut p = [4u8; 65];
                let (px, py) = p.split_at_mut(33);
                px.get_mut(1..)?.copy_from_slice(x);
                py.copy_from_slice(y);
                Some(p)
            }
            PublicKey::Rsa { .. } => None,
        }
    }
}

/// `TPMT_SYM_DEF_OBJECT` of a storage key: the only one accepted for an EK
/// is AES-128-CFB (the TCG EK templates).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Symmetric {
    /// `algorithm` (`TPM_ALG_AES` = 0x0006).
    pub algorithm: u16,
    /// `keyBits`.
    pub key_bits: u16,
    /// `mode` (`TPM_ALG_CFB` = 0x0043).
    pub mode: u16,
}

/// A parsed `TPMT_PUBLIC`, with the bytes its Name is computed over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Public {
    tpmt: Vec<u8>,
    attributes: ObjectAttributes,
    symmetric: Option<Symmetric>,
    key: PublicKey,
}

impl Public {
    /// Parses a `TPM2B_PUBLIC` (u16 size, then `TPMT_PUBLIC`), as
    /// `tpm2_createek -u` / `tpm2_createak -u` write it.
    ///
    /// # Errors
    /// [`Error::MalformedPublic`], [`Error::UnsupportedKey`].
    pub fn from_tpm2b(bytes: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(bytes);
        let inner = r.sized(MAX_PUBLIC_LEN).ok_or(Error::MalformedPublic)?;
        r.finish().ok_or(Error::MalformedPublic)?;
        Self::from_tpmt(inner)
    }

    /// Parses a bare `TPMT_PUBLIC`.
    ///
    /// # Errors
    /// [`Error::MalformedPublic`], [`Error::UnsupportedKey`].
    pub fn from_tpmt(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() > MAX_PUBLIC_LEN {
            return Err(Error::MalformedPublic);
        }
        let m = Error::MalformedPublic;
        let mut r = Reader::new(bytes);
        let kind = r.u16().ok_or(m)?;
        let name_alg = r.u16().ok_or(m)?;
        let attributes = ObjectAttributes(r.u32().ok_or(m)?);
        let _auth_policy = r.sized(MAX_POLICY_LEN).ok_or(m)?;
        let symmetric = match r.u16().ok_or(m)? {
            TPM_ALG_NULL => None,
            algorithm => Some(Symmetric {
                algorithm,
                key_bits: r.u16().ok_or(m)?,
                mode: r.u16().ok_or(m)?,
            }),
        };
        let key = match kind {
            TPM_ALG_RSA => {
                scheme(&mut r).ok_or(m)?;
                let key_bits = r.u16().ok_or(m)?;
                let exponent = match r.u32().ok_or(m)? {
                    0 => 65_537,
                    e => e,
                };
                let modulus = r.sized(MAX_RSA_LEN).ok_or(m)?;
                if !(2048..=4096).contains(&key_bits) || key_bits % 8 != 0 {
                    return Err(Error::UnsupportedKey);
                }
                if modulus.len() != usize::from(key_bits / 8) {
                    return Err(m);
                }
                PublicKey::Rsa {
                    modulus: modulus.to_vec(),
                    exponent,
                }
            }
            TPM_ALG_ECC => {
                scheme(&mut r).ok_or(m)?;
                let curve = r.u16().ok_or(m)?;
                // TPMT_KDF_SCHEME: a scheme, then its hash unless NULL.
                if r.u16().ok_or(m)? != TPM_ALG_NULL {
                    r.u16().ok_or(m)?;
                }
                let x = r.sized(66).ok_or(m)?;
                let y = r.sized(66).ok_or(m)?;
                if curve != TPM_ECC_NIST_P256 {
                    return Err(Error::UnsupportedKey);
                }
                PublicKey::EccP256 {
                    x: coordinate(x).ok_or(m)?,
                    y: coordinate(y).ok_or(m)?,
                }
            }
            _ => return Err(Error::UnsupportedKey),
        };
        r.finish().ok_or(m)?;
        if name_alg != TPM_ALG_SHA256 {
            return Err(Error::UnsupportedKey);
        }
        Ok(Public {
            tpmt: bytes.to_vec(),
            attributes,
            symmetric,
            key,
        })
    }

    /// The object's Name: `TPM_ALG_SHA256 || SHA-256(TPMT_PUBLIC)` (Part 1
    /// §16). This is what `MakeCredential` binds the credential to and
    /// what `tpm2_createak -n` prints.
    pub fn name(&self) -> Vec<u8> {
        let mut name = TPM_ALG_SHA256.to_be_bytes().to_vec();
        name.extend_from_slice(&crypto::sha256(&self.tpmt));
        name
    }

    /// The marshalled `TPMT_PUBLIC`.
    pub fn tpmt_bytes(&self) -> &[u8] {
        &self.tpmt
    }

    /// `objectAttributes`.
    pub fn attributes(&self) -> ObjectAttributes {
        self.attributes
    }

    /// `parameters.symDetail` / `parameters.symmetric`, `None` when NULL.
    pub fn symmetric(&self) -> Option<Symmetric> {
        self.symmetric
    }

    /// The key.
    pub fn key(&self) -> &PublicKey {
        &self.key
    }
}

/// `TPMT_RSA_SCHEME` / `TPMT_ECC_SCHEME`: the scheme, then its details
/// (Part 2 §11.2.3): none for NULL and RSAES, hash and count for ECDAA, a
/// hash for the rest.
fn scheme(r: &mut Reader<'_>) -> Option<()> {
    match r.u16()? {
        TPM_ALG_NULL | TPM_ALG_RSAES => {}
        TPM_ALG_ECDAA => {
            r.u16()?;
            r.u16()?;
        }
        _ => {
            r.u16()?;
        }
    }
    Some(())
}

/// A P-256 coordinate, left-padded to 32 bytes (TPMs may strip leading
/// zeros).
fn coordinate(bytes: &[u8]) -> Option<[u8; 32]> {
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    let digits = bytes.get(skip..)?;
    let mut out = [0u8; 32];
    let start = 32usize.checked_sub(digits.len())?;
    out.get_mut(start..)?.copy_from_slice(digits);
    Some(out)
}

/// Checks the EK: a restricted decryption key that cannot leave its TPM,
/// with the AES-128-CFB symmetric definition the credential's inner
/// wrapper uses (TCG EK Credential Profile, templates L-1 and L-2).
///
/// # Errors
/// [`Error::EkAttributes`].
pub fn check_ek_policy(ek: &Public) -> Result<(), Error> {
    let a = ek.attributes();
    let fixed = a.has(
        ObjectAttributes::FIXED_TPM
            | ObjectAttributes::FIXED_PARENT
            | ObjectAttributes::SENSITIVE_DATA_ORIGIN,
    );
    let restricted_decrypt = a.has(ObjectAttributes::RESTRICTED | ObjectAttributes::DECRYPT)
        && !a.has(ObjectAttributes::SIGN);
    let aes128_cfb = ek.symmetric()
        == Some(Symmetric {
            algorithm: TPM_ALG_AES,
            key_bits: 128,
            mode: TPM_ALG_CFB,
        });
    if fixed && restricted_decrypt && aes128_cfb {
        Ok(())
    } else {
        Err(Error::EkAttributes)
    }
}

/// Checks the AK: a restricted signing key (it signs only structures the
/// TPM made, so a quote cannot be forged through it), generated inside
/// the TPM and unable to leave it (fixedTPM, fixedParent,
/// sensitiveDataOrigin), and not a decryption key.
///
/// # Errors
/// [`Error::AkAttributes`].
pub fn check_ak_policy(ak: &Public) -> Result<(), Error> {
    let a = ak.attributes();
    let required = ObjectAttributes::RESTRICTED
        | ObjectAttributes::SIGN
        | ObjectAttributes::FIXED_TPM
        | ObjectAttributes::FIXED_PARENT
        | ObjectAttributes::SENSITIVE_DATA_ORIGIN;
    if a.has(required) && !a.has(ObjectAttributes::DECRYPT) {
        Ok(())
    } else {
        Err(Error::AkAttributes)
    }
}
