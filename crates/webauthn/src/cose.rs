//! COSE algorithms and credential public keys (RFC 9052/9053, WebAuthn §5.8.5,
//! §6.5.1.1), parsed with coset and checked for the pairing of key type, curve
//! and algorithm that WebAuthn requires.

use coset::iana::{self, EnumI64};
use coset::{AsCborValue, CoseKey, KeyType, Label, RegisteredLabelWithPrivate};
use serde::{Deserialize, Serialize};

use crate::crypto::Verifier;
use crate::error::Error;

/// The COSE signature algorithms a WebAuthn credential may use here.
///
/// Serialised as its IANA integer, the shape `pubKeyCredParams[].alg` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
#[non_exhaustive]
pub enum CoseAlgorithm {
    /// ECDSA with P-256 and SHA-256 (-7).
    Es256,
    /// ECDSA with P-384 and SHA-384 (-35).
    Es384,
    /// ECDSA with P-521 and SHA-512 (-36).
    Es512,
    /// EdDSA (-8); only the Ed25519 curve is verifiable.
    EdDsa,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (-257).
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384 (-258).
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512 (-259).
    Rs512,
    /// RSASSA-PSS with SHA-256 (-37).
    Ps256,
    /// RSASSA-PSS with SHA-384 (-38).
    Ps384,
    /// RSASSA-PSS with SHA-512 (-39).
    Ps512,
}

impl CoseAlgorithm {
    /// Every algorithm this crate verifies, in the order a relying party
    /// should usually offer them: ES256 first (every FIDO-certified
    /// authenticator implements it, and FIPS-validated hardware uses it), then
    /// EdDSA, the other curves, RSA last.
    pub const ALL: [CoseAlgorithm; 10] = [
        CoseAlgorithm::Es256,
        CoseAlgorithm::EdDsa,
        CoseAlgorithm::Es384,
        CoseAlgorithm::Es512,
        CoseAlgorithm::Ps256,
        CoseAlgorithm::Ps384,
        CoseAlgorithm::Ps512,
        CoseAlgorithm::Rs256,
        CoseAlgorithm::Rs384,
        CoseAlgorithm::Rs512,
    ];

    /// The IANA COSE algorithm identifier.
    pub fn id(self) -> i64 {
        match self {
            CoseAlgorithm::Es256 => -7,
            CoseAlgorithm::Es384 => -35,
            CoseAlgorithm::Es512 => -36,
            CoseAlgorithm::EdDsa => -8,
            CoseAlgorithm::Rs256 => -257,
            CoseAlgorithm::Rs384 => -258,
            CoseAlgorithm::Rs512 => -259,
            CoseAlgorithm::Ps256 => -37,
            CoseAlgorithm::Ps384 => -38,
            CoseAlgorithm::Ps512 => -39,
        }
    }

    /// The algorithm for an IANA identifier, or `None` when unsupported.
    pub fn from_id(id: i64) -> Option<Self> {
        CoseAlgorithm::ALL.into_iter().find(|a| a.id() == id)
    }

    pub(crate) fn is_rsa(self) -> bool {
        matches!(
            self,
            CoseAlgorithm::Rs256
                | CoseAlgorithm::Rs384
                | CoseAlgorithm::Rs512
                | CoseAlgorithm::Ps256
                | CoseAlgorithm::Ps384
                | CoseAlgorithm::Ps512
        )
    }

    /// The EC2 curve this algorithm is defined over (WebAuthn §5.8.5 pins
    /// ES256 to P-256, ES384 to P-384, ES512 to P-521).
    pub(crate) fn ec2_curve(self) -> Option<iana::EllipticCurve> {
        match self {
            CoseAlgorithm::Es256 => Some(iana::EllipticCurve::P_256),
            CoseAlgorithm::Es384 => Some(iana::EllipticCurve::P_384),
            CoseAlgorithm::Es512 => Some(iana::EllipticCurve::P_521),
            _ => None,
        }
    }
}

impl From<CoseAlgorithm> for i64 {
    fn from(alg: CoseAlgorithm) -> i64 {
        alg.id()
    }
}

impl TryFrom<i64> for CoseAlgorithm {
    type Error = String;
    fn try_from(id: i64) -> Result<Self, String> {
        CoseAlgorithm::from_id(id).ok_or_else(|| format!("unsupported COSE algorithm {id}"))
    }
}

/// Maps an `alg` value found on the wire to a supported algorithm, keeping
/// "known but unsupported" (Ed448 lives under EdDSA; RS1, ES256K, ...)
/// distinct from nonsense.
pub(crate) fn algorithm_from_wire(id: i64) -> Result<CoseAlgorithm, Error> {
    CoseAlgorithm::from_id(id).ok_or(Error::UnsupportedAlgorithm)
}

/// A credential public key: the COSE_Key bytes exactly as the authenticator
/// sent them (what a relying party stores) and a verifier built from them.
///
/// Construct it with [`CredentialPublicKey::from_cose`] from stored bytes; a
/// successful parse means the key is valid for its algorithm (EC points lie on
/// their curve, RSA moduli are 2048-4096 bits).
#[derive(Debug, Clone)]
pub struct CredentialPublicKey {
    algorithm: CoseAlgorithm,
    cose: Vec<u8>,
    material: KeyMaterial,
    verifier: Verifier,
}

/// The key itself, for comparing with the same key as another structure
/// carries it (an X.509 SubjectPublicKeyInfo, a TPM `pubArea`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyMaterial {
    /// An EC2 key: its curve and uncompressed point `0x04 || x || y`.
    Ec2 {
        curve: iana::EllipticCurve,
        point: Vec<u8>,
    },
    /// An Ed25519 key's 32 bytes.
    Ed25519(Vec<u8>),
    /// An RSA key: modulus and exponent, big-endian without leading zeros.
    Rsa { n: Vec<u8>, e: Vec<u8> },
}

impl CredentialPublicKey {
    /// Parses a stored COSE_Key. The bytes must hold exactly one CBOR item.
    ///
    /// Errors: [`Error::MalformedPublicKey`], [`Error::UnsupportedAlgorithm`],
    /// [`Error::KeyAlgorithmMismatch`], [`Error::RsaKeySizeOutOfRange`].
    pub fn from_cose(bytes: &[u8]) -> Result<Self, Error> {
        let mut rest = bytes;
        let key = Self::parse_prefix(&mut rest)?;
        if !rest.is_empty() {
            return Err(Error::MalformedPublicKey);
        }
        Ok(key)
    }

    /// Parses one COSE_Key from the front of `input`, advancing it past the key.
    pub(crate) fn parse_prefix(input: &mut &[u8]) -> Result<Self, Error> {
        let start = *input;
        let value = crate::cbor::read_item(input).map_err(|()| Error::MalformedPublicKey)?;
        let consumed = start.len() - input.len();
        let cose = start
            .get(..consumed)
            .ok_or(Error::MalformedPublicKey)?
            .to_vec();
        let key = CoseKey::from_cbor_value(value).map_err(|_| Error::MalformedPublicKey)?;
        let (algorithm, material, verifier) = verifier_for(&key)?;
        Ok(CredentialPublicKey {
            algorithm,
            cose,
            material,
            verifier,
        })
    }

    /// The key's COSE algorithm.
    pub fn algorithm(&self) -> CoseAlgorithm {
        self.algorithm
    }

    /// The COSE_Key bytes to store with the credential.
    pub fn cose_bytes(&self) -> &[u8] {
        &self.cose
    }

    /// The uncompressed point (0x04 || x || y) of an EC2 key.
    pub(crate) fn ec_point(&self) -> Option<&[u8]> {
        match &self.material {
            KeyMaterial::Ec2 { point, .. } => Some(point),
            _ => None,
        }
    }

    /// The key's material, for comparison with other encodings of it.
    pub(crate) fn material(&self) -> &KeyMaterial {
        &self.material
    }

    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.verifier.verify(message, signature)
    }
}

impl PartialEq for CredentialPublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.cose == other.cose
    }
}
impl Eq for CredentialPublicKey {}

fn param(key: &CoseKey, label: i64) -> Option<&ciborium::Value> {
    key.params
        .iter()
        .find(|(l, _)| *l == Label::Int(label))
        .map(|(_, v)| v)
}

fn bytes_param(key: &CoseKey, label: i64) -> Result<&[u8], Error> {
    match param(key, label) {
        Some(ciborium::Value::Bytes(b)) => Ok(b),
        _ => Err(Error::MalformedPublicKey),
    }
}

fn int_param(key: &CoseKey, label: i64) -> Result<i64, Error> {
    match param(key, label) {
        Some(ciborium::Value::Integer(i)) => {
            i64::try_from(*i).map_err(|_| Error::MalformedPublicKey)
        }
        _ => Err(Error::MalformedPublicKey),
    }
}

fn wire_algorithm(key: &CoseKey) -> Result<i64, Error> {
    match &key.alg {
        Some(RegisteredLabelWithPrivate::Assigned(a)) => Ok(a.to_i64()),
        Some(RegisteredLabelWithPrivate::PrivateUse(a)) => Ok(*a),
        // WebAuthn §6.5.1.1: the key MUST carry its algorithm.
        _ => Err(Error::MalformedPublicKey),
    }
}

fn strip_leading_zeros(mut b: &[u8]) -> &[u8] {
    while let [0, rest @ ..] = b {
        b = rest;
    }
    b
}

type ParsedKey = (CoseAlgorithm, KeyMaterial, Verifier);

fn verifier_for(key: &CoseKey) -> Result<ParsedKey, Error> {
    let wire_alg = wire_algorithm(key)?;
    match key.kty {
        KeyType::Assigned(iana::KeyType::EC2) => {
            let alg = algorithm_from_wire(wire_alg)?;
            let curve = alg.ec2_curve().ok_or(Error::KeyAlgorithmMismatch)?;
            if int_param(key, iana::Ec2KeyParameter::Crv.to_i64())? != curve.to_i64() {
                return Err(Error::KeyAlgorithmMismatch);
            }
            let coord_len = match curve {
                iana::EllipticCurve::P_256 => 32,
                iana::EllipticCurve::P_384 => 48,
                _ => 66,
            };
            let x = bytes_param(key, iana::Ec2KeyParameter::X.to_i64())?;
            let y = bytes_param(key, iana::Ec2KeyParameter::Y.to_i64())?;
            if x.len() != coord_len || y.len() != coord_len {
                return Err(Error::MalformedPublicKey);
            }
            let mut point = Vec::with_capacity(1 + 2 * coord_len);
            point.push(0x04);
            point.extend_from_slice(x);
            point.extend_from_slice(y);
            let verifier = Verifier::from_bytes(alg, &point).ok_or(Error::MalformedPublicKey)?;
            Ok((alg, KeyMaterial::Ec2 { curve, point }, verifier))
        }
        KeyType::Assigned(iana::KeyType::OKP) => {
            if wire_alg != iana::Algorithm::EdDSA.to_i64() {
                // Known signature algorithms on an OKP key are a mismatch;
                // unknown ones are simply unsupported.
                return Err(match CoseAlgorithm::from_id(wire_alg) {
                    Some(_) => Error::KeyAlgorithmMismatch,
                    None => Error::UnsupportedAlgorithm,
                });
            }
            let crv = int_param(key, iana::OkpKeyParameter::Crv.to_i64())?;
            if crv == iana::EllipticCurve::Ed448.to_i64() {
                // aws-lc-rs has no Ed448; refuse clearly rather than guess.
                return Err(Error::UnsupportedAlgorithm);
            }
            if crv != iana::EllipticCurve::Ed25519.to_i64() {
                return Err(Error::KeyAlgorithmMismatch);
            }
            let x = bytes_param(key, iana::OkpKeyParameter::X.to_i64())?;
            if x.len() != 32 {
                return Err(Error::MalformedPublicKey);
            }
            let verifier =
                Verifier::from_bytes(CoseAlgorithm::EdDsa, x).ok_or(Error::MalformedPublicKey)?;
            Ok((
                CoseAlgorithm::EdDsa,
                KeyMaterial::Ed25519(x.to_vec()),
                verifier,
            ))
        }
        KeyType::Assigned(iana::KeyType::RSA) => {
            let alg = algorithm_from_wire(wire_alg)?;
            if !alg.is_rsa() {
                return Err(Error::KeyAlgorithmMismatch);
            }
            let n = strip_leading_zeros(bytes_param(key, iana::RsaKeyParameter::N.to_i64())?);
            let e = strip_leading_zeros(bytes_param(key, iana::RsaKeyParameter::E.to_i64())?);
            // n has no leading zero byte now, so its first byte has at most
            // seven leading zero bits.
            let bits = n
                .first()
                .map_or(0, |b| n.len() * 8 - b.leading_zeros() as usize);
            if !(2048..=4096).contains(&bits) {
                return Err(Error::RsaKeySizeOutOfRange);
            }
            let verifier =
                Verifier::from_rsa_components(alg, n, e).ok_or(Error::MalformedPublicKey)?;
            let material = KeyMaterial::Rsa {
                n: n.to_vec(),
                e: e.to_vec(),
            };
            Ok((alg, material, verifier))
        }
        _ => Err(Error::MalformedPublicKey),
    }
}
