//! The User-Agent Client Hints parser on any bytes: the input is split at
//! its first three NULs into the four headers a browser sends
//! (`Sec-CH-UA-Platform`, `-Platform-Version`, `Sec-CH-UA`,
//! `-Full-Version-List`). Whatever it accepts stays within the bounds.
#![no_main]

use keybound_service::posture::hints::{MAX_BRAND_FIELD, MAX_HINT};
use keybound_service::posture::ClientHints;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(4, |b| *b == 0);
    let platform = parts.next();
    let version = parts.next();
    let ua = parts.next();
    let full = parts.next();
    let hints = ClientHints::from_headers(platform, version, ua, full);
    for s in [&hints.platform, &hints.platform_version].into_iter().flatten() {
        assert!(s.len() <= MAX_HINT && s.bytes().all(|b| (0x20..0x7f).contains(&b)));
    }
    if let Some((brand, v)) = &hints.browser {
        assert!(brand.len() <= MAX_BRAND_FIELD && v.len() <= MAX_BRAND_FIELD);
    }
});
