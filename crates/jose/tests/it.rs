//! The public API end to end, the way the OIDC provider and a DPoP check
//! will use it: sign an ID token, publish the JWK, verify and check claims;
//! and a DPoP-style proof carrying its own `jwk` header.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use keybound_jose::{check_claims, sign, verify, Algorithm, ClaimChecks, Error, Jwk, SigningKey};
use serde_json::json;

const NOW: i64 = 1_700_000_000;

fn es256() -> SigningKey {
    let der = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .unwrap();
    SigningKey::from_pkcs8(Algorithm::Es256, der.as_ref()).unwrap()
}

#[test]
fn id_token_through_a_published_jwks() {
    let key = es256();
    let jwks = json!({"keys": [key.public_jwk(Some("2026-12".into())).unwrap().to_json()]});
    let claims =
        json!({"iss":"https://id.example","aud":"app","sub":"ann","iat":NOW,"exp":NOW + 300});
    let header = json!({"kid":"2026-12","typ":"JWT"});
    let token = sign(
        header.as_object().unwrap(),
        &claims,
        &key,
        &SystemRandom::new(),
    )
    .unwrap();

    // The relying party's side: the JWKS as JSON, looked up by kid.
    let keys: Vec<Jwk> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| Jwk::parse(k).unwrap())
        .collect();
    let find = |kid: Option<&str>| keys.iter().find(|k| k.kid() == kid).cloned();
    let verified = verify(&token, &[Algorithm::Es256], find).unwrap();
    let checks = ClaimChecks {
        now: NOW + 10,
        leeway: 60,
        require_exp: true,
        issuer: Some("https://id.example"),
        audience: Some("app"),
    };
    check_claims(&verified.claims().unwrap(), &checks).unwrap();
    let late = ClaimChecks {
        now: NOW + 400,
        ..checks.clone()
    };
    assert_eq!(
        check_claims(&verified.claims().unwrap(), &late),
        Err(Error::Expired)
    );
    let other_app = ClaimChecks {
        audience: Some("other"),
        ..checks
    };
    assert_eq!(
        check_claims(&verified.claims().unwrap(), &other_app),
        Err(Error::WrongAudience)
    );
}

#[test]
fn dpop_style_proof_with_embedded_jwk() {
    let der = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    let key = SigningKey::from_pkcs8(Algorithm::EdDsa, der.as_ref()).unwrap();
    let public = key.public_jwk(None).unwrap();
    let header = json!({"typ":"dpop+jwt","jwk":public.to_json()});
    let proof = sign(
        header.as_object().unwrap(),
        &json!({"htm":"POST","htu":"https://id.example/token","iat":NOW,"jti":"x1"}),
        &key,
        &SystemRandom::new(),
    )
    .unwrap();

    // The server parses the key out of the header, then verifies with it.
    let mut seen = None;
    let verified = verify(&proof, &[Algorithm::Es256, Algorithm::EdDsa], |_| {
        let payload = proof.split('.').next().unwrap();
        let header = keybound_jose_header(payload);
        let jwk = Jwk::parse(&header["jwk"]).ok();
        seen.clone_from(&jwk);
        jwk
    })
    .unwrap();
    assert_eq!(verified.header["typ"], "dpop+jwt");
    assert_eq!(seen.unwrap().thumbprint(), public.thumbprint());
    let dpop = ClaimChecks {
        now: NOW,
        leeway: 5,
        ..ClaimChecks::default()
    };
    check_claims(&verified.claims().unwrap(), &dpop).unwrap();
}

fn keybound_jose_header(h64: &str) -> serde_json::Value {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(h64)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}
