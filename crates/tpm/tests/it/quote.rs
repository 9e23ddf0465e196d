use keybound_tpm::{check_ak_policy, verify_quote, Error, Public};

use crate::soft::{attest, SoftAk, AK_ATTRIBUTES};
use crate::{fixture, fixture_nonce};

const QUOTE: u16 = 0x8018;
const MAGIC: u32 = 0xff54_4347;

#[test]
fn swtpm_quotes_verify() {
    for k in ["ecc", "rsa"] {
        let ak = Public::from_tpm2b(&fixture(&format!("ak-{k}.pub"))).unwrap();
        let quote = verify_quote(
            &ak,
            &fixture(&format!("quote-{k}.msg")),
            &fixture(&format!("quote-{k}.sig")),
            &fixture_nonce(),
        )
        .unwrap();
        // tpm2_quote -l sha256:0,1
        assert_eq!(quote.pcr_selection, vec![(0x000b, vec![3, 0, 0])], "{k}");
        assert_eq!(quote.pcr_digest.len(), 32);
    }
}

#[test]
fn swtpm_quote_over_another_nonce_is_refused() {
    let ak = Public::from_tpm2b(&fixture("ak-ecc.pub")).unwrap();
    let mut nonce = fixture_nonce();
    nonce[0] ^= 1;
    let r = verify_quote(
        &ak,
        &fixture("quote-ecc.msg"),
        &fixture("quote-ecc.sig"),
        &nonce,
    );
    assert_eq!(r, Err(Error::QuoteNonceMismatch));
    let r = verify_quote(
        &ak,
        &fixture("quote-ecc.msg"),
        &fixture("quote-ecc.sig"),
        &[],
    );
    assert_eq!(r, Err(Error::QuoteNonceMismatch));
}

#[test]
fn tampered_quote_or_signature_is_refused() {
    for k in ["ecc", "rsa"] {
        let ak = Public::from_tpm2b(&fixture(&format!("ak-{k}.pub"))).unwrap();
        let msg = fixture(&format!("quote-{k}.msg"));
        let sig = fixture(&format!("quote-{k}.sig"));
        let mut bad_msg = msg.clone();
        let last = bad_msg.len() - 1;
        bad_msg[last] ^= 1;
        assert_eq!(
            verify_quote(&ak, &bad_msg, &sig, &fixture_nonce()),
            Err(Error::QuoteSignatureInvalid),
            "{k}"
        );
        let mut bad_sig = sig.clone();
        let last = bad_sig.len() - 1;
        bad_sig[last] ^= 1;
        assert_eq!(
            verify_quote(&ak, &msg, &bad_sig, &fixture_nonce()),
            Err(Error::QuoteSignatureInvalid),
            "{k}"
        );
        for n in 0..sig.len() {
            assert!(verify_quote(&ak, &msg, &sig[..n], &fixture_nonce()).is_err());
        }
        let mut trailing = sig.clone();
        trailing.push(0);
        assert_eq!(
            verify_quote(&ak, &msg, &trailing, &fixture_nonce()),
            Err(Error::MalformedSignature)
        );
    }
}

#[test]
fn signature_of_the_other_key_type_or_hash_is_refused() {
    let ecc = Public::from_tpm2b(&fixture("ak-ecc.pub")).unwrap();
    let rsa = Public::from_tpm2b(&fixture("ak-rsa.pub")).unwrap();
    let r = verify_quote(
        &rsa,
        &fixture("quote-ecc.msg"),
        &fixture("quote-ecc.sig"),
        &fixture_nonce(),
    );
    assert_eq!(r, Err(Error::QuoteSignatureAlgorithm));
    let r = verify_quote(
        &ecc,
        &fixture("quote-rsa.msg"),
        &fixture("quote-rsa.sig"),
        &fixture_nonce(),
    );
    assert_eq!(r, Err(Error::QuoteSignatureAlgorithm));
    let mut sha1 = fixture("quote-ecc.sig");
    sha1[2..4].copy_from_slice(&0x0004u16.to_be_bytes());
    let r = verify_quote(&ecc, &fixture("quote-ecc.msg"), &sha1, &fixture_nonce());
    assert_eq!(r, Err(Error::QuoteSignatureAlgorithm));
    // Another AK of the same type: the signature does not verify.
    let other = Public::from_tpm2b(&SoftAk::new().tpm2b_public()).unwrap();
    let r = verify_quote(
        &other,
        &fixture("quote-ecc.msg"),
        &fixture("quote-ecc.sig"),
        &fixture_nonce(),
    );
    assert_eq!(r, Err(Error::QuoteSignatureInvalid));
}

#[test]
fn signed_structures_that_are_not_tpm_quotes_are_refused() {
    let soft = SoftAk::new();
    let ak = Public::from_tpm2b(&soft.tpm2b_public()).unwrap();
    assert_eq!(ak.attributes().0, AK_ATTRIBUTES);
    check_ak_policy(&ak).unwrap();
    let nonce = [1u8; 32];

    let good = attest(MAGIC, QUOTE, &nonce);
    verify_quote(&ak, &good, &soft.sign(&good), &nonce).unwrap();

    let not_generated = attest(0x1234_5678, QUOTE, &nonce);
    assert_eq!(
        verify_quote(&ak, &not_generated, &soft.sign(&not_generated), &nonce),
        Err(Error::QuoteNotTpmGenerated)
    );
    let certify = attest(MAGIC, 0x8017, &nonce);
    assert_eq!(
        verify_quote(&ak, &certify, &soft.sign(&certify), &nonce),
        Err(Error::QuoteWrongType)
    );
    let mut trailing = good.clone();
    trailing.push(0);
    assert_eq!(
        verify_quote(&ak, &trailing, &soft.sign(&trailing), &nonce),
        Err(Error::MalformedAttest)
    );
    for n in 0..good.len() {
        let cut = &good[..n];
        assert!(
            verify_quote(&ak, cut, &soft.sign(cut), &nonce).is_err(),
            "cut at {n}"
        );
    }
    // A selection claiming 2^32-1 banks is refused before any allocation.
    let mut banks = good.clone();
    let pos = 4 + 2 + 2 + 34 + 2 + 32 + 25;
    banks[pos..pos + 4].copy_from_slice(&u32::MAX.to_be_bytes());
    assert_eq!(
        verify_quote(&ak, &banks, &soft.sign(&banks), &nonce),
        Err(Error::MalformedAttest)
    );
    let huge = vec![0u8; 4096];
    assert_eq!(
        verify_quote(&ak, &huge, &soft.sign(&huge), &nonce),
        Err(Error::MalformedAttest)
    );
}
