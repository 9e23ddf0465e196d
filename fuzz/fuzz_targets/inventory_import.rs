//! The inventory import parser (`keybound device import`) on any bytes:
//! CSV or JSON, it either refuses with a line inside the file or returns
//! records within the bounds.
#![no_main]

use keybound_service::posture::import::{MAX_IDENTIFIER, MAX_IMPORT_ROWS};
use keybound_service::posture::parse_inventory;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let lines = 1 + data.iter().filter(|b| **b == b'\n').count() as u64;
    match parse_inventory(data) {
        Ok(records) => {
            assert!(!records.is_empty() && records.len() <= MAX_IMPORT_ROWS);
            for r in records {
                assert!(!r.identifier.is_empty() && r.identifier.len() <= MAX_IDENTIFIER);
                assert!(r.line >= 1 && r.line <= lines);
            }
        }
        Err(e) => assert!(e.line <= lines, "{e}"),
    }
});
