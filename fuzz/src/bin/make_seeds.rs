//! Writes a seed corpus for the verification targets from the software
//! authenticator (every algorithm and attestation format, in every input
//! mode) under `corpus/`, and the seeds of the targets that drive the whole
//! server under `seeds/` (deterministic: kept in the repository for CI).
//!
//! `cargo run --manifest-path fuzz/Cargo.toml --bin make-seeds`

use keybound_fuzz::*;
use keybound_soft_authenticator::{
    Algorithm, AndroidKeyProfile, AppleProfile, AttestationMode, Authenticator, Ceremony,
    SafetyNetProfile, TestCa, TestPki, TpmProfile,
};
use std::path::Path;

fn field(json: &serde_json::Value, name: &str) -> Vec<u8> {
    keybound_webauthn::b64::decode(json["response"][name].as_str().unwrap()).unwrap()
}

fn write(dir: &Path, name: String, mode: u8, body: &[u8]) {
    let mut data = vec![mode];
    data.extend_from_slice(body);
    std::fs::write(dir.join(name), data).unwrap();
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let reg_dir = root.join("registration");
    let auth_dir = root.join("authentication");
    std::fs::create_dir_all(&reg_dir).unwrap();
    std::fs::create_dir_all(&auth_dir).unwrap();
    let pki = TestPki::new([0x4b; 16]);
    let ca = TestCa::new("fuzz seed root");
    let ceremony = Ceremony {
        rp_id: RP_ID,
        origin: ORIGIN,
        challenge: &CHALLENGE,
    };
    let modes = [
        ("none", AttestationMode::None),
        ("self", AttestationMode::PackedSelf),
        ("packed", AttestationMode::Packed(pki.attestation.clone())),
        ("u2f", AttestationMode::FidoU2f(pki.attestation.clone())),
        ("tpm", AttestationMode::Tpm(TpmProfile::new(ca.clone()))),
        (
            "android",
            AttestationMode::AndroidKey(AndroidKeyProfile::new(ca.clone())),
        ),
        (
            "apple",
            AttestationMode::Apple(AppleProfile::new(ca.clone())),
        ),
        (
            "safetynet",
            AttestationMode::SafetyNet(SafetyNetProfile::new(ca.clone(), 0)),
        ),
        (
            "compound",
            AttestationMode::Compound(vec![
                AttestationMode::Packed(pki.attestation.clone()),
                AttestationMode::Apple(AppleProfile::new(ca.clone())),
            ]),
        ),
    ];
    // These formats certify EC credential keys only.
    let ec_only = ["u2f", "tpm", "android", "apple", "safetynet", "compound"];
    for (label, mode) in modes {
        let auth = Authenticator {
            aaguid: [0x4b; 16],
            attestation: mode,
            ..Default::default()
        };
        for alg in Algorithm::ALL {
            if ec_only.contains(&label) && alg != Algorithm::Es256 {
                continue;
            }
            let (mut cred, json) = auth.register(alg, &ceremony, USER);
            let name = format!("{label}-{alg:?}");
            write(
                &reg_dir,
                format!("{name}-attobj"),
                0,
                &field(&json, "attestationObject"),
            );
            write(
                &reg_dir,
                format!("{name}-json"),
                2,
                json.to_string().as_bytes(),
            );
            let assertion = auth.assert(&mut cred, &ceremony);
            write(
                &auth_dir,
                format!("{name}-authdata"),
                0,
                &field(&assertion, "authenticatorData"),
            );
            write(
                &auth_dir,
                format!("{name}-sig"),
                2,
                &field(&assertion, "signature"),
            );
            write(
                &auth_dir,
                format!("{name}-cose"),
                3,
                &cred.key.cose_public_key(),
            );
            write(
                &auth_dir,
                format!("{name}-json"),
                4,
                assertion.to_string().as_bytes(),
            );
        }
    }
    write(
        &reg_dir,
        "cdj".into(),
        1,
        &good_client_data("webauthn.create"),
    );
    write(
        &auth_dir,
        "cdj".into(),
        1,
        &good_client_data("webauthn.get"),
    );
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    keybound_fuzz::seeds::write_all(&seeds);
    println!(
        "seeds written under {} and {}",
        root.display(),
        seeds.display()
    );
}
