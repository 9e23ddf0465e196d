//! Trust bundles: the SPIFFE bundle format out and back, and hostile
//! documents refused.

use keybound_ca::{Bundle, Error, MAX_BUNDLE_KEYS};
use keybound_jose::{Algorithm, SigningKey};
use serde_json::{json, Value};

use crate::support::*;

fn jwt_key(kid: &str) -> keybound_jose::Jwk {
    let pkcs8 = keybound_ca::generate_p256_pkcs8().unwrap();
    SigningKey::from_pkcs8(Algorithm::Es256, &pkcs8)
        .unwrap()
        .public_jwk(Some(kid.into()))
        .unwrap()
}

fn sample() -> Bundle {
    Bundle {
        trust_domain: td("example.org"),
        x509_authorities: vec![
            root("example.org").cert_der().to_vec(),
            root("example.org").cert_der().to_vec(),
        ],
        jwt_authorities: vec![jwt_key("j1"), jwt_key("j2")],
        sequence: 42,
        refresh_hint_s: 300,
    }
}

fn parse(doc: &Value) -> Result<Bundle, Error> {
    Bundle::from_json(td("example.org"), doc.to_string().as_bytes())
}

#[test]
fn bundle_round_trips_through_the_spiffe_format() {
    let bundle = sample();
    let json = bundle.to_json().unwrap();
    let doc: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["spiffe_sequence"], json!(42));
    assert_eq!(doc["spiffe_refresh_hint"], json!(300));
    let keys = doc["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 4);
    assert_eq!(keys[0]["use"], json!("x509-svid"));
    assert_eq!(keys[0]["kty"], json!("EC"));
    assert_eq!(keys[0]["crv"], json!("P-256"));
    assert_eq!(keys[0]["x5c"].as_array().unwrap().len(), 1);
    assert_eq!(keys[2]["use"], json!("jwt-svid"));
    assert_eq!(keys[2]["kid"], json!("j1"));
    assert_eq!(
        Bundle::from_json(td("example.org"), json.as_bytes()).unwrap(),
        bundle
    );
}

#[test]
fn x509_authorities_of_every_key_type_round_trip() {
    for alg in [
        &rcgen::PKCS_ECDSA_P384_SHA384,
        &rcgen::PKCS_RSA_SHA256,
        &rcgen::PKCS_ED25519,
    ] {
        let key = if alg == &rcgen::PKCS_RSA_SHA256 {
            rcgen::KeyPair::generate_rsa_for(alg, rcgen::RsaKeySize::_2048).unwrap()
        } else {
            rcgen::KeyPair::generate_for(alg).unwrap()
        };
        let mut params = rcgen::CertificateParams::default();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).unwrap().der().to_vec();
        let bundle = Bundle {
            x509_authorities: vec![cert],
            jwt_authorities: vec![],
            ..sample()
        };
        let json = bundle.to_json().unwrap();
        assert_eq!(
            Bundle::from_json(td("example.org"), json.as_bytes()).unwrap(),
            bundle
        );
    }
}

#[test]
fn unknown_uses_are_skipped_and_missing_fields_default() {
    let doc = json!({"keys": [{"use": "wit-svid", "kty": "EC"}]});
    let bundle = parse(&doc).unwrap();
    assert!(bundle.x509_authorities.is_empty() && bundle.jwt_authorities.is_empty());
    assert_eq!((bundle.sequence, bundle.refresh_hint_s), (0, 0));
}

#[test]
fn hostile_bundles_are_refused() {
    let good: Value = serde_json::from_str(&sample().to_json().unwrap()).unwrap();
    let with_key = |f: &dyn Fn(&mut Value)| {
        let mut doc = good.clone();
        f(&mut doc["keys"][0]);
        doc
    };
    let with_jwt = |f: &dyn Fn(&mut Value)| {
        let mut doc = good.clone();
        f(&mut doc["keys"][2]);
        doc
    };
    let other_cert = root("example.org").cert_der().to_vec();
    let other_x5c = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &other_cert);
    let cases: Vec<(&str, Value)> = vec![
        (
            "private EC key in jwt-svid",
            with_jwt(&|k| k["d"] = json!("AAAA")),
        ),
        (
            "private key in x509-svid",
            with_key(&|k| k["d"] = json!("AAAA")),
        ),
        (
            "symmetric key",
            json!({"keys": [{"use": "jwt-svid", "kty": "oct", "k": "AAAA", "kid": "s"}]}),
        ),
        (
            "no use",
            with_key(&|k| {
                k.as_object_mut()
                    .unwrap()
                    .remove("use")
                    .map(|_| ())
                    .unwrap()
            }),
        ),
        (
            "no x5c",
            with_key(&|k| {
                k.as_object_mut()
                    .unwrap()
                    .remove("x5c")
                    .map(|_| ())
                    .unwrap()
            }),
        ),
        (
            "two certs in x5c",
            with_key(&|k| {
                let c = k["x5c"][0].clone();
                k["x5c"] = json!([c.clone(), c]);
            }),
        ),
        ("empty x5c", with_key(&|k| k["x5c"] = json!([]))),
        ("x5c not base64", with_key(&|k| k["x5c"] = json!(["!!!"]))),
        (
            "x5c not a certificate",
            with_key(&|k| k["x5c"] = json!(["MAMCAQA="])),
        ),
        (
            "JWK of another key than x5c",
            with_key(&|k| k["x5c"] = json!([other_x5c.clone()])),
        ),
        (
            "jwt-svid without kid",
            with_jwt(&|k| {
                k.as_object_mut()
                    .unwrap()
                    .remove("kid")
                    .map(|_| ())
                    .unwrap()
            }),
        ),
        (
            "jwt-svid with empty kid",
            with_jwt(&|k| k["kid"] = json!("")),
        ),
        ("duplicate kid", with_jwt(&|k| k["kid"] = json!("j2"))),
        (
            "jwt-svid off-curve point",
            with_jwt(&|k| k["y"] = k["x"].clone()),
        ),
        ("negative sequence", {
            let mut d = good.clone();
            d["spiffe_sequence"] = json!(-1);
            d
        }),
        ("string refresh hint", {
            let mut d = good.clone();
            d["spiffe_refresh_hint"] = json!("300");
            d
        }),
        ("no keys", json!({"spiffe_sequence": 1})),
        ("keys not an array", json!({"keys": {}})),
        ("not an object", json!([1, 2])),
        (
            "too many keys",
            json!({"keys": vec![json!({"use": "other"}); MAX_BUNDLE_KEYS + 1]}),
        ),
    ];
    for (what, doc) in cases {
        assert!(
            matches!(parse(&doc), Err(Error::Bundle(_))),
            "{what}: {:?}",
            parse(&doc)
        );
    }
    let huge = vec![b' '; keybound_ca::MAX_BUNDLE_LEN + 1];
    assert_eq!(
        Bundle::from_json(td("example.org"), &huge),
        Err(Error::Bundle("too large"))
    );
    // The unmodified document parses: the cases above fail for their edit.
    assert!(parse(&good).is_ok());
}

/// A certificate for bytes that are no P-256 point, signed by a real key.
fn off_curve_cert() -> Vec<u8> {
    struct Fake(Vec<u8>);
    impl rcgen::PublicKeyData for Fake {
        fn der_bytes(&self) -> &[u8] {
            &self.0
        }
        fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
            &rcgen::PKCS_ECDSA_P256_SHA256
        }
    }
    let signer = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::default();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let issuer = rcgen::Issuer::from_params(&params, &signer);
    let fake = Fake([&[0x04u8][..], &[7; 64]].concat());
    params.signed_by(&fake, &issuer).unwrap().der().to_vec()
}

#[test]
fn authorities_whose_point_is_off_the_curve_are_refused() {
    let cert = off_curve_cert();
    let bad = Bundle {
        x509_authorities: vec![cert.clone()],
        jwt_authorities: vec![],
        ..sample()
    };
    assert_eq!(bad.to_json(), Err(Error::Bundle("authority key")));
    // The same key in a document, its JWK members copied from the point.
    let b64 =
        |b: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, b);
    let x5c = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &cert);
    let doc = json!({"keys": [{
        "use": "x509-svid", "kty": "EC", "crv": "P-256",
        "x": b64(&[7; 32]), "y": b64(&[7; 32]), "x5c": [x5c],
    }]});
    assert!(matches!(parse(&doc), Err(Error::Bundle(_))));
}
