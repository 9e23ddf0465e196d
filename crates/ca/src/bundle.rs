//! SPIFFE trust bundles in the SPIFFE Trust Domain and Bundle format
//! (<https://github.com/spiffe/spiffe/blob/main/standards/SPIFFE_Trust_Domain_and_Bundle.md>,
//! §4): a JWK Set whose keys say their `use` — `x509-svid` (with the CA
//! certificate in `x5c`) or `jwt-svid` (with a `kid`) — plus
//! `spiffe_sequence` and `spiffe_refresh_hint`. Served by the bundle
//! endpoint and the Workload API, and read from federated trust domains,
//! so parsing is bounded and refuses private keys.

use base64::Engine as _;
use keybound_jose::Jwk;
use serde_json::{Map, Value};

use crate::cert::{CertInfo, MAX_CERT_LEN};
use crate::crypto::{rsa_public_key, KeyKind, PointCheck, SubjectKey};
use crate::{Error, TrustDomain};

/// The largest bundle document accepted, in bytes.
pub const MAX_BUNDLE_LEN: usize = 256 * 1024;
/// Most keys in one bundle (both uses, and unknown ones, counted).
pub const MAX_BUNDLE_KEYS: usize = 64;

const USE_X509: &str = "x509-svid";
const USE_JWT: &str = "jwt-svid";
/// JWK members only a private or symmetric key has.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// A trust domain's bundle: what verifies its X.509-SVIDs and JWT-SVIDs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// Whose bundle it is (not in the document: known from where it came).
    pub trust_domain: TrustDomain,
    /// X.509 authorities (root CA certificates), DER.
    pub x509_authorities: Vec<Vec<u8>>,
    /// JWT authorities, each with its `kid`.
    pub jwt_authorities: Vec<Jwk>,
    /// `spiffe_sequence`: increases whenever the bundle changes.
    pub sequence: u64,
    /// `spiffe_refresh_hint`, seconds: how often peers should refetch.
    pub refresh_hint_s: u64,
}

impl Bundle {
    /// The bundle document, JSON.
    ///
    /// Errors: [`Error::Bundle`] for an X.509 authority whose key is not
    /// one JWK can carry here (P-256, P-384, RSA, Ed25519) or a JWT
    /// authority without `kid`.
    pub fn to_json(&self) -> Result<String, Error> {
        let mut keys = Vec::with_capacity(self.x509_authorities.len() + self.jwt_authorities.len());
        for cert in &self.x509_authorities {
            let info = CertInfo::parse(cert)?;
            let mut jwk = public_members(&info.spki_der)?;
            jwk.insert("use".into(), USE_X509.into());
            let x5c = base64::engine::general_purpose::STANDARD.encode(cert);
            jwk.insert("x5c".into(), Value::Array(vec![x5c.into()]));
            keys.push(Value::Object(jwk));
        }
        for jwk in &self.jwt_authorities {
            if jwk.kid().is_none_or(str::is_empty) {
                return Err(Error::Bundle("JWT authority without kid"));
            }
            let mut value = jwk.to_json();
            if let Some(obj) = value.as_object_mut() {
                obj.insert("use".into(), USE_JWT.into());
            }
            keys.push(value);
        }
        let mut doc = Map::new();
        doc.insert("keys".into(), Value::Array(keys));
        doc.insert("spiffe_sequence".into(), self.sequence.into());
        doc.insert("spiffe_refresh_hint".into(), self.refresh_hint_s.into());
        serde_json::to_string(&Value::Object(doc)).map_err(|_| Error::Bundle("JSON"))
    }

    /// Parses `trust_domain`'s bundle document. Keys of unknown `use` are
    /// skipped (§4.2.1); an `x509-svid` key must carry exactly one
    /// certificate whose public key is the JWK's; a `jwt-svid` key needs a
    /// unique `kid`. Refused: documents over [`MAX_BUNDLE_LEN`] or with
    /// more than [`MAX_BUNDLE_KEYS`] keys, private keys, keys without
    /// `use`, a non-numeric sequence or refresh hint.
    pub fn from_json(trust_domain: TrustDomain, json: &[u8]) -> Result<Self, Error> {
        if json.len() > MAX_BUNDLE_LEN {
            return Err(Error::Bundle("too large"));
        }
        let doc: Map<String, Value> =
            serde_json::from_slice(json).map_err(|_| Error::Bundle("not a JSON object"))?;
        let keys = match doc.get("keys") {
            Some(Value::Array(keys)) => keys,
            None => return Err(Error::Bundle("no keys")),
            Some(_) => return Err(Error::Bundle("keys is not an array")),
        };
        if keys.len() > MAX_BUNDLE_KEYS {
            return Err(Error::Bundle("too many keys"));
        }
        let number = |name: &'static str| match doc.get(name) {
            None => Ok(0),
            Some(v) => v.as_u64().ok_or(Error::Bundle(name)),
        };
        let mut bundle = Bundle {
            trust_domain,
            x509_authorities: Vec::new(),
            jwt_authorities: Vec::new(),
            sequence: number("spiffe_sequence")?,
            refresh_hint_s: number("spiffe_refresh_hint")?,
        };
        for key in keys {
            let obj = key
                .as_object()
                .ok_or(Error::Bundle("key is not an object"))?;
            if PRIVATE_MEMBERS.iter().any(|m| obj.contains_key(*m)) {
                return Err(Error::Bundle("private key"));
            }
            match obj.get("use").and_then(Value::as_str) {
                Some(USE_X509) => bundle.x509_authorities.push(x509_authority(obj)?),
                Some(USE_JWT) => {
                    let jwk = Jwk::parse(key).map_err(|_| Error::Bundle("JWT authority key"))?;
                    let kid = jwk
                        .kid()
                        .ok_or(Error::Bundle("JWT authority without kid"))?;
                    if kid.is_empty() {
                        return Err(Error::Bundle("JWT authority without kid"));
                    }
                    if bundle.jwt_authorities.iter().any(|k| k.kid() == Some(kid)) {
                        return Err(Error::Bundle("duplicate kid"));
                    }
                    bundle.jwt_authorities.push(jwk);
                }
                Some(_) => {}
                None => return Err(Error::Bundle("key without use")),
            }
        }
        Ok(bundle)
    }
}

/// The certificate of an `x509-svid` key, checked against the key's own
/// public members.
fn x509_authority(obj: &Map<String, Value>) -> Result<Vec<u8>, Error> {
    let der = match obj.get("x5c") {
        Some(Value::Array(chain)) => match chain.as_slice() {
            [Value::String(cert)] if cert.len() <= MAX_CERT_LEN * 4 / 3 + 4 => {
                base64::engine::general_purpose::STANDARD
                    .decode(cert)
                    .map_err(|_| Error::Bundle("x5c base64"))?
            }
            _ => return Err(Error::Bundle("x5c must hold one certificate")),
        },
        _ => return Err(Error::Bundle("x509-svid key without x5c")),
    };
    let info = CertInfo::parse(&der).map_err(|_| Error::Bundle("x5c certificate"))?;
    let expected = public_members(&info.spki_der)?;
    if expected
        .iter()
        .any(|(name, value)| obj.get(name) != Some(value))
    {
        return Err(Error::Bundle("JWK does not match its certificate"));
    }
    Ok(der)
}

/// The public JWK members (`kty`, `crv`, `x`, `y`, `n`, `e`) of a
/// SubjectPublicKeyInfo.
fn public_members(spki_der: &[u8]) -> Result<Map<String, Value>, Error> {
    let key = SubjectKey::from_spki(spki_der, PointCheck::OnCurve)
        .map_err(|_| Error::Bundle("authority key"))?;
    let b64 = |bytes: &[u8]| {
        Value::String(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    };
    let mut jwk = Map::new();
    match key.kind {
        KeyKind::P256 | KeyKind::P384 => {
            let (crv, size) = match key.kind {
                KeyKind::P256 => ("P-256", 32),
                _ => ("P-384", 48),
            };
            let point = match key.raw.split_first() {
                Some((0x04, point)) if point.len() == 2 * size => point,
                _ => return Err(Error::Bundle("compressed EC point")),
            };
            let (x, y) = point.split_at(size);
            jwk.insert("kty".into(), "EC".into());
            jwk.insert("crv".into(), crv.into());
            jwk.insert("x".into(), b64(x));
            jwk.insert("y".into(), b64(y));
        }
        KeyKind::Ed25519 => {
            jwk.insert("kty".into(), "OKP".into());
            jwk.insert("crv".into(), "Ed25519".into());
            jwk.insert("x".into(), b64(&key.raw));
        }
        KeyKind::Rsa => {
            let (n, e) = rsa_public_key(&key.raw)?;
            jwk.insert("kty".into(), "RSA".into());
            jwk.insert("n".into(), b64(n));
            jwk.insert("e".into(), b64(e));
        }
    }
    Ok(jwk)
}
