//! The provider's signing keys as relying parties see them: an RS256
//! client's ID token verifies against the published JWKS (which lists the
//! keys of both algorithms) with a library that accepts only RS256.

use openidconnect::core::CoreJwsSigningAlgorithm;

use super::*;

#[test]
fn an_rs256_client_gets_an_id_token_that_verifies_against_the_jwks() {
    let (server, browser, _) = signed_in_server(&[]);
    let (client_id, secret) = add_client(&server, "legacy", &["--id-token-alg", "RS256"]);
    let (ok, listed) = server.cli(&["oidc", "client", "list", "--json"]);
    assert!(ok);
    assert!(listed.contains("\"RS256\""), "{listed}");

    let jwks = raw(server.port, "GET", "/oauth2/jwks", &[], b"").json();
    let kinds: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kty"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"RSA") && kinds.contains(&"EC"),
        "both algorithms are published once an RS256 client is registered: {jwks}"
    );
    for key in jwks["keys"].as_array().unwrap() {
        assert!(key.get("d").is_none() && key.get("p").is_none(), "{key}");
    }

    let http = http_client(server.port);
    let issuer = IssuerUrl::new(ORIGIN.to_owned()).unwrap();
    let metadata = CoreProviderMetadata::discover(&issuer, &http).unwrap();
    let algs: Vec<String> = metadata
        .id_token_signing_alg_values_supported()
        .iter()
        .map(|a| {
            serde_json::to_value(a)
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(algs, ["ES256", "RS256"]);
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client_id),
        secret.map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.to_owned()).unwrap());
    let (pkce, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(pkce)
        .url();
    let reply = browse(
        &server,
        &browser,
        url.as_str().strip_prefix(ORIGIN).unwrap(),
    );
    assert_eq!(reply.status, 302, "{}", reply.body);
    let location = url::Url::parse(reply.header("location").unwrap()).unwrap();
    let query: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    let tokens = client
        .exchange_code(AuthorizationCode::new(query["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request(&http)
        .unwrap();
    let id_token = tokens.id_token().expect("an ID token");
    let header = id_token.to_string();
    let header = header.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header).unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "RS256");
    let kid = header["kid"].as_str().unwrap();
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == kid && k["kty"] == "RSA"),
        "signed with a published RSA key"
    );
    let rs256_only = client
        .id_token_verifier()
        .set_allowed_algs([CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256]);
    let claims = id_token.claims(&rs256_only, &nonce).unwrap();
    assert_eq!(claims.issuer().as_str(), ORIGIN);
    // An ES256-only verifier refuses it: the token really is RS256.
    let es256_only = client
        .id_token_verifier()
        .set_allowed_algs([CoreJwsSigningAlgorithm::EcdsaP256Sha256]);
    assert!(id_token.claims(&es256_only, &nonce).is_err());
    // UserInfo accepts the (ES256) access token issued beside it.
    let bearer = format!("Bearer {}", tokens.access_token().secret());
    let info = raw(
        server.port,
        "GET",
        "/oauth2/userinfo",
        &[("Authorization", &bearer)],
        b"",
    );
    assert_eq!(info.status, 200, "{}", info.body);
}
