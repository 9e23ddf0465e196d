//! Issue 15: the OpenID Connect provider's rows. Clients (names unique
//! among live ones, removal frees the name), code state found by hash, and
//! issued tokens: a refresh token exchanged once, revocation of one token
//! (only by its client), of a family, of what a code issued and of what a
//! session issued.

use super::*;

on_both_backends!(
    oidc_clients_round_trip_and_names_are_unique_among_live_ones,
    oidc_codes_and_tokens_are_found_by_hash_and_revoked_in_groups,
    the_clients_of_ending_sessions_are_found_once_per_sid,
);

fn client(name: &str, id: &str) -> OidcClient {
    OidcClient {
        client_id: id.into(),
        name: name.into(),
        secret_hash: Some(vec![7; 32]),
        public: false,
        redirect_uris: vec!["https://app.test/cb".into(), "http://127.0.0.1:9/cb".into()],
        auth_method: "client_secret_basic".into(),
        jwks: None,
        backchannel_logout_uri: Some("https://app.test/bcl".into()),
        post_logout_redirect_uris: vec![],
        pairwise: true,
        id_token_alg: "ES256".into(),
        created_ms: 5,
        removed_ms: None,
    }
}

async fn oidc_clients_round_trip_and_names_are_unique_among_live_ones(db: &Db) {
    let store = db.open().await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_oidc_client(&client("wiki", "c1")).await.unwrap();
    assert_eq!(
        tx.insert_oidc_client(&client("wiki", "c2"))
            .await
            .unwrap_err(),
        StoreError::Conflict
    );
    let public = OidcClient {
        secret_hash: None,
        public: true,
        auth_method: "none".into(),
        jwks: Some("{\"keys\":[]}".into()),
        ..client("spa", "c3")
    };
    tx.insert_oidc_client(&public).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.read().await.unwrap();
    assert_eq!(
        tx.oidc_client("c1").await.unwrap(),
        Some(client("wiki", "c1"))
    );
    assert_eq!(tx.oidc_client("c3").await.unwrap(), Some(public.clone()));
    assert_eq!(tx.oidc_client("c1\0").await.unwrap(), None);
    assert_eq!(
        tx.oidc_client_by_name("spa").await.unwrap(),
        Some(public.clone())
    );
    let names: Vec<_> = tx
        .oidc_clients()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["spa", "wiki"]);
    drop(tx);

    let mut tx = store.begin().await.unwrap();
    let removed = tx.remove_oidc_client("wiki", 9).await.unwrap().unwrap();
    assert_eq!(removed.removed_ms, Some(9));
    assert!(tx.remove_oidc_client("wiki", 10).await.unwrap().is_none());
    assert!(tx.oidc_client("c1").await.unwrap().is_none(), "removed");
    // The name is free again; the old client_id stays taken.
    tx.insert_oidc_client(&client("wiki", "c4")).await.unwrap();
    assert_eq!(
        tx.insert_oidc_client(&client("other", "c1"))
            .await
            .unwrap_err(),
        StoreError::Conflict
    );
    tx.commit().await.unwrap();
}

fn code(hash: u8) -> OidcCode {
    OidcCode {
        code_hash: vec![hash; 32],
        client_id: "c1".into(),
        redirect_uri: "https://app.test/cb".into(),
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
        nonce: Some("n-0S6_WzA2Mj".into()),
        scope: "openid profile".into(),
        session_hash: vec![3; 32],
        sid: "sid-1".into(),
        identity_id: "id-ada".into(),
        auth_time_ms: 1_000,
        acr: "phr".into(),
        amr: "pop swk user".into(),
        created_ms: 1_000,
        expires_ms: 61_000,
    }
}

fn token(hash: u8, kind: &str, family: &str, code: Option<u8>, session: u8) -> OidcToken {
    OidcToken {
        token_hash: vec![hash; 32],
        kind: kind.into(),
        family_id: family.into(),
        code_hash: code.map(|c| vec![c; 32]),
        session_hash: vec![session; 32],
        sid: "sid-1".into(),
        identity_id: "id-ada".into(),
        client_id: "c1".into(),
        scope: "openid".into(),
        created_ms: 1_000,
        expires_ms: 10_000,
        used_ms: None,
        revoked_ms: None,
    }
}

async fn oidc_codes_and_tokens_are_found_by_hash_and_revoked_in_groups(db: &Db) {
    let store = db.open().await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_oidc_code(&code(1)).await.unwrap();
    assert_eq!(
        tx.insert_oidc_code(&code(1)).await.unwrap_err(),
        StoreError::Conflict
    );
    let no_nonce = OidcCode {
        nonce: None,
        ..code(2)
    };
    tx.insert_oidc_code(&no_nonce).await.unwrap();
    tx.insert_oidc_token(&token(10, "access", "f1", Some(1), 3))
        .await
        .unwrap();
    tx.insert_oidc_token(&token(11, "refresh", "f1", Some(1), 3))
        .await
        .unwrap();
    tx.insert_oidc_token(&token(12, "refresh", "f2", None, 4))
        .await
        .unwrap();
    tx.insert_oidc_token(&token(13, "access", "f3", Some(2), 5))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.oidc_code(&[1; 32]).await.unwrap(), Some(code(1)));
    assert_eq!(tx.oidc_code(&[2; 32]).await.unwrap(), Some(no_nonce));
    assert_eq!(tx.oidc_code(&[9; 32]).await.unwrap(), None);
    assert_eq!(
        tx.oidc_session_of_sid("c1", "sid-1").await.unwrap(),
        Some(vec![3; 32])
    );
    assert_eq!(tx.oidc_session_of_sid("c2", "sid-1").await.unwrap(), None);
    assert_eq!(tx.oidc_session_of_sid("c1", "sid-\0").await.unwrap(), None);
    assert_eq!(
        tx.oidc_token(&[12; 32]).await.unwrap(),
        Some(token(12, "refresh", "f2", None, 4))
    );

    // A refresh token is exchanged once, an access token never, an
    // expired one not at all.
    assert!(!tx.use_oidc_refresh(&[10; 32], 2_000).await.unwrap());
    assert!(!tx.use_oidc_refresh(&[12; 32], 10_000).await.unwrap());
    assert!(tx.use_oidc_refresh(&[12; 32], 2_000).await.unwrap());
    assert!(!tx.use_oidc_refresh(&[12; 32], 2_001).await.unwrap());
    assert_eq!(
        tx.oidc_token(&[12; 32]).await.unwrap().unwrap().used_ms,
        Some(2_000)
    );

    // Only the token's own client revokes it, once.
    assert!(!tx.revoke_oidc_token(&[13; 32], "c2", 3_000).await.unwrap());
    assert!(tx.revoke_oidc_token(&[13; 32], "c1", 3_000).await.unwrap());
    assert!(!tx.revoke_oidc_token(&[13; 32], "c1", 3_001).await.unwrap());

    // What a code issued, a family, a session.
    assert_eq!(
        tx.revoke_oidc_tokens_of_code(&[1; 32], 4_000)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        tx.revoke_oidc_tokens_of_code(&[1; 32], 4_001)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        tx.oidc_token(&[10; 32]).await.unwrap().unwrap().revoked_ms,
        Some(4_000)
    );
    assert!(
        !tx.use_oidc_refresh(&[11; 32], 4_500).await.unwrap(),
        "revoked"
    );
    assert_eq!(tx.revoke_oidc_family("f2", 5_000).await.unwrap(), 1);
    assert_eq!(tx.revoke_oidc_family("f2", 5_001).await.unwrap(), 0);
    tx.insert_oidc_token(&token(14, "access", "f4", None, 6))
        .await
        .unwrap();
    assert_eq!(
        tx.revoke_oidc_tokens_of_session(&[6; 32], 6_000)
            .await
            .unwrap(),
        1
    );
    tx.commit().await.unwrap();
}

/// Back-channel logout's targets: the live clients with a
/// `backchannel_logout_uri` that were issued a code or token on a live
/// session in the selection, once per (client, sid); a removed client, one
/// without the URI, an ended or expired session, a revoked credential's
/// session and another person's session are left out.
async fn the_clients_of_ending_sessions_are_found_once_per_sid(db: &Db) {
    let store = db.open().await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_identity(&identity("ada")).await.unwrap();
    tx.insert_identity(&identity("bob")).await.unwrap();
    tx.insert_credential(&credential(b"k1", "ada"))
        .await
        .unwrap();
    tx.insert_credential(&credential(b"k2", "ada"))
        .await
        .unwrap();
    tx.insert_credential(&credential(b"k3", "bob"))
        .await
        .unwrap();
    let session = |tag: u8, who: &str, key: &[u8], expires_ms: i64| Session {
        id_hash: vec![tag; 32],
        identity_id: format!("id-{who}"),
        credential_id: key.to_vec(),
        user_verified: true,
        tier: 2,
        created_ms: 0,
        expires_ms,
    };
    tx.insert_session(&session(3, "ada", b"k1", 100_000))
        .await
        .unwrap();
    tx.insert_session(&session(4, "ada", b"k2", 100_000))
        .await
        .unwrap();
    tx.insert_session(&session(5, "ada", b"k1", 1_500))
        .await
        .unwrap();
    tx.insert_session(&session(6, "ada", b"k1", 100_000))
        .await
        .unwrap();
    tx.insert_session(&session(7, "bob", b"k3", 100_000))
        .await
        .unwrap();
    tx.insert_oidc_client(&client("wiki", "c1")).await.unwrap();
    tx.insert_oidc_client(&client("chat", "c2")).await.unwrap();
    let quiet = OidcClient {
        backchannel_logout_uri: None,
        ..client("quiet", "c3")
    };
    tx.insert_oidc_client(&quiet).await.unwrap();
    tx.insert_oidc_client(&client("gone", "c4")).await.unwrap();
    let issued = |hash: u8, client: &str, session: u8, sid: &str, who: &str| OidcCode {
        client_id: client.into(),
        session_hash: vec![session; 32],
        sid: sid.into(),
        identity_id: format!("id-{who}"),
        ..code(hash)
    };
    // Session 3: a code and a token for c1 (one sid), a code for c2, c3
    // and c4.
    tx.insert_oidc_code(&issued(1, "c1", 3, "s3-c1", "ada"))
        .await
        .unwrap();
    tx.insert_oidc_code(&issued(2, "c1", 3, "s3-c1", "ada"))
        .await
        .unwrap();
    tx.insert_oidc_token(&OidcToken {
        sid: "s3-c1".into(),
        ..token(10, "access", "f1", Some(1), 3)
    })
    .await
    .unwrap();
    tx.insert_oidc_code(&issued(3, "c2", 3, "s3-c2", "ada"))
        .await
        .unwrap();
    tx.insert_oidc_code(&issued(4, "c3", 3, "s3-c3", "ada"))
        .await
        .unwrap();
    tx.insert_oidc_code(&issued(5, "c4", 3, "s3-c4", "ada"))
        .await
        .unwrap();
    // Session 4 (key k2): a token only, no code left.
    tx.insert_oidc_token(&OidcToken {
        sid: "s4-c1".into(),
        ..token(11, "refresh", "f2", None, 4)
    })
    .await
    .unwrap();
    // Session 5 expires, session 6 is ended: neither is announced again.
    tx.insert_oidc_code(&issued(6, "c1", 5, "s5-c1", "ada"))
        .await
        .unwrap();
    tx.insert_oidc_code(&issued(7, "c1", 6, "s6-c1", "ada"))
        .await
        .unwrap();
    assert!(tx.end_session(&[6; 32], 1_000).await.unwrap());
    // Bob's session 7.
    tx.insert_oidc_code(&issued(8, "c1", 7, "s7-c1", "bob"))
        .await
        .unwrap();
    tx.remove_oidc_client("gone", 1_000).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.read().await.unwrap();
    let told = |found: Vec<OidcSessionEnding>| -> Vec<(String, String, String, u8)> {
        found
            .into_iter()
            .map(|f| (f.client.client_id, f.sid, f.identity_id, f.session_hash[0]))
            .collect()
    };
    let t = |c: &str, sid: &str, who: &str, s: u8| {
        (c.to_owned(), sid.to_owned(), format!("id-{who}"), s)
    };
    let now = 2_000;
    assert_eq!(
        told(
            tx.oidc_sessions_ending(EndingSessions::Session(&[3; 32]), now)
                .await
                .unwrap()
        ),
        [t("c1", "s3-c1", "ada", 3), t("c2", "s3-c2", "ada", 3)]
    );
    let found = tx
        .oidc_sessions_ending(EndingSessions::Session(&[3; 32]), now)
        .await
        .unwrap();
    assert_eq!(found[0].client, client("wiki", "c1"), "the whole client");
    assert_eq!(
        told(
            tx.oidc_sessions_ending(EndingSessions::Identity("id-ada"), now)
                .await
                .unwrap()
        ),
        [
            t("c1", "s3-c1", "ada", 3),
            t("c1", "s4-c1", "ada", 4),
            t("c2", "s3-c2", "ada", 3)
        ]
    );
    assert_eq!(
        told(
            tx.oidc_sessions_ending(EndingSessions::Credential(b"k2"), now)
                .await
                .unwrap()
        ),
        [t("c1", "s4-c1", "ada", 4)]
    );
    assert_eq!(
        told(
            tx.oidc_sessions_ending(EndingSessions::Identity("id-bob"), now)
                .await
                .unwrap()
        ),
        [t("c1", "s7-c1", "bob", 7)]
    );
    for none in [
        EndingSessions::Session(&[5; 32]),
        EndingSessions::Session(&[6; 32]),
        EndingSessions::Session(&[9; 32]),
        EndingSessions::Identity("id-\0"),
        EndingSessions::Credential(b"k9"),
    ] {
        assert!(
            tx.oidc_sessions_ending(none, now).await.unwrap().is_empty(),
            "{none:?}"
        );
    }
    drop(tx);

    // A revoked credential's sessions are no longer live.
    let mut tx = store.begin().await.unwrap();
    tx.revoke_credential(b"k2", "lost").await.unwrap();
    assert!(tx
        .oidc_sessions_ending(EndingSessions::Credential(b"k2"), now)
        .await
        .unwrap()
        .is_empty());
    tx.commit().await.unwrap();
}
