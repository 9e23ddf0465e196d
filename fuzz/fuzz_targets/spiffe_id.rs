//! SPIFFE ID and trust domain parsing on any text: whatever parses is its
//! own canonical form (scheme, trust domain and path put back together
//! give the input), within the length bound, and a trust domain that
//! parses makes a SPIFFE ID of itself.
#![no_main]

use keybound_ca::{SpiffeId, TrustDomain, MAX_SPIFFE_ID_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(id) = SpiffeId::parse(text) {
        assert!(id.as_str().len() <= MAX_SPIFFE_ID_LEN);
        assert_eq!(format!("spiffe://{}{}", id.trust_domain(), id.path()), text);
        assert!(!id.path().ends_with('/'));
    }
    if let Ok(td) = TrustDomain::parse(text) {
        let id = SpiffeId::parse(&td.id_string()).map(|id| id.trust_domain().clone());
        assert_eq!(id, Ok(td));
    }
});
