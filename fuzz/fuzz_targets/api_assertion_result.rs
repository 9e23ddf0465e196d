//! `POST /assertion/result` with any body, through the whole server, in
//! answer to a real sign-in ceremony for ada (or a username-less one), so a
//! body that keeps the challenge and the signature reaches credential
//! look-up, the counter, tiers and the session (a step-up when the browser
//! is signed in). The first byte varies the browser and the headers.
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
        scene.ada_sign_in(&mut browser, flags.username_less()).await;
        scene
            .app
            .send(
                &mut browser,
                "POST",
                "/assertion/result",
                body.to_vec(),
                flags,
            )
            .await;
    });
});
