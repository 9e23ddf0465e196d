//! DPoP proof verification next to a raw aws-lc-rs ES256 verification of
//! the same signing input and signature, in one run so their ratio is
//! meaningful: what the checks around the signature (base64url, two JSON
//! parses, the JWK, the thumbprint, the URI normalisation) cost on top of
//! the one operation no implementation can skip.
//!
//! `cargo bench -p keybound-jose --bench dpop`
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::hint::black_box;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};
use base64::Engine as _;
use criterion::{criterion_group, criterion_main, Criterion};
use keybound_jose::{
    dpop_ath, sign, verify_dpop_proof, Algorithm, DpopChecks, SigningKey, DPOP_TYP,
};
use serde_json::{json, Map};

const NOW: i64 = 1_800_000_000;
const URL: &str = "https://api.example.test/v1/reports";
const TOKEN: &str = "eyJhbGciOiJFUzI1NiJ9.a-task-token.signature";

/// Times `raw` and `ours` in 60 interleaved rounds of 200 calls each, and
/// prints the ratio of their fastest rounds and the per-round median.
fn interleaved(label: &str, raw: &dyn Fn(), ours: &dyn Fn()) {
    if std::env::args().any(|a| a == "--profile-time" || a == "--list") {
        return;
    }
    let round = |f: &dyn Fn()| {
        let start = std::time::Instant::now();
        for _ in 0..200 {
            f();
        }
        start.elapsed().as_secs_f64()
    };
    let (mut raws, mut ourses) = (Vec::new(), Vec::new());
    for _ in 0..60 {
        raws.push(round(raw));
        ourses.push(round(ours));
    }
    let mut ratios: Vec<f64> = raws.iter().zip(&ourses).map(|(r, o)| r / o).collect();
    ratios.sort_by(f64::total_cmp);
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "interleaved {label} (60 rounds of 200): raw {:.0}/s, keybound {:.0}/s; \
         ratio of fastest rounds {:.3}; per-round median {:.3} (p10 {:.3}, p90 {:.3})",
        200.0 / min(&raws),
        200.0 / min(&ourses),
        min(&raws) / min(&ourses),
        ratios[30],
        ratios[6],
        ratios[54]
    );
}

fn dpop(c: &mut Criterion) {
    let pkcs8 = SigningKey::generate_pkcs8(Algorithm::Es256).unwrap();
    let key = SigningKey::from_pkcs8(Algorithm::Es256, &pkcs8).unwrap();
    let jwk = key.public_jwk(None).unwrap();
    let mut header = Map::new();
    header.insert("typ".into(), DPOP_TYP.into());
    header.insert("jwk".into(), jwk.to_json());
    // A forward-auth proof: with `ath` and a server nonce.
    let claims = json!({
        "jti": "e1j3V_bKic8-LAEB",
        "htm": "GET",
        "htu": URL,
        "iat": NOW,
        "ath": dpop_ath(TOKEN),
        "nonce": "AAAAAAHNcEP1v3-c6f1Uq2N1pQ8mYw",
    });
    let proof = sign(&header, &claims, &key, &SystemRandom::new()).unwrap();
    let checks = DpopChecks {
        method: "GET",
        url: URL,
        now_s: NOW,
        max_age_s: 60,
        max_future_s: 5,
        access_token: Some(TOKEN),
    };

    // The raw baseline verifies exactly what the proof's signature covers.
    let (input, sig) = proof.rsplit_once('.').unwrap();
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig)
        .unwrap();
    let jwk_json = jwk.to_json();
    let coordinate = |name: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(jwk_json[name].as_str().unwrap())
            .unwrap()
    };
    let mut point = vec![0x04];
    point.extend(coordinate("x"));
    point.extend(coordinate("y"));

    let raw = || {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point)
            .verify(black_box(input.as_bytes()), &sig)
            .unwrap()
    };
    let ours = || {
        black_box(verify_dpop_proof(black_box(&proof), &checks).unwrap());
    };
    let mut group = c.benchmark_group("dpop_verify");
    group.bench_function("raw_aws_lc_rs_es256_verify", |b| b.iter(raw));
    group.bench_function("keybound_verify_dpop_proof", |b| b.iter(ours));
    group.finish();
    interleaved(
        "raw_aws_lc_rs_es256_verify / keybound_verify_dpop_proof",
        &raw,
        &ours,
    );
}

criterion_group!(benches, dpop);
criterion_main!(benches);
