//! The `tpm` format (§8.3): a TPM 2.0 certifies the credential key with its
//! attestation identity key (AIK). `pubArea` is the key as the TPM holds it
//! (TPMT_PUBLIC), `certInfo` the TPM's signed statement about it
//! (TPMS_ATTEST), and the AIK certificate names the TPM in its SAN.
//!
//! The TPM structures are big-endian and length-prefixed; they are read
//! here with bounds checks (no Rust crate parses them without a TSS).
//!
//! Windows Hello's TPMs sign with RS1 (RSASSA-PKCS1-v1_5 with SHA-1, COSE
//! -65535), which the COSE registry keeps for TPM compatibility. It is
//! accepted here and nowhere else (it is not a [`CoseAlgorithm`]), and the
//! result says so ([`Attestation::legacy_sha1_signature`]) so that the
//! caller's policy can refuse it.

use ciborium::Value;
use coset::iana::EllipticCurve;
use der::asn1::ObjectIdentifier;

use super::certificate::{self, AttestationCertificate};
use super::{
    statement_algorithm_id, statement_signature, Attestation, AttestationFormat, AttestationType,
    Input,
};
use crate::cose::{algorithm_from_wire, CoseAlgorithm, KeyMaterial};
use crate::crypto::{digest, Hash};
use crate::error::Error;

/// COSE RS1: RSASSA-PKCS1-v1_5 with SHA-1.
const COSE_RS1: i64 = -65_535;

const TPM_GENERATED_VALUE: u32 = 0xff54_4347;
const TPM_ST_ATTEST_CERTIFY: u16 = 0x8017;
const TPM_ALG_RSA: u16 = 0x0001;
const TPM_ALG_SHA1: u16 = 0x0004;
const TPM_ALG_SHA256: u16 = 0x000b;
const TPM_ALG_SHA384: u16 = 0x000c;
const TPM_ALG_SHA512: u16 = 0x000d;
const TPM_ALG_NULL: u16 = 0x0010;
const TPM_ALG_ECC: u16 = 0x0023;
const TPM_ECC_NIST_P256: u16 = 0x0003;
const TPM_ECC_NIST_P384: u16 = 0x0004;
const TPM_ECC_NIST_P521: u16 = 0x0005;

/// tcg-kp-AIKCertificate.
const OID_TCG_KP_AIK_CERTIFICATE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.133.8.3");
const OID_TPM_MANUFACTURER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.133.2.1");
const OID_TPM_MODEL: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.133.2.2");
const OID_TPM_VERSION: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.133.2.3");

pub(super) fn verify(
    mut statement: Vec<(String, Value)>,
    input: &Input<'_>,
) -> Result<Attestation, Error> {
    match crate::cbor::take(&mut statement, "ver") {
        Some(Value::Text(v)) if v == "2.0" => {}
        Some(Value::Text(_)) => return Err(Error::UnsupportedAttestationFormat),
        _ => return Err(Error::MalformedAttestationStatement),
    }
    let alg = match statement_algorithm_id(&mut statement)? {
        COSE_RS1 => Signing::Rs1,
        id => Signing::Cose(algorithm_from_wire(id)?),
    };
    let sig = statement_signature(&mut statement)?;
    let bytes = |statement: &mut Vec<(String, Value)>, key| match crate::cbor::take(statement, key)
    {
        Some(Value::Bytes(b)) => Ok(b),
        _ => Err(Error::MalformedAttestationStatement),
    };
    let cert_info = bytes(&mut statement, "certInfo")?;
    let pub_area = bytes(&mut statement, "pubArea")?;
    let x5c =
        crate::cbor::take(&mut statement, "x5c").ok_or(Error::MalformedAttestationStatement)?;

    let public = Public::parse(&pub_area).ok_or(Error::MalformedAttestationStatement)?;
    if !public.is(input.credential.public_key.material()) {
        return Err(Error::AttestationKeyMismatch);
    }
    let attest = Attest::parse(&cert_info).ok_or(Error::MalformedAttestationStatement)?;
    if attest.magic != TPM_GENERATED_VALUE || attest.kind != TPM_ST_ATTEST_CERTIFY {
        return Err(Error::TpmCertInfoInvalid);
    }
    let expected_extra = digest(alg.hash(), &input.signed_data());
    if attest.extra_data != expected_extra.as_slice() {
        return Err(Error::AttestationNonceMismatch);
    }
    if attest.name != public.name(&pub_area).ok_or(Error::TpmCertInfoInvalid)? {
        return Err(Error::TpmCertInfoInvalid);
    }

    let chain = certificate::parse_x5c(x5c)?;
    let aik = AttestationCertificate::parse(chain.first())?;
    let verifier = match alg {
        Signing::Cose(alg) => aik.verifier(alg)?,
        Signing::Rs1 => aik.rs1_verifier()?,
    };
    if !verifier.verify(&cert_info, &sig) {
        return Err(Error::AttestationSignatureInvalid);
    }
    check_aik_certificate(&aik)?;
    aik.check_aaguid(&input.credential.aaguid)?;
    let mut attestation = Attestation::new(
        AttestationFormat::Tpm,
        AttestationType::AttCa,
        certificate::chain_trust(chain, input.trust_anchors),
    );
    attestation.legacy_sha1_signature = alg == Signing::Rs1;
    Ok(attestation)
}

/// What signed certInfo: an algorithm a credential may have, or RS1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signing {
    Cose(CoseAlgorithm),
    Rs1,
}

impl Signing {
    /// The hash `extraData` is made with: the one `alg` signs with (§8.3.2).
    fn hash(self) -> Hash {
        match self {
            Signing::Rs1 => Hash::Sha1Legacy,
            Signing::Cose(CoseAlgorithm::Es384 | CoseAlgorithm::Ps384 | CoseAlgorithm::Rs384) => {
                Hash::Sha384
            }
            Signing::Cose(CoseAlgorithm::Es512 | CoseAlgorithm::Ps512 | CoseAlgorithm::Rs512) => {
                Hash::Sha512
            }
            Signing::Cose(_) => Hash::Sha256,
        }
    }
}

/// §8.3.1: version 3, empty subject, a SAN naming the TPM's manufacturer,
/// model and version, the AIK certificate purpose, not a CA.
fn check_aik_certificate(aik: &AttestationCertificate) -> Result<(), Error> {
    let san = aik.san_directory_attributes()?;
    let names = |oid| san.iter().any(|(o, v)| *o == oid && !v.is_empty());
    let ok = aik.is_v3()
        && aik.subject_is_empty()
        && names(OID_TPM_MANUFACTURER)
        && names(OID_TPM_MODEL)
        && names(OID_TPM_VERSION)
        && aik.has_extended_key_usage(OID_TCG_KP_AIK_CERTIFICATE)?
        && aik.is_end_entity()?;
    if ok {
        Ok(())
    } else {
        Err(Error::AttestationCertificateRequirement)
    }
}

/// A big-endian reader over a TPM structure.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2)
            .and_then(|b| b.try_into().ok())
            .map(u16::from_be_bytes)
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_be_bytes)
    }
    /// A TPM2B: u16 size, then that many bytes.
    fn sized(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }
    /// An algorithm selector followed by a u16 detail unless it is NULL
    /// (TPMT_*_SCHEME, TPMT_KDF_SCHEME).
    fn scheme(&mut self) -> Option<()> {
        if self.u16()? != TPM_ALG_NULL {
            self.u16()?;
        }
        Some(())
    }
    fn finished(&self) -> bool {
        self.0.is_empty()
    }
}

/// TPMT_PUBLIC, as far as §8.3 needs it.
struct Public<'a> {
    name_alg: u16,
    key: PublicKey<'a>,
}

enum PublicKey<'a> {
    Rsa {
        modulus: &'a [u8],
        exponent: u32,
    },
    Ecc {
        curve: u16,
        x: &'a [u8],
        y: &'a [u8],
    },
}

impl<'a> Public<'a> {
    fn parse(bytes: &'a [u8]) -> Option<Self> {
        let mut c = Cursor(bytes);
        let kind = c.u16()?;
        let name_alg = c.u16()?;
        let _object_attributes = c.u32()?;
        let _auth_policy = c.sized()?;
        // TPMT_SYM_DEF_OBJECT: algorithm, then key bits and mode unless NULL.
        if c.u16()? != TPM_ALG_NULL {
            c.u16()?;
            c.u16()?;
        }
        let key = match kind {
            TPM_ALG_RSA => {
                c.scheme()?;
                let _key_bits = c.u16()?;
                let exponent = c.u32()?;
                PublicKey::Rsa {
                    modulus: c.sized()?,
                    exponent,
                }
            }
            TPM_ALG_ECC => {
                c.scheme()?;
                let curve = c.u16()?;
                c.scheme()?;
                PublicKey::Ecc {
                    curve,
                    x: c.sized()?,
                    y: c.sized()?,
                }
            }
            _ => return None,
        };
        c.finished().then_some(Public { name_alg, key })
    }

    /// Whether this is the credential key.
    fn is(&self, key: &KeyMaterial) -> bool {
        match (&self.key, key) {
            (PublicKey::Rsa { modulus, exponent }, KeyMaterial::Rsa { n, e }) => {
                // An exponent of 0 means the default, 2^16 + 1.
                let exponent = if *exponent == 0 { 65_537 } else { *exponent };
                let exponent = exponent.to_be_bytes();
                strip(modulus) == n.as_slice() && strip(&exponent) == e.as_slice()
            }
            (PublicKey::Ecc { curve, x, y }, KeyMaterial::Ec2 { curve: cose, point }) => {
                let (expected, len) = match *cose {
                    EllipticCurve::P_256 => (TPM_ECC_NIST_P256, 32),
                    EllipticCurve::P_384 => (TPM_ECC_NIST_P384, 48),
                    EllipticCurve::P_521 => (TPM_ECC_NIST_P521, 66),
                    _ => return false,
                };
                let (Some(px), Some(py)) = (point.get(1..1 + len), point.get(1 + len..)) else {
                    return false;
                };
                *curve == expected && strip(x) == strip(px) && strip(y) == strip(py)
            }
            _ => false,
        }
    }

    /// The TPM name of this object: nameAlg || H_nameAlg(pubArea).
    fn name(&self, pub_area: &[u8]) -> Option<Vec<u8>> {
        let hash = match self.name_alg {
            TPM_ALG_SHA1 => Hash::Sha1Legacy,
            TPM_ALG_SHA256 => Hash::Sha256,
            TPM_ALG_SHA384 => Hash::Sha384,
            TPM_ALG_SHA512 => Hash::Sha512,
            _ => return None,
        };
        let mut name = self.name_alg.to_be_bytes().to_vec();
        name.extend_from_slice(&digest(hash, pub_area));
        Some(name)
    }
}

fn strip(mut b: &[u8]) -> &[u8] {
    while let [0, rest @ ..] = b {
        b = rest;
    }
    b
}

/// TPMS_ATTEST for TPM_ST_ATTEST_CERTIFY, as far as §8.3 needs it.
struct Attest<'a> {
    magic: u32,
    kind: u16,
    extra_data: &'a [u8],
    name: &'a [u8],
}

impl<'a> Attest<'a> {
    fn parse(bytes: &'a [u8]) -> Option<Self> {
        let mut c = Cursor(bytes);
        let magic = c.u32()?;
        let kind = c.u16()?;
        let _qualified_signer = c.sized()?;
        let extra_data = c.sized()?;
        // TPMS_CLOCK_INFO (clock, resetCount, restartCount, safe) and
        // firmwareVersion: 17 + 8 bytes the relying party does not judge.
        c.take(17 + 8)?;
        let name = c.sized()?;
        let _qualified_name = c.sized()?;
        c.finished().then_some(Attest {
            magic,
            kind,
            extra_data,
            name,
        })
    }
}
