//! Event MACs: proof that an event was written by keybound, not inserted
//! into the database by someone who can write it.
//!
//! The hash chain and the Merkle tree are keyless: anyone who can write
//! the `audit_events` table can append an event with a correct
//! `prev_hash` and `hash`, and the sealer would sign it into the next
//! checkpoint. Each event therefore also carries an HMAC-SHA256 tag under
//! a key derived (HKDF-SHA256) from the operator's key-encryption key,
//! which lives in a file, not in the database. The sealer refuses to sign
//! an event without a valid tag once the log's checkpoints say tags are
//! required ([`MAC_SINCE`]), so a forged event stops sealing and is
//! reported instead of being signed into history.
//!
//! The tag covers the event's `seq` and `hash`; the hash covers the
//! canonical event and `prev_hash`, so a tag moved to another event or
//! another position does not verify.

use aws_lc_rs::{hkdf, hmac};

/// The checkpoint extension line (a C2SP `tlog-checkpoint` extension, after
/// the root) that says from which event on every event must carry a tag:
/// `keybound-mac-since N`. It is signed with the checkpoint, so a database
/// writer cannot move or remove it.
pub const MAC_SINCE: &str = "keybound-mac-since";

/// HKDF salt and info: the key is for this purpose and no other (the
/// key-encryption key itself is an AES-256-GCM key).
const SALT: &[u8] = b"keybound audit event mac";
const INFO: &[u8] = b"keybound-audit-event-mac-v1";

/// The MAC key of the audit log's events.
#[derive(Clone)]
pub struct EventMac(hmac::Key);

impl std::fmt::Debug for EventMac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventMac(…)")
    }
}

impl EventMac {
    /// The MAC key derived from the operator's key-encryption key.
    pub fn derive(kek: &[u8; 32]) -> EventMac {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, SALT).extract(kek);
        let key = match prk.expand(&[INFO], hmac::HMAC_SHA256) {
            Ok(okm) => hmac::Key::from(okm),
            // Unreachable: 32 bytes is far below HKDF-SHA256's limit. Fall
            // back to a key that no one else derives either way.
            Err(_) => hmac::Key::new(hmac::HMAC_SHA256, kek),
        };
        EventMac(key)
    }

    /// The tag of the event at `seq` whose chain hash is `hash`.
    pub fn tag(&self, seq: u64, hash: &str) -> Vec<u8> {
        hmac::sign(&self.0, &message(seq, hash)).as_ref().to_vec()
    }

    /// Whether `tag` is the tag of the event at `seq` with `hash`
    /// (compared in constant time).
    pub fn verify(&self, seq: u64, hash: &str, tag: &[u8]) -> bool {
        hmac::verify(&self.0, &message(seq, hash), tag).is_ok()
    }
}

fn message(seq: u64, hash: &str) -> Vec<u8> {
    format!("keybound audit event\n{seq}\n{hash}\n").into_bytes()
}

/// The extension line for [`MAC_SINCE`] `seq`.
pub fn mac_since_line(seq: u64) -> String {
    format!("{MAC_SINCE} {seq}")
}

/// The first event that must carry a tag, as a checkpoint body's
/// extension lines say; `None` when no line says so. A line that is
/// malformed, or said twice, requires tags of every event (`Some(1)`): a
/// requirement is never read as weaker than it may be.
pub fn mac_since(body: &str) -> Option<u64> {
    let mut found = body
        .split('\n')
        .skip(3)
        .filter(|line| line.starts_with(MAC_SINCE))
        .map(|line| {
            let n = line.strip_prefix(MAC_SINCE)?.strip_prefix(' ')?;
            n.parse::<u64>()
                .ok()
                .filter(|&v| v >= 1 && n.bytes().all(|b| b.is_ascii_digit()))
        });
    match (found.next(), found.next()) {
        (None, _) => None,
        (Some(Some(n)), None) => Some(n),
        _ => Some(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_verifies_only_for_its_event_and_key() {
        let key = EventMac::derive(&[7; 32]);
        let tag = key.tag(5, "ab");
        assert_eq!(tag.len(), 32);
        assert!(key.verify(5, "ab", &tag));
        assert!(!key.verify(6, "ab", &tag), "another position");
        assert!(!key.verify(5, "ac", &tag), "another event");
        assert!(!key.verify(5, "ab", &tag[..31]), "a cut tag");
        assert!(!key.verify(5, "ab", &[]), "no tag");
        assert!(
            !EventMac::derive(&[8; 32]).verify(5, "ab", &tag),
            "another key"
        );
    }

    #[test]
    fn the_key_is_derived_not_the_key_encryption_key_itself() {
        let kek = [7; 32];
        let raw = hmac::Key::new(hmac::HMAC_SHA256, &kek);
        let tag = EventMac::derive(&kek).tag(1, "ab");
        assert!(hmac::verify(&raw, &message(1, "ab"), &tag).is_err());
    }

    #[test]
    fn mac_since_is_read_from_extension_lines_only() {
        let body = "log\n3\nAAAA\n";
        assert_eq!(mac_since(body), None);
        assert_eq!(mac_since("log\n3\nAAAA\nkeybound-mac-since 2\n"), Some(2));
        assert_eq!(
            mac_since(&format!("log\n3\nAAAA\n{}\n", mac_since_line(9))),
            Some(9)
        );
        // Not in the origin, size or root lines.
        assert_eq!(mac_since("keybound-mac-since 2\n3\nAAAA\n"), None);
        // Malformed or repeated: tags of every event.
        for bad in ["+2", "-2", "2x", "", " 2", "0", "99999999999999999999999"] {
            assert_eq!(
                mac_since(&format!("log\n3\nAAAA\nkeybound-mac-since {bad}\n")),
                Some(1),
                "{bad:?}"
            );
        }
        assert_eq!(mac_since("log\n3\nAAAA\nkeybound-mac-since9\n"), Some(1));
        assert_eq!(
            mac_since("log\n3\nAAAA\nkeybound-mac-since 5\nkeybound-mac-since 5\n"),
            Some(1)
        );
    }
}
