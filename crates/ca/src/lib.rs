//! Sans-IO SPIFFE certificate authority for keybound's workload identity
//! (issue 17): SPIFFE IDs, X.509 authorities (own root, or an intermediate
//! under the organisation's root), X.509-SVID issuance, CRLs, JWT-SVID
//! signing and validation, and SPIFFE trust bundles.
//!
//! Time arrives as unix seconds and serial numbers as caller bytes (drawn
//! with [`random_serial`] from the caller's RNG); nothing here reads a
//! clock or does IO. Certificates are built and signed with rcgen, parsed
//! with x509-cert; every aws-lc-rs call is in `crypto`.
// Tests may unwrap and index: a panic there is a failed test.
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]
#![warn(missing_docs)]

mod authority;
mod bundle;
mod cert;
mod crl;
mod crypto;
mod error;
mod jwt_svid;
mod spiffe_id;
mod x509_svid;

pub use authority::{Authority, Parent};
pub use bundle::{Bundle, MAX_BUNDLE_KEYS, MAX_BUNDLE_LEN};
pub use cert::MAX_CERT_LEN;
pub use crl::crl;
pub use crypto::generate_p256_pkcs8;
pub use error::Error;
pub use jwt_svid::{
    sign_jwt_svid, validate_jwt_svid, JwtSvid, JWT_SVID_LEEWAY_S, MAX_AUDIENCES, MAX_AUDIENCE_LEN,
};
pub use spiffe_id::{
    SpiffeId, SpiffeIdError, TrustDomain, MAX_SPIFFE_ID_LEN, MAX_TRUST_DOMAIN_LEN,
};
pub use x509_svid::{
    issue_x509_svid, random_serial, valid_dns_name, SvidRequest, X509Svid, MAX_DNS_NAMES,
    MAX_DNS_NAME_LEN, MAX_SPKI_LEN,
};
