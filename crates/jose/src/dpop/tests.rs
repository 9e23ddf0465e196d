use aws_lc_rs::rsa::KeySize;
use serde_json::{json, Map, Value};

use super::*;
use crate::crypto::testing::{key, rng, rsa};
use crate::SigningKey;

const NOW: i64 = 1_700_000_000;
const URL: &str = "https://api.example.test/v1/reports";
const TOKEN: &str = "at-123.abc";

/// RFC 9449 Figure 2 (§4.1): a proof sent with a token request, with the
/// RFC 8792 line wrapping removed.
const RFC_FIGURE_2: &str = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg";

/// RFC 9449 Figure 13 (§7.1): the proof sent to a protected resource with
/// the access token of Figure 12 (its `ath`).
const RFC_FIGURE_13: &str = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiJlMWozVl9iS2ljOC1MQUVCIiwiaHRtIjoiR0VUIiwiaHR1IjoiaHR0cHM6Ly9yZXNvdXJjZS5leGFtcGxlLm9yZy9wcm90ZWN0ZWRyZXNvdXJjZSIsImlhdCI6MTU2MjI2MjYxOCwiYXRoIjoiZlVIeU8ycjJaM0RaNTNFc05yV0JiMHhXWG9hTnk1OUlpS0NBcWtzbVFFbyJ9.2oW9RP35yRqzhrtNP86L-Ey71EOptxRimPPToA1plemAgR6pxHF8y6-yqyVnmcw6Fy1dqd-jfxSYoMxhAJpLjA";

/// The access token of RFC 9449 Figure 12 (§7.1).
const RFC_ACCESS_TOKEN: &str = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU";

/// The thumbprint RFC 9449 §6.1 (Figure 9) gives for the examples' key.
const RFC_JKT: &str = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";

fn checks(method: &'static str, url: &'static str) -> DpopChecks<'static> {
    DpopChecks {
        method,
        url,
        now_s: NOW,
        max_age_s: 60,
        max_future_s: 5,
        access_token: None,
    }
}

fn claims() -> Value {
    json!({"jti": "j-1", "htm": "GET", "htu": URL, "iat": NOW})
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

/// A proof as a client builds it: `typ`, its public key as `jwk`.
fn proof(signer: &SigningKey, claims: &Value) -> String {
    let mut header = Map::new();
    header.insert("typ".into(), DPOP_TYP.into());
    header.insert("jwk".into(), signer.public_jwk(None).unwrap().to_json());
    crate::sign(&header, claims, signer, &rng()).unwrap()
}

/// A proof signed by `signer` with exactly these extra header members.
fn proof_with_header(signer: &SigningKey, header: Value, claims: &Value) -> String {
    let header: Map<String, Value> = header.as_object().unwrap().clone();
    crate::sign(&header, claims, signer, &rng()).unwrap()
}

/// A token with exactly this header and claims and a junk signature.
fn raw(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes()),
        b64(&[7; 64])
    )
}

fn verify(token: &str) -> Result<DpopProof, Error> {
    verify_dpop_proof(token, &checks("GET", URL))
}

#[test]
fn the_rfc_token_request_example_verifies() {
    let p = verify_dpop_proof(
        RFC_FIGURE_2,
        &DpopChecks {
            now_s: 1_562_262_616,
            ..checks("POST", "https://server.example.com/token")
        },
    )
    .unwrap();
    assert_eq!(p.jti, "-BwC3ESc6acc2lTc");
    assert_eq!(p.iat, 1_562_262_616);
    assert_eq!(p.jkt, RFC_JKT);
    assert_eq!(p.nonce, None);
    assert_eq!(p.key.algorithm(), Algorithm::Es256);
}

#[test]
fn the_rfc_resource_request_example_verifies_with_its_access_token() {
    assert_eq!(
        dpop_ath(RFC_ACCESS_TOKEN),
        "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    );
    let at_resource = DpopChecks {
        now_s: 1_562_262_618,
        access_token: Some(RFC_ACCESS_TOKEN),
        ..checks("GET", "https://resource.example.org/protectedresource")
    };
    let p = verify_dpop_proof(RFC_FIGURE_13, &at_resource).unwrap();
    assert_eq!(p.jti, "e1j3V_bKic8-LAEB");
    assert_eq!(p.jkt, RFC_JKT);
    // The same proof does not go with another token, method or resource.
    let other_token = DpopChecks {
        access_token: Some("another"),
        ..at_resource
    };
    assert_eq!(
        verify_dpop_proof(RFC_FIGURE_13, &other_token),
        Err(Error::WrongAccessToken)
    );
    let post = DpopChecks {
        method: "POST",
        ..at_resource
    };
    assert_eq!(
        verify_dpop_proof(RFC_FIGURE_13, &post),
        Err(Error::WrongMethod)
    );
    let elsewhere = DpopChecks {
        url: "https://resource.example.org/other",
        ..at_resource
    };
    assert_eq!(
        verify_dpop_proof(RFC_FIGURE_13, &elsewhere),
        Err(Error::WrongUri)
    );
    // And not a minute later than the window allows.
    let late = DpopChecks {
        now_s: 1_562_262_618 + 61,
        ..at_resource
    };
    assert_eq!(verify_dpop_proof(RFC_FIGURE_13, &late), Err(Error::Stale));
}

#[test]
fn every_allowed_algorithm_verifies_and_names_its_key() {
    for alg in DPOP_ALGORITHMS {
        let signer = key(alg);
        let p = verify(&proof(&signer, &with_changes(json!({"nonce": "n-1"})))).unwrap();
        let public = signer.public_jwk(None).unwrap();
        assert_eq!(p.jkt, public.thumbprint());
        assert_eq!(p.key, public);
        assert_eq!(p.jti, "j-1");
        assert_eq!(p.iat, NOW);
        assert_eq!(p.nonce.as_deref(), Some("n-1"));
    }
}

#[test]
fn an_oversized_proof_is_refused_before_decoding() {
    let signer = key(Algorithm::Es256);
    let padding = "x".repeat(MAX_DPOP_PROOF_LEN);
    let token = proof(&signer, &with_changes(json!({"pad": padding})));
    assert_eq!(verify(&token), Err(Error::TooLarge));
}

#[test]
fn only_one_compact_jws_is_accepted() {
    let signer = key(Algorithm::Es256);
    let token = proof(&signer, &claims());
    let (input, _) = token.rsplit_once('.').unwrap();
    for bad in [
        input.to_owned(),
        format!("{token}.x"),
        format!("{token}, {token}"),
        format!("{token},{token}"),
        String::new(),
    ] {
        assert!(
            matches!(verify(&bad), Err(Error::Malformed(_))),
            "{bad}: {:?}",
            verify(&bad)
        );
    }
}

#[test]
fn typ_must_be_dpop_jwt() {
    let signer = key(Algorithm::Es256);
    let jwk = signer.public_jwk(None).unwrap().to_json();
    for header in [
        json!({"jwk": jwk}),
        json!({"typ": "JWT", "jwk": jwk}),
        json!({"typ": "dbsc+jwt", "jwk": jwk}),
        json!({"typ": "at+jwt", "jwk": jwk}),
        json!({"typ": 1, "jwk": jwk}),
    ] {
        let token = proof_with_header(&signer, header, &claims());
        assert_eq!(verify(&token), Err(Error::Malformed("typ")));
    }
}

#[test]
fn alg_none_hmac_and_unknown_algorithms_are_refused() {
    let signer = key(Algorithm::Es256);
    let jwk = signer.public_jwk(None).unwrap().to_json();
    for alg in ["none", "HS256", "ES384", "PS256", "es256"] {
        let token = raw(&json!({"typ": DPOP_TYP, "alg": alg, "jwk": jwk}), &claims());
        assert_eq!(verify(&token), Err(Error::AlgorithmNotAllowed), "{alg}");
    }
    let token = raw(&json!({"typ": DPOP_TYP, "jwk": jwk}), &claims());
    assert_eq!(verify(&token), Err(Error::Malformed("alg")));
    // The algorithm is judged before the key is even read: an HMAC proof
    // with a symmetric `jwk` is refused for its algorithm.
    let token = raw(
        &json!({"typ": DPOP_TYP, "alg": "HS256", "jwk": {"kty": "oct", "k": "c2VjcmV0"}}),
        &claims(),
    );
    assert_eq!(verify(&token), Err(Error::AlgorithmNotAllowed));
}

#[test]
fn the_header_must_carry_a_public_key() {
    let signer = key(Algorithm::Es256);
    let no_jwk = proof_with_header(&signer, json!({"typ": DPOP_TYP}), &claims());
    assert_eq!(verify(&no_jwk), Err(Error::UnknownKey));

    let mut private = signer.public_jwk(None).unwrap().to_json();
    private["d"] = "AAAA".into();
    let token = proof_with_header(&signer, json!({"typ": DPOP_TYP, "jwk": private}), &claims());
    assert_eq!(verify(&token), Err(Error::PrivateKey));

    let symmetric = json!({"kty": "oct", "k": "c2VjcmV0"});
    let token = raw(
        &json!({"typ": DPOP_TYP, "alg": "ES256", "jwk": symmetric}),
        &claims(),
    );
    assert_eq!(verify(&token), Err(Error::PrivateKey));
}

#[test]
fn a_short_rsa_key_is_refused() {
    // 1024 bits: `Jwk::rsa` would refuse to build it, which is the point.
    let weak = json!({"kty": "RSA", "n": b64(&[0xc5; 128]), "e": "AQAB"});
    let token = raw(
        &json!({"typ": DPOP_TYP, "alg": "RS256", "jwk": weak}),
        &claims(),
    );
    assert!(matches!(verify(&token), Err(Error::InvalidKey(_))));
}

#[test]
fn rs256_with_a_2048_bit_key_verifies() {
    let (jwk, sign) = rsa(KeySize::Rsa2048);
    let header = json!({"typ": DPOP_TYP, "alg": "RS256", "jwk": jwk.to_json()});
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims().to_string().as_bytes())
    );
    let token = format!("{input}.{}", b64(&sign(input.as_bytes())));
    assert_eq!(verify(&token).unwrap().jkt, jwk.thumbprint());
}

#[test]
fn the_algorithm_must_fit_the_key_type() {
    let signer = key(Algorithm::Es256);
    let jwk = signer.public_jwk(None).unwrap().to_json();
    for alg in ["RS256", "EdDSA"] {
        let token = raw(&json!({"typ": DPOP_TYP, "alg": alg, "jwk": jwk}), &claims());
        assert_eq!(verify(&token), Err(Error::KeyMismatch), "{alg}");
    }
}

#[test]
fn a_critical_header_is_refused() {
    let signer = key(Algorithm::Es256);
    let jwk = signer.public_jwk(None).unwrap().to_json();
    let token = proof_with_header(
        &signer,
        json!({"typ": DPOP_TYP, "jwk": jwk, "crit": ["exp"], "exp": 1}),
        &claims(),
    );
    assert_eq!(verify(&token), Err(Error::CriticalHeader));
}

#[test]
fn the_signature_must_be_by_the_header_key_over_these_bytes() {
    let signer = key(Algorithm::Es256);
    let other = key(Algorithm::Es256);
    let jwk = other.public_jwk(None).unwrap().to_json();
    let token = proof_with_header(&signer, json!({"typ": DPOP_TYP, "jwk": jwk}), &claims());
    assert_eq!(verify(&token), Err(Error::BadSignature));

    // A payload swapped under a valid signature.
    let good = proof(&signer, &claims());
    let mut parts: Vec<&str> = good.split('.').collect();
    let swapped = b64(with_changes(json!({"htm": "POST"})).to_string().as_bytes());
    parts[1] = &swapped;
    let token = parts.join(".");
    assert_eq!(
        verify_dpop_proof(&token, &checks("POST", URL)),
        Err(Error::BadSignature)
    );
}

#[test]
fn jti_is_required_non_empty_and_bounded() {
    let signer = key(Algorithm::Es256);
    let long = "j".repeat(MAX_JTI_LEN + 1);
    for (change, want) in [
        (json!({"jti": null}), Error::MissingClaim("jti")),
        (json!({"jti": ""}), Error::Malformed("jti")),
        (json!({"jti": 7}), Error::Malformed("jti")),
        (json!({"jti": long}), Error::Malformed("jti")),
    ] {
        let token = proof(&signer, &with_changes(change.clone()));
        assert_eq!(verify(&token), Err(want), "{change}");
    }
    let max = "j".repeat(MAX_JTI_LEN);
    let token = proof(&signer, &with_changes(json!({"jti": max})));
    assert_eq!(verify(&token).unwrap().jti.len(), MAX_JTI_LEN);
}

#[test]
fn htm_must_be_the_method_exactly() {
    let signer = key(Algorithm::Es256);
    for (htm, want) in [
        (json!("POST"), Err(Error::WrongMethod)),
        (json!("get"), Err(Error::WrongMethod)),
        (json!("GET "), Err(Error::WrongMethod)),
        (json!(null), Err(Error::MissingClaim("htm"))),
        (json!(["GET"]), Err(Error::Malformed("htm"))),
    ] {
        let token = proof(&signer, &with_changes(json!({ "htm": htm })));
        assert_eq!(verify(&token).map(|p| p.jti), want, "{htm}");
    }
}

#[test]
fn htu_must_name_the_request_uri() {
    let signer = key(Algorithm::Es256);
    for htu in [
        "https://api.example.test/v1/report",
        "https://api.example.test/v1/reports/",
        "https://api.example.test/V1/reports",
        "http://api.example.test/v1/reports",
        "https://api.example.test:8443/v1/reports",
        "https://other.example.test/v1/reports",
        "https://api.example.test.evil/v1/reports",
        "https://user@api.example.test/v1/reports",
        "ftp://api.example.test/v1/reports",
        "/v1/reports",
        "https://api.example.test/v1/%2Freports",
        "https://api.example.test/v1/reports%",
    ] {
        let token = proof(&signer, &with_changes(json!({ "htu": htu })));
        assert_eq!(verify(&token), Err(Error::WrongUri), "{htu}");
    }
    let token = proof(&signer, &with_changes(json!({"htu": null})));
    assert_eq!(verify(&token), Err(Error::MissingClaim("htu")));
    let token = proof(&signer, &with_changes(json!({"htu": 1})));
    assert_eq!(verify(&token), Err(Error::Malformed("htu")));
}

#[test]
fn htu_matches_after_rfc_3986_normalisation_on_both_sides() {
    let signer = key(Algorithm::Es256);
    for htu in [
        "https://api.example.test/v1/reports",
        "HTTPS://API.Example.TEST/v1/reports",
        "https://api.example.test:443/v1/reports",
        "https://api.example.test:/v1/reports",
        "https://api.example.test/v1/./reports",
        "https://api.example.test/v1/x/../reports",
        "https://api.example.test/%76%31/reports",
        "https://api.example.test/v1/reports?a=1",
        "https://api.example.test/v1/reports#frag",
        "https://api.example.test/v1/reports#frag?x",
    ] {
        let token = proof(&signer, &with_changes(json!({ "htu": htu })));
        assert!(verify(&token).is_ok(), "{htu}: {:?}", verify(&token));
        // The request's URI is normalised the same way.
        let token = proof(&signer, &claims());
        let at = DpopChecks {
            url: htu,
            ..checks("GET", URL)
        };
        assert!(verify_dpop_proof(&token, &at).is_ok(), "request {htu}");
    }
}

#[test]
fn uri_normalisation() {
    use super::uri::normalize;
    for (input, want) in [
        ("https://a.test", Some("https://a.test/")),
        ("HTTP://A.TEST:80", Some("http://a.test/")),
        ("http://a.test:443/", Some("http://a.test:443/")),
        ("https://a.test:0443/x", Some("https://a.test/x")),
        ("https://a.test:08443/x", Some("https://a.test:8443/x")),
        ("https://a.test/a/b/../../..", Some("https://a.test/")),
        ("https://a.test/a/b/..", Some("https://a.test/a/")),
        ("https://a.test/a/%7e%2f", Some("https://a.test/a/~%2F")),
        ("https://[::1]:443/x", Some("https://[::1]/x")),
        ("https://[::1]:8443/x", Some("https://[::1]:8443/x")),
        ("https://[FE80::1]/", Some("https://[fe80::1]/")),
        ("https://a.test/?q#f", Some("https://a.test/")),
        ("https://a.test:65536/", None),
        ("https://a.test:99999999999999999999/", None),
        ("https://a.test:x/", None),
        ("https:///x", None),
        ("https://[]/x", None),
        ("https://[::1/x", None),
        ("https://a b.test/", None),
        ("https://a.test/a b", None),
        ("https://a.test/é", None),
        ("https://a.test/%zz", None),
        ("https://a.test/%4", None),
        ("mailto:x@a.test", None),
        ("a.test/x", None),
    ] {
        assert_eq!(normalize(input).as_deref(), want, "{input}");
    }
    assert_eq!(
        normalize(&format!("https://a.test/{}", "a".repeat(MAX_HTU_LEN))),
        None
    );
}

#[test]
fn an_unusable_request_uri_matches_nothing() {
    let signer = key(Algorithm::Es256);
    let token = proof(&signer, &with_changes(json!({"htu": "not a uri"})));
    let at = DpopChecks {
        url: "not a uri",
        ..checks("GET", URL)
    };
    assert_eq!(verify_dpop_proof(&token, &at), Err(Error::WrongUri));
}

#[test]
fn iat_must_fall_in_the_window() {
    let signer = key(Algorithm::Es256);
    for (iat, want) in [
        (json!(NOW - 60), Ok(NOW - 60)),
        (json!(NOW + 5), Ok(NOW + 5)),
        (json!(NOW - 61), Err(Error::Stale)),
        (json!(NOW + 6), Err(Error::IssuedInFuture)),
        (json!(0), Err(Error::Stale)),
        (json!(i64::MAX), Err(Error::IssuedInFuture)),
        (json!(null), Err(Error::MissingClaim("iat"))),
        (json!("1700000000"), Err(Error::Malformed("iat"))),
    ] {
        let token = proof(&signer, &with_changes(json!({ "iat": iat })));
        assert_eq!(verify(&token).map(|p| p.iat), want, "{iat}");
    }
}

#[test]
fn ath_binds_the_access_token_when_one_is_presented() {
    let signer = key(Algorithm::Es256);
    let with_token = DpopChecks {
        access_token: Some(TOKEN),
        ..checks("GET", URL)
    };
    let bound = proof(&signer, &with_changes(json!({"ath": dpop_ath(TOKEN)})));
    assert!(verify_dpop_proof(&bound, &with_token).is_ok());

    let unbound = proof(&signer, &claims());
    assert_eq!(
        verify_dpop_proof(&unbound, &with_token),
        Err(Error::MissingClaim("ath"))
    );
    let other = proof(&signer, &with_changes(json!({"ath": dpop_ath("other")})));
    assert_eq!(
        verify_dpop_proof(&other, &with_token),
        Err(Error::WrongAccessToken)
    );
    let not_text = proof(&signer, &with_changes(json!({"ath": 5})));
    assert_eq!(
        verify_dpop_proof(&not_text, &with_token),
        Err(Error::Malformed("ath"))
    );
    // Without an access token (a token request), `ath` is ignored.
    assert!(verify(&other).is_ok());
}

#[test]
fn nonce_is_returned_and_must_be_text() {
    let signer = key(Algorithm::Es256);
    let token = proof(&signer, &claims());
    assert_eq!(verify(&token).unwrap().nonce, None);
    let long = "n".repeat(MAX_DPOP_CLAIM_LEN + 1);
    for bad in [json!(1), json!(""), json!(long), json!({"n": 1})] {
        let token = proof(&signer, &with_changes(json!({ "nonce": bad })));
        assert_eq!(verify(&token), Err(Error::Malformed("nonce")), "{bad}");
    }
}

#[test]
fn garbage_never_panics() {
    for text in [
        "",
        ".",
        "..",
        "...",
        "a.b.c",
        "eyJ9.e30.",
        "e30.e30.e30",
        "\u{0}.\u{0}.\u{0}",
        "é.é.é",
    ] {
        assert!(verify(text).is_err(), "{text}");
    }
}
