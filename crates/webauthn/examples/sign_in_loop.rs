//! N sign-in verifications (or N raw aws-lc-rs ES256 verifications of the
//! same message), for instruction counting under callgrind, which unlike
//! wall-clock timing does not move with a noisy neighbour:
//!
//! ```sh
//! cargo build --release --example sign_in_loop
//! for mode in setup raw keybound; do
//!   valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/sign_in_loop $mode 200 2>&1 | grep Collected
//! done
//! ```
//! (raw − setup) / (keybound − setup) is the ratio BENCHMARKS.md reports.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use aws_lc_rs::digest;
use aws_lc_rs::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1};
use keybound_soft_authenticator::{Algorithm, Authenticator, Ceremony};
use keybound_webauthn::*;

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "keybound".into());
    let n: usize = args.next().map_or(200, |n| n.parse().unwrap());

    let auth = Authenticator::default();
    let challenge = [7u8; 32];
    let ceremony = Ceremony {
        rp_id: "example.com",
        origin: "https://login.example.com",
        challenge: &challenge,
    };
    let (mut cred, _) = auth.register(Algorithm::Es256, &ceremony, b"user");
    let json = auth.assert(&mut cred, &ceremony);
    let field = |name: &str| b64::decode(json["response"][name].as_str().unwrap()).unwrap();
    let mut message = field("authenticatorData");
    message.extend_from_slice(digest::digest(&digest::SHA256, &field("clientDataJSON")).as_ref());
    let signature = field("signature");
    let point = cred.key.ec_point().unwrap();
    let cose = cred.key.cose_public_key();
    let body = json.to_string().into_bytes();
    let origins = OriginPolicy::exact(["https://login.example.com"]).unwrap();
    let allowed = vec![cred.id.clone()];
    let expectation = AuthenticationExpectation {
        challenge: &challenge,
        rp_id: "example.com",
        origins: &origins,
        user_verification: UserVerificationRequirement::Required,
        allowed_credentials: &allowed,
    };

    for _ in 0..n {
        match mode.as_str() {
            "raw" => UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &point)
                .verify(std::hint::black_box(&message), &signature)
                .unwrap(),
            "keybound" => {
                // Everything a server does per sign-in: parse the JSON and
                // the stored COSE key, then verify.
                let response =
                    AuthenticationResponse::from_json(std::hint::black_box(&body)).unwrap();
                let key = CredentialPublicKey::from_cose(&cose).unwrap();
                verify_authentication(
                    &expectation,
                    &response,
                    &StoredCredential {
                        credential_id: &cred.id,
                        public_key: &key,
                        user_handle: b"user",
                        sign_count: 0,
                        backup_eligible: false,
                    },
                )
                .unwrap();
            }
            _ => {}
        }
    }
}
