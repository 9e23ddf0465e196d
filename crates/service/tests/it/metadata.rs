//! FIDO metadata through the service: tier 3 for attested certified
//! hardware, refused BLOBs leaving the last good one in force, and a status
//! change re-judging credentials already registered.

use super::*;
use keybound_soft_authenticator::{AttestationMode, TestMds, TestPki};

const MODEL: &str = "4b4b4b4b-4b4b-4b4b-4b4b-4b4b4b4b4b4b";
/// After the fake clock's now (2027-01-15).
const DUE: &str = "2027-02-01";

struct Fixture {
    w: World,
    mds: TestMds,
    pki: TestPki,
}

async fn fixture() -> Fixture {
    let mds = TestMds::new();
    let pki = TestPki::new([0x4b; 16]);
    let root = mds.root_der.clone();
    let mut w = world_with(|c| c.mds_root = Some(root)).await;
    w.auth.attestation = AttestationMode::Packed(pki.attestation.clone());
    Fixture { w, mds, pki }
}

impl Fixture {
    fn blob(&self, no: u64, statuses: &[&str]) -> String {
        self.mds.blob(
            no,
            DUE,
            serde_json::json!([TestMds::entry(
                MODEL,
                std::slice::from_ref(&self.pki.root_der),
                statuses
            )]),
        )
    }

    async fn import(&self, jwt: &str) -> Result<MetadataImport, ServiceError> {
        self.w.service.import_metadata(jwt.as_bytes(), "cli").await
    }

    /// Enrols `name`; the new credential's tier and reasons.
    async fn enrol(&self, name: &str) -> Result<(i64, String), ServiceError> {
        let token = self
            .w
            .service
            .invite(name, false, &Operator::local("cli"))
            .await
            .unwrap();
        let (_, _, enrolled) = self
            .w
            .register(RegistrationStart::Invitation(&token.value))
            .await;
        enrolled?;
        let c = &self
            .w
            .service
            .credentials_of((&Operator::local("cli")).into(), name)
            .await
            .unwrap()[0];
        Ok((c.tier, c.tier_reasons.clone()))
    }
}

#[tokio::test]
async fn attested_certified_hardware_is_tier_3() {
    let f = fixture().await;
    assert_eq!(f.enrol("before").await.unwrap().0, 2, "no metadata yet");
    let report = f.import(&f.blob(1, &["FIDO_CERTIFIED_L1"])).await.unwrap();
    assert_eq!((report.no, report.entries), (1, 1));
    assert_eq!(report.retiered, 1, "the earlier credential is re-judged");
    let (tier, reasons) = f.enrol("ada").await.unwrap();
    assert_eq!(tier, 3, "{reasons}");
    assert!(reasons.contains("FIDO certified"));

    let entry = f.w.service.metadata_entry(MODEL).await.unwrap().unwrap();
    assert_eq!(entry.certification(), Some("FIDO_CERTIFIED_L1"));
}

#[tokio::test]
async fn uncertified_or_unattested_models_stay_below_tier_3() {
    let mut f = fixture().await;
    f.import(&f.blob(1, &["NOT_FIDO_CERTIFIED"])).await.unwrap();
    assert_eq!(f.enrol("ada").await.unwrap().0, 2, "not certified");
    // The model is certified, but this authenticator's chain is not under
    // the model's root.
    f.import(&f.blob(2, &["FIDO_CERTIFIED_L2"])).await.unwrap();
    f.w.auth.attestation = AttestationMode::Packed(TestPki::new([0x4b; 16]).attestation);
    assert_eq!(f.enrol("bob").await.unwrap().0, 2, "chain to another root");
    f.w.auth.attestation = AttestationMode::None;
    assert_eq!(f.enrol("cy").await.unwrap().0, 2, "no attestation");
}

#[tokio::test]
async fn refused_blobs_leave_the_last_good_one_in_force() {
    let f = fixture().await;
    f.import(&f.blob(5, &["FIDO_CERTIFIED_L1"])).await.unwrap();
    let events_before = f.w.audit().await.len();

    let good = f.blob(6, &["REVOKED"]);
    let mut parts: Vec<&str> = good.split('.').collect();
    let forged = keybound_soft_authenticator::b64(
        serde_json::json!({"no": 6, "nextUpdate": DUE, "entries": []})
            .to_string()
            .as_bytes(),
    );
    parts[1] = &forged;
    let other = TestMds::new();
    let stale = f.mds.blob(7, "2026-01-01", serde_json::json!([]));
    let cases = [
        (parts.join("."), "metadata_bad_signature"),
        (
            other.blob(8, DUE, serde_json::json!([])),
            "metadata_untrusted_signer",
        ),
        (stale, "metadata_expired"),
        (f.blob(4, &["REVOKED"]), "metadata_not_newer"),
        (f.blob(5, &["REVOKED"]), "metadata_not_newer"),
        ("not a jwt".to_owned(), "metadata_malformed"),
    ];
    for (jwt, reason) in &cases {
        let refused = f.import(jwt).await.unwrap_err();
        assert!(
            matches!(refused, ServiceError::Rejected(r) if r.reason() == *reason),
            "{refused:?} is not {reason}"
        );
    }
    let events = f.w.audit().await;
    assert_eq!(
        events.len(),
        events_before + cases.len(),
        "each refusal audited"
    );
    assert!(events[events_before..]
        .iter()
        .all(|e| e.event.outcome == Some(Outcome::Failure) && e.event.kind == "admin.mds_import"));
    let entry = f.w.service.metadata_entry(MODEL).await.unwrap().unwrap();
    assert_eq!(
        entry.statuses,
        ["FIDO_CERTIFIED_L1"],
        "serial 5 still in force"
    );
    assert_eq!(f.enrol("ada").await.unwrap().0, 3);
}

#[tokio::test]
async fn a_status_change_rejudges_existing_credentials() {
    let f = fixture().await;
    f.import(&f.blob(1, &["FIDO_CERTIFIED_L1"])).await.unwrap();
    f.enrol("ada").await.unwrap();
    f.enrol("bob").await.unwrap();

    // Certification withdrawn: tier 3 -> 2, one event each.
    let report = f.import(&f.blob(2, &["NOT_FIDO_CERTIFIED"])).await.unwrap();
    assert_eq!((report.retiered, report.suspended), (2, 0));
    let ada =
        &f.w.service
            .credentials_of((&Operator::local("cli")).into(), "ada")
            .await
            .unwrap()[0];
    assert_eq!(ada.tier, 2);
    assert_eq!(ada.status, keybound_store::CredentialStatus::Active);

    // The attestation key is compromised: every credential of the model is
    // quarantined, with a high-severity event each, and the model can no
    // longer register.
    let report = f
        .import(&f.blob(3, &["FIDO_CERTIFIED_L1", "ATTESTATION_KEY_COMPROMISE"]))
        .await
        .unwrap();
    assert_eq!(report.suspended, 2);
    for name in ["ada", "bob"] {
        let c =
            &f.w.service
                .credentials_of((&Operator::local("cli")).into(), name)
                .await
                .unwrap()[0];
        assert_eq!(
            c.status,
            keybound_store::CredentialStatus::Quarantined,
            "{name}"
        );
        assert!(c.tier_reasons.contains("ATTESTATION_KEY_COMPROMISE"));
    }
    let events = f.w.audit().await;
    let suspensions: Vec<_> = events
        .iter()
        .filter(|e| e.event.kind == "metadata.suspend")
        .collect();
    assert_eq!(suspensions.len(), 2);
    assert!(suspensions
        .iter()
        .all(|e| e.event.severity == Some(keybound_audit::Severity::High)));
    assert_eq!(
        f.enrol("cy").await.unwrap_err(),
        ServiceError::Rejected(Refusal::AuthenticatorModelCompromised)
    );
    assert!(verify_chain(f.w.audit().await).is_ok());
}

#[tokio::test]
async fn without_a_fido_root_nothing_is_imported() {
    let w = world().await;
    let mds = TestMds::new();
    assert_eq!(
        w.service
            .import_metadata(mds.blob(1, DUE, serde_json::json!([])).as_bytes(), "cli")
            .await
            .unwrap_err(),
        ServiceError::Rejected(Refusal::NoMdsRootConfigured)
    );
}

/// U2F keys have no AAGUID: their model is found by the attestation
/// certificate's key identifier, and the certification level is recorded.
#[tokio::test]
async fn u2f_models_are_found_by_key_identifier() {
    let mut f = fixture().await;
    f.w.auth.attestation = AttestationMode::FidoU2f(f.pki.attestation.clone());
    let key_id = keybound_metadata::key_identifier(&f.pki.attestation.chain[0]).unwrap();
    let entry = TestMds::u2f_entry(&[key_id], &[f.pki.root_der.clone()], &["FIDO_CERTIFIED_L1"]);
    f.import(&f.mds.blob(1, DUE, serde_json::json!([entry])))
        .await
        .unwrap();
    let (tier, reasons) = f.enrol("ada").await.unwrap();
    assert_eq!(tier, 3, "{reasons}");
    assert!(reasons.ends_with("FIDO_CERTIFIED_L1"), "{reasons}");
}
