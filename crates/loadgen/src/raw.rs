//! The yardstick: raw aws-lc-rs ES256 verifications per second, with the
//! same shape of message a sign-in verifies (authenticator data ‖
//! SHA-256(clientDataJSON)).

use std::time::{Duration, Instant};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, KeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_ASN1,
    ECDSA_P256_SHA256_ASN1_SIGNING,
};

/// ES256 verifications per second on `threads` threads for `duration`.
pub fn es256_verifies_per_second(threads: usize, duration: Duration) -> Result<f64, String> {
    let rng = SystemRandom::new();
    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING)
        .map_err(|_| "key generation failed")?;
    let message = [0x5au8; 37 + 32];
    let signature = key
        .sign(&rng, &message)
        .map_err(|_| "signing failed")?
        .as_ref()
        .to_vec();
    let public = key.public_key().as_ref().to_vec();
    let start = Instant::now();
    let counts: Vec<u64> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                s.spawn(|| {
                    let key = UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &public);
                    let mut n = 0u64;
                    while start.elapsed() < duration {
                        for _ in 0..100 {
                            if key.verify(&message, &signature).is_ok() {
                                n += 1;
                            }
                        }
                    }
                    n
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or(0)).collect()
    });
    let total: u64 = counts.iter().sum();
    Ok(total as f64 / start.elapsed().as_secs_f64())
}

/// ES256 signatures per second on one thread for `duration`: the yardstick
/// for the token endpoint, which signs an ID token and an access token.
pub fn es256_signs_per_second(duration: Duration) -> Result<f64, String> {
    let rng = SystemRandom::new();
    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING)
        .map_err(|_| "key generation failed")?;
    let message = [0x5au8; 256];
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < duration {
        for _ in 0..100 {
            if key.sign(&rng, &message).is_ok() {
                n += 1;
            }
        }
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}
