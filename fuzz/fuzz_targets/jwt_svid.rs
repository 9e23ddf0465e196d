//! JWT-SVID validation on any text, against one P-256 JWT authority
//! (RFC 7515 A.3's public key, whose private half the fuzzer does not
//! have): nothing panics, and anything accepted names a SPIFFE ID of the
//! trust domain and the audience.
#![no_main]

use keybound_ca::{validate_jwt_svid, TrustDomain};
use keybound_jose::Jwk;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(td) = TrustDomain::parse("example.org") else {
        return;
    };
    let Ok(jwk) = Jwk::parse(&serde_json::json!({
        "kty": "EC",
        "crv": "P-256",
        "kid": "k1",
        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
    })) else {
        return;
    };
    if let Ok(svid) = validate_jwt_svid(token, "api", &[jwk], &td, 1_796_292_000) {
        assert!(svid.spiffe_id.is_member_of(&td));
        assert!(svid.audience.iter().any(|a| a == "api"));
    }
});
