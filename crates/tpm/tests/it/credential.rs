//! make_credential's refusals and shapes. That its output activates on a
//! real TPM (RSA and ECC EKs) is `tests/swtpm.rs`.

use keybound_tpm::{make_credential, Error, Public};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

use crate::fixture;

#[test]
fn credential_has_the_tpm_shapes() {
    let ek = Public::from_tpm2b(&fixture("ek-rsa.pub")).unwrap();
    let ak = Public::from_tpm2b(&fixture("ak-ecc.pub")).unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let c = make_credential(&ek, &ak.name(), &[7; 32], &mut rng).unwrap();
    // TPM2B_ID_OBJECT: size, TPM2B_DIGEST(HMAC-SHA-256), encIdentity
    // (TPM2B of the 32-byte secret, encrypted in place).
    assert_eq!(c.credential_blob.len(), 2 + 2 + 32 + 2 + 32);
    assert_eq!(&c.credential_blob[..4], &[0, 68, 0, 32]);
    // TPM2B_ENCRYPTED_SECRET: an RSA 2048 OAEP ciphertext.
    assert_eq!(c.encrypted_secret.len(), 2 + 256);
    // The seed is fresh: two credentials for the same inputs differ.
    let d = make_credential(&ek, &ak.name(), &[7; 32], &mut rng).unwrap();
    assert_ne!(c.credential_blob, d.credential_blob);
}

#[test]
fn bad_secrets_names_and_eks_are_refused() {
    let ek = Public::from_tpm2b(&fixture("ek-rsa.pub")).unwrap();
    let ak = Public::from_tpm2b(&fixture("ak-ecc.pub")).unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let name = ak.name();
    assert_eq!(
        make_credential(&ek, &name, &[], &mut rng),
        Err(Error::SecretSize)
    );
    assert_eq!(
        make_credential(&ek, &name, &[1; 33], &mut rng),
        Err(Error::SecretSize)
    );
    assert_eq!(
        make_credential(&ek, &name[..33], &[1; 32], &mut rng),
        Err(Error::MalformedName)
    );
    let mut sha1_name = name.clone();
    sha1_name[1] = 0x04;
    assert_eq!(
        make_credential(&ek, &sha1_name, &[1; 32], &mut rng),
        Err(Error::MalformedName)
    );
    // A signing key cannot be the EK the credential is wrapped to.
    assert_eq!(
        make_credential(&ak, &name, &[1; 32], &mut rng),
        Err(Error::EkAttributes)
    );
}
