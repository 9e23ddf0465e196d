//! `POST /attestation/result` with any body, through the whole server, in
//! answer to a real registration ceremony (bob's invitation), so a body
//! that keeps the challenge reaches attestation verification, enrolment
//! and the session it starts. The first byte varies the browser and the
//! headers.
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
        scene.bob_registration(&mut browser).await;
        scene
            .app
            .send(
                &mut browser,
                "POST",
                "/attestation/result",
                body.to_vec(),
                flags,
            )
            .await;
    });
});
