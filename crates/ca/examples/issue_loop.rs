//! N X.509-SVID issuances (or N raw aws-lc-rs P-256 signatures of the same
//! TBSCertificate), for instruction counting under callgrind, which unlike
//! wall-clock timing does not move with a noisy neighbour:
//!
//! ```sh
//! cargo build --release -p keybound-ca --example issue_loop
//! for mode in setup raw keybound; do
//!   valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/issue_loop $mode 200 2>&1 | grep Collected
//! done
//! ```
//! (raw − setup) / (keybound − setup) is the ratio BENCHMARKS.md reports.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::hint::black_box;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_ASN1_SIGNING};
use der::{Decode as _, Encode as _};
use keybound_ca::*;

const NOW: i64 = 1_796_292_000;

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "keybound".into());
    let n: usize = args.next().map_or(200, |n| n.parse().unwrap());

    let td = TrustDomain::parse("example.org").unwrap();
    let ca_key = generate_p256_pkcs8().unwrap();
    let ca = Authority::new_root(&td, NOW - 86_400, NOW + 86_400, [0x41; 16], &ca_key).unwrap();
    let leaf = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
    let spki = aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::PublicKeyX509Der>::as_der(
        leaf.public_key(),
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
    let tbs = x509_cert::Certificate::from_der(&svid.cert_der)
        .unwrap()
        .tbs_certificate
        .to_der()
        .unwrap();
    let raw_key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &ca_key).unwrap();
    let rng = SystemRandom::new();
    match mode.as_str() {
        "setup" => {}
        "raw" => {
            for _ in 0..n {
                black_box(raw_key.sign(&rng, black_box(&tbs)).unwrap());
            }
        }
        _ => {
            for _ in 0..n {
                black_box(ca.issue_x509_svid(black_box(&req)).unwrap());
            }
        }
    }
}
