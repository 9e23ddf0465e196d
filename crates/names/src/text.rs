//! Untrusted text on a terminal or a page: names, nicknames, reasons and
//! user agents can hold characters that move the cursor, start escape
//! sequences, reorder what follows (bidi overrides), or do not show at all.
//! Shown as they are, a name with a newline forges a line of
//! `keybound admin users`, and one with U+202E reads backwards in the
//! console. These functions make such characters visible instead.

use std::borrow::Cow;
use std::fmt::Write;

/// Characters that must not reach a terminal or a page as they are: every
/// control character (C0, DEL, C1), the bidi embeddings, overrides,
/// isolates and marks, line and paragraph separators, and the invisible
/// formatting characters (zero-width space and joiners, word joiner and
/// invisible operators, BOM, soft hyphen, Mongolian and variation
/// selectors, tags, Hangul fillers, interlinear annotation).
pub fn is_hazardous(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{1BCA0}'..='\u{1BCA3}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E0FFF}'
        )
}

/// `s` with every [`is_hazardous`] character written as `\u{…}` and every
/// backslash doubled, so the escaped form cannot be mistaken for text that
/// already looked like an escape. Clean text comes back borrowed.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c == '\\' || is_hazardous(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c == '\\' {
            out.push_str("\\\\");
        } else if is_hazardous(c) {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A line of JSON (as `serde_json` writes it) with every [`is_hazardous`]
/// character that JSON leaves raw (DEL, C1 controls, bidi and invisible
/// characters; C0 controls are already escaped) written as a `\uXXXX`
/// escape. The document means exactly what it meant: outside strings
/// `serde_json` writes only ASCII, so every such character is inside a
/// string, where the escape is equivalent.
pub fn escape_json(line: &str) -> Cow<'_, str> {
    if !line.chars().any(is_hazardous) {
        return Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len() + 8);
    for c in line.chars() {
        if is_hazardous(c) {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{:04x}", unit);
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}
