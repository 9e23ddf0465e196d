//! Issue 16, the device registry: enrolling "this device" from a signed-in
//! session, the keys that may never be a device, managing, decommissioning,
//! and what each view shows.

use super::*;

mod decommission;
mod enrol;
mod manage;
mod trust;

const UA: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) Chrome/131.0";

fn ctx() -> ClientContext {
    ClientContext {
        ip: Some("192.0.2.7".into()),
        user_agent: Some(UA.into()),
        ..ClientContext::default()
    }
}

/// Enrols `name` by invitation; their passkey and the session it opened.
async fn person(w: &World, name: &str) -> (Credential, Token) {
    let token = w
        .service
        .invite(name, false, &Operator::local("cli"))
        .await
        .unwrap();
    let (cred, _, enrolled) = w
        .register(RegistrationStart::Invitation(&token.value))
        .await;
    (cred, enrolled.unwrap().session.unwrap())
}

/// Device enrolment options for `session`, as JSON.
async fn device_options(w: &World, session: &Token, label: &str) -> Result<Value, ServiceError> {
    let options = w
        .service
        .begin_registration(
            BROWSER,
            RegistrationStart::Device {
                session: &session.value,
                label,
            },
            &RegistrationRequest::default(),
        )
        .await?;
    Ok(serde_json::to_value(&options).unwrap())
}

/// `auth`'s answer to `options` (which `edit` may bend), and the verdict.
async fn answer(
    w: &World,
    auth: &Authenticator,
    options: &Value,
    edit: impl FnOnce(&mut Value),
) -> (Credential, Value, Result<Enrolled, ServiceError>) {
    let user = keybound_webauthn::b64::decode(options["user"]["id"].as_str().unwrap()).unwrap();
    let c = challenge_of(options);
    let (cred, mut json) = auth.register(
        Algorithm::Es256,
        &Ceremony {
            rp_id: RP_ID,
            origin: ORIGIN,
            challenge: &c,
        },
        &user,
    );
    edit(&mut json);
    let enrolled = w
        .service
        .finish_registration(BROWSER, json.to_string().as_bytes(), &ctx())
        .await;
    (cred, json, enrolled)
}

/// Enrols the device `session` runs on with `auth`: its credential and the
/// enrolment.
async fn enrol_device(
    w: &World,
    auth: &Authenticator,
    session: &Token,
    label: &str,
) -> (Credential, Result<Enrolled, ServiceError>) {
    let options = device_options(w, session, label).await.unwrap();
    let (cred, _, enrolled) = answer(w, auth, &options, |_| {}).await;
    (cred, enrolled)
}

/// The reason of the last event of `kind`.
async fn last_reason(w: &World, kind: &str) -> Option<String> {
    w.audit()
        .await
        .into_iter()
        .rev()
        .find(|e| e.event.kind == kind)
        .and_then(|e| e.event.reason)
}

fn operator() -> Operator {
    Operator::local("cli")
}
