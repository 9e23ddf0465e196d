//! Issue 19 item 3: the audit log replayed into the state it implies. A
//! database changed only through the service reconciles with nothing to
//! report; each change made behind its back (plain SQL, as anyone holding
//! the database could) is found and named.

use super::*;

fn op() -> Operator {
    Operator::local("cli")
}

fn ctx() -> ClientContext {
    ClientContext {
        ip: Some("192.0.2.19".into()),
        user_agent: Some("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) Chrome/131.0".into()),
        ..ClientContext::default()
    }
}

/// A world on a database file (or a PostgreSQL database), so the tests can
/// reach its rows directly.
struct Scene {
    w: World,
    dir: tempfile::TempDir,
    url: String,
    /// bob's credential an operator revoked.
    revoked: String,
    /// bob's credential still in use.
    bobs: String,
    /// ada's laptop, decommissioned.
    laptop: String,
    /// The workload entry still registered, and the removed one.
    entry: String,
    removed_entry: String,
}

impl Scene {
    /// Runs `sql` on the database as a second connection would.
    fn sql(&self, sql: &str, params: &[&dyn rusqlite::ToSql]) -> usize {
        let conn = rusqlite::Connection::open(self.dir.path().join("kb.db")).unwrap();
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .unwrap();
        conn.execute(sql, params).unwrap()
    }

    /// Runs `sql` (no parameters) on whichever database the scene is on:
    /// PostgreSQL through `psql`, as an operator would.
    fn plain_sql(&self, sql: &str) {
        if !self.url.starts_with("postgres") {
            self.sql(sql, &[]);
            return;
        }
        let bin = keybound_testdb::bin_dir().unwrap();
        let out = std::process::Command::new(bin.join("psql"))
            .args(["-v", "ON_ERROR_STOP=1", "-q", "-d", &self.url, "-c", sql])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    async fn differences(&self) -> Vec<Difference> {
        self.w
            .service
            .reconcile((&op()).into())
            .await
            .unwrap()
            .differences
    }

    /// The sequence number of the last event of `kind` about `subject`.
    async fn seq_of(&self, kind: &str, subject: &str) -> u64 {
        self.w
            .audit()
            .await
            .into_iter()
            .rev()
            .find(|e| e.event.kind == kind && e.event.subject.as_deref() == Some(subject))
            .unwrap()
            .seq
    }
}

/// Registers a passkey for the invitation `token`; its id (base64url) and
/// the session it opened.
async fn enrol_with(w: &World, token: &Token) -> (String, Token) {
    let (_, _, enrolled) = w
        .register(RegistrationStart::Invitation(&token.value))
        .await;
    let enrolled = enrolled.unwrap();
    (
        keybound_webauthn::b64::encode(&enrolled.credential_id),
        enrolled.session.unwrap(),
    )
}

/// The realistic history: invitations, registrations, an operator's admin
/// grant, a second passkey, a revoked credential, a device enrolled and
/// decommissioned, workload entries added and removed, agents, an
/// offboarding (which disables its agent) and a suspension lifted.
async fn scene() -> Scene {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("kb.db").display());
    scene_on(dir, url).await
}

async fn scene_on(dir: tempfile::TempDir, url: String) -> Scene {
    let config = Config::new(RP_ID, OriginPolicy::exact([ORIGIN]).unwrap(), [9; 32]);
    let clock = Arc::new(FakeClock(AtomicI64::new(1_800_000_000_000)));
    let w = World {
        service: Service::new(
            Store::open(&url).await.unwrap(),
            config,
            clock.clone(),
            Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(19)),
        ),
        clock,
        auth: Authenticator::default(),
    };
    let s = &w.service;
    // ada: invited as an administrator by the operator.
    let invitation = s.invite("ada", true, &op()).await.unwrap();
    let (_, ada_session) = enrol_with(&w, &invitation).await;
    // bob: two passkeys, one revoked by the operator; promoted, demoted.
    let invitation = s.invite("bob", false, &op()).await.unwrap();
    let (revoked, bob_session) = enrol_with(&w, &invitation).await;
    let (_, _, second) = w
        .register(RegistrationStart::Session(&bob_session.value))
        .await;
    let bobs = keybound_webauthn::b64::encode(&second.unwrap().credential_id);
    s.revoke_credential(&revoked, &op(), "lost").await.unwrap();
    s.promote("bob", &op()).await.unwrap();
    s.demote("bob", &op()).await.unwrap();
    s.suspend("bob", &op()).await.unwrap();
    s.resume("bob", &op()).await.unwrap();
    // ada's laptop: enrolled from her session, then decommissioned.
    let options = s
        .begin_registration(
            BROWSER,
            RegistrationStart::Device {
                session: &ada_session.value,
                label: "laptop",
            },
            &RegistrationRequest::default(),
        )
        .await
        .unwrap();
    let options = serde_json::to_value(&options).unwrap();
    let user = keybound_webauthn::b64::decode(options["user"]["id"].as_str().unwrap()).unwrap();
    let c = challenge_of(&options);
    let (_, json) = w.auth.register(
        Algorithm::Es256,
        &Ceremony {
            rp_id: RP_ID,
            origin: ORIGIN,
            challenge: &c,
        },
        &user,
    );
    let enrolled = s
        .finish_registration(BROWSER, json.to_string().as_bytes(), &ctx())
        .await
        .unwrap();
    let laptop = enrolled.device.unwrap().name;
    s.decommission_device((&op()).into(), &laptop, &ctx())
        .await
        .unwrap();
    // Workload entries owned by ada: one stays, one goes.
    let entry = |path: &str, uid: u32| NewEntry {
        spiffe_id: format!("spiffe://localhost/{path}"),
        parent: "node-1".into(),
        selectors: vec![format!("unix:uid:{uid}")],
        owner: "ada".into(),
        ..NewEntry::default()
    };
    let kept = s
        .add_workload_entry((&op()).into(), &entry("web", 1000), &ctx())
        .await
        .unwrap();
    let gone = s
        .add_workload_entry((&op()).into(), &entry("batch", 1001), &ctx())
        .await
        .unwrap();
    s.remove_workload_entry((&op()).into(), &gone.id, &ctx())
        .await
        .unwrap();
    // carol: enrolled, owns an agent, offboarded (the agent is disabled).
    let invitation = s.invite("carol", false, &op()).await.unwrap();
    enrol_with(&w, &invitation).await;
    let agent = |name: &str, owner: &str| NewAgent {
        name: name.into(),
        owner: owner.into(),
        spiffe_id: Some(format!("spiffe://localhost/agent/{name}")),
        key_jwk: None,
        description: String::new(),
    };
    s.add_agent(&Actor::Operator(&op()), &agent("report-bot", "ada"), &ctx())
        .await
        .unwrap();
    s.add_agent(&Actor::Operator(&op()), &agent("old-bot", "carol"), &ctx())
        .await
        .unwrap();
    s.offboard("carol", &op()).await.unwrap();
    // dan: invited, never enrolled.
    s.invite("dan", false, &op()).await.unwrap();
    Scene {
        w,
        dir,
        url,
        revoked,
        bobs,
        laptop,
        entry: kept.id,
        removed_entry: gone.id,
    }
}

/// The difference about `object`'s `field`, which must be there.
fn find<'a>(differences: &'a [Difference], object: &str, field: &str) -> &'a Difference {
    differences
        .iter()
        .find(|d| d.object == object && d.field == field)
        .unwrap_or_else(|| panic!("no difference on {object} {field}: {differences:#?}"))
}

#[tokio::test]
async fn a_database_changed_only_through_the_service_matches_its_log() {
    let s = scene().await;
    let done = s.w.service.reconcile((&op()).into()).await.unwrap();
    assert_eq!(done.differences, [], "nothing to report");
    assert!(done.settled);
    // ada, bob, carol, dan, the laptop, two agents.
    assert_eq!(done.identities, 7);
    assert_eq!(
        done.credentials, 5,
        "ada 2 (one the laptop's), bob 2, carol 1"
    );
    assert_eq!(
        (done.devices, done.workload_entries, done.agents),
        (1, 1, 2)
    );
    assert_eq!(done.events, s.w.audit().await.len() as u64);
    // Reading is all it did: no event.
    assert_eq!(done.events, s.w.audit().await.len() as u64);
}

#[tokio::test]
async fn an_admin_flag_set_by_sql_is_named_with_the_last_role_event() {
    let s = scene().await;
    assert_eq!(
        s.sql("UPDATE identities SET is_admin = 1 WHERE name = 'bob'", &[]),
        1
    );
    let found = s.differences().await;
    assert_eq!(found.len(), 1, "{found:#?}");
    let d = find(&found, "identity bob", "is_admin");
    assert_eq!((d.actual.as_str(), d.implied.as_str()), ("1", "0"));
    // The demotion is the last role event about bob.
    assert_eq!(
        d.last_event_seq,
        Some(s.seq_of("admin.revoke_role", "bob").await)
    );
    // And the other way: the one administrator quietly demoted.
    s.sql("UPDATE identities SET is_admin = 0 WHERE name = 'ada'", &[]);
    let d = s.differences().await;
    let d = find(&d, "identity ada", "is_admin");
    assert_eq!((d.actual.as_str(), d.implied.as_str()), ("0", "1"));
    assert_eq!(
        d.last_event_seq,
        Some(s.seq_of("admin.grant_role", "ada").await)
    );
}

#[tokio::test]
async fn a_revoked_credential_set_back_to_active_is_named() {
    let s = scene().await;
    let id = keybound_webauthn::b64::decode(&s.revoked).unwrap();
    assert_eq!(
        s.sql(
            "UPDATE credentials SET status = 'active', revoked_reason = NULL WHERE id = ?1",
            &[&id]
        ),
        1
    );
    let found = s.differences().await;
    assert_eq!(found.len(), 1, "{found:#?}");
    let d = find(
        &found,
        &format!("credential {} of bob", s.revoked),
        "status",
    );
    assert_eq!(
        (d.actual.as_str(), d.implied.as_str()),
        ("active", "revoked")
    );
    assert_eq!(
        d.last_event_seq,
        Some(s.seq_of("admin.revoke_credential", "bob").await)
    );
}

#[tokio::test]
async fn an_offboarded_identity_set_back_to_active_is_named() {
    let s = scene().await;
    s.sql(
        "UPDATE identities SET status = 'active' WHERE name = 'carol'",
        &[],
    );
    let found = s.differences().await;
    assert_eq!(found.len(), 1, "{found:#?}");
    let d = find(&found, "identity carol", "status");
    assert_eq!(
        (d.actual.as_str(), d.implied.as_str()),
        ("active", "offboarded")
    );
    assert_eq!(
        d.last_event_seq,
        Some(s.seq_of("admin.offboard", "carol").await)
    );
}

#[tokio::test]
async fn a_deleted_credential_row_is_named() {
    let s = scene().await;
    let id = keybound_webauthn::b64::decode(&s.bobs).unwrap();
    s.sql("DELETE FROM sessions WHERE credential_id = ?1", &[&id]);
    assert_eq!(s.sql("DELETE FROM credentials WHERE id = ?1", &[&id]), 1);
    let found = s.differences().await;
    assert_eq!(found.len(), 1, "{found:#?}");
    let d = find(&found, &format!("credential {} of bob", s.bobs), "row");
    assert_eq!(
        (d.actual.as_str(), d.implied.as_str()),
        ("absent", "present (active)")
    );
    assert!(d.last_event_seq.is_some());
}

#[tokio::test]
async fn a_workload_entry_inserted_by_sql_is_named_and_a_deleted_one_too() {
    let s = scene().await;
    let owner: String = {
        let conn = rusqlite::Connection::open(s.dir.path().join("kb.db")).unwrap();
        conn.query_row("SELECT id FROM identities WHERE name = 'ada'", [], |r| {
            r.get(0)
        })
        .unwrap()
    };
    s.sql(
        "INSERT INTO workload_entries (id, spiffe_id, parent, selectors, x509_ttl_s, jwt_ttl_s,
         owner_id, revision, created_ms, updated_ms)
         VALUES ('forged', 'spiffe://localhost/db-admin', 'node-1', '[\"unix:uid:0\"]', 3600,
         300, ?1, 1, 0, 0)",
        &[&owner],
    );
    let found = s.differences().await;
    assert_eq!(found.len(), 1, "{found:#?}");
    let d = find(
        &found,
        "workload entry forged (spiffe://localhost/db-admin)",
        "row",
    );
    assert_eq!(
        (d.actual.as_str(), d.implied.as_str(), d.last_event_seq),
        ("present", "absent", None)
    );
    // A removed entry put back under its old id: the removal is named.
    s.sql(
        "INSERT INTO workload_entries (id, spiffe_id, parent, selectors, x509_ttl_s, jwt_ttl_s,
         owner_id, revision, created_ms, updated_ms)
         VALUES (?1, 'spiffe://localhost/batch', 'node-1', '[\"unix:uid:1001\"]', 3600, 300,
         ?2, 1, 0, 0)",
        &[&s.removed_entry, &owner],
    );
    s.sql("DELETE FROM workload_entries WHERE id = ?1", &[&s.entry]);
    let found = s.differences().await;
    assert_eq!(found.len(), 3, "{found:#?}");
    let back = find(
        &found,
        &format!(
            "workload entry {} (spiffe://localhost/batch)",
            s.removed_entry
        ),
        "row",
    );
    assert_eq!(back.implied, "absent");
    assert!(back.last_event_seq.is_some(), "the removal's event");
    let gone = find(
        &found,
        &format!("workload entry {} (spiffe://localhost/web)", s.entry),
        "row",
    );
    assert_eq!(
        (gone.actual.as_str(), gone.implied.as_str()),
        ("absent", "present")
    );
}

#[tokio::test]
async fn identities_devices_and_agents_changed_by_sql_are_named() {
    let s = scene().await;
    // An account nothing in the log created, made an administrator.
    s.sql(
        "INSERT INTO identities (id, name, kind, status, is_admin, user_handle, created_ms)
         VALUES ('x', 'mallory', 'person', 'active', 1, x'01', 0)",
        &[],
    );
    // The decommissioned laptop trusted again; the disabled agent enabled.
    s.sql(
        "UPDATE devices SET status = 'trusted' WHERE identity_id =
         (SELECT id FROM identities WHERE name = ?1)",
        &[&s.laptop],
    );
    s.sql(
        "UPDATE agents SET status = 'active' WHERE identity_id =
         (SELECT id FROM identities WHERE name = 'old-bot')",
        &[],
    );
    // dan, only invited, made active; bob's passkey moved to dan.
    s.sql(
        "UPDATE identities SET status = 'active' WHERE name = 'dan'",
        &[],
    );
    let id = keybound_webauthn::b64::decode(&s.bobs).unwrap();
    s.sql(
        "UPDATE credentials SET identity_id = (SELECT id FROM identities WHERE name = 'dan')
         WHERE id = ?1",
        &[&id],
    );
    let found = s.differences().await;
    assert_eq!(found.len(), 5, "{found:#?}");
    let d = find(&found, "identity mallory", "row");
    assert_eq!(
        (d.actual.as_str(), d.implied.as_str(), d.last_event_seq),
        ("present", "absent", None)
    );
    let d = find(&found, &format!("device {}", s.laptop), "status");
    assert_eq!(
        (d.actual.as_str(), d.implied.as_str()),
        ("trusted", "decommissioned")
    );
    let d = find(&found, "agent old-bot", "status");
    assert_eq!(
        (d.actual.as_str(), d.implied.as_str()),
        ("active", "disabled")
    );
    let d = find(&found, "identity dan", "status");
    assert_eq!(
        (d.actual.as_str(), d.implied.as_str()),
        ("active", "invited")
    );
    let d = find(&found, &format!("credential {} of dan", s.bobs), "owner");
    assert_eq!((d.actual.as_str(), d.implied.as_str()), ("dan", "bob"));
}

#[tokio::test]
async fn a_quarantine_lifted_by_sql_is_named() {
    let s = scene().await;
    // A quarantine as sign-in makes it: the counter went backwards.
    let w = &s.w;
    let invitation = w.service.invite("erin", false, &op()).await.unwrap();
    let (mut cred, _, enrolled) = w
        .register(RegistrationStart::Invitation(&invitation.value))
        .await;
    let id = enrolled.unwrap().credential_id;
    let (_, ok) = w.sign_in(&mut cred, "erin", &Tweaks::default()).await;
    ok.unwrap();
    let regress = Tweaks {
        sign_count: Some(0),
        ..Tweaks::default()
    };
    let (_, refused) = w.sign_in(&mut cred, "erin", &regress).await;
    assert!(refused.is_err());
    assert_eq!(s.differences().await, [], "the quarantine is in the log");
    s.sql(
        "UPDATE credentials SET status = 'active' WHERE id = ?1",
        &[&id],
    );
    let found = s.differences().await;
    let object = format!("credential {} of erin", keybound_webauthn::b64::encode(&id));
    let d = find(&found, &object, "status");
    assert_eq!(
        (d.actual.as_str(), d.implied.as_str()),
        ("active", "quarantined")
    );
}

/// The same history on PostgreSQL reconciles with nothing to report, and
/// the admin flag set with `psql` is named.
#[tokio::test]
async fn on_postgres_the_log_and_the_state_agree_until_sql_intervenes() {
    let Some(pg) = keybound_testdb::shared("audit reconcile") else {
        return;
    };
    let s = scene_on(tempfile::tempdir().unwrap(), pg.fresh_database()).await;
    assert_eq!(s.differences().await, []);
    s.plain_sql("UPDATE identities SET is_admin = true WHERE name = 'bob'");
    s.plain_sql("UPDATE identities SET status = 'active' WHERE name = 'carol'");
    let found = s.differences().await;
    assert_eq!(found.len(), 2, "{found:#?}");
    let d = find(&found, "identity bob", "is_admin");
    assert_eq!((d.actual.as_str(), d.implied.as_str()), ("1", "0"));
    let d = find(&found, "identity carol", "status");
    assert_eq!(d.implied, "offboarded");
}
