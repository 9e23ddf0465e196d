use aws_lc_rs::rsa::KeySize;
use serde_json::json;

use super::*;
use crate::crypto::testing::{key, rng, rsa};

const ALL: [Algorithm; 3] = [Algorithm::Es256, Algorithm::Rs256, Algorithm::EdDsa];

// RFC 7515 A.3.1: the ES256 example, line breaks removed.
const RFC7515_A3: &str = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

fn rfc_key() -> Jwk {
    Jwk::parse(&crate::jwk::tests::rfc7515_ec()).unwrap()
}

fn token(alg: Algorithm) -> (String, Jwk) {
    let k = key(alg);
    let jwk = k.public_jwk(Some("k1".into())).unwrap();
    let header = json!({"kid":"k1","typ":"JWT"});
    let t = sign(
        header.as_object().unwrap(),
        &json!({"sub":"ann"}),
        &k,
        &rng(),
    )
    .unwrap();
    (t, jwk)
}

fn with(jwk: &Jwk) -> impl FnOnce(Option<&str>) -> Option<Jwk> + '_ {
    move |_| Some(jwk.clone())
}

/// Re-assembles a token from (possibly altered) parts.
fn join(h: &[u8], p: &[u8], s: &str) -> String {
    format!("{}.{}.{s}", b64(h), b64(p))
}

#[test]
fn rfc7515_a3_es256_example_verifies() {
    let v = verify(RFC7515_A3, &[Algorithm::Es256], with(&rfc_key())).unwrap();
    assert_eq!(v.algorithm, Algorithm::Es256);
    assert_eq!(v.claims().unwrap()["iss"], "joe");
}

// RFC 8037 A.4: EdDSA over the bytes "Example of Ed25519 signing".
const RFC8037_A4: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

#[test]
fn rfc8037_a4_eddsa_example_verifies() {
    let key = Jwk::parse(
        &json!({"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}),
    )
    .unwrap();
    let v = verify(RFC8037_A4, &[Algorithm::EdDsa], with(&key)).unwrap();
    assert_eq!(v.payload, b"Example of Ed25519 signing");
    // Not a JWT: the payload is not a claims object.
    assert_eq!(v.claims(), Err(Error::Malformed("claims")));
}

#[test]
fn round_trips_es256_and_eddsa() {
    for alg in [Algorithm::Es256, Algorithm::EdDsa] {
        let (t, jwk) = token(alg);
        let v = verify(&t, &ALL, |kid| (kid == Some("k1")).then(|| jwk.clone())).unwrap();
        assert_eq!(v.algorithm, alg);
        assert_eq!(v.header["typ"], "JWT");
        assert_eq!(v.claims().unwrap()["sub"], "ann");
    }
    // ES256 signatures are r||s, 64 bytes, not DER.
    let (t, _) = token(Algorithm::Es256);
    assert_eq!(unb64(t.rsplit('.').next().unwrap()).unwrap().len(), 64);
}

#[test]
fn rs256_verifies() {
    let (jwk, sign_rsa) = rsa(KeySize::Rsa2048);
    let input = join(br#"{"alg":"RS256","kid":"rsa"}"#, br#"{"sub":"ann"}"#, "");
    let t = format!(
        "{input}{}",
        b64(&sign_rsa(input.trim_end_matches('.').as_bytes()))
    );
    verify(&t, &ALL, with(&jwk)).unwrap();
    assert_eq!(
        verify(&t, &[Algorithm::Es256], with(&jwk)),
        Err(Error::AlgorithmNotAllowed)
    );
}

#[test]
fn tampering_is_refused() {
    let (t, jwk) = token(Algorithm::Es256);
    let parts: Vec<&str> = t.split('.').collect();
    let payload = join(
        br#"{"alg":"ES256","kid":"k1","typ":"JWT"}"#,
        br#"{"sub":"bob"}"#,
        parts[2],
    );
    assert_eq!(verify(&payload, &ALL, with(&jwk)), Err(Error::BadSignature));
    let header = join(
        br#"{"alg":"ES256","kid":"k1"}"#,
        br#"{"sub":"ann"}"#,
        parts[2],
    );
    assert_eq!(verify(&header, &ALL, with(&jwk)), Err(Error::BadSignature));
    let mut sig = unb64(parts[2]).unwrap();
    sig[10] ^= 1;
    let bad_sig = format!("{}.{}.{}", parts[0], parts[1], b64(&sig));
    assert_eq!(verify(&bad_sig, &ALL, with(&jwk)), Err(Error::BadSignature));
    // Another key of the same type.
    let (_, other) = token(Algorithm::Es256);
    assert_eq!(verify(&t, &ALL, with(&other)), Err(Error::BadSignature));
}

#[test]
fn alg_none_is_refused() {
    let (t, jwk) = token(Algorithm::Es256);
    let payload = t.split('.').nth(1).unwrap();
    let none = format!("{}.{payload}.", b64(br#"{"alg":"none","kid":"k1"}"#));
    assert_eq!(
        verify(&none, &ALL, with(&jwk)),
        Err(Error::AlgorithmNotAllowed)
    );
}

#[test]
fn alg_outside_the_allow_list_is_refused() {
    let (t, jwk) = token(Algorithm::EdDsa);
    assert_eq!(
        verify(&t, &[Algorithm::Es256], with(&jwk)),
        Err(Error::AlgorithmNotAllowed)
    );
}

#[test]
fn alg_confusion_is_refused() {
    let ec = rfc_key();
    let (_, sig) = RFC7515_A3.rsplit_once('.').unwrap();
    for alg in ["RS256", "EdDSA"] {
        let h = format!(r#"{{"alg":"{alg}"}}"#);
        let t = join(h.as_bytes(), b"{}", sig);
        assert_eq!(
            verify(&t, &ALL, with(&ec)),
            Err(Error::KeyMismatch),
            "{alg}"
        );
    }
    let hs = join(br#"{"alg":"HS256"}"#, b"{}", sig);
    assert_eq!(
        verify(&hs, &ALL, with(&ec)),
        Err(Error::AlgorithmNotAllowed)
    );
    // An ES256 token against an RSA key.
    let (rsa_jwk, _) = rsa(KeySize::Rsa2048);
    assert_eq!(
        verify(RFC7515_A3, &ALL, with(&rsa_jwk)),
        Err(Error::KeyMismatch)
    );
}

#[test]
fn oversized_token_is_refused() {
    let (t, jwk) = token(Algorithm::Es256);
    let big = format!("{t}{}", "A".repeat(MAX_TOKEN_LEN));
    assert_eq!(verify(&big, &ALL, with(&jwk)), Err(Error::TooLarge));
    // A valid token of exactly the limit is still looked at (and fails on
    // its signature, not its size).
    let (h, rest) = t.split_once('.').unwrap();
    let pad = MAX_TOKEN_LEN - t.len();
    let long = format!("{h}.{}{rest}", "A".repeat(pad));
    assert_eq!(long.len(), MAX_TOKEN_LEN);
    assert_ne!(verify(&long, &ALL, with(&jwk)), Err(Error::TooLarge));
}

#[test]
fn crit_is_refused_unless_empty() {
    let (_, sig) = RFC7515_A3.rsplit_once('.').unwrap();
    let crit = join(br#"{"alg":"ES256","crit":["exp"],"exp":1}"#, b"{}", sig);
    assert_eq!(
        verify(&crit, &ALL, with(&rfc_key())),
        Err(Error::CriticalHeader)
    );
    let empty = join(br#"{"alg":"ES256","crit":[]}"#, b"{}", sig);
    assert_eq!(
        verify(&empty, &ALL, with(&rfc_key())),
        Err(Error::BadSignature)
    );
}

#[test]
fn malformed_tokens_are_refused() {
    let jwk = rfc_key();
    let (h, rest) = RFC7515_A3.split_once('.').unwrap();
    for bad in [
        "",
        "a.b",
        "a.b.c.d",
        &format!("{h}.{rest}.x"),
        &format!("{h}=.{rest}"),
        &format!("{}.{rest}", b64(b"[1]")),
        &format!("{}.{rest}", b64(b"not json")),
        &format!("{}.{rest}", b64(br#"{"alg":1}"#)),
        &format!("{}.{rest}", b64(br#"{"alg":"ES256","kid":7}"#)),
    ] {
        assert!(
            matches!(verify(bad, &ALL, with(&jwk)), Err(Error::Malformed(_))),
            "{bad}"
        );
    }
    // Padding on the signature.
    let padded = format!("{RFC7515_A3}==");
    assert!(matches!(
        verify(&padded, &ALL, with(&jwk)),
        Err(Error::Malformed(_))
    ));
}

#[test]
fn unknown_kid_is_refused() {
    let (t, _) = token(Algorithm::Es256);
    assert_eq!(verify(&t, &ALL, |_| None), Err(Error::UnknownKey));
}

#[test]
fn signing_key_refuses_wrong_pkcs8_and_rs256() {
    assert_eq!(
        SigningKey::from_pkcs8(Algorithm::Es256, b"junk").unwrap_err(),
        Error::Signing
    );
    assert_eq!(
        SigningKey::from_pkcs8(Algorithm::Rs256, b"junk").unwrap_err(),
        Error::Signing
    );
}
