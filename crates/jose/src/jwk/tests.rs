use serde_json::json;

use super::*;

// RFC 7638 §3.1: the example RSA key and its published thumbprint.
const RFC7638_N: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

// RFC 7515 A.3's P-256 public key.
pub(crate) fn rfc7515_ec() -> Value {
    json!({"kty":"EC","crv":"P-256",
        "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"})
}

#[test]
fn rfc7638_thumbprint_vector() {
    let jwk =
        Jwk::parse(&json!({"kty":"RSA","n":RFC7638_N,"e":"AQAB","alg":"RS256","kid":"2011-04-29"}))
            .unwrap();
    assert_eq!(
        jwk.thumbprint(),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
    assert_eq!(jwk.kid(), Some("2011-04-29"));
    assert_eq!(jwk.algorithm(), Algorithm::Rs256);
}

#[test]
fn rfc8037_okp_thumbprint_vector() {
    // RFC 8037 A.2's Ed25519 public key and A.3's thumbprint of it.
    let jwk = Jwk::parse(
        &json!({"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}),
    )
    .unwrap();
    assert_eq!(
        jwk.thumbprint(),
        "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    );
}

#[test]
fn serialize_parse_round_trip_keeps_thumbprint() {
    let jwk = Jwk::parse(&rfc7515_ec()).unwrap();
    let json = jwk.to_json();
    assert_eq!(json["alg"], "ES256");
    let again = Jwk::parse(&json).unwrap();
    assert_eq!(again, jwk);
    assert_eq!(again.thumbprint(), jwk.thumbprint());
    let okp = Jwk::parse(
        &json!({"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}),
    )
    .unwrap();
    assert_eq!(Jwk::parse(&okp.to_json()).unwrap(), okp);
    assert_eq!(okp.algorithm(), Algorithm::EdDsa);
}

#[test]
fn private_members_are_refused() {
    for member in PRIVATE_MEMBERS {
        let mut jwk = rfc7515_ec();
        jwk[member] = json!("jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI");
        assert_eq!(Jwk::parse(&jwk), Err(Error::PrivateKey), "{member}");
    }
    let oct = json!({"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"});
    assert_eq!(Jwk::parse(&oct), Err(Error::PrivateKey));
}

#[test]
fn short_rsa_is_refused() {
    // 1024-bit modulus (128 bytes, top bit set).
    let n = b64(&[0xc1; 128]);
    let err = Jwk::parse(&json!({"kty":"RSA","n":n,"e":"AQAB"})).unwrap_err();
    assert!(matches!(err, Error::InvalidKey(_)), "{err:?}");
    // 2047 bits: one short.
    let mut bytes = vec![0x7f; 256];
    assert!(Jwk::rsa(&bytes, &[1, 0, 1], None).is_err());
    bytes[0] = 0x80;
    assert!(Jwk::rsa(&bytes, &[1, 0, 1], None).is_ok());
    // Exponent empty or with a leading zero.
    assert_eq!(Jwk::rsa(&bytes, &[], None), Err(Error::InvalidKey("e")));
    assert_eq!(Jwk::rsa(&bytes, &[0, 1], None), Err(Error::InvalidKey("e")));
    // Leading zero byte: not canonical.
    let padded = format!("AA{RFC7638_N}");
    assert!(Jwk::parse(&json!({"kty":"RSA","n":padded,"e":"AQAB"})).is_err());
}

#[test]
fn bad_shapes_are_refused() {
    let mut off_curve = rfc7515_ec();
    off_curve["y"] = json!(b64(&[1; 32]));
    assert_eq!(Jwk::parse(&off_curve), Err(Error::InvalidKey("point")));
    let mut short = rfc7515_ec();
    short["x"] = json!(b64(&[1; 31]));
    assert_eq!(Jwk::parse(&short), Err(Error::InvalidKey("x")));
    let mut p384 = rfc7515_ec();
    p384["crv"] = json!("P-384");
    assert_eq!(Jwk::parse(&p384), Err(Error::InvalidKey("crv")));
    assert_eq!(
        Jwk::parse(&json!({"kty":"XYZ"})),
        Err(Error::InvalidKey("kty"))
    );
    assert_eq!(Jwk::parse(&json!("EC")), Err(Error::Malformed("JWK")));
    let mut padded = rfc7515_ec();
    padded["x"] = json!("f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU=");
    assert!(Jwk::parse(&padded).is_err());
}
