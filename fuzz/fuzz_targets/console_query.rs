//! The console's and the CLI's query parsers on any text: `duration_ms`
//! (`/admin/audit?since=`, `keybound audit alerts --since`) directly, and
//! `GET /admin/audit?<input>` through the whole server as a signed-in
//! tier-2 administrator, over a chain with events to match (the query
//! string's parsing, the filters, the paged query and the page).
#![no_main]

use keybound_fuzz::app::{as_query, runtime, Flags, Scene};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = keybound_service::duration_ms(text);
    }
    let path = format!("/admin/audit?{}", as_query(data));
    runtime().block_on(async {
        // The console only reads: one scene serves every input.
        static SCENE: OnceLock<Scene> = OnceLock::new();
        let scene = match SCENE.get() {
            Some(scene) => scene,
            None => {
                let scene = Scene::new(false, true).await;
                // The scene must reach the console, or every input would
                // only meet the refusal.
                let mut admin = scene.ada.clone();
                let page = scene
                    .app
                    .send(
                        &mut admin,
                        "GET",
                        "/admin/audit",
                        Vec::new(),
                        Flags::default(),
                    )
                    .await;
                assert_eq!(
                    page.map(|p| p.status.as_u16()),
                    Some(200),
                    "ada reaches the console"
                );
                SCENE.get_or_init(|| scene)
            }
        };
        let mut admin = scene.ada.clone();
        scene
            .app
            .send(&mut admin, "GET", &path, Vec::new(), Flags::default())
            .await;
    });
});
