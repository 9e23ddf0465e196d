use serde_json::{json, Map, Value};

use super::*;
use crate::crypto::testing::{key, rng};
use crate::{b64, SigningKey};

/// A proof as a browser builds it: `typ`, the public key as `jwk` (when
/// `with_jwk`), `jti` the challenge.
fn proof(signer: &SigningKey, with_jwk: bool, claims: &Value) -> String {
    let mut header = Map::new();
    header.insert("typ".into(), DBSC_TYP.into());
    if with_jwk {
        header.insert("jwk".into(), signer.public_jwk(None).unwrap().to_json());
    }
    crate::sign(&header, claims, signer, &rng()).unwrap()
}

/// A token with exactly this header and claims and a junk signature.
fn raw(header: &Value, claims: &Value, sig: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes()),
        b64(sig)
    )
}

#[test]
fn registration_proves_the_key_in_the_header() {
    for alg in DBSC_ALGORITHMS {
        let signer = key(alg);
        let token = proof(&signer, true, &json!({"jti": "c-1", "authorization": "a"}));
        let p = verify_dbsc_proof(&token, None).unwrap();
        assert_eq!(p.jti, "c-1");
        assert_eq!(p.authorization.as_deref(), Some("a"));
        assert_eq!(p.key, signer.public_jwk(None).unwrap());
    }
}

#[test]
fn refresh_proves_the_registered_key_and_ignores_a_header_key() {
    let signer = key(Algorithm::Es256);
    let registered = signer.public_jwk(None).unwrap();
    let token = proof(&signer, false, &json!({"jti": "c-2"}));
    assert_eq!(
        verify_dbsc_proof(&token, Some(&registered)).unwrap().jti,
        "c-2"
    );
    // Another key, even announcing itself in the header, is not the session's.
    let thief = key(Algorithm::Es256);
    let stolen = proof(&thief, true, &json!({"jti": "c-2"}));
    assert_eq!(
        verify_dbsc_proof(&stolen, Some(&registered)),
        Err(Error::BadSignature)
    );
}

#[test]
fn a_proof_signed_by_another_key_than_its_jwk_is_refused() {
    let signer = key(Algorithm::Es256);
    let other = key(Algorithm::Es256);
    let mut header = Map::new();
    header.insert("typ".into(), DBSC_TYP.into());
    header.insert("jwk".into(), other.public_jwk(None).unwrap().to_json());
    let token = crate::sign(&header, &json!({"jti": "c"}), &signer, &rng()).unwrap();
    assert_eq!(verify_dbsc_proof(&token, None), Err(Error::BadSignature));
}

#[test]
fn alg_none_hmac_and_eddsa_are_refused() {
    let signer = key(Algorithm::Es256);
    let jwk = signer.public_jwk(None).unwrap().to_json();
    for alg in ["none", "HS256", "EdDSA", "es256"] {
        let token = raw(
            &json!({"typ": DBSC_TYP, "alg": alg, "jwk": jwk}),
            &json!({"jti": "c"}),
            b"",
        );
        assert_eq!(
            verify_dbsc_proof(&token, None),
            Err(Error::AlgorithmNotAllowed),
            "{alg}"
        );
    }
    // EdDSA with a real Ed25519 key and signature: still not offered.
    let ed = key(Algorithm::EdDsa);
    assert_eq!(
        verify_dbsc_proof(&proof(&ed, true, &json!({"jti": "c"})), None),
        Err(Error::AlgorithmNotAllowed)
    );
}

#[test]
fn a_private_key_in_the_jwk_is_refused() {
    let signer = key(Algorithm::Es256);
    let mut jwk = signer.public_jwk(None).unwrap().to_json();
    jwk["d"] = "AAAA".into();
    let mut header = Map::new();
    header.insert("typ".into(), DBSC_TYP.into());
    header.insert("jwk".into(), jwk);
    let token = crate::sign(&header, &json!({"jti": "c"}), &signer, &rng()).unwrap();
    assert_eq!(verify_dbsc_proof(&token, None), Err(Error::PrivateKey));
}

#[test]
fn the_header_must_say_dbsc_and_carry_a_key() {
    let signer = key(Algorithm::Es256);
    let token = crate::sign(&Map::new(), &json!({"jti": "c"}), &signer, &rng()).unwrap();
    assert_eq!(
        verify_dbsc_proof(&token, None),
        Err(Error::Malformed("typ"))
    );
    let token = proof(&signer, false, &json!({"jti": "c"}));
    assert_eq!(verify_dbsc_proof(&token, None), Err(Error::UnknownKey));
}

#[test]
fn jti_is_required_and_bounded() {
    let signer = key(Algorithm::Es256);
    let cases = [
        (json!({}), Error::MissingClaim("jti")),
        (json!({"jti": ""}), Error::Malformed("jti")),
        (json!({"jti": 7}), Error::Malformed("jti")),
        (
            json!({"jti": "x".repeat(MAX_DBSC_CLAIM_LEN + 1)}),
            Error::Malformed("jti"),
        ),
        (
            json!({"jti": "c", "authorization": ["a"]}),
            Error::Malformed("authorization"),
        ),
    ];
    for (claims, error) in cases {
        assert_eq!(
            verify_dbsc_proof(&proof(&signer, true, &claims), None),
            Err(error),
            "{claims}"
        );
    }
}

#[test]
fn huge_and_malformed_tokens_are_refused_before_any_work() {
    assert_eq!(
        verify_dbsc_proof(&"a".repeat(MAX_DBSC_PROOF_LEN + 1), None),
        Err(Error::TooLarge)
    );
    for junk in ["", ".", "..", "a.b.c", "e30.e30", "!!!.e30.e30"] {
        assert!(verify_dbsc_proof(junk, None).is_err(), "{junk}");
    }
    // A header that is JSON but not an object.
    let token = format!("{}.e30.", b64(b"[1]"));
    assert_eq!(
        verify_dbsc_proof(&token, None),
        Err(Error::Malformed("header"))
    );
}
