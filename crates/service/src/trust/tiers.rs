//! Assurance tiers (DESIGN.md): what a credential proves about where its
//! key lives, as a number access decisions can require.
//!
//! - 1: any valid passkey, synced ones included (BE=1).
//! - 2: device-bound (BE=0), created with user verification.
//! - 3: tier 2 on a hardware authenticator whose attestation chains to its
//!   FIDO metadata root, FIDO-certified, with no adverse status report.

/// A credential's tier and the reasons, as people read them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    /// 1, 2 or 3.
    pub tier: i64,
    /// Why, e.g. `device-bound; user verified`.
    pub reasons: String,
}

/// What is known about the authenticator model from its attestation and
/// metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ModelEvidence {
    /// The attestation chain verified to the model's metadata root.
    pub attested: bool,
    /// FIDO-certified (any level).
    pub certified: bool,
    /// A status report against the model (compromise, UV bypass, revoked).
    pub adverse: bool,
}

/// The tier of a credential created with these flags on this model.
pub fn standing(backup_eligible: bool, user_verified: bool, model: ModelEvidence) -> Standing {
    let mut reasons = vec![if backup_eligible {
        "synced passkey"
    } else {
        "device-bound"
    }];
    reasons.push(if user_verified {
        "user verified"
    } else {
        "no user verification"
    });
    let tier2 = !backup_eligible && user_verified;
    let tier = if !tier2 {
        1
    } else if model.attested && model.certified && !model.adverse {
        reasons.push("attested hardware, FIDO certified");
        3
    } else {
        if model.adverse {
            reasons.push("model has an adverse metadata status");
        } else if !model.attested {
            reasons.push("no attestation to a metadata root");
        } else {
            reasons.push("not FIDO certified");
        }
        2
    };
    Standing {
        tier,
        reasons: reasons.join("; "),
    }
}

/// What may hold a credential below the tier its flags and model earn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limits {
    /// Its attestation verified (to a configured root or its model's
    /// metadata root): the tier is vouched for by the manufacturer, not
    /// only reported by the authenticator.
    pub attested: bool,
    /// The tier of the session that added it, while nothing stronger has
    /// vouched for it.
    pub cap: Option<i64>,
    /// Policy: tier 2 needs attestation (flags alone are self-declared).
    pub require_attestation: bool,
}

/// `standing` after the limits: without attestation, a credential counts
/// at most the tier of the session that added it, and (by policy) tier 1.
pub fn limited(mut standing: Standing, limits: Limits) -> Standing {
    if limits.attested {
        return standing;
    }
    if limits.require_attestation && standing.tier >= 2 {
        standing.tier = 1;
        standing
            .reasons
            .push_str("; counts as tier 1: policy requires attestation for tier 2");
    }
    if let Some(cap) = limits.cap.filter(|cap| standing.tier > *cap) {
        standing.tier = cap;
        standing.reasons.push_str(&format!(
            "; counts as tier {cap}: added from a tier-{cap} session, until attestation or another administrator vouches for it"
        ));
    }
    standing
}

/// The tier a session reaches: the credential's, but a sign-in without
/// user verification proves only possession (tier 1).
pub fn session_tier(credential_tier: i64, user_verified: bool) -> i64 {
    if user_verified {
        credential_tier
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HARDWARE: ModelEvidence = ModelEvidence {
        attested: true,
        certified: true,
        adverse: false,
    };

    #[test]
    fn synced_passkeys_are_tier_1_whatever_the_model() {
        assert_eq!(standing(true, true, HARDWARE).tier, 1);
        assert_eq!(
            standing(true, true, ModelEvidence::default()).reasons,
            "synced passkey; user verified"
        );
    }

    #[test]
    fn device_bound_with_uv_is_tier_2() {
        let s = standing(false, true, ModelEvidence::default());
        assert_eq!(s.tier, 2);
        assert!(s.reasons.contains("no attestation"), "{}", s.reasons);
        assert_eq!(standing(false, false, HARDWARE).tier, 1, "without UV");
    }

    #[test]
    fn attested_certified_unflagged_hardware_is_tier_3() {
        assert_eq!(standing(false, true, HARDWARE).tier, 3);
        for weaker in [
            ModelEvidence {
                attested: false,
                ..HARDWARE
            },
            ModelEvidence {
                certified: false,
                ..HARDWARE
            },
            ModelEvidence {
                adverse: true,
                ..HARDWARE
            },
        ] {
            assert_eq!(standing(false, true, weaker).tier, 2, "{weaker:?}");
        }
    }

    #[test]
    fn limits_hold_unattested_credentials_down() {
        let tier2 = standing(false, true, ModelEvidence::default());
        let capped = limited(
            tier2.clone(),
            Limits {
                cap: Some(1),
                ..Limits::default()
            },
        );
        assert_eq!(capped.tier, 1);
        assert!(capped.reasons.contains("added from a tier-1 session"));
        assert_eq!(
            limited(
                tier2.clone(),
                Limits {
                    cap: Some(1),
                    attested: true,
                    require_attestation: true
                }
            ),
            tier2,
            "attestation vouches"
        );
        assert_eq!(
            limited(
                tier2.clone(),
                Limits {
                    cap: Some(2),
                    ..Limits::default()
                }
            ),
            tier2,
            "a cap at or above the tier changes nothing"
        );
        let policy = limited(
            tier2,
            Limits {
                require_attestation: true,
                ..Limits::default()
            },
        );
        assert_eq!(policy.tier, 1);
        assert!(policy.reasons.contains("policy requires attestation"));
    }

    #[test]
    fn sessions_without_uv_are_tier_1() {
        assert_eq!(session_tier(3, true), 3);
        assert_eq!(session_tier(3, false), 1);
    }
}
