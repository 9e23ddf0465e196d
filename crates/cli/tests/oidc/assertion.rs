//! `private_key_jwt` client authentication through the binary: a client
//! registered with `--jwks-file` authenticates with a signed assertion at
//! the token and introspection endpoints; every forgery (`alg: none`,
//! HS256 keyed with the public key, a key it did not register, the wrong
//! iss/sub/aud, expired, replayed) and every mix of methods is
//! `invalid_client`, issues nothing and is audited with its own reason.

use aws_lc_rs::rand::SystemRandom;
use base64::Engine as _;
use keybound_jose::{Algorithm, SigningKey};
use serde_json::{json, Value};

use super::*;

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn enc(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn fresh_key() -> SigningKey {
    SigningKey::from_pkcs8(
        Algorithm::Es256,
        &SigningKey::generate_pkcs8(Algorithm::Es256).unwrap(),
    )
    .unwrap()
}

/// Good claims for `client_id`, with `overrides` merged in (null removes).
fn claims(client_id: &str, jti: &str, overrides: Value) -> Value {
    let mut claims = json!({
        "iss": client_id,
        "sub": client_id,
        "aud": format!("{ORIGIN}/oauth2/token"),
        "jti": jti,
        "iat": now(),
        "exp": now() + 60,
    });
    for (k, v) in overrides.as_object().unwrap() {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    claims
}

fn sign(key: &SigningKey, kid: &str, claims: &Value) -> String {
    let header = json!({"kid": kid, "typ": "JWT"});
    keybound_jose::sign(
        header.as_object().unwrap(),
        claims,
        key,
        &SystemRandom::new(),
    )
    .unwrap()
}

fn code_for(server: &Server, browser: &Browser, client_id: &str) -> String {
    let path = format!(
        "/oauth2/authorize?response_type=code&client_id={client_id}&redirect_uri={}\
         &scope=openid&state=s&nonce=n&code_challenge={CHALLENGE}&code_challenge_method=S256",
        enc(REDIRECT)
    );
    let reply = browse(server, browser, &path);
    assert_eq!(reply.status, 302, "{}", reply.body);
    let location = url::Url::parse(reply.header("location").unwrap()).unwrap();
    let query: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    query["code"].clone()
}

fn post(server: &Server, path: &str, auth: Option<&str>, form: &str) -> Reply {
    let mut headers = vec![("Content-Type", "application/x-www-form-urlencoded")];
    if let Some(auth) = auth {
        headers.push(("Authorization", auth));
    }
    raw(server.port, "POST", path, &headers, form.as_bytes())
}

fn exchange(code: &str, client_id: &str, assertion: &str) -> String {
    format!(
        "grant_type=authorization_code&code={}&redirect_uri={}&code_verifier={VERIFIER}\
         &client_id={client_id}&client_assertion_type={}&client_assertion={}",
        enc(code),
        enc(REDIRECT),
        enc(JWT_BEARER),
        enc(assertion)
    )
}

fn issued(server: &Server) -> usize {
    audit(server)
        .iter()
        .filter(|e| kind(e) == "oidc.token" && field(e, "outcome") == "success")
        .count()
}

/// `attempt` is refused `invalid_client` (401), adds one failed
/// `oidc.token` event with `reason`, and issues nothing.
#[track_caller]
fn refused(server: &Server, reason: &str, auth: Option<&str>, form: &str) {
    let before = audit(server).len();
    let tokens = issued(server);
    let reply = post(server, "/oauth2/token", auth, form);
    assert_eq!(reply.status, 401, "{}", reply.body);
    assert_eq!(reply.json()["error"], "invalid_client");
    assert!(reply.json().get("access_token").is_none());
    let events = audit(server);
    assert_eq!(events.len(), before + 1, "one audit event per refusal");
    let last = events.last().unwrap();
    assert_eq!(kind(last), "oidc.token", "{last}");
    assert_eq!(field(last, "outcome"), "failure", "{last}");
    assert_eq!(field(last, "reason"), reason, "{last}");
    assert_eq!(issued(server), tokens, "nothing issued");
}

#[test]
fn private_key_jwt_clients_authenticate_only_with_their_own_fresh_assertion() {
    let (server, browser, _) = signed_in_server(&[]);
    let dir = tempfile::tempdir().unwrap();
    let key = fresh_key();
    let public = key.public_jwk(Some("k1".into())).unwrap().to_json();

    // Registration takes public keys only.
    let mut private = public.clone();
    private["d"] = json!(b64(&[7; 32]));
    let private_file = dir.path().join("private.json");
    std::fs::write(&private_file, json!({"keys": [private]}).to_string()).unwrap();
    let (ok, out) = server.cli(&[
        "oidc",
        "client",
        "add",
        "leaky",
        "--redirect-uri",
        REDIRECT,
        "--token-auth-method",
        "private_key_jwt",
        "--jwks-file",
        private_file.to_str().unwrap(),
    ]);
    assert!(!ok, "{out}");
    let refusal = audit(&server);
    let refusal = refusal.last().unwrap();
    assert_eq!(kind(refusal), "oidc.client_add", "{refusal}");
    assert_eq!(field(refusal, "reason"), "oidc_invalid_client_jwks");
    let file = dir.path().join("jwks.json");
    std::fs::write(&file, json!({"keys": [public]}).to_string()).unwrap();
    let file = file.to_str().unwrap();
    let (svc, secret) = add_client(
        &server,
        "svc",
        &[
            "--token-auth-method",
            "private_key_jwt",
            "--jwks-file",
            file,
        ],
    );
    assert!(secret.is_none(), "a private_key_jwt client has no secret");
    let (wiki, wiki_secret) = add_client(&server, "wiki", &[]);
    let doc = raw(
        server.port,
        "GET",
        "/.well-known/openid-configuration",
        &[],
        b"",
    )
    .json();
    assert!(doc["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("private_key_jwt")));
    assert!(doc["token_endpoint_auth_signing_alg_values_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("ES256")));

    let code = code_for(&server, &browser, &svc);
    let good = |jti: &str| sign(&key, "k1", &claims(&svc, jti, json!({})));

    // alg: none.
    let body = b64(claims(&svc, "j-none", json!({})).to_string().as_bytes());
    let none = format!("{}.{body}.", b64(br#"{"alg":"none","typ":"JWT"}"#));
    refused(
        &server,
        "oidc_client_assertion_algorithm",
        None,
        &exchange(&code, &svc, &none),
    );
    // HS256 keyed with the public key (algorithm confusion).
    let input = format!(
        "{}.{body}",
        b64(br#"{"alg":"HS256","kid":"k1","typ":"JWT"}"#)
    );
    let hmac_key =
        aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, public.to_string().as_bytes());
    let mac = aws_lc_rs::hmac::sign(&hmac_key, input.as_bytes());
    let hs = format!("{input}.{}", b64(mac.as_ref()));
    refused(
        &server,
        "oidc_client_assertion_algorithm",
        None,
        &exchange(&code, &svc, &hs),
    );
    // A key the client never registered: by another kid, and as k1.
    let stranger = fresh_key();
    let c = claims(&svc, "j-key", json!({}));
    refused(
        &server,
        "oidc_client_assertion_unknown_key",
        None,
        &exchange(&code, &svc, &sign(&stranger, "k2", &c)),
    );
    refused(
        &server,
        "oidc_client_assertion_signature",
        None,
        &exchange(&code, &svc, &sign(&stranger, "k1", &c)),
    );
    // The wrong iss, sub, aud.
    for wrong in [
        json!({"iss": wiki}),
        json!({"sub": wiki}),
        json!({"aud": "https://elsewhere.test/oauth2/token"}),
        json!({"jti": null}),
    ] {
        let forged = sign(&key, "k1", &claims(&svc, "j-claims", wrong));
        refused(
            &server,
            "oidc_client_assertion_claims",
            None,
            &exchange(&code, &svc, &forged),
        );
    }
    // Expired.
    let old = claims(
        &svc,
        "j-old",
        json!({"iat": now() - 200, "exp": now() - 100}),
    );
    refused(
        &server,
        "oidc_client_assertion_expired",
        None,
        &exchange(&code, &svc, &sign(&key, "k1", &old)),
    );
    // An assertion client sending a secret instead.
    let secret_form = format!(
        "grant_type=authorization_code&code={}&redirect_uri={}&code_verifier={VERIFIER}",
        enc(&code),
        enc(REDIRECT)
    );
    let basic = |id: &str, secret: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
        )
    };
    refused(
        &server,
        "oidc_client_auth_failed",
        Some(&basic(&svc, "guess")),
        &secret_form,
    );
    // A secret client sending an assertion (signed with a key of ours).
    let wiki_claims = claims(&wiki, "j-wiki", json!({}));
    refused(
        &server,
        "oidc_client_auth_failed",
        None,
        &exchange(&code, &wiki, &sign(&key, "k1", &wiki_claims)),
    );
    let _ = wiki_secret;

    // The real thing works, once.
    let first = good("j-1");
    let reply = post(
        &server,
        "/oauth2/token",
        None,
        &exchange(&code, &svc, &first),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let access = reply.json()["access_token"].as_str().unwrap().to_owned();
    let code2 = code_for(&server, &browser, &svc);
    refused(
        &server,
        "oidc_client_assertion_replayed",
        None,
        &exchange(&code2, &svc, &first),
    );
    // Without client_id in the form (RFC 7521 §4.2), and at introspection
    // (audience: the issuer).
    let issuer_aud = sign(&key, "k1", &claims(&svc, "j-2", json!({"aud": ORIGIN})));
    let form = format!(
        "token={}&client_assertion_type={}&client_assertion={}",
        enc(&access),
        enc(JWT_BEARER),
        enc(&issuer_aud)
    );
    let seen = post(&server, "/oauth2/introspect", None, &form);
    assert_eq!(seen.status, 200, "{}", seen.body);
    assert_eq!(seen.json()["active"], true, "{}", seen.body);
    let again = post(&server, "/oauth2/introspect", None, &form);
    assert_eq!(again.status, 401, "replayed at introspection too");
}
