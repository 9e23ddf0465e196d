//! Renaming, and someone else's device.

use super::*;

#[tokio::test]
async fn an_owner_renames_within_bounds() {
    let w = world().await;
    let (_, session) = person(&w, "ada").await;
    let (_, enrolled) = enrol_device(&w, &w.auth, &session, "laptop").await;
    let name = enrolled.unwrap().device.unwrap().name;
    for bad in ["", "  ", &"x".repeat(65), "a\u{1b}[31mb", "tab\there"] {
        assert_eq!(
            w.service
                .rename_my_device(&session.value, &name, bad, &ctx())
                .await,
            Err(ServiceError::Rejected(Refusal::InvalidDeviceLabel)),
            "{bad:?}"
        );
    }
    let longest = "é".repeat(64);
    w.service
        .rename_my_device(&session.value, &name, &longest, &ctx())
        .await
        .unwrap();
    assert_eq!(
        w.service.my_devices(&session.value).await.unwrap()[0].label,
        longest
    );
    assert!(last_reason(&w, "device.rename")
        .await
        .unwrap()
        .contains("laptop"));
    w.service
        .rename_device((&operator()).into(), &name, "fleet 7", &ctx())
        .await
        .unwrap();
    assert_eq!(
        w.service
            .device((&operator()).into(), &name)
            .await
            .unwrap()
            .label,
        "fleet 7"
    );
    assert_eq!(
        w.service
            .rename_my_device(&session.value, "dev-nothing", "x", &ctx())
            .await,
        Err(ServiceError::NotFound)
    );
}

#[tokio::test]
async fn someone_elses_device_is_not_found_and_audited() {
    let w = world().await;
    let (_, ada) = person(&w, "ada").await;
    let (_, bob) = person(&w, "bob").await;
    let (_, enrolled) = enrol_device(&w, &w.auth, &ada, "laptop").await;
    let name = enrolled.unwrap().device.unwrap().name;

    assert_eq!(
        w.service
            .rename_my_device(&bob.value, &name, "mine now", &ctx())
            .await,
        Err(ServiceError::NotFound)
    );
    assert_eq!(
        last_reason(&w, "device.rename").await.as_deref(),
        Some("device_of_another_person")
    );
    assert_eq!(
        w.service
            .decommission_my_device(&bob.value, &name, &ctx())
            .await,
        Err(ServiceError::NotFound)
    );
    assert_eq!(
        last_reason(&w, "device.decommission").await.as_deref(),
        Some("device_of_another_person")
    );
    let device = w.service.device((&operator()).into(), &name).await.unwrap();
    assert_eq!(
        (device.label.as_str(), device.status.as_str()),
        ("laptop", "untrusted")
    );
    assert!(w.service.my_devices(&bob.value).await.unwrap().is_empty());
    assert_eq!(
        w.service.my_devices("no session").await,
        Err(ServiceError::Forbidden)
    );
}
