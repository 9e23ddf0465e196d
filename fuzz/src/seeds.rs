//! Seeds for the targets that drive the whole server: requests the pages
//! send, and answers to the scenes' ceremonies that succeed. The scenes are
//! deterministic (fixed clock, seeded RNG, fixed passkeys), so these files
//! are the same on every run of `make-seeds` until the service changes what
//! it draws from its RNG; they are kept in the repository (`fuzz/seeds/`)
//! so CI's short runs start from them. A seed that should succeed is
//! checked to succeed, here, before it is written.

use std::path::Path;

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::app::{ada_passkey, bob_passkey, runtime, Flags, Scene};

fn write(dir: &Path, name: &str, flags: u8, body: &[u8]) {
    std::fs::create_dir_all(dir).expect("seed directory");
    let mut data = vec![flags];
    data.extend_from_slice(body);
    std::fs::write(dir.join(name), data).expect("seed file");
}

/// Sends `body` the way the target does after `prepare` and returns the
/// status, in a scene of its own.
async fn replay<F, Fut>(flags: Flags, path: &str, body: &Value, prepare: F) -> StatusCode
where
    F: FnOnce(Scene, crate::app::Browser) -> Fut,
    Fut: std::future::Future<Output = (Scene, crate::app::Browser)>,
{
    let scene = Scene::new(flags.open_registration(), false).await;
    let browser = scene.browser(flags);
    let (scene, mut browser) = prepare(scene, browser).await;
    scene
        .app
        .send(
            &mut browser,
            "POST",
            path,
            body.to_string().into_bytes(),
            flags,
        )
        .await
        .expect("a well-formed request")
        .status
}

/// Writes every seed under `root/<target>/`.
pub fn write_all(root: &Path) {
    runtime().block_on(async {
        options_seeds(root);
        attestation_result_seeds(root).await;
        assertion_result_seeds(root).await;
        console_seeds(root);
    });
}

fn options_seeds(root: &Path) {
    let registration = [
        json!({"username": "carol", "displayName": "Carol"}),
        json!({"username": "ada"}),
        json!({
            "username": "dave",
            "displayName": "Dave",
            "authenticatorSelection": {
                "residentKey": "required",
                "requireResidentKey": true,
                "userVerification": "required",
                "authenticatorAttachment": "cross-platform"
            },
            "attestation": "direct",
            "extensions": {"credProps": true}
        }),
    ];
    let dir = root.join("api_attestation_options");
    for (i, body) in registration.iter().enumerate() {
        for flags in [0x00, 0x02, 0x04] {
            write(
                &dir,
                &format!("body{i}-flags{flags:02x}"),
                flags,
                body.to_string().as_bytes(),
            );
        }
    }
    let sign_in = [
        json!({"username": "ada"}),
        json!({"username": ""}),
        json!({"username": "nobody", "userVerification": "required"}),
        json!({"username": "ada", "userVerification": "discouraged", "extensions": {"appid": "https://example.com"}}),
    ];
    let dir = root.join("api_assertion_options");
    for (i, body) in sign_in.iter().enumerate() {
        for flags in [0x00, 0x02] {
            write(
                &dir,
                &format!("body{i}-flags{flags:02x}"),
                flags,
                body.to_string().as_bytes(),
            );
        }
    }
}

async fn attestation_result_seeds(root: &Path) {
    let dir = root.join("api_attestation_result");
    for flags in [0x00, 0x02] {
        let scene = Scene::new(false, false).await;
        let mut browser = scene.browser(Flags(flags));
        let options = scene.bob_registration(&mut browser).await;
        let body = bob_passkey().register(&options);
        let status = replay(
            Flags(flags),
            "/attestation/result",
            &body,
            |scene, mut b| async move {
                scene.bob_registration(&mut b).await;
                (scene, b)
            },
        )
        .await;
        assert_eq!(
            status,
            StatusCode::OK,
            "bob enrols (flags {flags:#x}): {body}"
        );
        write(
            &dir,
            &format!("bob-flags{flags:02x}"),
            flags,
            body.to_string().as_bytes(),
        );
    }
}

async fn assertion_result_seeds(root: &Path) {
    let dir = root.join("api_assertion_result");
    for flags in [0x00, 0x02, 0x20] {
        let flags = Flags(flags);
        let scene = Scene::new(false, false).await;
        let mut browser = scene.browser(flags);
        let options = scene.ada_sign_in(&mut browser, flags.username_less()).await;
        let handle = flags
            .username_less()
            .then_some(scene.ada_user_handle.as_str());
        let body = ada_passkey().assert(&options, handle);
        let status = replay(
            flags,
            "/assertion/result",
            &body,
            |scene, mut b| async move {
                scene.ada_sign_in(&mut b, flags.username_less()).await;
                (scene, b)
            },
        )
        .await;
        assert_eq!(
            status,
            StatusCode::OK,
            "ada signs in (flags {:#x}): {body}",
            flags.0
        );
        write(
            &dir,
            &format!("ada-flags{:02x}", flags.0),
            flags.0,
            body.to_string().as_bytes(),
        );
    }
}

fn console_seeds(root: &Path) {
    let dir = root.join("console_query");
    let queries = [
        "",
        "identity=ada&kind=admin.&outcome=success&since=24h&limit=5",
        "kind=registration&since=30m",
        "outcome=alert&since=7d",
        "before=3&limit=1",
        "identity=bob&outcome=failure&since=90s",
    ];
    for (i, q) in queries.iter().enumerate() {
        std::fs::create_dir_all(&dir).expect("seed directory");
        std::fs::write(dir.join(format!("query{i}")), q).expect("seed file");
    }
}
