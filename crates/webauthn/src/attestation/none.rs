//! The `none` format (§8.7): an empty statement.

use ciborium::Value;

use super::{Attestation, AttestationFormat, AttestationTrust, AttestationType};
use crate::error::Error;

pub(super) fn verify(statement: Vec<(String, Value)>) -> Result<Attestation, Error> {
    if !statement.is_empty() {
        return Err(Error::MalformedAttestationStatement);
    }
    Ok(Attestation::new(
        AttestationFormat::None,
        AttestationType::None,
        AttestationTrust::NotApplicable,
    ))
}
