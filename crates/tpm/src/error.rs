//! The one error of this crate. Each variant names the check that failed;
//! [`Error::reason`] is its stable snake_case form for the audit log (the
//! client only ever sees a generic refusal).

use std::fmt;

/// Why a TPM structure, certificate or quote was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    // --- structures ---
    /// A `TPM2B_PUBLIC` / `TPMT_PUBLIC` is truncated, oversized, has
    /// trailing bytes or fields that contradict each other.
    MalformedPublic,
    /// The key type, curve, size, scheme or `nameAlg` is not one this crate
    /// accepts (RSA 2048-4096, ECC P-256, SHA-256).
    UnsupportedKey,
    /// A `TPMS_ATTEST` is truncated, oversized or has trailing bytes.
    MalformedAttest,
    /// A `TPMT_SIGNATURE` is truncated, oversized or has trailing bytes.
    MalformedSignature,

    // --- key policy ---
    /// The EK is not a restricted decryption key fixed to its TPM with an
    /// AES-128-CFB symmetric definition.
    EkAttributes,
    /// The AK is not a restricted signing key fixed to its TPM, created
    /// inside it (restricted, sign, fixedTPM, fixedParent,
    /// sensitiveDataOrigin, not decrypt).
    AkAttributes,

    // --- credential ---
    /// The credential secret is empty or longer than the EK's digest.
    SecretSize,
    /// The AK name is not `nameAlg || digest` of a supported hash.
    MalformedName,

    // --- EK certificate ---
    /// The configured manufacturer roots hold no certificate, or one that
    /// does not parse.
    EkRootsInvalid,
    /// The EK certificate is not DER X.509 webpki can read.
    EkCertificateMalformed,
    /// The EK certificate does not chain to a configured root at the given
    /// time (wrong root, expired, bad signature, wrong key usage).
    EkCertificateUntrusted,
    /// The EK certificate's key is not the EK public area's key.
    EkCertificateKeyMismatch,

    // --- quote ---
    /// `TPMS_ATTEST.magic` is not `TPM_GENERATED_VALUE`: the TPM did not
    /// make this structure.
    QuoteNotTpmGenerated,
    /// `TPMS_ATTEST.type` is not `TPM_ST_ATTEST_QUOTE`.
    QuoteWrongType,
    /// `TPMS_ATTEST.extraData` is not the expected nonce.
    QuoteNonceMismatch,
    /// The signature's scheme or hash does not fit the AK (ECDSA P-256 or
    /// RSASSA/RSAPSS, SHA-256).
    QuoteSignatureAlgorithm,
    /// The signature does not verify with the AK.
    QuoteSignatureInvalid,

    /// aws-lc-rs refused an operation on well-formed input (a key it
    /// cannot load): internal, not the node's fault as far as we know.
    Crypto,
}

impl Error {
    /// Stable snake_case reason for the audit log.
    pub fn reason(self) -> &'static str {
        match self {
            Error::MalformedPublic => "tpm_public_malformed",
            Error::UnsupportedKey => "tpm_key_unsupported",
            Error::MalformedAttest => "tpm_attest_malformed",
            Error::MalformedSignature => "tpm_signature_malformed",
            Error::EkAttributes => "tpm_ek_attributes",
            Error::AkAttributes => "tpm_ak_attributes",
            Error::SecretSize => "tpm_secret_size",
            Error::MalformedName => "tpm_name_malformed",
            Error::EkRootsInvalid => "tpm_ek_roots_invalid",
            Error::EkCertificateMalformed => "tpm_ek_certificate_malformed",
            Error::EkCertificateUntrusted => "tpm_ek_certificate_untrusted",
            Error::EkCertificateKeyMismatch => "tpm_ek_certificate_key_mismatch",
            Error::QuoteNotTpmGenerated => "tpm_quote_not_tpm_generated",
            Error::QuoteWrongType => "tpm_quote_wrong_type",
            Error::QuoteNonceMismatch => "tpm_quote_nonce_mismatch",
            Error::QuoteSignatureAlgorithm => "tpm_quote_signature_algorithm",
            Error::QuoteSignatureInvalid => "tpm_quote_signature_invalid",
            Error::Crypto => "tpm_crypto_internal",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

impl std::error::Error for Error {}
