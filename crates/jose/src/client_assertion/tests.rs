use serde_json::json;

use super::*;
use crate::b64;
use crate::crypto::testing::{key, rng};
use crate::SigningKey;

const NOW: i64 = 1_700_000_000;
const CLIENT: &str = "app-1";
const TOKEN_URL: &str = "https://id.example/oauth2/token";
const ISSUER: &str = "https://id.example";
const ALL: [Algorithm; 3] = [Algorithm::Es256, Algorithm::Rs256, Algorithm::EdDsa];

fn claims() -> Value {
    json!({"iss": CLIENT, "sub": CLIENT, "aud": TOKEN_URL, "iat": NOW, "exp": NOW + 60, "jti": "j-1"})
}

/// `claims` with `changes` applied (`null` removes a claim).
fn with_changes(changes: Value) -> Value {
    let mut c = claims();
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

fn assertion(signer: &SigningKey, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Map::new();
    if let Some(kid) = kid {
        header.insert("kid".into(), kid.into());
    }
    crate::sign(&header, claims, signer, &rng()).unwrap()
}

fn check(token: &str, keys: &[Jwk]) -> Result<ClientAssertion, Error> {
    verify_client_assertion(
        token,
        &ClientAssertionChecks {
            client_id: CLIENT,
            audiences: &[TOKEN_URL, ISSUER],
            keys,
            algorithms: &ALL,
            now: NOW,
        },
    )
}

struct Client {
    signer: SigningKey,
    jwk: Jwk,
}

fn client(alg: Algorithm, kid: &str) -> Client {
    let signer = key(alg);
    let jwk = signer.public_jwk(Some(kid.into())).unwrap();
    Client { signer, jwk }
}

#[test]
fn a_good_assertion_yields_its_jti_and_exp_for_every_algorithm() {
    for alg in ALL {
        let c = client(alg, "k1");
        let t = assertion(&c.signer, Some("k1"), &claims());
        assert_eq!(
            check(&t, std::slice::from_ref(&c.jwk)),
            Ok(ClientAssertion {
                jti: "j-1".into(),
                exp: NOW + 60
            }),
            "{alg:?}"
        );
    }
    // The issuer as audience, inside an array, also counts.
    let c = client(Algorithm::Es256, "k1");
    let t = assertion(
        &c.signer,
        Some("k1"),
        &with_changes(json!({"aud": ["other", ISSUER]})),
    );
    assert!(check(&t, &[c.jwk]).is_ok());
}

#[test]
fn none_hmac_and_unlisted_algorithms_are_refused() {
    let c = client(Algorithm::Es256, "k1");
    let payload = b64(claims().to_string().as_bytes());
    let none = format!("{}.{payload}.", b64(br#"{"alg":"none","kid":"k1"}"#));
    assert_eq!(
        check(&none, std::slice::from_ref(&c.jwk)),
        Err(Error::AlgorithmNotAllowed)
    );
    // HS256 "signed" with the public key as the HMAC secret (the classic
    // confusion attack) never reaches a MAC check.
    let hs = format!("{}.{payload}.AAAA", b64(br#"{"alg":"HS256","kid":"k1"}"#));
    assert_eq!(
        check(&hs, std::slice::from_ref(&c.jwk)),
        Err(Error::AlgorithmNotAllowed)
    );
    // The client registered ES256 only: its EdDSA key signs, but EdDSA is
    // not on the list.
    let ed = client(Algorithm::EdDsa, "k1");
    let t = assertion(&ed.signer, Some("k1"), &claims());
    let only_es256 = verify_client_assertion(
        &t,
        &ClientAssertionChecks {
            client_id: CLIENT,
            audiences: &[TOKEN_URL],
            keys: &[ed.jwk],
            algorithms: &[Algorithm::Es256],
            now: NOW,
        },
    );
    assert_eq!(only_es256, Err(Error::AlgorithmNotAllowed));
}

#[test]
fn an_algorithm_that_does_not_fit_the_key_is_refused() {
    let ec = client(Algorithm::Es256, "k1");
    let rsa = client(Algorithm::Rs256, "k1");
    // Signed with RSA, presented against the client's EC key of that kid.
    let t = assertion(&rsa.signer, Some("k1"), &claims());
    assert_eq!(check(&t, &[ec.jwk]), Err(Error::KeyMismatch));
}

#[test]
fn kid_selects_the_key() {
    let a = client(Algorithm::Es256, "a");
    let b = client(Algorithm::Es256, "b");
    let keys = [a.jwk.clone(), b.jwk.clone()];
    assert!(check(&assertion(&b.signer, Some("b"), &claims()), &keys).is_ok());
    // Signed by b but naming a: a's key does not verify it.
    assert_eq!(
        check(&assertion(&b.signer, Some("a"), &claims()), &keys),
        Err(Error::BadSignature)
    );
    assert_eq!(
        check(&assertion(&b.signer, Some("zzz"), &claims()), &keys),
        Err(Error::UnknownKey)
    );
    // Without a kid, several keys are ambiguous...
    assert_eq!(
        check(&assertion(&b.signer, None, &claims()), &keys),
        Err(Error::UnknownKey)
    );
    // ...and a single key is the key.
    assert!(check(
        &assertion(&b.signer, None, &claims()),
        std::slice::from_ref(&b.jwk)
    )
    .is_ok());
    // No keys registered at all.
    assert_eq!(
        check(&assertion(&b.signer, Some("b"), &claims()), &[]),
        Err(Error::UnknownKey)
    );
    // A single registered key without a kid serves any kid.
    let bare = b.signer.public_jwk(None).unwrap();
    assert!(check(&assertion(&b.signer, Some("x"), &claims()), &[bare]).is_ok());
}

#[test]
fn a_tampered_assertion_is_refused() {
    let c = client(Algorithm::Es256, "k1");
    let t = assertion(&c.signer, Some("k1"), &claims());
    let (h, rest) = t.split_once('.').unwrap();
    let (_, sig) = rest.split_once('.').unwrap();
    let forged = format!(
        "{h}.{}.{sig}",
        b64(with_changes(json!({"jti": "j-2"})).to_string().as_bytes())
    );
    assert_eq!(check(&forged, &[c.jwk]), Err(Error::BadSignature));
}

/// Each claim change, and the check that must refuse it.
#[test]
fn every_claim_check_refuses() {
    let c = client(Algorithm::Es256, "k1");
    let long_jti = "j".repeat(MAX_JTI_LEN + 1);
    let cases = [
        (json!({"iss": "app-2"}), Error::WrongIssuer),
        (json!({"iss": null}), Error::WrongIssuer),
        (json!({"sub": "app-2"}), Error::WrongSubject),
        (json!({"sub": null}), Error::WrongSubject),
        (
            json!({"aud": "https://other.example/token"}),
            Error::WrongAudience,
        ),
        (json!({"aud": ["a", "b"]}), Error::WrongAudience),
        (json!({"aud": [7]}), Error::WrongAudience),
        (json!({"aud": null}), Error::WrongAudience),
        (json!({"exp": null}), Error::MissingClaim("exp")),
        (json!({"exp": "soon"}), Error::Malformed("exp")),
        (
            json!({"iat": NOW - 100, "exp": NOW - CLIENT_ASSERTION_LEEWAY}),
            Error::Expired,
        ),
        (json!({"nbf": NOW + 120}), Error::NotYetValid),
        (
            json!({"iat": NOW + 120, "exp": NOW + 180}),
            Error::IssuedInFuture,
        ),
        (
            json!({"exp": NOW + MAX_CLIENT_ASSERTION_LIFETIME + 1}),
            Error::LifetimeTooLong,
        ),
        (
            json!({"iat": null, "exp": NOW + MAX_CLIENT_ASSERTION_LIFETIME + 1}),
            Error::LifetimeTooLong,
        ),
        (
            json!({"iat": NOW - MAX_CLIENT_ASSERTION_LIFETIME, "exp": NOW + 10}),
            Error::LifetimeTooLong,
        ),
        (json!({"jti": null}), Error::MissingClaim("jti")),
        (json!({"jti": ""}), Error::Malformed("jti")),
        (json!({"jti": 42}), Error::Malformed("jti")),
        (json!({"jti": long_jti}), Error::Malformed("jti")),
    ];
    for (changes, want) in cases {
        let t = assertion(&c.signer, Some("k1"), &with_changes(changes.clone()));
        assert_eq!(
            check(&t, std::slice::from_ref(&c.jwk)),
            Err(want),
            "{changes}"
        );
    }
    // The edges that pass: the longest lifetime, exp just inside the
    // leeway, a jti of the longest length, no iat.
    for changes in [
        json!({"exp": NOW + MAX_CLIENT_ASSERTION_LIFETIME}),
        json!({"iat": NOW - 100, "exp": NOW - CLIENT_ASSERTION_LEEWAY + 1}),
        json!({"jti": "j".repeat(MAX_JTI_LEN)}),
        json!({"iat": null}),
    ] {
        let t = assertion(&c.signer, Some("k1"), &with_changes(changes.clone()));
        assert!(check(&t, std::slice::from_ref(&c.jwk)).is_ok(), "{changes}");
    }
}

/// Another explicitly typed JWT signed by the client's key (a logout
/// token, an access token, a DPoP proof) is not an assertion.
#[test]
fn another_kind_of_jwt_is_not_an_assertion() {
    let c = client(Algorithm::Es256, "k1");
    let typed = |typ: Value| {
        let mut header = Map::new();
        header.insert("kid".into(), "k1".into());
        header.insert("typ".into(), typ);
        crate::sign(&header, &claims(), &c.signer, &rng()).unwrap()
    };
    for bad in [
        json!("logout+jwt"),
        json!("at+jwt"),
        json!("dpop+jwt"),
        json!(1),
    ] {
        assert_eq!(
            check(&typed(bad.clone()), std::slice::from_ref(&c.jwk)),
            Err(Error::Malformed("typ")),
            "{bad}"
        );
    }
    for good in [
        "JWT",
        "jwt",
        "client-authentication+jwt",
        "application/client-authentication+jwt",
    ] {
        assert!(
            check(&typed(json!(good)), std::slice::from_ref(&c.jwk)).is_ok(),
            "{good}"
        );
    }
}
