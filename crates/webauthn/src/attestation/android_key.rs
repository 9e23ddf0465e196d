//! The `android-key` format (§8.4): a key in Android's keystore, certified
//! by a chain to Google's attestation roots. The leaf certificate's key
//! description extension says what the keystore promises about the key.

use ciborium::Value;
use der::asn1::ObjectIdentifier;

use super::certificate::{self, AttestationCertificate};
use super::tlv::{self, Tlv, CONTEXT};
use super::{
    statement_algorithm, statement_signature, Attestation, AttestationFormat, AttestationType,
    Input, KeyStorage,
};
use crate::error::Error;

/// The Android key description extension.
const OID_KEY_DESCRIPTION: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.1.17");
/// AuthorizationList tags (Keymaster/KeyMint).
const TAG_PURPOSE: u32 = 1;
const TAG_ALL_APPLICATIONS: u32 = 600;
const TAG_ORIGIN: u32 = 702;
const KM_PURPOSE_SIGN: u64 = 2;
const KM_ORIGIN_GENERATED: u64 = 0;

pub(super) fn verify(
    mut statement: Vec<(String, Value)>,
    input: &Input<'_>,
) -> Result<Attestation, Error> {
    let alg = statement_algorithm(&mut statement)?;
    let sig = statement_signature(&mut statement)?;
    let x5c =
        crate::cbor::take(&mut statement, "x5c").ok_or(Error::MalformedAttestationStatement)?;
    let chain = certificate::parse_x5c(x5c)?;
    let leaf = AttestationCertificate::parse(chain.first())?;
    if !leaf.verifier(alg)?.verify(&input.signed_data(), &sig) {
        return Err(Error::AttestationSignatureInvalid);
    }
    if !leaf.key_matches(input.credential.public_key.material()) {
        return Err(Error::AttestationKeyMismatch);
    }
    let extension = leaf
        .extension(OID_KEY_DESCRIPTION)
        .ok_or(Error::AttestationCertificateRequirement)?;
    let description = KeyDescription::parse(extension.extn_value.as_bytes())
        .ok_or(Error::MalformedAttestationCertificate)?;
    if description.challenge != input.client_data_hash.as_slice() {
        return Err(Error::AttestationNonceMismatch);
    }
    let hardware_states_both = description.check_authorizations()?;
    let mut attestation = Attestation::new(
        AttestationFormat::AndroidKey,
        AttestationType::Basic,
        certificate::chain_trust(chain, input.trust_anchors),
    );
    attestation.key_storage = Some(if hardware_states_both {
        description.storage
    } else {
        KeyStorage::Software
    });
    Ok(attestation)
}

/// The parts of KeyDescription that §8.4 checks.
struct KeyDescription<'a> {
    storage: KeyStorage,
    challenge: &'a [u8],
    software: Vec<Tlv<'a>>,
    hardware: Vec<Tlv<'a>>,
}

impl<'a> KeyDescription<'a> {
    /// `SEQUENCE { attestationVersion, attestationSecurityLevel,
    /// keymasterVersion, keymasterSecurityLevel, attestationChallenge,
    /// uniqueId, softwareEnforced, teeEnforced }`.
    fn parse(der: &'a [u8]) -> Option<Self> {
        let fields = tlv::sequence(der)?;
        let storage = match tlv::small_unsigned(fields.get(1)?)? {
            0 => KeyStorage::Software,
            1 => KeyStorage::TrustedEnvironment,
            2 => KeyStorage::StrongBox,
            _ => return None,
        };
        let challenge = fields.get(4)?;
        if challenge.class != tlv::UNIVERSAL || challenge.number != 4 {
            return None;
        }
        let list = |i: usize| -> Option<Vec<Tlv<'a>>> {
            let f = fields.get(i)?;
            (f.class == tlv::UNIVERSAL && f.number == 16).then_some(())?;
            tlv::items(f.value)
        };
        Some(KeyDescription {
            storage,
            challenge: challenge.value,
            software: list(6)?,
            hardware: list(7)?,
        })
    }

    /// The authorisation tagged `tag` from either list (§8.4: the union,
    /// since this crate reports `storage` and leaves the choice to policy).
    fn authorization(&self, tag: u32) -> Option<&Tlv<'a>> {
        self.hardware
            .iter()
            .chain(&self.software)
            .find(|t| t.class == CONTEXT && t.number == tag)
    }

    /// §8.4's checks of the authorisations: never usable by all
    /// applications (the key must be scoped to this RP); where the lists
    /// state an origin and purposes, generated in the keystore and a signing
    /// key. Returns whether the hardware list itself states both, which a
    /// key must for its hardware storage to count.
    ///
    /// The W3C test vector states neither (its lists are empty), so a list
    /// that is silent is accepted rather than refused; such a key is then
    /// reported as software-held, which is all its statement proves.
    fn check_authorizations(&self) -> Result<bool, Error> {
        let invalid = Error::AndroidKeyAuthorizationInvalid;
        if self.authorization(TAG_ALL_APPLICATIONS).is_some() {
            return Err(invalid);
        }
        let mut hardware_states_both = true;
        for (tag, check) in [
            (TAG_ORIGIN, origin_generated as fn(&Tlv<'_>) -> Option<bool>),
            (TAG_PURPOSE, purpose_includes_sign),
        ] {
            match self.authorization(tag) {
                Some(t) if check(t) != Some(true) => return Err(invalid),
                Some(_) => {}
                None => hardware_states_both = false,
            }
            if !self
                .hardware
                .iter()
                .any(|t| t.class == CONTEXT && t.number == tag)
            {
                hardware_states_both = false;
            }
        }
        Ok(hardware_states_both)
    }
}

/// `origin [702] EXPLICIT INTEGER` is KM_ORIGIN_GENERATED.
fn origin_generated(tagged: &Tlv<'_>) -> Option<bool> {
    let inner = explicit_inner(tagged)?;
    Some(tlv::small_unsigned(&inner)? == KM_ORIGIN_GENERATED)
}

/// `purpose [1] EXPLICIT SET OF INTEGER` includes KM_PURPOSE_SIGN.
fn purpose_includes_sign(tagged: &Tlv<'_>) -> Option<bool> {
    let set = explicit_inner(tagged)?;
    if set.class != tlv::UNIVERSAL || set.number != 17 {
        return None;
    }
    let purposes = tlv::items(set.value)?;
    Some(
        purposes
            .iter()
            .any(|p| tlv::small_unsigned(p) == Some(KM_PURPOSE_SIGN)),
    )
}

/// The one TLV inside an EXPLICIT context tag.
fn explicit_inner<'a>(tagged: &Tlv<'a>) -> Option<Tlv<'a>> {
    let mut value = tagged.value;
    let inner = tlv::read(&mut value)?;
    value.is_empty().then_some(inner)
}
