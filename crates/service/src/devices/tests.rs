use super::enrol::platform_of;
use super::*;

#[test]
fn labels_are_trimmed_bounded_printable_and_not_empty() {
    assert_eq!(clean_label("  my laptop ").unwrap(), "my laptop");
    for bad in ["", "   ", "a\u{7}b", "a\nb", "\u{202E}evil"] {
        assert_eq!(
            clean_label(bad),
            Err(ServiceError::Rejected(Refusal::InvalidDeviceLabel)),
            "{bad:?}"
        );
    }
    assert!(clean_label(&"x".repeat(MAX_LABEL_CHARS)).is_ok());
    assert!(
        clean_label(&"é".repeat(MAX_LABEL_CHARS)).is_ok(),
        "characters, not bytes"
    );
    assert!(clean_label(&"x".repeat(MAX_LABEL_CHARS + 1)).is_err());
    assert!(clean_label(&"x".repeat(1_000_000)).is_err());
}

#[test]
fn reasons_are_bounded_and_printable() {
    assert_eq!(clean_reason(None), None);
    assert_eq!(clean_reason(Some("  ")), None);
    assert_eq!(clean_reason(Some(" lost\n ")).as_deref(), Some("lost"));
    assert_eq!(
        clean_reason(Some(&"y".repeat(10_000))).map(|r| r.chars().count()),
        Some(MAX_REASON_CHARS)
    );
}

#[test]
fn platforms_are_named_coarsely_most_specific_first() {
    let cases = [
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)",
            "iOS",
        ),
        ("Mozilla/5.0 (Linux; Android 14; Pixel 8)", "Android"),
        ("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0)", "ChromeOS"),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64)", "Windows"),
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)", "macOS"),
        ("Mozilla/5.0 (X11; Linux x86_64)", "Linux"),
        ("curl/8.0", ""),
    ];
    for (ua, platform) in cases {
        assert_eq!(platform_of(Some(ua)), platform, "{ua}");
    }
    assert_eq!(platform_of(None), "");
}

/// Each device check on a real verified registration (the soft
/// authenticator's, verified with UV only preferred so the device check
/// is what refuses).
mod fitness {
    use super::super::enrol::fit_for_device;
    use crate::metadata::ModelForm;
    use crate::Refusal;
    use keybound_soft_authenticator::{Algorithm, Authenticator, Ceremony};
    use keybound_webauthn::{
        verify_registration_json, CoseAlgorithm, OriginPolicy, RegistrationExpectation,
        TrustAnchors, UserVerificationRequirement, VerifiedRegistration,
    };

    const ORIGIN: &str = "https://example.org";

    fn verified(
        auth: &Authenticator,
        edit: impl FnOnce(&mut serde_json::Value),
    ) -> VerifiedRegistration {
        let challenge = [9u8; 32];
        let (_, mut json) = auth.register(
            Algorithm::Es256,
            &Ceremony {
                rp_id: "example.org",
                origin: ORIGIN,
                challenge: &challenge,
            },
            b"user",
        );
        edit(&mut json);
        let anchors = TrustAnchors::new(Vec::<Vec<u8>>::new(), 0).unwrap();
        verify_registration_json(
            &RegistrationExpectation {
                challenge: &challenge,
                rp_id: "example.org",
                origins: &OriginPolicy::exact([ORIGIN]).unwrap(),
                algorithms: &CoseAlgorithm::ALL,
                user_verification: UserVerificationRequirement::Preferred,
                trust_anchors: &anchors,
                allow_sha1_tpm_attestation: false,
            },
            json.to_string().as_bytes(),
        )
        .unwrap()
    }

    #[test]
    fn a_platform_device_bound_verified_key_is_fit() {
        let v = verified(&Authenticator::default(), |_| {});
        assert_eq!(fit_for_device(&v, &ModelForm::default()), Ok(()));
        // Hybrid and internal transports, metadata saying platform: fit.
        let form = ModelForm {
            platform: true,
            ..ModelForm::default()
        };
        assert_eq!(fit_for_device(&v, &form), Ok(()));
    }

    #[test]
    fn synced_unverified_and_roaming_keys_are_not() {
        let synced = Authenticator {
            backup_eligible: true,
            ..Authenticator::default()
        };
        assert_eq!(
            fit_for_device(&verified(&synced, |_| {}), &ModelForm::default()),
            Err(Refusal::DeviceBackupEligible)
        );
        let unverified = Authenticator {
            user_verified: false,
            ..Authenticator::default()
        };
        assert_eq!(
            fit_for_device(&verified(&unverified, |_| {}), &ModelForm::default()),
            Err(Refusal::DeviceUserNotVerified)
        );
        let usb = verified(&Authenticator::default(), |j| {
            j["response"]["transports"] = serde_json::json!(["usb"]);
        });
        assert_eq!(
            fit_for_device(&usb, &ModelForm::default()),
            Err(Refusal::DeviceRoamingAttachment)
        );
        let usb_and_internal = verified(&Authenticator::default(), |j| {
            j["response"]["transports"] = serde_json::json!(["usb", "internal"]);
        });
        assert_eq!(
            fit_for_device(&usb_and_internal, &ModelForm::default()),
            Ok(())
        );
        let cross = verified(&Authenticator::default(), |j| {
            j["authenticatorAttachment"] = serde_json::json!("cross-platform");
        });
        assert_eq!(
            fit_for_device(&cross, &ModelForm::default()),
            Err(Refusal::DeviceRoamingAttachment)
        );
        let external = ModelForm {
            roaming: true,
            ..ModelForm::default()
        };
        assert_eq!(
            fit_for_device(&verified(&Authenticator::default(), |_| {}), &external),
            Err(Refusal::DeviceRoamingAttachment)
        );
    }
}
