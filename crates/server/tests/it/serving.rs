//! What a stopping node and an https node say on every response: `/readyz`
//! turns 503 once readiness is stopped (the database still answering), and
//! `Strict-Transport-Security` is sent exactly when this process serves
//! https for a host that is not this machine's own.

use super::*;

async fn get(app: &Router, path: &str) -> axum::response::Response {
    app.clone()
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn readyz_turns_unready_when_the_node_stops() {
    let (_, service) = app().await;
    let state = AppState::new(service, false);
    let readiness = state.readiness();
    let app = router(state);
    assert_eq!(get(&app, "/readyz").await.status(), StatusCode::OK);
    readiness.stop();
    assert_eq!(
        get(&app, "/readyz").await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        get(&app, "/healthz").await.status(),
        StatusCode::OK,
        "alive, only not ready"
    );
}

/// A node at https://kb.test: neither its RP ID nor its origin is local.
async fn public_node() -> Arc<Service> {
    let (_, service) = app_with(|config| {
        config.rp_id = "kb.test".into();
        config.origins = OriginPolicy::exact(["https://kb.test"]).unwrap();
    })
    .await;
    service
}

#[tokio::test]
async fn hsts_only_when_serving_https() {
    let service = public_node().await;
    let plain = router(AppState::new(service.clone(), true));
    let https = router(AppState::new(service, true).with_https());
    for path in ["/", "/healthz", "/assets/keybound.js", "/no-such-page"] {
        let reply = get(&https, path).await;
        assert_eq!(
            reply.headers()[header::STRICT_TRANSPORT_SECURITY],
            "max-age=63072000",
            "{path}"
        );
        let reply = get(&plain, path).await;
        assert!(
            !reply
                .headers()
                .contains_key(header::STRICT_TRANSPORT_SECURITY),
            "{path}: a plain listener (maybe behind a TLS proxy) leaves HSTS to the proxy"
        );
    }
}

/// HSTS on `localhost` would follow the browser to every other local port.
#[tokio::test]
async fn no_hsts_for_localhost_or_a_loopback_origin() {
    let public = router(AppState::new(public_node().await, true).with_https());
    assert!(get(&public, "/")
        .await
        .headers()
        .contains_key(header::STRICT_TRANSPORT_SECURITY));
    // The RP ID is localhost (the origin too).
    let (_, localhost) = app().await;
    // A public RP ID, but reached on a loopback address.
    let (_, loopback) = app_with(|config| {
        config.rp_id = "kb.test".into();
        config.origins =
            OriginPolicy::exact(["https://kb.test", "https://127.0.0.1:8443"]).unwrap();
    })
    .await;
    for (what, service) in [("localhost", localhost), ("loopback", loopback)] {
        let https = router(AppState::new(service, true).with_https());
        for path in ["/", "/healthz"] {
            assert!(
                !get(&https, path)
                    .await
                    .headers()
                    .contains_key(header::STRICT_TRANSPORT_SECURITY),
                "{what} {path}"
            );
        }
    }
}
