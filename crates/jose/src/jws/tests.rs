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

/// Standard base64 (the RFC vector's PKCS#8 below is written that way).
fn std_b64(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

// RFC 7515 A.2: the RS256 example. The RSA key is the RFC's JWK (n, e, d,
// p, q, dp, dq, qi) as a DER PKCS#8 (RFC 5208 around RFC 8017's
// RSAPrivateKey; checked n = p*q, dp, dq, qi) so aws-lc can load it; RSASSA-
// PKCS1-v1_5 is deterministic, so signing the RFC's input must give the
// RFC's signature byte for byte.
const RFC7515_A2: &str = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
const RFC7515_A2_N: &str = "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";
const RFC7515_A2_PKCS8: &str = concat!(
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCh+BYK4uPJtGXOjS1lYmM2K5J9",
    "vinh8CR3/BYlzJChNuOL2TSXxbbqY913EeZ8dCn5VrD7io8ImtxLaYk8wTM/U+3QGbh3hCUv7JFP",
    "5IV3aVlL6kKA0ywPVb9ilE8TA5a8bpvfbr3SvaNnjuygxmj3AbONv/s4yDQs4v5tJ/reSlpIdJed",
    "1LnPmt7Ex1sFhSwsD174pcF1A5L5ROjtZMEQxrZHYJqkeDrrnGya11UxMFBji4NmXG9veoKjlnAq",
    "H2QbgtPr8jkiGUkftoaHLFcW9Qr4NY2ai50Xw0Byj3+H2JoY2PyrZ62EWQwuz3WTOTY8BwNNb2Bv",
    "niHgVFbK5emhAgMBAAECggEAEq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88v",
    "LNO97IjlA7/GQ5sLKMgvfTeXZx9SE+7YwVol2NXOoAJe46sui395IW/GO+pWJ1O0BkTGoVEn2bKV",
    "RUCgu+GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn439X0M/V51gfpRLI9JYanrC4D4qAdG",
    "copV/0ZHHzQlBjudU2QvXt4ehNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl/x/jTj3ccPDV",
    "ZFD9pIuhLhBOneufuBiB4cS98l2SR/RQyGWSeWjnczT0QU91p1DhOVRuOopznQKBgQDgHMQQ60im",
    "ZV1URk0KpLttoLhyt3SmqdEf/kgHePDdtzEafpAu+cS191R2JiuoF2yzWXnwFDcqGigp5BNr0AHQ",
    "fD8/Lk8l1Mk09jxxCfui5nYooNyac8YFjm3vItzVCVDnEd3BbVWG8qf6deqElMGAg+C2V0L4oNXn",
    "P7LZcPAZRwKBgQC5A8R+CZW2MvRTLLHzwZkUXV866cff7tx6kqa0finGG0KgeqlaZPxgCZnFp7Ae",
    "AcCMtiynVlJ7vMVgePsLq6XtON4tB5kP9jAPrq3rbAOal78eUH5OcED6eNuCV8ixEu1eWcPNCS/l",
    "1OW1EnXUEoEHKl54Xrrz2uNwkgMTP1FZ1wKBgAcCn1dwJKufzBWQxWQp1vsM5fggqPN1qGb5y0MA",
    "k3g7/Ls5bkUp5u9SN0Ai3Ya6hNnvWJMb7sXQX6U/zyO2M/hTip7tUeh7CXgwo59dkpN75gJLVds2",
    "9+DAncu3KXU4f2Fa+7bLNrur53k8KwPOq2bbuTG69QtV7Jr5MR0AHWKNAoGBAIf/evpitUf+4JYb",
    "LpvNXWcY052Mpz22aR84mY3nh3F2LF2mjMJDpTg7FmuyPcVw6EcGyoAe9fa65iNqCq+jdw6PVNGo",
    "2hxfjSiZ8IIzHdsPXI89//pMjZcQK9r+CCoRjaZjOYiIDktVWZzmevJuv6WywUqd57LE3Zar3dLS",
    "Ikx1AoGAIYd7DHOhrWvxkwPQsRM2tOgrjbcrfvtQJipd+DlcxyVuuM9sQLdgjVk2oy26F0EmpScG",
    "Lq2MowX7fhd/QJQ3ydy5cY7YIBi87w93IKLEdfnbJtoOPLUW0ITrJReOgo1cq9SbsxYawBgfp/gh",
    "6A5603k2+ZQwVK0JKSHuLFkuQ3U="
);

#[test]
fn rfc7515_a2_rs256_example_verifies_and_signs_identically() {
    let jwk = Jwk::parse(&json!({"kty":"RSA","n":RFC7515_A2_N,"e":"AQAB"})).unwrap();
    let v = verify(RFC7515_A2, &[Algorithm::Rs256], with(&jwk)).unwrap();
    assert_eq!(v.algorithm, Algorithm::Rs256);
    assert_eq!(v.claims().unwrap()["iss"], "joe");

    let key = SigningKey::from_pkcs8(Algorithm::Rs256, &std_b64(RFC7515_A2_PKCS8)).unwrap();
    assert_eq!(key.algorithm(), Algorithm::Rs256);
    assert_eq!(key.public_jwk(None).unwrap(), jwk);
    let (input, sig) = RFC7515_A2.rsplit_once('.').unwrap();
    assert_eq!(b64(&key.sign(input.as_bytes(), &rng()).unwrap()), sig);
    // The RFC's ES256 key is not an RSA key.
    assert_eq!(
        verify(RFC7515_A2, &ALL, with(&rfc_key())),
        Err(Error::KeyMismatch)
    );
}

#[test]
fn every_algorithm_generates_signs_and_round_trips() {
    for alg in ALL {
        let key = key(alg);
        assert_eq!(key.algorithm(), alg);
        let jwk = key.public_jwk(Some("k1".into())).unwrap();
        assert_eq!(jwk.algorithm(), alg);
        let t = sign(&Map::new(), &json!({"sub":"ann"}), &key, &rng()).unwrap();
        let v = verify(&t, &[alg], with(&jwk)).unwrap();
        assert_eq!(v.header["alg"], alg.as_str());
        // A fresh key is a different key.
        let other = self::key(alg).public_jwk(None).unwrap();
        assert_eq!(verify(&t, &[alg], with(&other)), Err(Error::BadSignature));
    }
    let rsa = key(Algorithm::Rs256).public_jwk(None).unwrap();
    let n = rsa.to_json()["n"]
        .as_str()
        .map(|n| unb64(n).unwrap())
        .unwrap();
    assert_eq!(n.len(), 256, "2048-bit RSA");
    assert!(!format!("{:?}", key(Algorithm::Rs256)).contains("pair"));
}

// A 1024-bit RSA key (openssl genpkey -algorithm RSA -pkeyopt
// rsa_keygen_bits:1024 | openssl pkcs8 -topk8 -nocrypt -outform DER).
const RSA_1024_PKCS8: &str = "MIICdgIBADANBgkqhkiG9w0BAQEFAASCAmAwggJcAgEAAoGBAL4rjM4XLpQ/13Qy5qRMx5zbF3wQCjOv6aA8eJiFibzp57twNDlNlSssq9LvHiQoLxwGCwWLyyDAQ6JntS5OJjCoONoSXOGMFlek9sME3brad1Z+AfpKO+cU81gApwddkpTl5xbUOXFZvHfWUcVgshcZCQJUefJaWObz6Zml3MnZAgMBAAECgYBpsrb+TXA8Qge0tB3xsCM6kaPJ9vhUpi/KOhIlZAOclr2QNtswBmkkqB2QjgtIuXUFtG4n1P0/5N0yxUW0yQb8CUNZG77zwCsZtJXn7tPJyiYnUYuvJeRj+rRSFhT1HgHimRZ4Rh3nGg7Tvl7pmaiqa2i10YId32LsqHBZk7AZAQJBAPl8izsQeDdPCGVu5K0p3P8PonJiZzhoT+6ZOqIU35sBOv8P0vvfP4Bv0nwAthE1xLQ9f0XicgY196HbJS8siFECQQDDIo/etJyANI2IM9Me7sx0z7+vkHIKkBhNPhiEbh8jEYljxrYvii/hm1/WhiKTvTs+PuqQJTsw8u8ECgb3y08JAkAVfUnM251PPkp92jBuTfXQLnuSmLFFZY7FAYPQZDXidxeq0qUctt0UZg1eSv1jvBrmX4mv7lJeAJYE5ghs6MwRAkEAnmejJOW3GbgPoJ55ZuXxYW34LHv0p7B7mdCrtG10p1IoFrAL2yGxZtJrhUkULpxxyEDoxyUCHOVItB2ztFn9iQJAG4aWYCVbmJ4mysQBvettY1ZhP+BNLXbj/v+7ZEpOraMHgPgNQe/sHahKTLpyVXT6Jtn8T/fLYwCFmJu8vm+CBQ==";

#[test]
fn weak_rsa_and_mismatched_pkcs8_are_refused() {
    assert_eq!(
        SigningKey::from_pkcs8(Algorithm::Rs256, &std_b64(RSA_1024_PKCS8)).unwrap_err(),
        Error::Signing
    );
    // An RSA PKCS#8 is not an EC or Ed25519 key, and the other way round.
    let rsa = std_b64(RFC7515_A2_PKCS8);
    assert!(SigningKey::from_pkcs8(Algorithm::Es256, &rsa).is_err());
    assert!(SigningKey::from_pkcs8(Algorithm::EdDsa, &rsa).is_err());
    let ec = SigningKey::generate_pkcs8(Algorithm::Es256).unwrap();
    assert!(SigningKey::from_pkcs8(Algorithm::Rs256, &ec).is_err());
}
