//! Hostile requests to the OpenID Connect provider: each gets its RFC
//! error code (or, when the client or redirect URI cannot be trusted, a
//! page and no redirect), issues nothing, and leaves an audit event with
//! its reason.

use base64::Engine as _;
use serde_json::{json, Value};

use super::*;

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn enc(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// `/oauth2/authorize?…` with these parameters over good defaults
/// (`None` leaves one out).
fn authorize_path(client_id: &str, overrides: &[(&str, Option<&str>)]) -> String {
    let mut params: Vec<(&str, Option<&str>)> = vec![
        ("response_type", Some("code")),
        ("client_id", Some(client_id)),
        ("redirect_uri", Some(REDIRECT)),
        ("scope", Some("openid profile")),
        ("state", Some("st-1")),
        ("nonce", Some("n-1")),
        ("code_challenge", Some(CHALLENGE)),
        ("code_challenge_method", Some("S256")),
    ];
    for (k, v) in overrides {
        match params.iter_mut().find(|(name, _)| name == k) {
            Some(slot) => slot.1 = *v,
            None => params.push((k, *v)),
        }
    }
    let query: Vec<String> = params
        .iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k}={}", enc(v))))
        .collect();
    format!("/oauth2/authorize?{}", query.join("&"))
}

fn query_of(location: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

/// A code for `client_id` from ada's browser.
fn code_for(server: &Server, browser: &Browser, client_id: &str) -> String {
    let reply = browse(server, browser, &authorize_path(client_id, &[]));
    assert_eq!(reply.status, 302, "{}", reply.body);
    query_of(reply.header("location").unwrap())["code"].clone()
}

fn basic(client_id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{secret}"))
    )
}

fn token(server: &Server, auth: Option<&str>, form: &str) -> Reply {
    let mut headers = vec![("Content-Type", "application/x-www-form-urlencoded")];
    if let Some(auth) = auth {
        headers.push(("Authorization", auth));
    }
    raw(
        server.port,
        "POST",
        "/oauth2/token",
        &headers,
        form.as_bytes(),
    )
}

fn exchange_form(code: &str, verifier: &str) -> String {
    format!(
        "grant_type=authorization_code&code={}&redirect_uri={}&code_verifier={}",
        enc(code),
        enc(REDIRECT),
        enc(verifier)
    )
}

/// How many tokens were issued so far (successful `oidc.token` events).
fn issued(server: &Server) -> usize {
    audit(server)
        .iter()
        .filter(|e| {
            matches!(kind(e), "oidc.token" | "oidc.refresh") && field(e, "outcome") == "success"
        })
        .count()
}

/// Runs `attempt`, and asserts it added one failed event of `kind` whose
/// reason starts with `reason`, and issued nothing.
#[track_caller]
fn refused_and_audited(server: &Server, event_kind: &str, reason: &str, attempt: impl FnOnce()) {
    let before = audit(server).len();
    let tokens = issued(server);
    attempt();
    let events = audit(server);
    assert_eq!(events.len(), before + 1, "one audit event per refusal");
    let last = events.last().unwrap();
    assert_eq!(kind(last), event_kind, "{last}");
    assert_eq!(field(last, "outcome"), "failure", "{last}");
    assert!(
        field(last, "reason").as_str().unwrap().starts_with(reason),
        "{last}"
    );
    assert_eq!(issued(server), tokens, "nothing issued");
}

#[test]
fn an_unknown_redirect_uri_is_never_redirected_to() {
    let (server, browser, _) = signed_in_server(&[]);
    let (client_id, _) = add_client(&server, "wiki", &[]);
    for variant in [
        "https://app.test/cb/",
        "https://APP.test/cb",
        "https://app.test/CB",
        "https://app.test/cb?extra=1",
        "https://app.test/cb#fragment",
        "https://app.test:8443/cb",
        "http://app.test/cb",
        "https://evil.test/cb",
        "https://app.test.evil.test/cb",
    ] {
        refused_and_audited(
            &server,
            "oidc.authorize",
            "oidc_redirect_uri_mismatch",
            || {
                let reply = browse(
                    &server,
                    &browser,
                    &authorize_path(&client_id, &[("redirect_uri", Some(variant))]),
                );
                assert_eq!(reply.status, 400, "{variant}");
                assert!(reply.header("location").is_none(), "{variant}");
                assert!(!reply.body.contains("evil"), "{variant}");
            },
        );
    }
    // No redirect URI, and an unknown client: a page too.
    refused_and_audited(&server, "oidc.authorize", "oidc_malformed_request", || {
        let reply = browse(
            &server,
            &browser,
            &authorize_path(&client_id, &[("redirect_uri", None)]),
        );
        assert_eq!(reply.status, 400);
        assert!(reply.header("location").is_none());
    });
    refused_and_audited(&server, "oidc.authorize", "oidc_unknown_client", || {
        let reply = browse(&server, &browser, &authorize_path("nope", &[]));
        assert_eq!(reply.status, 400);
        assert!(reply.header("location").is_none());
    });
    // The registration refuses redirect URIs that could not be matched
    // exactly or leak the code.
    for bad in [
        "http://app.test/cb",
        "https://app.test/cb#x",
        "/cb",
        "javascript:x",
    ] {
        let (ok, _) = server.cli(&["oidc", "client", "add", "bad", "--redirect-uri", bad]);
        assert!(!ok, "{bad}");
    }
    // At most 16 redirect URIs, from the CLI as from the console.
    let uris: Vec<String> = (0..17).map(|i| format!("https://app.test/cb{i}")).collect();
    let mut args = vec!["oidc", "client", "add", "many"];
    for uri in &uris {
        args.extend(["--redirect-uri", uri.as_str()]);
    }
    let (ok, _) = server.cli(&args);
    assert!(!ok, "17 redirect URIs");
    args.truncate(args.len() - 2);
    let (ok, out) = server.cli(&args);
    assert!(ok, "16 redirect URIs: {out}");
}

#[test]
fn pkce_is_s256_only_and_bound_to_the_code() {
    let (server, browser, _) = signed_in_server(&[]);
    let (client_id, secret) = add_client(&server, "wiki", &[]);
    let auth = basic(&client_id, &secret.unwrap());
    // plain, or no challenge: an error at the verified redirect URI, no code.
    for overrides in [
        vec![("code_challenge_method", Some("plain"))],
        vec![("code_challenge_method", None)],
        vec![("code_challenge", None), ("code_challenge_method", None)],
        vec![("code_challenge", Some("short"))],
    ] {
        refused_and_audited(&server, "oidc.authorize", "oidc_pkce_required", || {
            let reply = browse(&server, &browser, &authorize_path(&client_id, &overrides));
            assert_eq!(reply.status, 302);
            let query = query_of(reply.header("location").unwrap());
            assert_eq!(query["error"], "invalid_request", "{overrides:?}");
            assert_eq!(query["state"], "st-1");
            assert!(!query.contains_key("code"));
        });
    }
    // A wrong or missing verifier: invalid_grant, and the code stays
    // usable by its rightful holder.
    let code = code_for(&server, &browser, &client_id);
    for verifier in ["A".repeat(43), String::new(), CHALLENGE.to_owned()] {
        refused_and_audited(&server, "oidc.token", "oidc_pkce_mismatch", || {
            let reply = token(&server, Some(&auth), &exchange_form(&code, &verifier));
            assert_eq!(reply.status, 400);
            assert_eq!(reply.json()["error"], "invalid_grant");
            assert_eq!(reply.header("cache-control"), Some("no-store"));
        });
    }
    let reply = token(&server, Some(&auth), &exchange_form(&code, VERIFIER));
    assert_eq!(reply.status, 200, "{}", reply.body);
}

#[test]
fn a_replayed_code_is_refused_and_revokes_what_it_issued() {
    let (server, browser, _) = signed_in_server(&[]);
    let (client_id, secret) = add_client(&server, "wiki", &[]);
    let auth = basic(&client_id, &secret.unwrap());
    let code = code_for(&server, &browser, &client_id);
    let first = token(&server, Some(&auth), &exchange_form(&code, VERIFIER));
    assert_eq!(first.status, 200, "{}", first.body);
    let access = first.json()["access_token"].as_str().unwrap().to_owned();
    let bearer = format!("Bearer {access}");
    let info = raw(
        server.port,
        "GET",
        "/oauth2/userinfo",
        &[("Authorization", &bearer)],
        b"",
    );
    assert_eq!(info.status, 200);

    let again = token(&server, Some(&auth), &exchange_form(&code, VERIFIER));
    assert_eq!(again.status, 400);
    assert_eq!(again.json()["error"], "invalid_grant");
    let events = audit(&server);
    assert!(events.iter().any(|e| kind(e) == "oidc.code_replay"
        && field(e, "outcome") == "alert"
        && field(e, "details")["revoked"] == "2"));
    assert_eq!(
        events.last().map(|e| field(e, "reason").clone()),
        Some(json!("oidc_code_replayed"))
    );
    let info = raw(
        server.port,
        "GET",
        "/oauth2/userinfo",
        &[("Authorization", &bearer)],
        b"",
    );
    assert_eq!(info.status, 401, "the first use's access token is revoked");
    let form = format!("token={}", enc(&access));
    let seen = raw(
        server.port,
        "POST",
        "/oauth2/introspect",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Authorization", &auth),
        ],
        form.as_bytes(),
    );
    assert_eq!(seen.json(), json!({"active": false}));
}

#[test]
fn clients_must_authenticate_as_they_registered_and_codes_stay_theirs() {
    let (server, browser, _) = signed_in_server(&[]);
    let (wiki, wiki_secret) = add_client(&server, "wiki", &[]);
    let (other, other_secret) = add_client(&server, "other", &[]);
    let (spa, spa_secret) = add_client(&server, "spa", &["--public"]);
    assert!(spa_secret.is_none(), "a public client has no secret");
    let wiki_auth = basic(&wiki, wiki_secret.as_ref().unwrap());
    let code = code_for(&server, &browser, &wiki);

    // Another client's credentials: invalid_grant, nothing issued.
    refused_and_audited(&server, "oidc.token", "oidc_code_of_another_client", || {
        let reply = token(
            &server,
            Some(&basic(&other, &other_secret.clone().unwrap())),
            &exchange_form(&code, VERIFIER),
        );
        assert_eq!(reply.json()["error"], "invalid_grant");
    });
    // A public client's way (client_id alone) on a confidential client.
    refused_and_audited(&server, "oidc.token", "oidc_client_auth_failed", || {
        let form = format!("{}&client_id={wiki}", exchange_form(&code, VERIFIER));
        let reply = token(&server, None, &form);
        assert_eq!(reply.status, 401);
        assert_eq!(reply.json()["error"], "invalid_client");
        assert!(reply.header("www-authenticate").is_some());
    });
    // The wrong secret, and an unknown client.
    refused_and_audited(&server, "oidc.token", "oidc_client_auth_failed", || {
        let reply = token(
            &server,
            Some(&basic(&wiki, "guess")),
            &exchange_form(&code, VERIFIER),
        );
        assert_eq!(reply.status, 401);
        assert_eq!(
            reply.header("www-authenticate"),
            Some("Basic realm=\"keybound\"")
        );
    });
    refused_and_audited(&server, "oidc.token", "oidc_unknown_client", || {
        let reply = token(
            &server,
            Some(&basic("nope", "x")),
            &exchange_form(&code, VERIFIER),
        );
        assert_eq!(reply.status, 401);
        assert_eq!(reply.json()["error"], "invalid_client");
    });
    // A secret sent by a public client is refused.
    let spa_code = code_for(&server, &browser, &spa);
    refused_and_audited(&server, "oidc.token", "oidc_client_auth_failed", || {
        let reply = token(
            &server,
            Some(&basic(&spa, "x")),
            &exchange_form(&spa_code, VERIFIER),
        );
        assert_eq!(reply.status, 401);
    });
    // A redirect URI other than the code's.
    refused_and_audited(&server, "oidc.token", "oidc_redirect_uri_mismatch", || {
        let form =
            exchange_form(&code, VERIFIER).replace(&enc(REDIRECT), &enc("https://app.test/cb2"));
        let reply = token(&server, Some(&wiki_auth), &form);
        assert_eq!(reply.json()["error"], "invalid_grant");
    });
    // Each still works for its own client; the public one with PKCE alone.
    let form = format!("{}&client_id={spa}", exchange_form(&spa_code, VERIFIER));
    assert_eq!(token(&server, None, &form).status, 200);
    assert_eq!(
        token(&server, Some(&wiki_auth), &exchange_form(&code, VERIFIER)).status,
        200
    );
}

#[test]
fn oversized_malformed_and_unsupported_requests_get_their_codes() {
    let (server, browser, _) = signed_in_server(&[]);
    let (client_id, secret) = add_client(&server, "wiki", &[]);
    let auth = basic(&client_id, &secret.unwrap());
    let long = "x".repeat(5000);

    // Authorization: an oversized state, a missing openid, another
    // response type: errors at the verified redirect URI.
    for (overrides, error, reason) in [
        (
            vec![("state", Some(long.as_str()))],
            "invalid_request",
            "oidc_oversized_parameter",
        ),
        (
            vec![("nonce", Some(long.as_str()))],
            "invalid_request",
            "oidc_oversized_parameter",
        ),
        (
            vec![("scope", Some("profile"))],
            "invalid_scope",
            "oidc_scope_without_openid",
        ),
        (
            vec![("response_type", Some("token"))],
            "unsupported_response_type",
            "oidc_unsupported_response_type",
        ),
        (
            vec![("max_age", Some("soon"))],
            "invalid_request",
            "oidc_malformed_request",
        ),
    ] {
        refused_and_audited(&server, "oidc.authorize", reason, || {
            let reply = browse(&server, &browser, &authorize_path(&client_id, &overrides));
            assert_eq!(reply.status, 302, "{reason}");
            let query = query_of(reply.header("location").unwrap());
            assert_eq!(query["error"], error);
            assert!(!query.contains_key("code"));
        });
    }
    // An oversized client_id: a page, as for any client not verified.
    refused_and_audited(
        &server,
        "oidc.authorize",
        "oidc_oversized_parameter",
        || {
            let reply = browse(&server, &browser, &authorize_path(&long, &[]));
            assert_eq!(reply.status, 400);
            assert!(reply.header("location").is_none());
        },
    );

    // Token endpoint: oversized, repeated, not a form, unknown grant.
    let code = code_for(&server, &browser, &client_id);
    for (form, content_type, error, reason) in [
        (
            exchange_form(&code, &long),
            "application/x-www-form-urlencoded",
            "invalid_request",
            "oidc_oversized_parameter",
        ),
        (
            format!("{}&code=again", exchange_form(&code, VERIFIER)),
            "application/x-www-form-urlencoded",
            "invalid_request",
            "oidc_malformed_request",
        ),
        (
            json!({"grant_type": "authorization_code", "code": code}).to_string(),
            "application/json",
            "invalid_request",
            "oidc_malformed_request",
        ),
        (
            "grant_type=password&username=ada&password=x".to_owned(),
            "application/x-www-form-urlencoded",
            "unsupported_grant_type",
            "oidc_unsupported_grant_type",
        ),
        (
            "\u{0}\u{ff}=&&==".to_owned(),
            "application/x-www-form-urlencoded",
            "invalid_request",
            "oidc_malformed_request",
        ),
    ] {
        refused_and_audited(&server, "oidc.token", reason, || {
            let reply = raw(
                server.port,
                "POST",
                "/oauth2/token",
                &[("Content-Type", content_type), ("Authorization", &auth)],
                form.as_bytes(),
            );
            assert_eq!(reply.status, 400, "{reason}: {}", reply.body);
            assert_eq!(reply.json()["error"], error);
        });
    }
    // A body past the 64 KiB bound: invalid_request, audited, not read.
    refused_and_audited(&server, "oidc.token", "oidc_malformed_request", || {
        let body = format!(
            "grant_type=authorization_code&pad={}",
            "p".repeat(70 * 1024)
        );
        let reply = token(&server, Some(&auth), &body);
        assert_eq!(reply.status, 400);
        assert_eq!(reply.json()["error"], "invalid_request");
    });
    // Refresh tokens are off here: that grant does not exist.
    let server_off = Server::start_on("127.0.0.1:0", RP_ID, ORIGIN, &[]);
    let (off_id, off_secret) = add_client(&server_off, "wiki", &[]);
    refused_and_audited(
        &server_off,
        "oidc.token",
        "oidc_unsupported_grant_type",
        || {
            let reply = token(
                &server_off,
                Some(&basic(&off_id, &off_secret.unwrap())),
                "grant_type=refresh_token&refresh_token=abc",
            );
            assert_eq!(reply.json()["error"], "unsupported_grant_type");
        },
    );
    // The code was never consumed by any of it.
    assert_eq!(
        token(&server, Some(&auth), &exchange_form(&code, VERIFIER)).status,
        200
    );
}

/// An ID token with `alg: none` carrying a real session's claims.
fn unsigned(claims: &Value) -> String {
    let b64 = |v: &Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string().as_bytes())
    };
    format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(claims)
    )
}

#[test]
fn logout_needs_an_id_token_this_provider_signed() {
    let (server, browser, _) = signed_in_server(&[]);
    let (client_id, secret) = add_client(
        &server,
        "wiki",
        &["--post-logout-redirect-uri", "https://app.test/bye"],
    );
    let auth = basic(&client_id, &secret.unwrap());
    let code = code_for(&server, &browser, &client_id);
    let tokens = token(&server, Some(&auth), &exchange_form(&code, VERIFIER)).json();
    let id_token = tokens["id_token"].as_str().unwrap().to_owned();
    let payload = id_token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();

    // alg none, a hint missing, a return address not registered: refused,
    // the session lives on.
    let forged = unsigned(&claims);
    for (query, reason) in [
        (format!("id_token_hint={forged}"), "oidc_bad_id_token_hint"),
        ("state=x".to_owned(), "oidc_malformed_request"),
        (
            format!(
                "id_token_hint={id_token}&post_logout_redirect_uri={}",
                enc("https://evil.test/")
            ),
            "oidc_logout_uri_unknown",
        ),
    ] {
        refused_and_audited(&server, "oidc.logout", reason, || {
            let reply = raw(
                server.port,
                "GET",
                &format!("/oauth2/logout?{query}"),
                &[],
                b"",
            );
            assert_eq!(reply.status, 400);
            assert!(reply.header("location").is_none());
        });
        assert_eq!(
            browse(&server, &browser, &authorize_path(&client_id, &[])).status,
            302,
            "still signed in"
        );
        let location = browse(&server, &browser, &authorize_path(&client_id, &[]))
            .header("location")
            .unwrap()
            .to_owned();
        assert!(location.starts_with(REDIRECT), "{location}");
    }

    // The real one, from another site: the session ends, its tokens too,
    // and the browser goes back with the state.
    let query = format!(
        "id_token_hint={id_token}&post_logout_redirect_uri={}&state=s9",
        enc("https://app.test/bye")
    );
    let reply = raw(
        server.port,
        "GET",
        &format!("/oauth2/logout?{query}"),
        &[],
        b"",
    );
    assert_eq!(reply.status, 302, "{}", reply.body);
    assert_eq!(
        reply.header("location"),
        Some("https://app.test/bye?state=s9")
    );
    let next = browse(&server, &browser, &authorize_path(&client_id, &[]));
    assert_eq!(next.status, 302);
    assert!(
        next.header("location")
            .unwrap()
            .starts_with("/?rd=%2Foauth2%2Fauthorize"),
        "signed out: sign in first"
    );
    let bearer = format!("Bearer {}", tokens["access_token"].as_str().unwrap());
    let info = raw(
        server.port,
        "GET",
        "/oauth2/userinfo",
        &[("Authorization", &bearer)],
        b"",
    );
    assert_eq!(info.status, 401);
    // prompt=none without a session: login_required at the redirect URI.
    let reply = browse(
        &server,
        &browser,
        &authorize_path(&client_id, &[("prompt", Some("none"))]),
    );
    assert_eq!(
        query_of(reply.header("location").unwrap())["error"],
        "login_required"
    );
}

#[test]
fn prompt_max_age_and_acr_values_send_the_person_to_step_up() {
    let (server, browser, _) = signed_in_server(&[]);
    let (client_id, _) = add_client(&server, "wiki", &[]);
    let step_up = |overrides: &[(&str, Option<&str>)]| {
        let reply = browse(&server, &browser, &authorize_path(&client_id, overrides));
        assert_eq!(reply.status, 302);
        reply.header("location").unwrap().to_owned()
    };
    // A tier-1 session asked for phrh: step up to tier 3, then back here.
    let location = step_up(&[("acr_values", Some("phrh"))]);
    assert!(
        location.starts_with("/step-up?rd=%2Foauth2%2Fauthorize"),
        "{location}"
    );
    assert!(location.ends_with("&tier=3"), "{location}");
    // prompt=login: a fresh proof, and the way back does not ask again.
    let location = step_up(&[("prompt", Some("login"))]);
    assert!(location.starts_with("/step-up?rd="), "{location}");
    let rd = query_of(&format!("https://kb.test{location}"))["rd"].clone();
    assert!(!rd.contains("prompt"), "{rd}");
    assert!(rd.contains("kb_auth_after="), "{rd}");
    // max_age=0 after a sign-in a second ago or more: step up.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let location = step_up(&[("max_age", Some("0"))]);
    assert!(location.starts_with("/step-up?rd="), "{location}");
    // With prompt=none the client hears why instead.
    let location = step_up(&[("acr_values", Some("phrh")), ("prompt", Some("none"))]);
    assert_eq!(query_of(&location)["error"], "interaction_required");
    let location = step_up(&[("max_age", Some("0")), ("prompt", Some("none"))]);
    assert_eq!(query_of(&location)["error"], "login_required");
    // acr_values that the session meets: a code.
    let location = step_up(&[("acr_values", Some("phr"))]);
    assert!(query_of(&location).contains_key("code"));
}
