//! TPM 2.0 Part 2 constants this crate reads (§6.3 `TPM_ALG_ID`, §6.4
//! `TPM_ECC_CURVE`, §6.9 `TPM_ST`, §6.2 `TPM_GENERATED`).

pub(crate) const TPM_ALG_RSA: u16 = 0x0001;
pub(crate) const TPM_ALG_SHA256: u16 = 0x000b;
pub(crate) const TPM_ALG_NULL: u16 = 0x0010;
pub(crate) const TPM_ALG_RSASSA: u16 = 0x0014;
pub(crate) const TPM_ALG_RSAES: u16 = 0x0015;
pub(crate) const TPM_ALG_ECDSA: u16 = 0x0018;
pub(crate) const TPM_ALG_ECDAA: u16 = 0x001a;
pub(crate) const TPM_ALG_ECC: u16 = 0x0023;
pub(crate) const TPM_ALG_AES: u16 = 0x0006;
pub(crate) const TPM_ALG_CFB: u16 = 0x0043;

pub(crate) const TPM_ECC_NIST_P256: u16 = 0x0003;

pub(crate) const TPM_GENERATED_VALUE: u32 = 0xff54_4347;
pub(crate) const TPM_ST_ATTEST_QUOTE: u16 = 0x8018;

/// SHA-256 output length: the only `nameAlg` accepted.
pub(crate) const SHA256_LEN: usize = 32;
