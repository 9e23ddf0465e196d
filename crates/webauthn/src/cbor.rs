//! Thin helpers over ciborium for reading one CBOR item from the front of a
//! byte slice and for picking members out of text-keyed maps.

use ciborium::Value;

/// Nesting deeper than this is refused; no WebAuthn structure comes close.
const RECURSION_LIMIT: usize = 16;

/// Reads exactly one CBOR data item from the front of `input` and advances
/// `input` past it.
pub(crate) fn read_item(input: &mut &[u8]) -> Result<Value, ()> {
    ciborium::de::from_reader_with_recursion_limit(&mut *input, RECURSION_LIMIT).map_err(|_| ())
}

/// Reads one CBOR item that must span all of `input`.
pub(crate) fn read_exact(mut input: &[u8]) -> Result<Value, ()> {
    let value = read_item(&mut input)?;
    if input.is_empty() {
        Ok(value)
    } else {
        Err(())
    }
}

/// The members of a CBOR map whose keys are all text strings, refusing
/// duplicate keys (a duplicate is the classic way to make two parsers see two
/// different statements).
pub(crate) fn text_map(value: Value) -> Result<Vec<(String, Value)>, ()> {
    let Value::Map(entries) = value else {
        return Err(());
    };
    let mut out: Vec<(String, Value)> = Vec::with_capacity(entries.len());
    for (k, v) in entries {
        let Value::Text(k) = k else { return Err(()) };
        if out.iter().any(|(seen, _)| *seen == k) {
            return Err(());
        }
        out.push((k, v));
    }
    Ok(out)
}

/// Removes and returns the member named `key`.
pub(crate) fn take(map: &mut Vec<(String, Value)>, key: &str) -> Option<Value> {
    let at = map.iter().position(|(k, _)| k == key)?;
    Some(map.swap_remove(at).1)
}
