//! DPoP proof verification on any text: the input is the request's URI, a
//! newline, then the proof, checked as a POST at RFC 9449 Figure 2's
//! instant. The seed is that figure's proof and URI, so the fuzzer starts
//! from a proof that verifies and mutates both the proof and the URI the
//! `htu` is compared with (the RFC 3986 normalisation of both sides).
//! Nothing panics, and anything accepted is within the checks.
#![no_main]

use keybound_jose::{verify_dpop_proof, DpopChecks, MAX_JTI_LEN};
use libfuzzer_sys::fuzz_target;

const NOW: i64 = 1_562_262_616;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (url, proof) = text.split_once('\n').unwrap_or(("", text));
    let checks = DpopChecks {
        method: "POST",
        url,
        now_s: NOW,
        max_age_s: 60,
        max_future_s: 5,
        access_token: None,
    };
    if let Ok(p) = verify_dpop_proof(proof, &checks) {
        assert_eq!(p.jkt, p.key.thumbprint());
        assert!(!p.jti.is_empty() && p.jti.len() <= MAX_JTI_LEN);
        assert!((NOW - 60..=NOW + 5).contains(&p.iat));
    }
});
