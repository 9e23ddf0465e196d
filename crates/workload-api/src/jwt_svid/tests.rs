use serde_json::json;

use super::*;
use keybound_jose::SigningKey;

struct Key {
    key: SigningKey,
    kid: &'static str,
}

impl Key {
    fn new(kid: &'static str) -> Key {
        let der = SigningKey::generate_pkcs8(Algorithm::Es256).unwrap();
        Key {
            key: SigningKey::from_pkcs8(Algorithm::Es256, &der).unwrap(),
            kid,
        }
    }
    fn jwk(&self) -> Value {
        self.key
            .public_jwk(Some(self.kid.into()))
            .unwrap()
            .to_json()
    }
    fn sign_with(&self, header: Value, claims: Value) -> String {
        let Value::Object(header) = header else {
            panic!()
        };
        keybound_jose::sign(
            &header,
            &claims,
            &self.key,
            &aws_lc_rs::rand::SystemRandom::new(),
        )
        .unwrap()
    }
    fn sign(&self, claims: Value) -> String {
        self.sign_with(json!({"kid": self.kid, "typ": "JWT"}), claims)
    }
}

const NOW: i64 = 1_800_000_000;

fn claims(sub: &str) -> Value {
    json!({"sub": sub, "aud": ["b"], "iat": NOW, "exp": NOW + 300})
}

struct Fix {
    own: Key,
    fed: Key,
    own_keys: Vec<Value>,
    fed_keys: Vec<Value>,
}

impl Fix {
    fn new() -> Fix {
        let own = Key::new("own");
        let fed = Key::new("fed");
        let own_keys = vec![own.jwk()];
        let fed_keys = vec![fed.jwk()];
        Fix {
            own,
            fed,
            own_keys,
            fed_keys,
        }
    }
    fn check(&self, token: &str, aud: &str) -> Result<ValidJwtSvid, JwtSvidError> {
        let bundles = [
            JwtAuthorities {
                trust_domain: "example.org",
                keys: &self.own_keys,
            },
            JwtAuthorities {
                trust_domain: "fed.example",
                keys: &self.fed_keys,
            },
        ];
        validate_jwt_svid(token, aud, &bundles, NOW)
    }
}

#[test]
fn a_good_token_validates_and_yields_its_subject() {
    let f = Fix::new();
    let v = f
        .check(&f.own.sign(claims("spiffe://example.org/a")), "b")
        .unwrap();
    assert_eq!(v.spiffe_id, "spiffe://example.org/a");
    assert_eq!(v.claims["exp"], NOW + 300);
    // typ may be absent or JOSE too.
    let t = f
        .own
        .sign_with(json!({"kid": "own"}), claims("spiffe://example.org/a"));
    assert!(f.check(&t, "b").is_ok());
    let t = f.own.sign_with(
        json!({"kid": "own", "typ": "JOSE"}),
        claims("spiffe://example.org/a"),
    );
    assert!(f.check(&t, "b").is_ok());
}

#[test]
fn the_audience_must_be_in_aud() {
    let f = Fix::new();
    let t = f.own.sign(claims("spiffe://example.org/a"));
    assert_eq!(
        f.check(&t, "c"),
        Err(JwtSvidError::Jose(keybound_jose::Error::WrongAudience))
    );
}

#[test]
fn expired_and_missing_exp_are_refused() {
    let f = Fix::new();
    let t = f
        .own
        .sign(json!({"sub": "spiffe://example.org/a", "aud": "b", "exp": NOW - LEEWAY_S}));
    assert_eq!(
        f.check(&t, "b"),
        Err(JwtSvidError::Jose(keybound_jose::Error::Expired))
    );
    let t = f
        .own
        .sign(json!({"sub": "spiffe://example.org/a", "aud": "b"}));
    assert_eq!(
        f.check(&t, "b"),
        Err(JwtSvidError::Jose(keybound_jose::Error::Expired))
    );
}

#[test]
fn another_typ_is_refused() {
    let f = Fix::new();
    let t = f.own.sign_with(
        json!({"kid": "own", "typ": "dpop+jwt"}),
        claims("spiffe://example.org/a"),
    );
    assert_eq!(f.check(&t, "b"), Err(JwtSvidError::Type));
}

#[test]
fn a_federated_key_cannot_vouch_for_this_trust_domain() {
    let f = Fix::new();
    let t = f.fed.sign(claims("spiffe://example.org/a"));
    assert_eq!(f.check(&t, "b"), Err(JwtSvidError::TrustDomain));
    let t = f.fed.sign(claims("spiffe://fed.example/a"));
    assert_eq!(
        f.check(&t, "b").unwrap().spiffe_id,
        "spiffe://fed.example/a"
    );
}

#[test]
fn unknown_keys_and_bad_subjects_are_refused() {
    let f = Fix::new();
    let stranger = Key::new("own");
    let t = stranger.sign(claims("spiffe://example.org/a"));
    assert_eq!(
        f.check(&t, "b"),
        Err(JwtSvidError::Jose(keybound_jose::Error::BadSignature))
    );
    let t = Key::new("nobody").sign(claims("spiffe://example.org/a"));
    assert_eq!(
        f.check(&t, "b"),
        Err(JwtSvidError::Jose(keybound_jose::Error::UnknownKey))
    );
    for sub in [
        json!("https://example.org/a"),
        json!(7),
        json!("spiffe://Example.org/a"),
    ] {
        let t = f.own.sign(json!({"sub": sub, "aud": "b", "exp": NOW + 60}));
        assert_eq!(f.check(&t, "b"), Err(JwtSvidError::Subject), "{sub}");
    }
    let t = f.own.sign(json!({"aud": "b", "exp": NOW + 60}));
    assert_eq!(f.check(&t, "b"), Err(JwtSvidError::Subject));
}

#[test]
fn spiffe_ids_parse_by_the_standard() {
    assert_eq!(trust_domain_of("spiffe://example.org"), Some("example.org"));
    assert_eq!(
        trust_domain_of("spiffe://example.org/a/b-c.d_e"),
        Some("example.org")
    );
    for bad in [
        "spiffe://",
        "spiffe:///a",
        "spiffe://example.org/",
        "spiffe://example.org//a",
        "spiffe://example.org/./a",
        "spiffe://example.org/a/..",
        "spiffe://exa mple.org/a",
        "spiffe://example.org/a?b",
        "spiffe://user@example.org/a",
        "spiffe://example.org:80/a",
        "SPIFFE://example.org/a",
        "spiffe://example.org/é",
    ] {
        assert_eq!(trust_domain_of(bad), None, "{bad}");
    }
    let long = format!("spiffe://example.org/{}", "a".repeat(MAX_SPIFFE_ID_LEN));
    assert_eq!(trust_domain_of(&long), None);
}

#[test]
fn claims_become_a_protobuf_struct() {
    use prost_types::value::Kind;
    let Value::Object(c) = json!({"a": [1, "x", null, true], "o": {"k": 2.5}}) else {
        panic!()
    };
    let s = claims_struct(&c);
    let Some(Kind::ListValue(l)) = &s.fields["a"].kind else {
        panic!()
    };
    assert_eq!(l.values[0].kind, Some(Kind::NumberValue(1.0)));
    assert_eq!(l.values[1].kind, Some(Kind::StringValue("x".into())));
    assert_eq!(l.values[2].kind, Some(Kind::NullValue(0)));
    let Some(Kind::StructValue(o)) = &s.fields["o"].kind else {
        panic!()
    };
    assert_eq!(o.fields["k"].kind, Some(Kind::NumberValue(2.5)));
}
