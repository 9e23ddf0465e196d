//! keybound's one rule for account names, applied everywhere a name comes
//! in: invitations (console and CLI), open registration, sign-in by name,
//! recovery requests, and the administrator's look-ups.
//!
//! # The rule
//!
//! A name is one or more *userparts* separated by spaces, each enforced by
//! the PRECIS `UsernameCaseMapped` profile (RFC 8265 §3.3, §3.1 for the
//! spaces): fullwidth and halfwidth forms map to their ordinary forms,
//! letters to lower case, the result is NFC, and only letters, digits and
//! printable ASCII are allowed (no controls, no spaces other than one
//! between userparts, no bidi overrides, no zero-width characters, BOM or
//! soft hyphen, no symbols), with the bidi rule of RFC 5893 for
//! right-to-left scripts. White space around the name is dropped and runs
//! of spaces between userparts become one. The result has 1 to
//! [`MAX_CHARS`] characters; input longer than [`MAX_INPUT_BYTES`] is not
//! examined at all.
//!
//! [`canonical`] applies the rule (new names are stored in that form);
//! [`lookup_key`] applies only its mappings, so it also gives a key to
//! names stored before the rule existed, and `canonical(x) == Ok(c)`
//! implies `lookup_key(x) == Some(c)`. Two names may not coexist when
//! their keys' [`skeleton`]s (Unicode TR39 §4) are equal: `admin`, `ADMIN`,
//! `аdmin` (Cyrillic а) and `ａｄｍｉｎ` are one name.
//!
//! [`text`] escapes untrusted text (names, nicknames, audit fields) for
//! terminals and pages.
#![warn(missing_docs)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::string_slice
    )
)]

pub mod text;

use precis_core::profile::{Profile, Rules};
use precis_profiles::UsernameCaseMapped;

/// The longest name, in characters of its canonical form.
pub const MAX_CHARS: usize = 64;

/// Input longer than this (bytes) is refused before any Unicode processing:
/// 64 characters can take up to about 9 bytes each before composition
/// (Hangul jamo), so this leaves room for any valid spelling.
pub const MAX_INPUT_BYTES: usize = 1024;

/// Keys longer than this (bytes) are not indexed: only names stored before
/// the rule, longer than any valid name, reach it. PostgreSQL's B-tree
/// entries must stay under about 2.7 kB.
pub const MAX_KEY_BYTES: usize = 2048;

/// Why a name is refused.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameError {
    /// Nothing but white space.
    Empty,
    /// Over [`MAX_CHARS`] characters, or over [`MAX_INPUT_BYTES`] as sent.
    TooLong,
    /// A character the profile disallows, or a bidi rule violation.
    Disallowed,
}

impl NameError {
    /// A stable reason for the audit log.
    pub fn reason(self) -> &'static str {
        match self {
            NameError::Empty => "name_empty",
            NameError::TooLong => "name_too_long",
            NameError::Disallowed => "name_disallowed",
        }
    }
}

impl std::fmt::Display for NameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NameError::Empty => "a name needs at least one letter or digit",
            NameError::TooLong => "a name has at most 64 characters",
            NameError::Disallowed => {
                "a name has letters, digits and printable ASCII, with single spaces between words"
            }
        })
    }
}

impl std::error::Error for NameError {}

/// The userparts of `raw`: trimmed, split at spaces, empty parts dropped.
fn userparts(raw: &str) -> impl Iterator<Item = &str> {
    raw.trim().split(' ').filter(|p| !p.is_empty())
}

/// The canonical form of `raw` under the rule, or why it is not a name.
pub fn canonical(raw: &str) -> Result<String, NameError> {
    if raw.len() > MAX_INPUT_BYTES {
        return Err(NameError::TooLong);
    }
    let profile = UsernameCaseMapped::new();
    let mut out = String::with_capacity(raw.len());
    for part in userparts(raw) {
        let part = profile.enforce(part).map_err(|_| NameError::Disallowed)?;
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&part);
    }
    if out.is_empty() {
        return Err(NameError::Empty);
    }
    if out.chars().count() > MAX_CHARS {
        return Err(NameError::TooLong);
    }
    Ok(out)
}

/// The key a look-up of `raw` uses: the rule's mappings (width, lower
/// case, NFC, userparts joined by one space) without its checks, so names
/// stored before the rule have one too. `None` for input over
/// [`MAX_INPUT_BYTES`] or with nothing but white space.
pub fn lookup_key(raw: &str) -> Option<String> {
    if raw.len() > MAX_INPUT_BYTES {
        return None;
    }
    mapped(raw)
}

fn mapped(raw: &str) -> Option<String> {
    let profile = UsernameCaseMapped::new();
    let mut out = String::with_capacity(raw.len());
    for part in userparts(raw) {
        let part = profile
            .width_mapping_rule(part)
            .and_then(|p| profile.case_mapping_rule(p))
            .and_then(|p| profile.normalization_rule(p))
            .ok()?;
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&part);
    }
    (!out.is_empty()).then_some(out)
}

/// The Unicode TR39 skeleton of a key: names whose skeletons are equal
/// look alike, and only one of them may exist.
pub fn skeleton(key: &str) -> String {
    unicode_security::skeleton(key).collect()
}

/// What the store indexes for a stored name: its look-up key and the
/// skeleton of that key, each `None` when there is none or it is longer
/// than [`MAX_KEY_BYTES`] (a name stored before the rule, far longer than
/// any valid name). Unlike [`lookup_key`], this is not bounded by
/// [`MAX_INPUT_BYTES`]: a stored name is not a request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IndexKeys {
    /// [`lookup_key`] of the name.
    pub key: Option<String>,
    /// [`skeleton`] of the key.
    pub skeleton: Option<String>,
}

impl IndexKeys {
    /// The keys of a stored `name`.
    pub fn of(name: &str) -> IndexKeys {
        if name.len() > MAX_KEY_BYTES {
            return IndexKeys::default();
        }
        let key = mapped(name).filter(|k| k.len() <= MAX_KEY_BYTES);
        let skeleton = key
            .as_deref()
            .map(skeleton)
            .filter(|s| s.len() <= MAX_KEY_BYTES);
        IndexKeys { key, skeleton }
    }
}

/// What the audit log (and a rate-limit bucket) records for a name a
/// client sent, whatever it is: the canonical form of a valid name;
/// otherwise a short escaped prefix and the length, never the whole text
/// (a 900 kB name must not reach the audit chain).
pub fn for_audit(raw: &str) -> String {
    match canonical(raw) {
        Ok(name) => name,
        Err(_) => {
            let prefix: String = raw.chars().take(24).collect();
            format!(
                "{}… [not a valid name, {} bytes]",
                text::escape(&prefix),
                raw.len()
            )
        }
    }
}

#[cfg(test)]
mod tests;
