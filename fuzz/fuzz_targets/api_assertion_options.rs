//! `POST /assertion/options` with any body, through the whole server: from
//! a fresh browser or a signed-in one (step-up), with or without cookies,
//! JSON content type and same-origin headers (the first byte).
#![no_main]

use keybound_fuzz::app::{runtime, Flags, Scene};
use keybound_fuzz::split;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((flags, body)) = split(data) else {
        return;
    };
    let flags = Flags(flags);
    runtime().block_on(async {
        let scene = Scene::new(flags.open_registration(), false).await;
        let mut browser = scene.browser(flags);
        scene
            .app
            .send(
                &mut browser,
                "POST",
                "/assertion/options",
                body.to_vec(),
                flags,
            )
            .await;
    });
});
