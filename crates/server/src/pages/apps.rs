//! `/admin/apps`: the OpenID Connect clients ("apps") in the console — the
//! list, the form that adds one, and removal behind the "I am sure" tick.
//! The use cases are the ones `keybound oidc client` calls, with the
//! administrator as the actor, so each change is audited the same way.
//!
//! A confidential app's secret is on the answer to the form post and
//! nowhere else: not in a URL (the post answers with the page, no
//! redirect), not in a log, not cached (`Cache-Control: no-store`), and
//! never again (only its hash is kept).

use axum::extract::{Query, State};
use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use keybound_service::{Admin, ClientRegistration, OidcClient, Refusal, ServiceError};
use maud::{html, Markup};

use super::admin::nav;
use super::forms::danger_form;
use super::guard::{AdminForm, AdminPage};
use super::text::Shown;
use super::{date, layout, see_other, with_notice, Notice, NoticeQuery};
use crate::reply::from_service;
use crate::AppState;

/// The longest app name, in bytes (the use case's own bound).
const MAX_NAME: usize = 64;
/// The longest URI, in bytes (what the provider reads in a request).
const MAX_URI: usize = 2048;
/// The most redirect URIs one app registers.
const MAX_URIS: usize = 16;

/// The add form as sent. Every field is optional so that a form missing
/// one is answered in words, not with a bare 422.
#[derive(serde::Deserialize, Default)]
pub(super) struct AddForm {
    #[serde(default)]
    name: String,
    /// One URI a line.
    #[serde(default)]
    redirect_uris: String,
    /// `public` or `confidential`.
    #[serde(default)]
    kind: Option<String>,
    /// `client_secret_basic` or `client_secret_post` (confidential apps).
    #[serde(default)]
    auth_method: Option<String>,
    #[serde(default)]
    backchannel_logout_uri: String,
    /// `yes` when ticked.
    #[serde(default)]
    pairwise: Option<String>,
}

/// Why an app was not added, in words the page shows above the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refused {
    TooLong,
    TooManyUris,
    NoRedirectUri,
    InvalidName,
    NameTaken,
    InvalidUri,
    InvalidKind,
}

impl Refused {
    fn text(self) -> &'static str {
        match self {
            Refused::TooLong => {
                "Too long: a name is at most 64 characters, and each URI at most 2048."
            }
            Refused::TooManyUris => "Too many redirect URIs: at most 16.",
            Refused::NoRedirectUri => "Give at least one redirect URI.",
            Refused::InvalidName => {
                "A name is 1 to 64 characters, without spaces or control characters."
            }
            Refused::NameTaken => {
                "An app by that name is already registered. Choose another name, or remove the old app first."
            }
            Refused::InvalidUri => {
                "Each redirect URI, and the back-channel logout URI, must be absolute and https \
                 (or http to localhost, 127.0.0.1 or [::1]), without a fragment (#) and without a \
                 user name or password."
            }
            Refused::InvalidKind => {
                "Choose public or confidential, and one of the listed authentication methods."
            }
        }
    }

    /// The words for a refusal of the use case.
    fn of(refusal: Refusal) -> Refused {
        match refusal {
            Refusal::NameTaken => Refused::NameTaken,
            Refusal::InvalidName => Refused::InvalidName,
            Refusal::OidcInvalidRedirectUri => Refused::InvalidUri,
            _ => Refused::InvalidKind,
        }
    }
}

impl AddForm {
    /// The registration this form asks for, within the page's bounds.
    fn registration(&self) -> Result<ClientRegistration, Refused> {
        let name = self.name.trim();
        let backchannel = self.backchannel_logout_uri.trim();
        if name.len() > MAX_NAME
            || backchannel.len() > MAX_URI
            || self.redirect_uris.len() > MAX_URIS.saturating_mul(MAX_URI.saturating_add(2))
        {
            return Err(Refused::TooLong);
        }
        let uris: Vec<String> = self
            .redirect_uris
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(str::to_owned)
            .collect();
        if uris.len() > MAX_URIS {
            return Err(Refused::TooManyUris);
        }
        if uris.iter().any(|u| u.len() > MAX_URI) {
            return Err(Refused::TooLong);
        }
        if uris.is_empty() {
            return Err(Refused::NoRedirectUri);
        }
        let public = match self.kind.as_deref() {
            Some("public") => true,
            Some("confidential") | None => false,
            Some(_) => return Err(Refused::InvalidKind),
        };
        Ok(ClientRegistration {
            name: name.to_owned(),
            redirect_uris: uris,
            public,
            auth_method: if public {
                None
            } else {
                self.auth_method.clone()
            },
            backchannel_logout_uri: (!backchannel.is_empty()).then(|| backchannel.to_owned()),
            post_logout_redirect_uris: Vec::new(),
            pairwise: self.pairwise.as_deref() == Some("yes"),
            id_token_alg: None,
            jwks: None,
        })
    }
}

pub(super) async fn page(
    State(state): State<AppState>,
    Query(query): Query<NoticeQuery>,
    AdminPage { me, .. }: AdminPage,
) -> Response {
    listing(&state, &me, query.notice(), &AddForm::default(), None).await
}

/// The list and the add form (filled in with `typed`); `refused` says why
/// the last form was not taken (a 400 then).
async fn listing(
    state: &AppState,
    me: &Admin,
    notice: Option<Notice>,
    typed: &AddForm,
    refused: Option<Refused>,
) -> Response {
    let clients = match state.service.oidc_clients(me.into()).await {
        Ok(clients) => clients,
        Err(e) => return from_service(&e),
    };
    let status = if refused.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let list = html! {
        @if clients.is_empty() { p #no-apps { "No apps yet." } }
        @else { (table(&clients)) }
    };
    let adding = html! {
        h2 #add-heading { "Add an app" }
        (add_form(typed, refused))
    };
    // A refused form comes first, so its reason and what was typed are
    // where the reloaded page opens, however long the list.
    let body = html! {
        (nav("/admin/apps"))
        p.hint { "Apps sign people in here with OpenID Connect. Each has a client_id; a confidential app also has a secret, shown once when it is added." }
        @if refused.is_some() { (adding) h2 { "Registered apps" } (list) }
        @else { (list) (adding) }
    };
    (status, layout("Apps", "admin-apps", notice, body)).into_response()
}

/// The registered apps, each with its red "Remove".
fn table(clients: &[OidcClient]) -> Markup {
    html! {
        div.table-wrap tabindex="0" role="region" aria-label="Apps" {
            table #apps {
                tr {
                    th scope="col" { "Name" } th scope="col" { "Client ID" } th scope="col" { "Type" }
                    th scope="col" { "Token auth" } th scope="col" { "Redirect URIs" }
                    th scope="col" { "Back-channel logout" } th scope="col" { "Added" } th scope="col" { "Remove it" }
                }
                @for c in clients {
                    tr data-name=(c.name) {
                        td { (Shown(&c.name)) @if c.pairwise { br; span.hint { "pairwise sub" } } }
                        td { code.client-id { (c.client_id) } }
                        td { @if c.public { "public" } @else { "confidential" } }
                        td { (c.auth_method) }
                        td { @for (i, uri) in c.redirect_uris.iter().enumerate() { @if i > 0 { br; } code { (Shown(uri)) } } }
                        td { @if let Some(uri) = &c.backchannel_logout_uri { code { (Shown(uri)) } } @else { "none" } }
                        td { (date(c.created_ms)) }
                        td { (danger_form("remove-app", "/admin/apps/remove", &[("name", &c.name)], "Remove")) }
                    }
                }
            }
        }
    }
}

/// The add form, keeping what was typed.
fn add_form(typed: &AddForm, refused: Option<Refused>) -> Markup {
    let public = typed.kind.as_deref() == Some("public");
    let method = typed
        .auth_method
        .as_deref()
        .unwrap_or("client_secret_basic");
    let uris_max = MAX_URIS * (MAX_URI + 2);
    html! {
        @if let Some(r) = refused {
            p.problem #app-refused role="alert" { "Not added. " (r.text()) }
        }
        form #add-app method="post" action="/admin/apps" {
            label { "Name " input name="name" type="text" required maxlength=(MAX_NAME) value=(typed.name); }
            label for="redirect-uris" { "Redirect URIs, one a line (https, or http to localhost)" }
            textarea #redirect-uris name="redirect_uris" rows="3" required maxlength=(uris_max) { (typed.redirect_uris) }
            fieldset {
                legend { "Type" }
                label { input type="radio" name="kind" value="confidential" checked[!public]; " Confidential: a server-side app that keeps a secret" }
                label { input type="radio" name="kind" value="public" checked[public]; " Public: a single-page or native app, no secret (PKCE protects its codes)" }
            }
            label { "Token authentication (confidential apps) "
                select name="auth_method" {
                    option value="client_secret_basic" selected[method == "client_secret_basic"] { "client_secret_basic (HTTP Basic)" }
                    option value="client_secret_post" selected[method == "client_secret_post"] { "client_secret_post (in the form)" }
                }
            }
            label { "Back-channel logout URI (optional) "
                input name="backchannel_logout_uri" type="text" inputmode="url" maxlength=(MAX_URI) value=(typed.backchannel_logout_uri);
            }
            label { input type="checkbox" name="pairwise" value="yes" checked[typed.pairwise.as_deref() == Some("yes")]; " Pairwise sub: this app sees its own identifier for each person, unlinkable across apps" }
            button type="submit" { "Add app" }
        }
    }
}

/// Adds an app: the page with its client_id and (confidential) secret, or
/// the list again with the refusal in words and the form as typed.
pub(super) async fn add(
    State(state): State<AppState>,
    AdminForm { me, ctx, form }: AdminForm<AddForm>,
) -> Response {
    let registration = match form.registration() {
        Ok(registration) => registration,
        Err(refused) => return listing(&state, &me, None, &form, Some(refused)).await,
    };
    let added = match state
        .service
        .add_oidc_client((&me).into(), registration, &ctx)
        .await
    {
        Ok(added) => added,
        Err(ServiceError::Rejected(refusal)) => {
            return listing(&state, &me, None, &form, Some(Refused::of(refusal))).await
        }
        Err(e) => return from_service(&e),
    };
    let issuer = &state.service.config().oidc.issuer;
    let c = &added.client;
    let body = html! {
        (nav(""))
        dl #app-facts {
            dt { "Name" } dd { (Shown(&c.name)) }
            dt { "client_id" } dd { code #client-id { (c.client_id) } }
            dt { "Token authentication" } dd { (c.auth_method) }
            dt { "Issuer" } dd { code #issuer { (issuer) } }
        }
        @if let Some(secret) = &added.secret {
            p.problem #secret-warning { strong { "Copy the secret now: it is not shown again." } " keybound keeps only its hash. If it is lost, remove the app and add it again." }
            p { "client_secret: " code #client-secret { (secret) } }
        } @else {
            p #public-note { "A public app has no secret: it proves each code with PKCE." }
        }
        p { "The app finds every endpoint at " code { (issuer) "/.well-known/openid-configuration" } "." }
        p { a href="/admin/apps" { "Back to apps" } }
    };
    let mut response = layout("App added", "admin-app-added", None, body).into_response();
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[derive(serde::Deserialize)]
pub(super) struct RemoveForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    confirm: Option<String>,
}

/// Removes an app: its codes and tokens stop working at once.
pub(super) async fn remove(
    State(state): State<AppState>,
    AdminForm { me, ctx, form }: AdminForm<RemoveForm>,
) -> Response {
    let back = |n| see_other(&with_notice("/admin/apps", n), HeaderMap::new());
    if form.confirm.as_deref() != Some("yes") {
        return back(Notice::ConfirmRemoveApp);
    }
    match state
        .service
        .remove_oidc_client((&me).into(), &form.name, &ctx)
        .await
    {
        Ok(_) => back(Notice::AppRemoved),
        Err(ServiceError::NotFound) => back(Notice::NoSuchApp),
        Err(e) => from_service(&e),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn form(name: &str, uris: &str) -> AddForm {
        AddForm {
            name: name.to_owned(),
            redirect_uris: uris.to_owned(),
            ..AddForm::default()
        }
    }

    #[test]
    fn lines_become_uris_within_bounds() {
        let r = form(
            " wiki ",
            "https://a.example/cb\r\n\r\n  https://b.example/cb  \n",
        )
        .registration()
        .unwrap();
        assert_eq!(r.name, "wiki");
        assert_eq!(
            r.redirect_uris,
            ["https://a.example/cb", "https://b.example/cb"]
        );
        assert!(!r.public && r.backchannel_logout_uri.is_none());
        let many = "https://a.example/cb\n".repeat(MAX_URIS + 1);
        assert_eq!(
            form("w", &many).registration().err(),
            Some(Refused::TooManyUris)
        );
        let long = format!("https://a.example/{}", "x".repeat(MAX_URI));
        assert_eq!(
            form("w", &long).registration().err(),
            Some(Refused::TooLong)
        );
        assert_eq!(
            form("w", " \n \n").registration().err(),
            Some(Refused::NoRedirectUri)
        );
        let odd = AddForm {
            kind: Some("both".into()),
            ..form("w", "https://a.example/cb")
        };
        assert_eq!(odd.registration().err(), Some(Refused::InvalidKind));
    }
}
