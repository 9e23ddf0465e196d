//! X.509-SVID issuance next to raw aws-lc-rs ECDSA P-256 signing of the
//! same TBSCertificate bytes, and JWT-SVID validation next to raw ES256
//! verification of the same token, each pair in one run so their ratio is
//! meaningful.
//!
//! `cargo bench -p keybound-ca --bench issue`
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::hint::black_box;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P256_SHA256_FIXED,
};
use base64::Engine as _;
use criterion::{criterion_group, criterion_main, Criterion};
use der::{Decode as _, Encode as _};
use keybound_ca::*;
use keybound_jose::{Algorithm, SigningKey};

const NOW: i64 = 1_796_292_000;

/// Times `f` in `rounds` interleaved rounds of `n` calls against `g`, and
/// prints the ratio g/f of the fastest rounds and the per-round median.
fn interleaved(label: &str, raw: &dyn Fn(), ours: &dyn Fn()) {
    // Not while profiling one function (`--profile-time`) or listing.
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

fn issue(c: &mut Criterion) {
    let td = TrustDomain::parse("example.org").unwrap();
    let ca_key = generate_p256_pkcs8().unwrap();
    let ca = Authority::new_root(&td, NOW - 86_400, NOW + 86_400, [0x41; 16], &ca_key).unwrap();
    let leaf_key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
    let spki = aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::PublicKeyX509Der>::as_der(
        aws_lc_rs::signature::KeyPair::public_key(&leaf_key),
    )
    .unwrap()
    .as_ref()
    .to_vec();
    let sid = SpiffeId::parse("spiffe://example.org/ns/prod/sa/web").unwrap();
    let dns = vec!["web.example.org".to_owned()];
    let req = SvidRequest {
        spki_der: &spki,
        spiffe_id: &sid,
        dns_names: &dns,
        not_before_s: NOW - 10,
        not_after_s: NOW + 3600,
        serial: [0x42; 16],
    };
    let svid = ca.issue_x509_svid(&req).unwrap();
    // The raw baseline signs exactly what issuance signs: the TBS bytes.
    let tbs = x509_cert::Certificate::from_der(&svid.cert_der)
        .unwrap()
        .tbs_certificate
        .to_der()
        .unwrap();
    let raw_key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &ca_key).unwrap();
    let rng = SystemRandom::new();

    let raw = || {
        black_box(raw_key.sign(&rng, black_box(&tbs)).unwrap());
    };
    let ours = || {
        black_box(ca.issue_x509_svid(black_box(&req)).unwrap());
    };
    let mut group = c.benchmark_group("x509_svid_issue");
    group.bench_function("raw_aws_lc_rs_p256_sign_tbs", |b| b.iter(raw));
    group.bench_function("keybound_issue_x509_svid", |b| b.iter(ours));
    group.finish();
    interleaved(
        "raw_aws_lc_rs_p256_sign_tbs / keybound_issue_x509_svid",
        &raw,
        &ours,
    );
}

fn validate(c: &mut Criterion) {
    let td = TrustDomain::parse("example.org").unwrap();
    let pkcs8 = generate_p256_pkcs8().unwrap();
    let key = SigningKey::from_pkcs8(Algorithm::Es256, &pkcs8).unwrap();
    let jwk = key.public_jwk(Some("k1".into())).unwrap();
    let others: Vec<_> = (0..2)
        .map(|i| {
            let p = generate_p256_pkcs8().unwrap();
            SigningKey::from_pkcs8(Algorithm::Es256, &p)
                .unwrap()
                .public_jwk(Some(format!("old{i}")))
                .unwrap()
        })
        .collect();
    let authorities = [others[0].clone(), others[1].clone(), jwk];
    let sid = SpiffeId::parse("spiffe://example.org/ns/prod/sa/web").unwrap();
    let token = sign_jwt_svid(
        &key,
        "k1",
        &sid,
        &["api".to_owned()],
        NOW,
        NOW + 300,
        &SystemRandom::new(),
    )
    .unwrap();
    let (input, sig) = token.rsplit_once('.').unwrap();
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig)
        .unwrap();
    let eckey = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &pkcs8).unwrap();
    let point = aws_lc_rs::signature::KeyPair::public_key(&eckey)
        .as_ref()
        .to_vec();

    let raw = || {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point)
            .verify(black_box(input.as_bytes()), &sig)
            .unwrap()
    };
    let ours = || {
        black_box(validate_jwt_svid(black_box(&token), "api", &authorities, &td, NOW).unwrap());
    };
    let mut group = c.benchmark_group("jwt_svid_validate");
    group.bench_function("raw_aws_lc_rs_es256_verify", |b| b.iter(raw));
    group.bench_function("keybound_validate_jwt_svid", |b| b.iter(ours));
    group.finish();
    interleaved(
        "raw_aws_lc_rs_es256_verify / keybound_validate_jwt_svid",
        &raw,
        &ours,
    );
}

criterion_group!(benches, issue, validate);
criterion_main!(benches);
