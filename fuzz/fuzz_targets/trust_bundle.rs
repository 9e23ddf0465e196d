//! SPIFFE bundle documents (federation, bundle endpoint) on any bytes:
//! whatever parses stays within the key bound, serialises, and parses
//! back to the same bundle.
#![no_main]

use keybound_ca::{Bundle, TrustDomain, MAX_BUNDLE_KEYS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(td) = TrustDomain::parse("example.org") else {
        return;
    };
    if let Ok(bundle) = Bundle::from_json(td.clone(), data) {
        assert!(bundle.x509_authorities.len() + bundle.jwt_authorities.len() <= MAX_BUNDLE_KEYS);
        let again = bundle
            .to_json()
            .and_then(|json| Bundle::from_json(td, json.as_bytes()));
        assert_eq!(again, Ok(bundle));
    }
});
