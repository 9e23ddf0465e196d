use keybound_tpm::{
    check_ak_policy, check_ek_policy, Error, ObjectAttributes as A, Public, PublicKey,
};
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

use crate::fixture;

/// `objectAttributes` sits after the TPM2B size, type and nameAlg.
fn with_attributes(tpm2b: &[u8], f: impl Fn(u32) -> u32) -> Vec<u8> {
    let mut out = tpm2b.to_vec();
    let a = u32::from_be_bytes(out[6..10].try_into().unwrap());
    out[6..10].copy_from_slice(&f(a).to_be_bytes());
    out
}

#[test]
fn swtpm_areas_parse_and_names_match_tpm2_tools() {
    let ek = Public::from_tpm2b(&fixture("ek-rsa.pub")).unwrap();
    assert!(
        matches!(ek.key(), PublicKey::Rsa { modulus, exponent: 65_537 } if modulus.len() == 256)
    );
    check_ek_policy(&ek).unwrap();
    for k in ["ecc", "rsa"] {
        let ak = Public::from_tpm2b(&fixture(&format!("ak-{k}.pub"))).unwrap();
        // tpm2_createak -n wrote the name the TPM computed.
        assert_eq!(ak.name(), fixture(&format!("ak-{k}.name")), "{k}");
        check_ak_policy(&ak).unwrap();
    }
}

#[test]
fn ak_policy_requires_every_attribute() {
    let ak = fixture("ak-ecc.pub");
    for bit in [
        A::RESTRICTED,
        A::SIGN,
        A::FIXED_TPM,
        A::FIXED_PARENT,
        A::SENSITIVE_DATA_ORIGIN,
    ] {
        let public = Public::from_tpm2b(&with_attributes(&ak, |a| a & !bit)).unwrap();
        assert_eq!(
            check_ak_policy(&public),
            Err(Error::AkAttributes),
            "{bit:#x}"
        );
    }
    let decrypt = Public::from_tpm2b(&with_attributes(&ak, |a| a | A::DECRYPT)).unwrap();
    assert_eq!(check_ak_policy(&decrypt), Err(Error::AkAttributes));
}

#[test]
fn ek_policy_requires_a_restricted_decryption_key() {
    let ek = fixture("ek-rsa.pub");
    for (name, f) in [
        ("sign", Box::new(|a| a | A::SIGN) as Box<dyn Fn(u32) -> u32>),
        ("no decrypt", Box::new(|a| a & !A::DECRYPT)),
        ("no restricted", Box::new(|a| a & !A::RESTRICTED)),
        ("no fixedTPM", Box::new(|a| a & !A::FIXED_TPM)),
    ] {
        let public = Public::from_tpm2b(&with_attributes(&ek, f)).unwrap();
        assert_eq!(check_ek_policy(&public), Err(Error::EkAttributes), "{name}");
    }
    // An AK is a signing key: not an EK.
    let ak = Public::from_tpm2b(&fixture("ak-rsa.pub")).unwrap();
    assert_eq!(check_ek_policy(&ak), Err(Error::EkAttributes));
}

#[test]
fn other_name_algorithms_and_curves_are_unsupported() {
    let mut sha1 = fixture("ak-ecc.pub");
    sha1[4..6].copy_from_slice(&0x0004u16.to_be_bytes());
    assert_eq!(Public::from_tpm2b(&sha1), Err(Error::UnsupportedKey));
    // The curve id of the ECC AK: after size, type, nameAlg, attributes,
    // empty policy, NULL symmetric, ECDSA/SHA-256.
    let mut p384 = fixture("ak-ecc.pub");
    assert_eq!(&p384[18..20], &[0x00, 0x03]);
    p384[18..20].copy_from_slice(&0x0004u16.to_be_bytes());
    assert_eq!(Public::from_tpm2b(&p384), Err(Error::UnsupportedKey));
    let mut keyedhash = fixture("ak-ecc.pub");
    keyedhash[2..4].copy_from_slice(&0x0008u16.to_be_bytes());
    assert_eq!(Public::from_tpm2b(&keyedhash), Err(Error::UnsupportedKey));
}

#[test]
fn truncated_padded_and_mangled_areas_are_refused_without_panic() {
    for file in ["ek-rsa.pub", "ak-ecc.pub", "ak-rsa.pub"] {
        let good = fixture(file);
        for n in 0..good.len() {
            assert!(Public::from_tpm2b(&good[..n]).is_err(), "{file} cut at {n}");
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(Public::from_tpm2b(&trailing), Err(Error::MalformedPublic));
        // The inner TPMT with one byte more than its fields.
        let mut inner = good[2..].to_vec();
        inner.push(0);
        assert_eq!(Public::from_tpmt(&inner), Err(Error::MalformedPublic));
        let mut rng = ChaCha20Rng::seed_from_u64(17);
        for _ in 0..3000 {
            let mut m = good.clone();
            for _ in 0..1 + rng.next_u32() % 4 {
                let i = rng.next_u32() as usize % m.len();
                m[i] = rng.next_u32() as u8;
            }
            let _ = Public::from_tpm2b(&m);
        }
    }
    assert_eq!(
        Public::from_tpm2b(&[0xff; 5000]),
        Err(Error::MalformedPublic)
    );
    assert_eq!(Public::from_tpmt(&[0; 5000]), Err(Error::MalformedPublic));
}

#[test]
fn rsa_modulus_must_match_key_bits() {
    // keyBits of the EK says 2048: claim 3072 with a 2048-bit modulus.
    let mut ek = fixture("ek-rsa.pub");
    let pos = ek
        .windows(6)
        .position(|w| w == [0x08, 0x00, 0, 0, 0, 0])
        .unwrap();
    ek[pos..pos + 2].copy_from_slice(&3072u16.to_be_bytes());
    assert_eq!(Public::from_tpm2b(&ek), Err(Error::MalformedPublic));
}
