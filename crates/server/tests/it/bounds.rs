//! Issue 12 item 10 over HTTP: a 350 kB rawId is refused without growing
//! the anomaly detectors or the audit chain, and client extensions are not
//! reflected into options.

use super::*;

#[tokio::test]
async fn a_350_kb_raw_id_is_refused_without_growing_detector_state() {
    let (app, service) = app().await;
    let huge = b64::encode(&vec![7u8; 350_000]);
    let body = json!({
        "id": huge, "rawId": huge, "type": "public-key",
        "response": {"clientDataJSON": "e30", "authenticatorData": "AAAA", "signature": "AAAA"}
    })
    .to_string();
    for i in 0..20u8 {
        let mut browser = Browser::at(app.clone(), [10, 0, 0, i]);
        let (status, reply) = browser.post("/assertion/result", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(reply["status"], "failed");
    }
    assert_eq!(service.anomaly_detector_usage(), (0, 0));
    for e in service.store().audit_events().await.unwrap() {
        assert_eq!(e.event.reason.as_deref(), Some("credential_id_too_long"));
        assert_eq!(e.event.credential_id, None);
    }
}

#[tokio::test]
async fn client_extensions_are_not_reflected_into_options() {
    let (app, _) = app_with(|c| c.open_registration = true).await;
    let mut browser = Browser::new(app);
    let asked = json!({"credProps": true, "largeBlob": {"support": "required"}, "x": "y"});
    let (status, options) = browser
        .post(
            "/attestation/options",
            json!({"username": "ada", "extensions": asked}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(options["extensions"], json!({"credProps": true}));
    let (status, options) = browser
        .post(
            "/assertion/options",
            json!({"username": "ada", "extensions": asked}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(options.get("extensions").is_none());
}
