//! The console's red forms. Every destructive action (deny, turn down,
//! void, end a session, offboard) is one button behind the same "I am
//! sure" tick, which the handler checks again (`confirm=yes`): one helper,
//! so the pages cannot drift apart.

use maud::{html, Markup};

/// A POST form of class `class` to `action` carrying `hidden` fields, the
/// required "I am sure" tick and a red `button`.
pub(super) fn danger_form(
    class: &str,
    action: &str,
    hidden: &[(&str, &str)],
    button: &str,
) -> Markup {
    html! {
        form class=(class) method="post" action=(action) {
            @for (name, value) in hidden {
                input type="hidden" name=(name) value=(value);
            }
            label { input type="checkbox" name="confirm" value="yes" required; " I am sure" }
            button.danger type="submit" { (button) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_as_the_pages_wrote_it_by_hand() {
        let (id, name) = ("r<1>", "a\"b");
        let by_hand = html! {
            form.end-session method="post" action={ "/admin/x/" (id) "/deny" } {
                input type="hidden" name="name" value=(name);
                input type="hidden" name="session" value=(id);
                label { input type="checkbox" name="confirm" value="yes" required; " I am sure" }
                button.danger type="submit" { "End session" }
            }
        };
        let helper = danger_form(
            "end-session",
            &format!("/admin/x/{id}/deny"),
            &[("name", name), ("session", id)],
            "End session",
        );
        assert_eq!(helper.into_string(), by_hand.into_string());
    }
}
