//! Public JWKs (RFC 7517/7518/8037): EC P-256, RSA (>= 2048 bits) and OKP
//! Ed25519. A JWK carrying private members is refused outright, so a
//! private key pasted where a public one belongs never gets stored or
//! published. Thumbprints follow RFC 7638 (SHA-256).

use serde_json::{Map, Value};

use crate::{b64, crypto, unb64, Algorithm, Error};

/// Members that only a private (or symmetric) key has.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// The smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// A public JSON Web Key with an optional `kid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jwk {
    kid: Option<String>,
    key: Key,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Key {
    Ec { x: [u8; 32], y: [u8; 32] },
    Rsa { n: Vec<u8>, e: Vec<u8> },
    Okp { x: [u8; 32] },
}

fn text<'a>(obj: &'a Map<String, Value>, name: &'static str) -> Result<&'a str, Error> {
    obj.get(name)
        .and_then(Value::as_str)
        .ok_or(Error::InvalidKey(name))
}

fn coordinate(obj: &Map<String, Value>, name: &'static str) -> Result<[u8; 32], Error> {
    unb64(text(obj, name)?)?
        .try_into()
        .map_err(|_| Error::InvalidKey(name))
}

/// An unsigned big-endian integer: non-empty, no leading zero (so the
/// thumbprint of a re-serialised key is the thumbprint of the input).
fn unsigned(obj: &Map<String, Value>, name: &'static str) -> Result<Vec<u8>, Error> {
    let bytes = unb64(text(obj, name)?)?;
    match bytes.first() {
        Some(0) | None => Err(Error::InvalidKey(name)),
        Some(_) => Ok(bytes),
    }
}

impl Jwk {
    /// Parses a JWK JSON object. Private members are refused; `kid` is kept,
    /// other optional members (`use`, `alg`, `key_ops`) are ignored.
    pub fn parse(value: &Value) -> Result<Self, Error> {
        let obj = value.as_object().ok_or(Error::Malformed("JWK"))?;
        if PRIVATE_MEMBERS.iter().any(|m| obj.contains_key(*m)) {
            return Err(Error::PrivateKey);
        }
        let kid = match obj.get("kid") {
            None => None,
            Some(Value::String(kid)) => Some(kid.clone()),
            Some(_) => return Err(Error::InvalidKey("kid")),
        };
        match (text(obj, "kty")?, obj.get("crv").and_then(Value::as_str)) {
            ("EC", Some("P-256")) => {
                let (x, y) = (coordinate(obj, "x")?, coordinate(obj, "y")?);
                Self::ec(&x, &y, kid)
            }
            ("OKP", Some("Ed25519")) => Ok(Jwk {
                kid,
                key: Key::Okp {
                    x: coordinate(obj, "x")?,
                },
            }),
            ("RSA", _) => Self::rsa(&unsigned(obj, "n")?, &unsigned(obj, "e")?, kid),
            ("EC" | "OKP", _) => Err(Error::InvalidKey("crv")),
            _ => Err(Error::InvalidKey("kty")),
        }
    }

    /// An EC P-256 key from its coordinates; the point must be on the curve.
    pub(crate) fn ec(x: &[u8], y: &[u8], kid: Option<String>) -> Result<Self, Error> {
        let x: [u8; 32] = x.try_into().map_err(|_| Error::InvalidKey("x"))?;
        let y: [u8; 32] = y.try_into().map_err(|_| Error::InvalidKey("y"))?;
        if !crypto::valid_p256_point(&x, &y) {
            return Err(Error::InvalidKey("point"));
        }
        Ok(Jwk {
            kid,
            key: Key::Ec { x, y },
        })
    }

    /// An Ed25519 key from its 32 public bytes.
    pub(crate) fn okp(x: &[u8], kid: Option<String>) -> Result<Self, Error> {
        let x: [u8; 32] = x.try_into().map_err(|_| Error::InvalidKey("x"))?;
        Ok(Jwk {
            kid,
            key: Key::Okp { x },
        })
    }

    /// An RSA key; moduli under [`MIN_RSA_BITS`] are refused.
    pub(crate) fn rsa(n: &[u8], e: &[u8], kid: Option<String>) -> Result<Self, Error> {
        let bits = match n.first() {
            Some(&top) if top != 0 => n.len() * 8 - top.leading_zeros() as usize,
            _ => return Err(Error::InvalidKey("n")),
        };
        if bits < MIN_RSA_BITS {
            return Err(Error::InvalidKey("RSA modulus under 2048 bits"));
        }
        if e.first().is_none_or(|b| *b == 0) {
            return Err(Error::InvalidKey("e"));
        }
        Ok(Jwk {
            kid,
            key: Key::Rsa {
                n: n.to_vec(),
                e: e.to_vec(),
            },
        })
    }

    /// The key's `kid`, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    pub(crate) fn key(&self) -> &Key {
        &self.key
    }

    /// The one algorithm this key may verify: its type decides, so a token
    /// cannot pick a different algorithm for it (algorithm confusion).
    pub fn algorithm(&self) -> Algorithm {
        match self.key {
            Key::Ec { .. } => Algorithm::Es256,
            Key::Rsa { .. } => Algorithm::Rs256,
            Key::Okp { .. } => Algorithm::EdDsa,
        }
    }

    /// The required members only, as (name, value) sorted by name: the
    /// RFC 7638 canonical member set.
    fn required(&self) -> Vec<(&'static str, String)> {
        match &self.key {
            Key::Ec { x, y } => vec![
                ("crv", "P-256".into()),
                ("kty", "EC".into()),
                ("x", b64(x)),
                ("y", b64(y)),
            ],
            Key::Rsa { n, e } => vec![("e", b64(e)), ("kty", "RSA".into()), ("n", b64(n))],
            Key::Okp { x } => vec![
                ("crv", "Ed25519".into()),
                ("kty", "OKP".into()),
                ("x", b64(x)),
            ],
        }
    }

    /// The JWK as JSON: required members, `kid` when set, and `alg`/`use`
    /// so a JWKS consumer picks the right algorithm.
    pub fn to_json(&self) -> Value {
        let mut obj: Map<String, Value> = self
            .required()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), Value::String(v)))
            .collect();
        if let Some(kid) = &self.kid {
            obj.insert("kid".into(), Value::String(kid.clone()));
        }
        obj.insert("alg".into(), self.algorithm().as_str().into());
        obj.insert("use".into(), "sig".into());
        Value::Object(obj)
    }

    /// The RFC 7638 thumbprint: base64url(SHA-256(canonical JSON)).
    pub fn thumbprint(&self) -> String {
        // Values are base64url or fixed names: no JSON escaping is needed,
        // but serde_json writes the strings to be safe.
        let members: Vec<String> = self
            .required()
            .into_iter()
            .map(|(k, v)| format!("\"{k}\":{}", Value::String(v)))
            .collect();
        let canonical = format!("{{{}}}", members.join(","));
        b64(&crypto::sha256(canonical.as_bytes()))
    }
}

#[cfg(test)]
pub(crate) mod tests;
