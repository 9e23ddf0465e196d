use super::*;

fn k() -> hmac::Key {
    key(&[7; 32])
}

#[test]
fn a_challenge_passes_once_made_for_its_purpose_and_subject_within_its_life() {
    let c = challenge(&k(), Purpose::Register, b"s1", 1_000, [1; 16]);
    assert_eq!(
        check_challenge(&k(), Purpose::Register, b"s1", &c, 1_500, 600),
        Ok(1_600)
    );
    let refused = [
        check_challenge(&k(), Purpose::Refresh, b"s1", &c, 1_500, 600),
        check_challenge(&k(), Purpose::Register, b"s2", &c, 1_500, 600),
        check_challenge(&key(&[8; 32]), Purpose::Register, b"s1", &c, 1_500, 600),
    ];
    for r in refused {
        assert_eq!(r, Err(ChallengeError::Invalid));
    }
    assert_eq!(
        check_challenge(&k(), Purpose::Register, b"s1", &c, 1_600, 600),
        Err(ChallengeError::Expired)
    );
    let future = challenge(&k(), Purpose::Register, b"s1", 100_000, [1; 16]);
    assert_eq!(
        check_challenge(&k(), Purpose::Register, b"s1", &future, 1_000, 600_000),
        Err(ChallengeError::Expired)
    );
}

#[test]
fn tampered_or_junk_challenges_are_invalid() {
    let c = challenge(&k(), Purpose::Refresh, b"s1", 1_000, [1; 16]);
    let mut bytes = b64::decode(&c).unwrap();
    bytes[0] ^= 1; // a later issue time
    let tampered = b64::encode(&bytes);
    let short: String = c.chars().take(20).collect();
    for junk in [&tampered, "", "!!", &"A".repeat(MAX_VALUE + 1), &short] {
        assert_eq!(
            check_challenge(&k(), Purpose::Refresh, b"s1", junk, 1_000, 600),
            Err(ChallengeError::Invalid),
            "{junk}"
        );
    }
}

#[test]
fn a_bound_cookie_admits_its_binding_and_session_until_it_expires() {
    let cookie = bound_cookie(&k(), "b1", b"h1", 2_000);
    assert!(bound_cookie_admits(&k(), "b1", b"h1", &cookie, 1_999));
    assert!(!bound_cookie_admits(&k(), "b1", b"h1", &cookie, 2_000));
    assert!(!bound_cookie_admits(&k(), "b2", b"h1", &cookie, 1_000));
    assert!(!bound_cookie_admits(&k(), "b1", b"h2", &cookie, 1_000));
    let mut bytes = b64::decode(&cookie).unwrap();
    bytes[7] ^= 0x10; // a later expiry
    assert!(!bound_cookie_admits(
        &k(),
        "b1",
        b"h1",
        &b64::encode(&bytes),
        1_000
    ));
    assert!(!bound_cookie_admits(&k(), "b1", b"h1", "", 1_000));
}
