//! When the workload CA's X.509 authorities change, in SPIRE's phases: the
//! next authority is prepared at half the active one's lifetime (published
//! in the bundle at once, the sequence bumped, not signing), activated at
//! five sixths or when the active one expired (the old one stays in the
//! bundle, `superseded`, signing nothing), and retired (dropped from the
//! bundle) once no SVID it signed can still be valid. A pure function of
//! the rows and the time, so every server computes the same step and the
//! store's conditional updates let one of them make it.

use keybound_store::WorkloadAuthorityRow;

/// Authority states, as stored.
pub(crate) mod state {
    /// Published in the bundle, not signing yet.
    pub const PREPARED: &str = "prepared";
    /// Signing.
    pub const ACTIVE: &str = "active";
    /// Replaced: in the bundle until its SVIDs expire, signing nothing.
    pub const SUPERSEDED: &str = "superseded";
    /// Out of the bundle.
    pub const RETIRED: &str = "retired";
}

/// One change to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// No authority signs: make one and activate it now.
    Bootstrap,
    /// Make the next authority, prepared.
    Prepare,
    /// Activate `prepared`; `active` (if any) becomes superseded.
    Activate {
        /// The prepared authority's id.
        prepared: String,
        /// The active one's id, if any.
        active: Option<String>,
    },
    /// Retire the superseded `id`.
    Retire {
        /// Its id.
        id: String,
    },
}

/// What is due at `now_ms`: rows are one trust domain's authorities;
/// `last_svid_ms(id)` the latest notAfter of an SVID `id` signed. With
/// `force`, the next phase happens now whatever the time
/// (`keybound workload ca rotate`).
pub(crate) fn due(
    rows: &[WorkloadAuthorityRow],
    now_ms: i64,
    force: bool,
    last_svid_ms: impl Fn(&str) -> Option<i64>,
) -> Vec<Step> {
    let mut steps = Vec::new();
    let active = rows.iter().find(|a| a.state == state::ACTIVE);
    let prepared = rows.iter().find(|a| a.state == state::PREPARED);
    match (active, prepared) {
        (None, None) => steps.push(Step::Bootstrap),
        (None, Some(p)) => steps.push(Step::Activate {
            prepared: p.id.clone(),
            active: None,
        }),
        (Some(a), None) => {
            let half = a.not_before_ms + (a.not_after_ms - a.not_before_ms) / 2;
            if force || now_ms >= half {
                steps.push(Step::Prepare);
            }
        }
        (Some(a), Some(p)) => {
            let life = a.not_after_ms - a.not_before_ms;
            let five_sixths = a.not_before_ms + life / 6 * 5;
            if force || now_ms >= five_sixths || now_ms >= a.not_after_ms {
                steps.push(Step::Activate {
                    prepared: p.id.clone(),
                    active: Some(a.id.clone()),
                });
            }
        }
    }
    for s in rows.iter().filter(|a| a.state == state::SUPERSEDED) {
        let until = last_svid_ms(&s.id).unwrap_or(i64::MIN).min(s.not_after_ms);
        if now_ms >= until {
            steps.push(Step::Retire { id: s.id.clone() });
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, st: &str, nb: i64, na: i64) -> WorkloadAuthorityRow {
        WorkloadAuthorityRow {
            id: id.into(),
            trust_domain: "td".into(),
            state: st.into(),
            cert_der: vec![],
            upstream: "[]".into(),
            key_sealed: vec![],
            not_before_ms: nb,
            not_after_ms: na,
            sequence: 1,
            created_ms: nb,
            activated_ms: None,
            retired_ms: None,
        }
    }

    #[test]
    fn the_phases_follow_the_active_authoritys_lifetime() {
        let none = |_: &str| None;
        assert_eq!(due(&[], 0, false, none), vec![Step::Bootstrap]);
        let a = row("a", state::ACTIVE, 0, 600);
        assert!(due(std::slice::from_ref(&a), 299, false, none).is_empty());
        assert_eq!(
            due(std::slice::from_ref(&a), 300, false, none),
            vec![Step::Prepare]
        );
        assert_eq!(
            due(std::slice::from_ref(&a), 1, true, none),
            vec![Step::Prepare]
        );
        let b = row("b", state::PREPARED, 300, 900);
        let both = [a.clone(), b.clone()];
        assert!(due(&both, 499, false, none).is_empty());
        let activate = vec![Step::Activate {
            prepared: "b".into(),
            active: Some("a".into()),
        }];
        assert_eq!(due(&both, 500, false, none), activate);
        assert_eq!(
            due(&both, 10_000, false, none),
            activate,
            "asleep past expiry"
        );
        assert_eq!(due(&both, 301, true, none), activate);
        // Superseded: retired once its last SVID expired, or itself.
        let old = row("a", state::SUPERSEDED, 0, 600);
        let b = row("b", state::ACTIVE, 300, 900);
        let svid = |id: &str| (id == "a").then_some(550);
        assert!(due(&[old.clone(), b.clone()], 549, false, svid).is_empty());
        assert_eq!(
            due(&[old.clone(), b.clone()], 550, false, svid),
            vec![Step::Retire { id: "a".into() }]
        );
        assert_eq!(
            due(&[old, b], 500, false, none),
            vec![Step::Retire { id: "a".into() }],
            "no SVID signed: nothing to wait for"
        );
    }
}
