//! Certificate revocation lists (RFC 5280 §5), one per authority: short
//! SVID lifetimes are the main revocation, the CRL lists the serials of
//! SVIDs revoked before they expire (issue 17 item 5), for
//! `X509SVIDResponse.crl` and the HTTP CRL endpoint.

use rcgen::{CertificateRevocationListParams, KeyIdMethod, RevokedCertParams, SerialNumber};

use crate::authority::{serial_number, time};
use crate::{Authority, Error};

/// Signs a CRL for `authority` listing `revoked` (serial, revocation time
/// in unix seconds), valid from `this_update_s` to `next_update_s`, with
/// the CRL number `crl_number` (increasing per authority). Its AKI is the
/// authority certificate's SKI, so verifiers match it to its issuer.
///
/// Errors: [`Error::InvalidValidity`] (`next_update_s` not after
/// `this_update_s`, or a time X.509 cannot encode),
/// [`Error::InvalidSerial`], [`Error::Signing`].
pub fn crl(
    authority: &Authority,
    revoked: &[([u8; 16], i64)],
    this_update_s: i64,
    next_update_s: i64,
    crl_number: u64,
) -> Result<Vec<u8>, Error> {
    if next_update_s <= this_update_s {
        return Err(Error::InvalidValidity);
    }
    let revoked_certs = revoked
        .iter()
        .map(|(serial, at)| {
            Ok(RevokedCertParams {
                serial_number: serial_number(serial)?,
                revocation_time: time(*at)?,
                reason_code: None,
                invalidity_date: None,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let key_identifier_method = match &authority.ski {
        Some(ski) => KeyIdMethod::PreSpecified(ski.clone()),
        None => KeyIdMethod::Sha256,
    };
    let params = CertificateRevocationListParams {
        this_update: time(this_update_s)?,
        next_update: time(next_update_s)?,
        crl_number: SerialNumber::from_slice(&crl_number.to_be_bytes()),
        issuing_distribution_point: None,
        revoked_certs,
        key_identifier_method,
    };
    let crl = params
        .signed_by(&authority.issuer)
        .map_err(|_| Error::Signing)?;
    Ok(crl.der().to_vec())
}

impl Authority {
    /// [`crl`] for this authority.
    pub fn crl(
        &self,
        revoked: &[([u8; 16], i64)],
        this_update_s: i64,
        next_update_s: i64,
        crl_number: u64,
    ) -> Result<Vec<u8>, Error> {
        crl(self, revoked, this_update_s, next_update_s, crl_number)
    }
}
