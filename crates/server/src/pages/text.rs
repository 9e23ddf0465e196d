//! Text a client chose (names, nicknames, audit fields) on a page. maud
//! escapes HTML, but not what Unicode does to the text around it: a
//! right-to-left override in a name reverses the rest of its table cell,
//! and zero-width characters make two names look alike. [`Shown`] shows
//! each such character as a visible, styled code (`U+202E`) that plain text
//! cannot imitate, inside a `<bdi>` that keeps the text's direction from
//! spilling onto what follows. Text without them is shown as it is (valid
//! names follow the bidi rule of RFC 5893).

use keybound_service::names::text::is_hazardous;
use maud::{html, Markup, Render};

/// Client-chosen text, rendered safely (see the module docs).
pub(crate) struct Shown<'a>(pub(crate) &'a str);

impl Render for Shown<'_> {
    fn render(&self) -> Markup {
        let text = self.0;
        if !text.chars().any(is_hazardous) {
            return html! { (text) };
        }
        // Runs of ordinary text between the hazardous characters.
        let mut pieces: Vec<Result<&str, char>> = Vec::new();
        let mut rest = text;
        while let Some((at, c)) = rest.char_indices().find(|(_, c)| is_hazardous(*c)) {
            let (before, from) = rest.split_at_checked(at).unwrap_or((rest, ""));
            if !before.is_empty() {
                pieces.push(Ok(before));
            }
            pieces.push(Err(c));
            rest = from.strip_prefix(c).unwrap_or_default();
        }
        if !rest.is_empty() {
            pieces.push(Ok(rest));
        }
        html! {
            bdi {
                @for piece in &pieces {
                    @match piece {
                        Ok(plain) => (plain),
                        Err(c) => span.hidden-char { "U+" (format!("{:04X}", u32::from(*c))) },
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_and_invisible_characters_are_shown_not_obeyed() {
        assert_eq!(Shown("ada<").render().into_string(), "ada&lt;");
        assert_eq!(
            Shown("\u{202E}nimda<b>").render().into_string(),
            "<bdi><span class=\"hidden-char\">U+202E</span>nimda&lt;b&gt;</bdi>"
        );
        assert_eq!(
            Shown("a\u{200B}\u{200B}b\n").render().into_string(),
            "<bdi>a<span class=\"hidden-char\">U+200B</span>\
             <span class=\"hidden-char\">U+200B</span>b\
             <span class=\"hidden-char\">U+000A</span></bdi>"
        );
    }
}
