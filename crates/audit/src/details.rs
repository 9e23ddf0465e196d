//! The bounds [`crate::seal`] puts on an event's free-form members (its
//! subject kind and its details), and the truncation that enforces them.
//! Truncating rather than refusing is deliberate: see the crate docs.

use std::collections::BTreeMap;

/// Entries a sealed event's `details` may hold; beyond it the last one is
/// `"…"`, counting the entries left out.
pub const MAX_DETAILS: usize = 32;

/// Bytes (UTF-8) a details key may have once sealed.
pub const MAX_DETAIL_KEY: usize = 64;

/// Bytes (UTF-8) a details value may have once sealed.
pub const MAX_DETAIL_VALUE: usize = 1024;

/// Bytes (UTF-8) a subject kind may have once sealed.
pub const MAX_SUBJECT_KIND: usize = 32;

/// What ends a truncated key or value (3 bytes of UTF-8).
const ELLIPSIS: &str = "…";

/// The key of the entry standing for the entries left out; it sorts after
/// every ASCII key.
const OVERFLOW_KEY: &str = "…";

/// `text` if it is at most `max` bytes, else its longest prefix (whole
/// characters) that leaves room for `…`, then `…`.
fn clip(text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let budget = max.saturating_sub(ELLIPSIS.len());
    let mut out = String::with_capacity(max);
    for c in text.chars() {
        if out.len() + c.len_utf8() > budget {
            break;
        }
        out.push(c);
    }
    out.push_str(ELLIPSIS);
    out
}

/// A subject kind within [`MAX_SUBJECT_KIND`].
pub(crate) fn bounded_kind(kind: String) -> String {
    clip(kind, MAX_SUBJECT_KIND)
}

/// `details` within the bounds: keys and values clipped, and past
/// [`MAX_DETAILS`] entries the first ones in key order kept and the rest
/// counted in one [`OVERFLOW_KEY`] entry. A key that clips to one already
/// kept is counted there too. Details within every bound come back as
/// they are.
pub(crate) fn bounded(details: BTreeMap<String, String>) -> BTreeMap<String, String> {
    let fits = details.len() <= MAX_DETAILS
        && details
            .iter()
            .all(|(k, v)| k.len() <= MAX_DETAIL_KEY && v.len() <= MAX_DETAIL_VALUE);
    if fits {
        return details;
    }
    let room = if details.len() > MAX_DETAILS {
        MAX_DETAILS - 1
    } else {
        MAX_DETAILS
    };
    let mut out = BTreeMap::new();
    let mut left_out = 0usize;
    for (key, value) in details {
        let key = clip(key, MAX_DETAIL_KEY);
        if out.len() >= room || out.contains_key(&key) {
            left_out += 1;
            continue;
        }
        out.insert(key, clip(value, MAX_DETAIL_VALUE));
    }
    // At most `room` entries were kept, and fewer than MAX_DETAILS when
    // keys merely collided, so the count always has room.
    if left_out > 0 {
        out.insert(OVERFLOW_KEY.to_owned(), format!("{left_out} more"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_keeps_whole_characters_and_marks_the_cut() {
        assert_eq!(clip("short".into(), 10), "short");
        assert_eq!(clip("abcdefghij".into(), 10), "abcdefghij");
        assert_eq!(clip("abcdefghijk".into(), 10), "abcdefg…");
        // "é" is two bytes: a cut inside it backs off to before it.
        let clipped = clip("aéééé".into(), 8);
        assert_eq!(clipped, "aéé…");
        assert!(clipped.len() <= 8);
    }
}
