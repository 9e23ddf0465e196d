//! Issue 18's agent API through the real router: an agent with a
//! registered key asks for a task, reads it, ends it; the hostile cases
//! get a coarse 4xx and change nothing.

use keybound_jose::{Algorithm as JoseAlg, SigningKey};
use keybound_service::policies::PolicySet;
use keybound_service::{Actor, ClientContext, NewAgent, PolicyLoad};

use super::*;

const API: &str = "https://api.example.test/";

const POLICIES: &str = r#"
@id("agents-on-api")
permit (principal, action == Keybound::Action::"task:request",
        resource == Keybound::Api::"https://api.example.test/")
when { principal.kind == "agent" };
"#;

/// An agent's key and the proofs it signs.
struct Agent {
    name: &'static str,
    key: SigningKey,
    jti: std::sync::atomic::AtomicU32,
}

impl Agent {
    fn new(name: &'static str) -> Agent {
        let pkcs8 = SigningKey::generate_pkcs8(JoseAlg::Es256).unwrap();
        Agent {
            name,
            key: SigningKey::from_pkcs8(JoseAlg::Es256, &pkcs8).unwrap(),
            jti: 0.into(),
        }
    }

    /// A fresh proof (a new `jti` each time).
    fn proof(&self) -> String {
        let now = SystemClock.now_ms() / 1000;
        let jti = self.jti.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mut header = serde_json::Map::new();
        header.insert("typ".into(), "JWT".into());
        keybound_jose::sign(
            &header,
            &json!({"iss": self.name, "sub": self.name, "aud": ORIGIN, "iat": now,
                    "exp": now + 120, "jti": format!("{}-{jti}", self.name)}),
            &self.key,
            &aws_lc_rs::rand::SystemRandom::new(),
        )
        .unwrap()
    }
}

use keybound_service::Clock;

/// The router with the task policy, alice enrolled, and two agents she
/// owns: report-bot and other-bot.
async fn world() -> (Router, Arc<Service>, Agent, Agent) {
    let (app, service) = app().await;
    let set = PolicySet::load(&[("tasks.cedar", POLICIES)]).unwrap();
    service
        .install_policies(set, PolicyLoad::Start, None)
        .await
        .unwrap();
    let token = service
        .invite("alice", false, &Operator::local("test"))
        .await
        .unwrap();
    enrol_at(&app, [127, 0, 0, 7], &token.value).await;
    let op = Operator::local("test");
    let (a, b) = (Agent::new("report-bot"), Agent::new("other-bot"));
    for agent in [&a, &b] {
        service
            .add_agent(
                &Actor::Operator(&op),
                &NewAgent {
                    name: agent.name.into(),
                    owner: "alice".into(),
                    spiffe_id: None,
                    key_jwk: Some(agent.key.public_jwk(None).unwrap().to_json()),
                    description: String::new(),
                },
                &ClientContext::default(),
            )
            .await
            .unwrap();
    }
    (app, service, a, b)
}

/// One request with exactly `headers` (no cookie unless given).
async fn call(
    app: &Router,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Body>,
) -> (StatusCode, axum::http::HeaderMap, Value) {
    let mut request = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let mut request = request.body(body.into()).unwrap();
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            [127, 0, 0, 9],
            5555,
        ))));
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), MAX_BODY)
        .await
        .unwrap();
    (
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn ask() -> String {
    json!({"delegator": "alice", "resources": [API], "actions": ["read"],
           "lifetime_s": 900, "purpose": "weekly report"})
    .to_string()
}

/// `agent` asks for the usual task; its id.
async fn request(app: &Router, agent: &Agent) -> (StatusCode, Value) {
    let bearer = format!("Bearer {}", agent.proof());
    let (status, _, body) = call(
        app,
        "POST",
        "/agents/v1/tasks",
        &[
            ("authorization", &bearer),
            ("content-type", "application/json"),
        ],
        ask(),
    )
    .await;
    (status, body)
}

async fn task_status(service: &Service, id: &str) -> String {
    let mut tx = service.store().read().await.unwrap();
    tx.task(id).await.unwrap().unwrap().status
}

#[tokio::test]
async fn an_agent_asks_reads_and_ends_its_task() {
    let (app, service, bot, _) = world().await;
    let (status, created) = request(&app, &bot).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["task_id"].as_str().unwrap().to_owned();
    assert_eq!(created["status"], "pending");
    assert_eq!(
        created["approve_url"],
        format!("{ORIGIN}/me#task-{id}").as_str()
    );
    assert!(created["expires_at"].as_i64().unwrap() > SystemClock.now_ms() / 1000);

    let bearer = format!("Bearer {}", bot.proof());
    let (status, _, task) = call(
        &app,
        "GET",
        &format!("/agents/v1/tasks/{id}"),
        &[("authorization", &bearer)],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(task["id"], id.as_str());
    assert_eq!(task["purpose"], "weekly report");

    let bearer = format!("Bearer {}", bot.proof());
    let (status, _, _) = call(
        &app,
        "POST",
        &format!("/agents/v1/tasks/{id}/end"),
        &[("authorization", &bearer)],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(task_status(&service, &id).await, "ended");
}

#[tokio::test]
async fn without_a_good_proof_the_answer_is_401() {
    let (app, _service, bot, _) = world().await;
    let json_type = ("content-type", "application/json");
    let (status, headers, body) = call(&app, "POST", "/agents/v1/tasks", &[json_type], ask()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(headers.contains_key(header::WWW_AUTHENTICATE));
    assert_eq!(body, json!({"error": "invalid_token"}));
    for bad in ["Bearer not-a-jwt", "Basic cmVwb3J0LWJvdDp4", "Bearer "] {
        let (status, _, _) = call(
            &app,
            "POST",
            "/agents/v1/tasks",
            &[("authorization", bad), json_type],
            ask(),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{bad}");
    }
    // A proof is good once.
    let bearer = format!("Bearer {}", bot.proof());
    let headers = [("authorization", bearer.as_str()), json_type];
    let (first, _, _) = call(&app, "POST", "/agents/v1/tasks", &headers, ask()).await;
    let (again, _, body) = call(&app, "POST", "/agents/v1/tasks", &headers, ask()).await;
    assert_eq!(
        (first, again),
        (StatusCode::CREATED, StatusCode::UNAUTHORIZED)
    );
    assert_eq!(body, json!({"error": "invalid_token"}));
}

#[tokio::test]
async fn another_agents_task_and_an_unknown_task_are_404() {
    let (app, service, bot, other) = world().await;
    let (_, created) = request(&app, &bot).await;
    let id = created["task_id"].as_str().unwrap().to_owned();
    for (method, path) in [
        ("GET", format!("/agents/v1/tasks/{id}")),
        ("POST", format!("/agents/v1/tasks/{id}/end")),
        (
            "GET",
            "/agents/v1/tasks/0123456789abcdef0123456789abcdef".to_owned(),
        ),
        ("POST", "/agents/v1/tasks/nope/end".to_owned()),
    ] {
        let bearer = format!("Bearer {}", other.proof());
        let (status, _, body) = call(&app, method, &path, &[("authorization", &bearer)], "").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}");
        assert_eq!(body, json!({"error": "not_found"}));
    }
    assert_eq!(task_status(&service, &id).await, "pending");
}

#[tokio::test]
async fn malformed_huge_or_cookied_requests_are_refused() {
    let (app, service, bot, _) = world().await;
    let before = service.store().audit_events().await.unwrap().len();
    let json_type = ("content-type", "application/json");
    let cases: Vec<Case> = vec![
        (
            vec![json_type.map_owned()],
            "{not json".into(),
            StatusCode::BAD_REQUEST,
        ),
        (
            vec![json_type.map_owned()],
            "[]".into(),
            StatusCode::BAD_REQUEST,
        ),
        (
            vec![("content-type", "text/plain".to_owned())],
            ask(),
            StatusCode::BAD_REQUEST,
        ),
        (
            vec![json_type.map_owned(), ("cookie", "kb_session=x".to_owned())],
            ask(),
            StatusCode::BAD_REQUEST,
        ),
        (
            vec![json_type.map_owned()],
            format!(r#"{{"purpose": "{}"}}"#, "a".repeat(17 * 1024)),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ];
    for (headers, body, want) in cases {
        let bearer = format!("Bearer {}", bot.proof());
        let mut all: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        all.push(("authorization", &bearer));
        let (status, _, _) = call(&app, "POST", "/agents/v1/tasks", &all, body).await;
        assert_eq!(status, want, "{headers:?}");
    }
    // Nothing was asked for.
    let mut tx = service.store().read().await.unwrap();
    assert!(tx.tasks().await.unwrap().is_empty());
    drop(tx);
    let after = service.store().audit_events().await.unwrap();
    assert!(!after[before..]
        .iter()
        .any(|e| e.event.kind == "task.request"
            && e.event.outcome == Some(keybound_audit::Outcome::Success)));
}

#[tokio::test]
async fn a_task_policy_does_not_permit_is_403() {
    let (app, _service, bot, _) = world().await;
    let bearer = format!("Bearer {}", bot.proof());
    let (status, _, body) = call(
        &app,
        "POST",
        "/agents/v1/tasks",
        &[
            ("authorization", &bearer),
            ("content-type", "application/json"),
        ],
        json!({"delegator": "alice", "resources": ["https://payments.example.test/"],
               "actions": ["pay"], "purpose": "x"})
        .to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body, json!({"error": "forbidden"}));
}

/// Extra headers, the body, the status it must get.
type Case = (Vec<(&'static str, String)>, String, StatusCode);

trait MapOwned {
    fn map_owned(self) -> (&'static str, String);
}

impl MapOwned for (&'static str, &'static str) {
    fn map_owned(self) -> (&'static str, String) {
        (self.0, self.1.to_owned())
    }
}
