//! The events' tags (`keybound_audit::mac`), checked by the sealer before
//! it signs an event into a checkpoint.
//!
//! The tree is keyless, so without tags an event a database writer
//! inserts (with a correct `prev_hash` and `hash`) would be sealed like
//! any other and become signed history. With a key-encryption key every
//! node tags the events it writes, and the sealer:
//!
//! - refuses an event whose tag does not verify (changed, or tagged under
//!   another key);
//! - refuses an event without a tag once the log requires tags: from the
//!   first tagged event it seals on, every checkpoint it signs says
//!   `keybound-mac-since N` in a signed extension line, so a database
//!   writer can neither move that point nor strip the requirement;
//! - accepts untagged events before that point: events written before
//!   tags existed (an upgrade) or while no node had the key.
//!
//! A refusal is tampering like any other: `audit.tamper`, and this node
//! signs nothing more until it is restarted on a sound log. A node without
//! the key checks nothing but keeps the requirement in what it signs.
//!
//! `audit verify` run with the key checks every event's tag the same way
//! ([`TagAudit`]) and names the events refused.

use std::collections::HashMap;

use keybound_audit::mac::EventMac;
use keybound_audit::AuditEvent;

use keybound_store::Store;

use super::verify::{LogProblem, ProblemKind, TagSummary};
use crate::{Service, ServiceError};

/// Whether `event`, stored with `tag`, may be sealed; `since` is the first
/// event that must carry a tag, set here by the first tagged event when
/// nothing required tags before. `Err`: why not (for `audit.tamper`).
pub(super) fn check_tag(
    key: &EventMac,
    event: &AuditEvent,
    tag: Option<&[u8]>,
    since: &mut Option<u64>,
) -> Result<(), String> {
    let seq = event.seq;
    match (tag, *since) {
        (Some(tag), _) if key.verify(seq, &event.hash, tag) => {
            since.get_or_insert(seq);
            Ok(())
        }
        (Some(_), _) => Err(format!(
            "event {seq} carries a tag that does not verify: it was changed or inserted by \
             someone without the key-encryption key, or written by a node with another \
             --ca-key-encryption-key-file"
        )),
        (None, Some(first)) if seq >= first => Err(format!(
            "event {seq} carries no tag, though every event from {first} on must: it was \
             inserted into the database directly, or written by a node or command run without \
             --ca-key-encryption-key-file"
        )),
        (None, _) => Ok(()),
    }
}

/// The stored tags of `events` (consecutive, at most a page), by `seq`.
async fn stored_tags(
    store: &Store,
    events: &[AuditEvent],
) -> Result<HashMap<u64, Option<Vec<u8>>>, ServiceError> {
    let (Some(first), Some(last)) = (events.first(), events.last()) else {
        return Ok(HashMap::new());
    };
    Ok(store
        .audit_tags(first.seq.saturating_sub(1), last.seq)
        .await?
        .into_iter()
        .collect())
}

/// Event tags named one by one before the rest are only counted.
const TAGS_NAMED: u64 = 3;

/// `audit verify`'s check of the tags, a page of events at a time.
pub(super) struct TagAudit {
    key: EventMac,
    since: Option<u64>,
    tagged: u64,
    refused: u64,
    /// Refused for a tag that does not verify (not for a missing one).
    bad_tags: u64,
    /// The first few refusals, named.
    named: Vec<LogProblem>,
}

impl TagAudit {
    /// A check with `key` (`None`: no key, nothing checked) from the
    /// requirement the latest signed checkpoint states.
    pub(super) fn new(key: Option<EventMac>, signed_since: Option<u64>) -> Option<TagAudit> {
        key.map(|key| TagAudit {
            key,
            since: signed_since,
            tagged: 0,
            refused: 0,
            bad_tags: 0,
            named: Vec::new(),
        })
    }

    /// Checks the tags of `page` (consecutive events); names the first
    /// few events refused.
    pub(super) async fn page(
        &mut self,
        store: &Store,
        page: &[AuditEvent],
    ) -> Result<(), ServiceError> {
        let tags = stored_tags(store, page).await?;
        for event in page {
            let tag = tags.get(&event.seq).and_then(|t| t.as_deref());
            match check_tag(&self.key, event, tag, &mut self.since) {
                Ok(()) if tag.is_some() => self.tagged += 1,
                Ok(()) => {}
                Err(why) => {
                    self.refused += 1;
                    self.bad_tags += u64::from(tag.is_some());
                    if self.refused <= TAGS_NAMED {
                        self.named.push(LogProblem {
                            kind: ProblemKind::Untagged,
                            message: why,
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// What was found; the events refused beyond those named, counted.
    /// When not one tag verifies, the likeliest cause is this process's
    /// key, not the log: that is said once instead of naming every event.
    pub(super) fn finish(self, problems: &mut Vec<LogProblem>) -> TagSummary {
        if self.tagged == 0 && self.bad_tags > 0 && self.bad_tags == self.refused {
            problems.push(LogProblem {
                kind: ProblemKind::Untagged,
                message: format!(
                    "none of the {} tagged events' tags verifies with this key-encryption key: \
                     is it the one the servers use? (A restored database needs the key file its \
                     server had, workload-ca.key beside it or --ca-key-encryption-key-file.) If \
                     it is, every tag was replaced",
                    self.bad_tags
                ),
            });
            return TagSummary::Checked {
                tagged: 0,
                since: self.since,
            };
        }
        problems.extend(self.named);
        let more = self.refused.saturating_sub(TAGS_NAMED);
        if more > 0 {
            problems.push(LogProblem {
                kind: ProblemKind::Untagged,
                message: format!(
                    "{more} more events carry no valid tag ({} in all)",
                    self.refused
                ),
            });
        }
        TagSummary::Checked {
            tagged: self.tagged,
            since: self.since,
        }
    }
}

impl Service {
    /// Checks the tags of `events` (consecutive, as the sealer read them)
    /// with this node's key; nothing without one. `Ok(Err(why))`: one
    /// must not be sealed.
    pub(super) async fn check_tags(
        &self,
        events: &[AuditEvent],
        since: &mut Option<u64>,
    ) -> Result<Result<(), String>, ServiceError> {
        let Some(key) = &self.transparency.event_mac else {
            return Ok(Ok(()));
        };
        let tags = stored_tags(&self.kernel.store, events).await?;
        for event in events {
            let tag = tags.get(&event.seq).and_then(|t| t.as_deref());
            if let Err(why) = check_tag(key, event, tag, since) {
                return Ok(Err(why));
            }
        }
        Ok(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: u64) -> AuditEvent {
        let mut event = keybound_audit::seal(
            None,
            keybound_audit::NewEvent {
                kind: "test".into(),
                ..Default::default()
            },
        );
        event.seq = seq;
        event
    }

    #[test]
    fn untagged_events_pass_only_before_tags_are_required() {
        let key = EventMac::derive(&[1; 32]);
        let mut since = None;
        assert_eq!(check_tag(&key, &event(1), None, &mut since), Ok(()));
        assert_eq!(since, None, "an untagged event requires nothing");
        let tagged = event(2);
        let tag = key.tag(2, &tagged.hash);
        assert_eq!(
            check_tag(&key, &tagged, Some(tag.as_slice()), &mut since),
            Ok(())
        );
        assert_eq!(
            since,
            Some(2),
            "the first tagged event starts the requirement"
        );
        let err = check_tag(&key, &event(3), None, &mut since).unwrap_err();
        assert!(
            err.contains("event 3 carries no tag") && err.contains("from 2 on"),
            "{err}"
        );
    }

    #[test]
    fn a_tag_of_another_key_or_event_is_refused_and_the_start_stays() {
        let key = EventMac::derive(&[1; 32]);
        let e = event(4);
        let mut since = Some(2);
        let other = EventMac::derive(&[2; 32]).tag(4, &e.hash);
        let err = check_tag(&key, &e, Some(other.as_slice()), &mut since).unwrap_err();
        assert!(err.contains("does not verify"), "{err}");
        let moved = key.tag(5, &e.hash);
        assert!(check_tag(&key, &e, Some(moved.as_slice()), &mut since).is_err());
        let good = key.tag(4, &e.hash);
        assert_eq!(
            check_tag(&key, &e, Some(good.as_slice()), &mut since),
            Ok(())
        );
        assert_eq!(since, Some(2));
        // A signed start after this event (never written so, but read):
        // an untagged event before it passes.
        let mut later = Some(9);
        assert_eq!(check_tag(&key, &e, None, &mut later), Ok(()));
    }
}
