//! Signed checkpoints, against the signed-note reference of Go's
//! `golang.org/x/mod/sumdb/note` (its documented example key and note):
//! a note we sign with that key is byte for byte the one Go signs, and
//! Go's note opens with our verifier.

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};

use super::*;

const GO_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
/// The seed of Go's example signer key (`PRIVATE+KEY+PeterNeumann+c74f20a3+…`).
const GO_SKEY_B64: &str = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const GO_TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                       then you don't know what your problem is.\n";
const GO_NOTE: &str = "If you think cryptography is the answer to your problem,\n\
                       then you don't know what your problem is.\n\
                       \n\
                       \u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

fn go_key() -> Ed25519KeyPair {
    let raw = B64.decode(GO_SKEY_B64).unwrap();
    assert_eq!(raw[0], 0x01);
    Ed25519KeyPair::from_seed_unchecked(&raw[1..]).unwrap()
}

fn key(seed: u8) -> Ed25519KeyPair {
    Ed25519KeyPair::from_seed_unchecked(&[seed; 32]).unwrap()
}

fn verifier(name: &str, pair: &Ed25519KeyPair) -> VerifierKey {
    let public = <[u8; 32]>::try_from(pair.public_key().as_ref()).unwrap();
    VerifierKey::new(name, public).unwrap()
}

fn checkpoint() -> Checkpoint {
    Checkpoint {
        origin: "login.example.test/keybound-audit".into(),
        size: 1234,
        root: crate::merkle::leaf_hash(b"root"),
    }
}

#[test]
fn go_sumdb_note_interoperates_both_ways() {
    let ours = sign_note(GO_TEXT, "PeterNeumann", &go_key());
    assert_eq!(ours, GO_NOTE);
    let vkey = VerifierKey::parse(GO_VKEY).unwrap();
    assert_eq!(vkey.encode(), GO_VKEY);
    assert_eq!(vkey.key_id(), "c74f20a3");
    assert_eq!(verifier("PeterNeumann", &go_key()), vkey);
    assert_eq!(vkey.open(GO_NOTE).unwrap(), GO_TEXT);
    let changed = GO_NOTE.replace("cryptography", "cryptographY");
    assert_eq!(vkey.open(&changed), Err(CheckpointError::BadSignature));
}

#[test]
fn a_checkpoint_signs_and_verifies_in_c2sp_form() {
    let pair = key(7);
    let cp = checkpoint();
    let note = cp.sign(&pair);
    let mut lines = note.lines();
    assert_eq!(lines.next(), Some("login.example.test/keybound-audit"));
    assert_eq!(lines.next(), Some("1234"));
    assert_eq!(lines.next(), Some(B64.encode(cp.root).as_str()));
    assert_eq!(lines.next(), Some(""));
    assert!(lines
        .next()
        .unwrap()
        .starts_with("\u{2014} login.example.test/keybound-audit "));
    let vkey = verifier(&cp.origin, &pair);
    assert_eq!(vkey.verify(&note), Ok(cp.clone()));
    // A key text round-trips.
    assert_eq!(VerifierKey::parse(&vkey.encode()), Ok(vkey));
}

#[test]
fn a_changed_size_or_root_fails_the_signature() {
    let pair = key(7);
    let cp = checkpoint();
    let note = cp.sign(&pair);
    let vkey = verifier(&cp.origin, &pair);
    let bigger = note.replacen("\n1234\n", "\n1235\n", 1);
    assert_eq!(vkey.verify(&bigger), Err(CheckpointError::BadSignature));
    let other_root = B64.encode(crate::merkle::leaf_hash(b"other"));
    let moved = note.replacen(&B64.encode(cp.root), &other_root, 1);
    assert_eq!(vkey.verify(&moved), Err(CheckpointError::BadSignature));
}

#[test]
fn another_key_or_another_log_is_refused() {
    let cp = checkpoint();
    let note = cp.sign(&key(7));
    // Same name, other key: the key hash differs, so no signature is by it.
    let impostor = verifier(&cp.origin, &key(8));
    assert_eq!(
        impostor.verify(&note),
        Err(CheckpointError::NoSignatureByKey)
    );
    // A checkpoint of another log signed by a key named for that log.
    let other = Checkpoint {
        origin: "other.example.test/log".into(),
        ..cp.clone()
    };
    let pair = key(9);
    let signed = sign_note(&other.body(), &cp.origin, &pair);
    assert_eq!(
        verifier(&cp.origin, &pair).verify(&signed),
        Err(CheckpointError::WrongOrigin)
    );
}

#[test]
fn cosignatures_by_other_keys_are_allowed() {
    let pair = key(7);
    let cp = checkpoint();
    let note = cp.sign(&pair);
    let witness = sign_note(&cp.body(), "witness.example.test", &key(3));
    let witness_line = witness.lines().last().unwrap();
    let both = format!("{note}{witness_line}\n");
    assert_eq!(verifier(&cp.origin, &pair).verify(&both), Ok(cp));
}

#[test]
fn malformed_notes_and_keys_are_refused_without_panic() {
    let pair = key(7);
    let cp = checkpoint();
    let vkey = verifier(&cp.origin, &pair);
    let note = cp.sign(&pair);
    for bad in [
        "",
        "\n",
        "\n\n",
        "origin\n1\nAAAA\n",
        &note.replace('\u{2014}', "-"),
        &note.replace("\n\n", "\n"),
        note.trim_end(),
        &"x".repeat(MAX_NOTE + 1),
    ] {
        assert!(vkey.verify(bad).is_err(), "{bad:?}");
    }
    for body in [
        "o\n01\nAAAA\n",
        "o\n-1\n\n",
        "o\n1\nnot base64\n",
        "o\n1\n",
        "\n1\nAAAA\n",
        "o\n18446744073709551616\nAAAA\n",
    ] {
        assert!(Checkpoint::parse_body(body).is_err(), "{body:?}");
    }
    for text in [
        "",
        "name",
        "name+00000000",
        "name+00000000+AQ==",
        "na me+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+Apc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ] {
        assert!(VerifierKey::parse(text).is_err(), "{text:?}");
    }
    assert!(VerifierKey::new("a+b", [0; 32]).is_err());
}

#[test]
fn extension_lines_after_the_root_are_read_past() {
    let body = format!("{}extension line\n", checkpoint().body());
    assert_eq!(Checkpoint::parse_body(&body), Ok(checkpoint()));
}

#[test]
fn extension_lines_are_signed_and_ignored_by_the_checkpoint_reader() {
    let pair = key(7);
    let cp = checkpoint();
    let lines = [
        "keybound-mac-since 3".to_owned(),
        String::new(),
        "two\nlines".to_owned(),
    ];
    let note = cp.sign_with_extensions(&lines, &pair);
    let vkey = verifier(&cp.origin, &pair);
    assert_eq!(vkey.verify(&note).unwrap(), cp);
    // Only the well-formed line is in the body, after the root.
    assert_eq!(
        vkey.open(&note).unwrap(),
        format!("{}keybound-mac-since 3\n", cp.body())
    );
    // The line is signed: changing it breaks the signature.
    let moved = note.replace("mac-since 3", "mac-since 4");
    assert_eq!(vkey.verify(&moved), Err(CheckpointError::BadSignature));
    // No extensions: the plain note.
    assert_eq!(cp.sign_with_extensions(&[], &pair), cp.sign(&pair));
}
