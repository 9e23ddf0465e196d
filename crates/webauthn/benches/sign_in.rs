//! Sign-in verification (ES256) next to raw aws-lc-rs ES256 verification of
//! the same message, in one run, so their ratio is meaningful.
//!
//! `cargo bench -p keybound-webauthn --bench sign_in`
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use aws_lc_rs::digest;
use aws_lc_rs::signature::{ParsedPublicKey, UnparsedPublicKey, ECDSA_P256_SHA256_ASN1};
use criterion::{criterion_group, criterion_main, Criterion};
use keybound_soft_authenticator::{Algorithm, Authenticator, Ceremony};
use keybound_webauthn::*;

const RP_ID: &str = "example.com";
const ORIGIN: &str = "https://login.example.com";

struct Fixture {
    challenge: Vec<u8>,
    response_json: Vec<u8>,
    cose_key: Vec<u8>,
    credential_id: Vec<u8>,
    user_handle: Vec<u8>,
    point: Vec<u8>,
    message: Vec<u8>,
    signature: Vec<u8>,
}

fn fixture() -> Fixture {
    let auth = Authenticator::default();
    let user_handle = b"bench-user".to_vec();
    let challenge = vec![7u8; 32];
    let ceremony = Ceremony {
        rp_id: RP_ID,
        origin: ORIGIN,
        challenge: &challenge,
    };
    let (mut cred, _) = auth.register(Algorithm::Es256, &ceremony, &user_handle);
    let json = auth.assert(&mut cred, &ceremony);
    let field = |name: &str| b64::decode(json["response"][name].as_str().unwrap()).unwrap();
    let auth_data = field("authenticatorData");
    let mut message = auth_data.clone();
    message.extend_from_slice(digest::digest(&digest::SHA256, &field("clientDataJSON")).as_ref());
    Fixture {
        challenge,
        response_json: json.to_string().into_bytes(),
        cose_key: cred.key.cose_public_key(),
        credential_id: cred.id.clone(),
        user_handle,
        point: cred.key.ec_point().unwrap(),
        message,
        signature: field("signature"),
    }
}

fn bench(c: &mut Criterion) {
    let f = fixture();
    let origins = OriginPolicy::exact([ORIGIN]).unwrap();
    let allowed = vec![f.credential_id.clone()];
    let expectation = AuthenticationExpectation {
        challenge: &f.challenge,
        rp_id: RP_ID,
        origins: &origins,
        user_verification: UserVerificationRequirement::Required,
        allowed_credentials: &allowed,
    };
    let verify = |response: &AuthenticationResponse, key: &CredentialPublicKey| {
        verify_authentication(
            &expectation,
            std::hint::black_box(response),
            &StoredCredential {
                credential_id: &f.credential_id,
                public_key: key,
                user_handle: &f.user_handle,
                sign_count: 0,
                backup_eligible: false,
            },
        )
        .unwrap()
    };
    // What a server does per sign-in: parse the JSON and the stored key, verify.
    let verify_json = || {
        let response = AuthenticationResponse::from_json(&f.response_json).unwrap();
        let key = CredentialPublicKey::from_cose(&f.cose_key).unwrap();
        verify(&response, &key)
    };
    // Sanity: all four variants accept the same signature.
    assert_eq!(verify_json().sign_count, 1);
    let parsed = ParsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &f.point).unwrap();
    parsed.verify_sig(&f.message, &f.signature).unwrap();

    let mut group = c.benchmark_group("es256_sign_in");
    group.bench_function("raw_aws_lc_rs_verify_unparsed_key", |b| {
        b.iter(|| {
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &f.point)
                .verify(std::hint::black_box(&f.message), &f.signature)
                .unwrap()
        })
    });
    group.bench_function("raw_aws_lc_rs_verify_parsed_key", |b| {
        b.iter(|| {
            parsed
                .verify_sig(std::hint::black_box(&f.message), &f.signature)
                .unwrap()
        })
    });
    group.bench_function("keybound_verify_authentication_from_json", |b| {
        b.iter(verify_json)
    });
    let response = AuthenticationResponse::from_json(&f.response_json).unwrap();
    let key = CredentialPublicKey::from_cose(&f.cose_key).unwrap();
    group.bench_function("keybound_verify_authentication_parsed", |b| {
        b.iter(|| verify(&response, &key))
    });
    group.finish();

    // Criterion measures the variants one after another, so a noisy
    // neighbour during one of them skews their ratio. This loop interleaves
    // blocks of both and reports the median of per-round ratios.
    let round = |f: &dyn Fn()| {
        let start = std::time::Instant::now();
        for _ in 0..200 {
            f();
        }
        start.elapsed().as_secs_f64()
    };
    let raw = || {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &f.point)
            .verify(std::hint::black_box(&f.message), &f.signature)
            .unwrap()
    };
    let ours = || {
        std::hint::black_box(verify_json());
    };
    let (mut raws, mut ourses) = (Vec::new(), Vec::new());
    for _ in 0..60 {
        raws.push(round(&raw));
        ourses.push(round(&ours));
    }
    let mut ratios: Vec<f64> = raws.iter().zip(&ourses).map(|(r, o)| r / o).collect();
    ratios.sort_by(f64::total_cmp);
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "interleaved raw_aws_lc_rs_verify_unparsed_key / keybound_verify_authentication_from_json \
         (60 rounds of 200): ratio of fastest rounds {:.3}; per-round median {:.3} (p10 {:.3}, p90 {:.3})",
        min(&raws) / min(&ourses),
        ratios[30],
        ratios[6],
        ratios[54]
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
