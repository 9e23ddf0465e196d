use serde_json::json;

use super::*;
use keybound_jose::{Algorithm, SigningKey};

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
    fn check(&self, token: &str, aud: &str) -> Result<keybound_ca::JwtSvid, Error> {
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
        validate(token, aud, &bundles, NOW)
    }
}

#[test]
fn a_good_token_validates_against_its_own_domain() {
    let f = Fix::new();
    let v = f
        .check(&f.own.sign(claims("spiffe://example.org/a")), "b")
        .unwrap();
    assert_eq!(v.spiffe_id.as_str(), "spiffe://example.org/a");
    let v = f
        .check(&f.fed.sign(claims("spiffe://fed.example/a")), "b")
        .unwrap();
    assert_eq!(v.spiffe_id.as_str(), "spiffe://fed.example/a");
}

#[test]
fn a_federated_key_cannot_vouch_for_this_trust_domain() {
    let f = Fix::new();
    let t = f.fed.sign(claims("spiffe://example.org/a"));
    assert_eq!(f.check(&t, "b"), Err(Error::ForeignTrustDomain));
}

#[test]
fn the_telling_reason_wins_over_unknown_key() {
    let f = Fix::new();
    let t = f.own.sign(claims("spiffe://example.org/a"));
    assert_eq!(
        f.check(&t, "c"),
        Err(Error::Jwt(keybound_jose::Error::WrongAudience))
    );
    let t = Key::new("nobody").sign(claims("spiffe://example.org/a"));
    assert_eq!(
        f.check(&t, "b"),
        Err(Error::Jwt(keybound_jose::Error::UnknownKey))
    );
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
