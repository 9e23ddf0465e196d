//! JWT-SVIDs: signing, and validation refusing each hostile variation.

use aws_lc_rs::rand::SystemRandom;
use base64::Engine as _;
use keybound_ca::{sign_jwt_svid, validate_jwt_svid, Error, JWT_SVID_LEEWAY_S};
use keybound_jose::{Algorithm, Jwk, SigningKey};
use serde_json::{json, Map, Value};

use crate::support::*;

type JoseError = keybound_jose::Error;

struct Signer {
    key: SigningKey,
    kid: String,
}

impl Signer {
    fn new(kid: &str) -> Self {
        let pkcs8 = keybound_ca::generate_p256_pkcs8().unwrap();
        Signer {
            key: SigningKey::from_pkcs8(Algorithm::Es256, &pkcs8).unwrap(),
            kid: kid.to_owned(),
        }
    }

    fn jwk(&self) -> Jwk {
        self.key.public_jwk(Some(self.kid.clone())).unwrap()
    }

    fn svid(&self, sub: &str, aud: &[&str], exp: i64) -> String {
        let aud: Vec<String> = aud.iter().map(|a| (*a).to_owned()).collect();
        let iat = NOW.min(exp - 300);
        sign_jwt_svid(
            &self.key,
            &self.kid,
            &id(sub),
            &aud,
            iat,
            exp,
            &SystemRandom::new(),
        )
        .unwrap()
    }

    /// Any header and claims, signed with this key (for hostile tokens).
    fn raw(&self, header: Value, claims: Value) -> String {
        let header: Map<String, Value> = serde_json::from_value(header).unwrap();
        keybound_jose::sign(&header, &claims, &self.key, &SystemRandom::new()).unwrap()
    }
}

fn validate(token: &str, aud: &str, keys: &[Jwk]) -> Result<keybound_ca::JwtSvid, Error> {
    validate_jwt_svid(token, aud, keys, &td("example.org"), NOW)
}

#[test]
fn a_signed_svid_validates_and_says_who_and_for_whom() {
    let s = Signer::new("k1");
    let token = s.svid("spiffe://example.org/web", &["api", "db"], NOW + 300);
    let svid = validate(&token, "db", &[Signer::new("k0").jwk(), s.jwk()]).unwrap();
    assert_eq!(svid.spiffe_id.as_str(), "spiffe://example.org/web");
    assert_eq!(svid.audience, vec!["api", "db"]);
    assert_eq!(svid.expiry_s, NOW + 300);
    assert_eq!(svid.claims["iat"], json!(NOW));
    assert_eq!(svid.claims["sub"], json!("spiffe://example.org/web"));

    // The header: ES256, typ JWT, the kid.
    let header = token.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header, json!({"alg": "ES256", "typ": "JWT", "kid": "k1"}));
}

#[test]
fn signing_requires_an_audience_and_a_lifetime() {
    let s = Signer::new("k1");
    let rng = SystemRandom::new();
    let sub = id("spiffe://example.org/web");
    let sign = |aud: &[String], exp| sign_jwt_svid(&s.key, "k1", &sub, aud, NOW, exp, &rng);
    assert_eq!(sign(&[], NOW + 60), Err(Error::NoAudience));
    assert_eq!(sign(&[String::new()], NOW + 60), Err(Error::NoAudience));
    assert_eq!(sign(&["a".into()], NOW), Err(Error::InvalidValidity));
    let many: Vec<String> = (0..=keybound_ca::MAX_AUDIENCES)
        .map(|i| i.to_string())
        .collect();
    assert_eq!(sign(&many, NOW + 60), Err(Error::InvalidValidity));
    // Only ES256 keys sign JWT-SVIDs.
    let ed = SigningKey::from_pkcs8(
        Algorithm::EdDsa,
        &SigningKey::generate_pkcs8(Algorithm::EdDsa).unwrap(),
    )
    .unwrap();
    assert!(matches!(
        sign_jwt_svid(&ed, "k1", &sub, &["a".into()], NOW, NOW + 60, &rng),
        Err(Error::Jwt(_))
    ));
}

#[test]
fn wrong_audience_is_refused() {
    let s = Signer::new("k1");
    let token = s.svid("spiffe://example.org/web", &["api"], NOW + 300);
    assert_eq!(
        validate(&token, "other", &[s.jwk()]),
        Err(Error::Jwt(JoseError::WrongAudience))
    );
    assert_eq!(validate(&token, "", &[s.jwk()]), Err(Error::NoAudience));
    // A token without aud at all.
    let token = s.raw(
        json!({"typ": "JWT", "kid": "k1"}),
        json!({"sub": "spiffe://example.org/web", "exp": NOW + 300}),
    );
    assert_eq!(
        validate(&token, "api", &[s.jwk()]),
        Err(Error::Jwt(JoseError::WrongAudience))
    );
    // aud as a single string is accepted.
    let token = s.raw(
        json!({"typ": "JWT", "kid": "k1"}),
        json!({"sub": "spiffe://example.org/web", "aud": "api", "exp": NOW + 300}),
    );
    assert_eq!(
        validate(&token, "api", &[s.jwk()]).unwrap().audience,
        vec!["api"]
    );
}

#[test]
fn expiry_is_required_and_enforced_with_small_leeway() {
    let s = Signer::new("k1");
    let expired = s.svid(
        "spiffe://example.org/web",
        &["api"],
        NOW - JWT_SVID_LEEWAY_S,
    );
    assert_eq!(
        validate(&expired, "api", &[s.jwk()]),
        Err(Error::Jwt(JoseError::Expired))
    );
    let within_leeway = s.svid(
        "spiffe://example.org/web",
        &["api"],
        NOW - JWT_SVID_LEEWAY_S + 1,
    );
    assert!(validate(&within_leeway, "api", &[s.jwk()]).is_ok());
    let no_exp = s.raw(
        json!({"typ": "JWT", "kid": "k1"}),
        json!({"sub": "spiffe://example.org/web", "aud": ["api"]}),
    );
    assert_eq!(
        validate(&no_exp, "api", &[s.jwk()]),
        Err(Error::Jwt(JoseError::Expired))
    );
    let string_exp = s.raw(
        json!({"typ": "JWT", "kid": "k1"}),
        json!({"sub": "spiffe://example.org/web", "aud": ["api"], "exp": "never"}),
    );
    assert!(validate(&string_exp, "api", &[s.jwk()]).is_err());
    let future_nbf = s.raw(
        json!({"typ": "JWT", "kid": "k1"}),
        json!({"sub": "spiffe://example.org/web", "aud": ["api"], "exp": NOW + 900, "nbf": NOW + 600}),
    );
    assert_eq!(
        validate(&future_nbf, "api", &[s.jwk()]),
        Err(Error::Jwt(JoseError::NotYetValid))
    );
}

#[test]
fn the_kid_must_name_an_authority() {
    let s = Signer::new("k1");
    let token = s.svid("spiffe://example.org/web", &["api"], NOW + 300);
    // Another key under the same kid: the signature fails.
    let impostor = Signer::new("k1");
    assert_eq!(
        validate(&token, "api", &[impostor.jwk()]),
        Err(Error::Jwt(JoseError::BadSignature))
    );
    // The right key under another kid: not found.
    let renamed = s.key.public_jwk(Some("k2".into())).unwrap();
    assert_eq!(
        validate(&token, "api", &[renamed]),
        Err(Error::Jwt(JoseError::UnknownKey))
    );
    assert_eq!(
        validate(&token, "api", &[]),
        Err(Error::Jwt(JoseError::UnknownKey))
    );
    // No kid at all: refused even though the key is there (unnamed).
    let no_kid = s.raw(
        json!({"typ": "JWT"}),
        json!({"sub": "spiffe://example.org/web", "aud": ["api"], "exp": NOW + 300}),
    );
    let unnamed = s.key.public_jwk(None).unwrap();
    assert_eq!(
        validate(&no_kid, "api", &[s.jwk(), unnamed]),
        Err(Error::Jwt(JoseError::UnknownKey))
    );
}

#[test]
fn only_allowed_algorithms_pass() {
    let s = Signer::new("k1");
    let claims = json!({"sub": "spiffe://example.org/web", "aud": ["api"], "exp": NOW + 300});
    let b64 = |v: &Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    };
    for alg in ["none", "HS256", "ES384", "es256"] {
        let token = format!(
            "{}.{}.{}",
            b64(&json!({"alg": alg, "kid": "k1", "typ": "JWT"})),
            b64(&claims),
            if alg == "none" { "" } else { "AAAA" }
        );
        assert_eq!(
            validate(&token, "api", &[s.jwk()]),
            Err(Error::Jwt(JoseError::AlgorithmNotAllowed)),
            "{alg}"
        );
    }
    // EdDSA is valid JOSE but not a JWT-SVID algorithm.
    let ed = SigningKey::from_pkcs8(
        Algorithm::EdDsa,
        &SigningKey::generate_pkcs8(Algorithm::EdDsa).unwrap(),
    )
    .unwrap();
    let mut header = Map::new();
    header.insert("kid".into(), "ed".into());
    let token = keybound_jose::sign(&header, &claims, &ed, &SystemRandom::new()).unwrap();
    let ed_jwk = ed.public_jwk(Some("ed".into())).unwrap();
    assert_eq!(
        validate(&token, "api", &[ed_jwk]),
        Err(Error::Jwt(JoseError::AlgorithmNotAllowed))
    );
}

#[test]
fn typ_other_than_jwt_is_refused() {
    let s = Signer::new("k1");
    let claims = json!({"sub": "spiffe://example.org/web", "aud": ["api"], "exp": NOW + 300});
    let dpop = s.raw(json!({"typ": "dpop+jwt", "kid": "k1"}), claims.clone());
    assert_eq!(validate(&dpop, "api", &[s.jwk()]), Err(Error::JwtType));
    for ok in [json!({"kid": "k1"}), json!({"kid": "k1", "typ": "JOSE"})] {
        let token = s.raw(ok, claims.clone());
        assert!(validate(&token, "api", &[s.jwk()]).is_ok());
    }
}

#[test]
fn sub_must_be_a_spiffe_id_of_the_trust_domain() {
    let s = Signer::new("k1");
    let foreign = s.svid("spiffe://other.org/web", &["api"], NOW + 300);
    assert_eq!(
        validate(&foreign, "api", &[s.jwk()]),
        Err(Error::ForeignTrustDomain)
    );
    for (sub, want) in [
        (
            json!("spiffe://example.org/web/"),
            Some(Error::SpiffeId(keybound_ca::SpiffeIdError::TrailingSlash)),
        ),
        (
            json!("https://example.org/web"),
            Some(Error::SpiffeId(keybound_ca::SpiffeIdError::WrongScheme)),
        ),
        (json!(42), None),
    ] {
        let token = s.raw(
            json!({"typ": "JWT", "kid": "k1"}),
            json!({"sub": sub, "aud": ["api"], "exp": NOW + 300}),
        );
        let want = want.unwrap_or(Error::Jwt(JoseError::MissingClaim("sub")));
        assert_eq!(validate(&token, "api", &[s.jwk()]), Err(want));
    }
}

#[test]
fn tampered_and_malformed_tokens_are_refused() {
    let s = Signer::new("k1");
    let token = s.svid("spiffe://example.org/web", &["api"], NOW + 300);
    // Swap in other claims under the original signature.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
        serde_json::to_vec(
            &json!({"sub": "spiffe://example.org/admin", "aud": ["api"], "exp": NOW + 300}),
        )
        .unwrap(),
    );
    assert_eq!(
        validate(&parts.join("."), "api", &[s.jwk()]),
        Err(Error::Jwt(JoseError::BadSignature))
    );
    for bad in [
        "",
        "a.b",
        "a.b.c.d",
        &"x".repeat(20_000),
        "....",
        "e30.e30.e30",
    ] {
        assert!(validate(bad, "api", &[s.jwk()]).is_err(), "{bad:.20}");
    }
}
