//! A software WebAuthn authenticator and client, for tests, fuzz seeds,
//! benchmarks and load generation.
//!
//! It produces the JSON a browser's `PublicKeyCredential.toJSON()` would
//! send, for every algorithm keybound verifies and every attestation format:
//! `none`, `packed` (self and x5c), `fido-u2f`, `tpm`, `android-key`,
//! `android-safetynet`, `apple` and `compound`. [`Tweaks`] bend one
//! thing at a time so negative tests can violate exactly one check.
//!
//! This is a test tool: it panics on its own misuse (an impossible key
//! generation), never on data it receives.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod formats;
mod keys;
mod legacy;
mod mds;
mod pki;

use aws_lc_rs::digest;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

pub use formats::{AndroidKeyProfile, AppleProfile, SafetyNetProfile, TestCa, TpmProfile};
pub use keys::{Algorithm, CredentialKey};
pub use legacy::COSE_RS1;
pub use mds::TestMds;
pub use pki::{AttestationKey, CertProfile, TestPki};

/// How the authenticator attests new credentials.
#[derive(Clone)]
pub enum AttestationMode {
    /// `fmt: "none"`.
    None,
    /// `packed` signed by the credential key itself.
    PackedSelf,
    /// `packed` with an x5c chain.
    Packed(AttestationKey),
    /// `fido-u2f` with a single certificate (the key must be P-256).
    FidoU2f(AttestationKey),
    /// `apple`: a certificate for the credential key with a nonce.
    Apple(AppleProfile),
    /// `android-key`: a certificate for the credential key with a key
    /// description.
    AndroidKey(AndroidKeyProfile),
    /// `tpm`: pubArea and certInfo signed by an AIK.
    Tpm(TpmProfile),
    /// `android-safetynet`: a JWS.
    SafetyNet(SafetyNetProfile),
    /// `compound`: each of these.
    Compound(Vec<AttestationMode>),
}

/// Where and for what a ceremony runs: what the browser knows.
#[derive(Debug, Clone, Copy)]
pub struct Ceremony<'a> {
    /// The RP ID whose hash goes into authenticator data.
    pub rp_id: &'a str,
    /// The origin the browser reports.
    pub origin: &'a str,
    /// The challenge from the options.
    pub challenge: &'a [u8],
}

/// Deviations from a correct response, one per negative test.
#[derive(Debug, Clone, Default)]
pub struct Tweaks {
    /// clientDataJSON `type` instead of `webauthn.create`/`webauthn.get`.
    pub client_data_type: Option<String>,
    /// Replace clientDataJSON entirely.
    pub client_data_json: Option<Vec<u8>>,
    /// clientDataJSON `crossOrigin`.
    pub cross_origin: Option<bool>,
    /// clientDataJSON `topOrigin`.
    pub top_origin: Option<String>,
    /// Hash this RP ID instead of the ceremony's.
    pub rp_id_hash_of: Option<String>,
    /// Set the flags byte (AT and ED are still added where data follows
    /// unless `raw_flags` is set).
    pub flags: Option<u8>,
    /// Use `flags` exactly as given.
    pub raw_flags: bool,
    /// The signature counter to report.
    pub sign_count: Option<u32>,
    /// Leave attested credential data out of a registration.
    pub omit_attested: bool,
    /// Bytes appended to authenticator data (before signing).
    pub auth_data_suffix: Vec<u8>,
    /// An extensions map (CBOR) to include, with the ED flag.
    pub extensions: Option<Vec<u8>>,
    /// Replace the COSE credential public key bytes at registration.
    pub cose_key: Option<Vec<u8>>,
    /// Replace the attestation statement `alg`.
    pub attestation_alg: Option<i64>,
    /// Report this user handle in an assertion (`Some(None)` omits it).
    pub user_handle: Option<Option<Vec<u8>>>,
    /// Flip a bit of the signature (assertion or attestation).
    pub corrupt_signature: bool,
    /// Replace the signature entirely.
    pub signature: Option<Vec<u8>>,
}

/// A credential the authenticator holds.
pub struct Credential {
    /// Credential id.
    pub id: Vec<u8>,
    /// The user handle it was created for.
    pub user_handle: Vec<u8>,
    /// The private key.
    pub key: CredentialKey,
    /// The counter the next assertion will increment.
    pub sign_count: u32,
}

/// A software authenticator.
#[derive(Clone)]
pub struct Authenticator {
    /// Model identifier written into attested credential data.
    pub aaguid: [u8; 16],
    /// Attestation mode for new credentials.
    pub attestation: AttestationMode,
    /// Report UV.
    pub user_verified: bool,
    /// Report BE.
    pub backup_eligible: bool,
    /// Report BS.
    pub backup_state: bool,
    /// Increment the counter on each assertion (synced passkeys report 0).
    pub counter: bool,
    /// Length of new credential ids.
    pub credential_id_len: usize,
}

impl Default for Authenticator {
    fn default() -> Self {
        Authenticator {
            aaguid: [0x4b; 16],
            attestation: AttestationMode::None,
            user_verified: true,
            backup_eligible: false,
            backup_state: false,
            counter: true,
            credential_id_len: 32,
        }
    }
}

/// base64url without padding.
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn sha256(data: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA256, data).as_ref().to_vec()
}

fn random_bytes(len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    aws_lc_rs::rand::fill(&mut out).expect("system RNG");
    out
}

fn client_data(kind: &str, c: &Ceremony<'_>, t: &Tweaks) -> Vec<u8> {
    if let Some(raw) = &t.client_data_json {
        return raw.clone();
    }
    let mut v = json!({
        "type": t.client_data_type.as_deref().unwrap_or(kind),
        "challenge": b64(c.challenge),
        "origin": c.origin,
        "crossOrigin": t.cross_origin.unwrap_or(false),
    });
    if let Some(top) = &t.top_origin {
        v["topOrigin"] = json!(top);
    }
    serde_json::to_vec(&v).expect("json")
}

const UP: u8 = 0x01;
const UV: u8 = 0x04;
const BE: u8 = 0x08;
const BS: u8 = 0x10;
const AT: u8 = 0x40;
const ED: u8 = 0x80;

impl Authenticator {
    fn flags(&self, t: &Tweaks, attested: bool) -> u8 {
        let mut f = t.flags.unwrap_or_else(|| {
            let mut f = UP;
            if self.user_verified {
                f |= UV;
            }
            if self.backup_eligible {
                f |= BE;
            }
            if self.backup_state {
                f |= BS;
            }
            f
        });
        if !t.raw_flags {
            if attested {
                f |= AT;
            }
            if t.extensions.is_some() {
                f |= ED;
            }
        }
        f
    }

    fn auth_data(
        &self,
        c: &Ceremony<'_>,
        t: &Tweaks,
        count: u32,
        attested: Option<&[u8]>,
    ) -> Vec<u8> {
        let rp = t.rp_id_hash_of.as_deref().unwrap_or(c.rp_id);
        let mut out = sha256(rp.as_bytes());
        out.push(self.flags(t, attested.is_some()));
        out.extend_from_slice(&t.sign_count.unwrap_or(count).to_be_bytes());
        if let Some(attested) = attested {
            out.extend_from_slice(attested);
        }
        if let Some(ext) = &t.extensions {
            out.extend_from_slice(ext);
        }
        out.extend_from_slice(&t.auth_data_suffix);
        out
    }

    /// Creates a credential and the `RegistrationResponseJSON` announcing it.
    pub fn register(
        &self,
        alg: Algorithm,
        c: &Ceremony<'_>,
        user_handle: &[u8],
    ) -> (Credential, Value) {
        self.register_with(alg, c, user_handle, &Tweaks::default())
    }

    /// [`Authenticator::register`] with deviations.
    pub fn register_with(
        &self,
        alg: Algorithm,
        c: &Ceremony<'_>,
        user_handle: &[u8],
        t: &Tweaks,
    ) -> (Credential, Value) {
        let key = CredentialKey::generate(alg);
        let id = random_bytes(self.credential_id_len);
        let cose = t.cose_key.clone().unwrap_or_else(|| key.cose_public_key());
        let mut attested = self.aaguid.to_vec();
        attested.extend_from_slice(&(id.len() as u16).to_be_bytes());
        attested.extend_from_slice(&id);
        attested.extend_from_slice(&cose);
        let count = 0;
        let auth_data = self.auth_data(c, t, count, (!t.omit_attested).then_some(&attested[..]));
        let cdj = client_data("webauthn.create", c, t);
        let cd_hash = sha256(&cdj);

        let (fmt, stmt) = statement(
            &self.attestation,
            &Statement {
                key: &key,
                alg,
                id: &id,
                auth_data: &auth_data,
                client_data_hash: &cd_hash,
                tweaks: t,
            },
        );
        let att_obj = ciborium::Value::Map(vec![
            (text("fmt"), text(fmt)),
            (text("attStmt"), stmt),
            (text("authData"), ciborium::Value::Bytes(auth_data)),
        ]);
        let mut att_bytes = Vec::new();
        ciborium::into_writer(&att_obj, &mut att_bytes).expect("cbor");
        let json = json!({
            "id": b64(&id),
            "rawId": b64(&id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(&cdj),
                "attestationObject": b64(&att_bytes),
                "transports": ["internal", "hybrid"],
            },
            "authenticatorAttachment": "platform",
            "clientExtensionResults": { "credProps": { "rk": true } },
        });
        let credential = Credential {
            id,
            user_handle: user_handle.to_vec(),
            key,
            sign_count: 0,
        };
        (credential, json)
    }

    /// Signs in with `cred`, producing `AuthenticationResponseJSON`.
    pub fn assert(&self, cred: &mut Credential, c: &Ceremony<'_>) -> Value {
        self.assert_with(cred, c, &Tweaks::default())
    }

    /// [`Authenticator::assert`] with deviations.
    pub fn assert_with(&self, cred: &mut Credential, c: &Ceremony<'_>, t: &Tweaks) -> Value {
        if self.counter {
            cred.sign_count += 1;
        }
        let auth_data = self.auth_data(c, t, cred.sign_count, None);
        let cdj = client_data("webauthn.get", c, t);
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&sha256(&cdj));
        let mut sig = cred.key.sign(&signed);
        if t.corrupt_signature {
            let last = sig.len() - 1;
            sig[last] ^= 1;
        }
        if let Some(s) = &t.signature {
            sig = s.clone();
        }
        let handle = match &t.user_handle {
            Some(h) => h.clone(),
            None => Some(cred.user_handle.clone()),
        };
        json!({
            "id": b64(&cred.id),
            "rawId": b64(&cred.id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(&cdj),
                "authenticatorData": b64(&auth_data),
                "signature": b64(&sig),
                "userHandle": handle.map(|h| b64(&h)),
            },
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
        })
    }
}

/// What an attestation statement is made over.
struct Statement<'a> {
    key: &'a CredentialKey,
    alg: Algorithm,
    id: &'a [u8],
    auth_data: &'a [u8],
    client_data_hash: &'a [u8],
    tweaks: &'a Tweaks,
}

impl Statement<'_> {
    /// The signature as the tweaks want it.
    fn bend(&self, mut sig: Vec<u8>) -> Vec<u8> {
        if let Some(s) = &self.tweaks.signature {
            return s.clone();
        }
        if self.tweaks.corrupt_signature {
            let last = sig.len() - 1;
            sig[last] ^= 1;
        }
        sig
    }

    fn signed(&self) -> Vec<u8> {
        [self.auth_data, self.client_data_hash].concat()
    }
}

fn statement(mode: &AttestationMode, s: &Statement<'_>) -> (&'static str, ciborium::Value) {
    let t = s.tweaks;
    let subject = formats::Subject {
        key: s.key,
        auth_data: s.auth_data,
        client_data_hash: s.client_data_hash,
    };
    let bend = |sig| s.bend(sig);
    match mode {
        AttestationMode::None => ("none", ciborium::Value::Map(vec![])),
        AttestationMode::PackedSelf => {
            let sig = s.bend(s.key.sign(&s.signed()));
            let alg = t.attestation_alg.unwrap_or(s.alg.cose_id());
            ("packed", packed_statement(alg, sig, None))
        }
        AttestationMode::Packed(att) => {
            let sig = s.bend(att.sign(&s.signed()));
            let alg = t.attestation_alg.unwrap_or(-7);
            ("packed", packed_statement(alg, sig, Some(&att.chain)))
        }
        AttestationMode::FidoU2f(att) => {
            let point = s
                .key
                .ec_point()
                .expect("fido-u2f needs an EC credential key");
            let mut m = vec![0u8];
            m.extend_from_slice(&s.auth_data[..32]);
            m.extend_from_slice(s.client_data_hash);
            m.extend_from_slice(s.id);
            m.extend_from_slice(&point);
            let sig = s.bend(att.sign(&m));
            let x5c = att
                .chain
                .iter()
                .take(1)
                .map(|c| ciborium::Value::Bytes(c.clone()))
                .collect();
            (
                "fido-u2f",
                ciborium::Value::Map(vec![
                    (text("sig"), ciborium::Value::Bytes(sig)),
                    (text("x5c"), ciborium::Value::Array(x5c)),
                ]),
            )
        }
        AttestationMode::Apple(p) => ("apple", p.statement(&subject)),
        AttestationMode::AndroidKey(p) => ("android-key", p.statement(&subject, bend)),
        AttestationMode::Tpm(p) => ("tpm", p.statement(&subject, bend)),
        AttestationMode::SafetyNet(p) => ("android-safetynet", p.statement(&subject, bend)),
        AttestationMode::Compound(parts) => (
            "compound",
            ciborium::Value::Array(
                parts
                    .iter()
                    .map(|part| {
                        let (fmt, stmt) = statement(part, s);
                        ciborium::Value::Map(vec![
                            (text("fmt"), text(fmt)),
                            (text("attStmt"), stmt),
                        ])
                    })
                    .collect(),
            ),
        ),
    }
}

fn text(s: &str) -> ciborium::Value {
    ciborium::Value::Text(s.to_owned())
}

fn packed_statement(alg: i64, sig: Vec<u8>, chain: Option<&[Vec<u8>]>) -> ciborium::Value {
    let mut m = vec![
        (text("alg"), ciborium::Value::Integer(alg.into())),
        (text("sig"), ciborium::Value::Bytes(sig)),
    ];
    if let Some(chain) = chain {
        m.push((
            text("x5c"),
            ciborium::Value::Array(
                chain
                    .iter()
                    .map(|c| ciborium::Value::Bytes(c.clone()))
                    .collect(),
            ),
        ));
    }
    ciborium::Value::Map(m)
}
