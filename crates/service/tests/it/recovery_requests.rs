//! Recovery requests are ordinary events; only their patterns raise alerts
//! (issue 12, item 12): a flood of anonymous requests from one address is
//! one alert, not one per request, and repeated requests for one real
//! account are one alert wherever they come from.

use keybound_audit::{NewEvent, Outcome as O, Severity};

use super::*;

fn from(ip: &str) -> ClientContext {
    ClientContext {
        ip: Some(ip.to_owned()),
        user_agent: Some("probe/1.0".to_owned()),
        hints: Default::default(),
    }
}

/// The events in the chain that call for attention (what `keybound audit
/// alerts` lists).
async fn attention(w: &World) -> Vec<NewEvent> {
    w.audit()
        .await
        .into_iter()
        .map(|e| e.event)
        .filter(|e| e.outcome == Some(O::Alert) || e.severity.is_some())
        .collect()
}

async fn requests(w: &World) -> Vec<NewEvent> {
    w.audit()
        .await
        .into_iter()
        .map(|e| e.event)
        .filter(|e| e.kind == "recovery.request")
        .collect()
}

#[tokio::test]
async fn requests_below_the_thresholds_raise_no_alert() {
    let w = world().await;
    w.enrol("ada").await;
    let t = w.service.config().alerts;
    // Each address stays below its threshold; names that do not exist and
    // one real account asked for less often than its threshold.
    for i in 0..t.recovery_requests - 1 {
        for source in 0..20 {
            let name = format!("nobody{source}-{i}");
            w.service
                .request_recovery(&name, &from(&format!("198.51.100.{source}")))
                .await
                .unwrap();
        }
    }
    for _ in 0..t.recovery_account_requests - 1 {
        w.service
            .request_recovery("ada", &from("203.0.113.9"))
            .await
            .unwrap();
    }
    let asked = requests(&w).await;
    assert_eq!(
        asked.len(),
        20 * (t.recovery_requests - 1) + t.recovery_account_requests - 1
    );
    assert!(
        attention(&w).await.is_empty(),
        "no alert and no severity: {:?}",
        attention(&w).await
    );
    // Ordinary outcomes: the one that opened ada's recovery succeeded,
    // unknown names and the repeat failed (the reason says why).
    let opened: Vec<_> = asked
        .iter()
        .filter(|e| e.outcome == Some(O::Success))
        .collect();
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0].subject.as_deref(), Some("ada"));
    assert!(asked
        .iter()
        .all(|e| e.outcome == Some(O::Success) || e.outcome == Some(O::Failure)));
    assert!(verify_chain(w.audit().await).is_ok());
}

#[tokio::test]
async fn a_flood_from_one_address_raises_exactly_one_alert() {
    let w = world().await;
    w.enrol("ada").await;
    // The probe: 491 requests, real and unknown names, one address.
    for i in 0..491 {
        let name = if i % 50 == 0 {
            "ada".to_owned()
        } else {
            format!("guess{i}")
        };
        w.service
            .request_recovery(&name, &from("192.0.2.66"))
            .await
            .unwrap();
    }
    assert_eq!(requests(&w).await.len(), 491);
    let alerts = attention(&w).await;
    let flood: Vec<_> = alerts
        .iter()
        .filter(|e| e.kind == "alert.recovery_requests")
        .collect();
    assert_eq!(flood.len(), 1, "{alerts:?}");
    assert_eq!(flood[0].outcome, Some(O::Alert));
    assert_eq!(flood[0].severity, Some(Severity::Warning));
    assert_eq!(flood[0].ip.as_deref(), Some("192.0.2.66"));
    // Ten requests named ada from that address: her account's pattern
    // fired once too, and nothing else did.
    let targeted: Vec<_> = alerts
        .iter()
        .filter(|e| e.kind == "alert.recovery_account")
        .collect();
    assert_eq!(targeted.len(), 1, "{alerts:?}");
    assert_eq!(alerts.len(), 2, "{alerts:?}");

    // The next window, the same flood: one more alert of each.
    w.clock
        .0
        .fetch_add(w.service.config().alerts.window_ms, Ordering::SeqCst);
    for i in 0..10 {
        w.service
            .request_recovery(&format!("guess{i}"), &from("192.0.2.66"))
            .await
            .unwrap();
    }
    let again = attention(&w).await;
    assert_eq!(
        again
            .iter()
            .filter(|e| e.kind == "alert.recovery_requests")
            .count(),
        2
    );
}

#[tokio::test]
async fn repeated_requests_for_one_real_account_raise_one_alert() {
    let w = world().await;
    w.enrol("ada").await;
    let t = w.service.config().alerts;
    // From a different address each time: no source crosses its threshold.
    for i in 0..t.recovery_account_requests + 3 {
        w.service
            .request_recovery("ada", &from(&format!("203.0.113.{i}")))
            .await
            .unwrap();
        // The same number of requests for a name that does not exist.
        w.service
            .request_recovery("nobody", &from(&format!("203.0.113.{i}")))
            .await
            .unwrap();
    }
    let alerts = attention(&w).await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let alert = &alerts[0];
    assert_eq!(alert.kind, "alert.recovery_account");
    assert_eq!(alert.outcome, Some(O::Alert));
    assert_eq!(alert.subject.as_deref(), Some("ada"));
    assert_eq!(
        alert.ip.as_deref(),
        Some(format!("203.0.113.{}", t.recovery_account_requests - 1).as_str()),
        "the request that crossed the threshold"
    );
}
