//! keybound-tpm's parsers on any bytes, the first byte choosing which:
//! 0 a `TPM2B_PUBLIC` (and, if it parses, the EK/AK policies and
//! `MakeCredential` to it), 1 a quote (`TPMS_ATTEST`, the rest after a u16
//! length is the `TPMT_SIGNATURE`) against an swtpm AK, 2 an EK
//! certificate against the swtpm EK and its roots. Seeds: fuzz/seeds/tpm_structures.
#![no_main]

use keybound_tpm::{
    check_ak_policy, check_ek_policy, make_credential, verify_ek_certificate, verify_quote,
    EkRoots, Public, UnixTime,
};
use libfuzzer_sys::fuzz_target;
use rand_chacha::rand_core::SeedableRng;

const AK: &[u8] = include_bytes!("../../crates/tpm/tests/fixtures/swtpm/ak-ecc.pub");
const EK: &[u8] = include_bytes!("../../crates/tpm/tests/fixtures/swtpm/ek-rsa.pub");
const ROOT: &[u8] = include_bytes!("../../crates/tpm/tests/fixtures/swtpm/rootca.pem");
const ISSUER: &[u8] = include_bytes!("../../crates/tpm/tests/fixtures/swtpm/issuer.pem");

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 3 {
        0 => {
            if let Ok(public) = Public::from_tpm2b(rest) {
                let _ = check_ak_policy(&public);
                if check_ek_policy(&public).is_ok() {
                    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
                    let _ = make_credential(&public, &public.name(), &[1; 32], &mut rng);
                }
            }
        }
        1 => {
            let Ok(ak) = Public::from_tpm2b(AK) else { return };
            let Some((len, body)) = rest.split_first_chunk::<2>() else {
                return;
            };
            let n = usize::from(u16::from_be_bytes(*len)).min(body.len());
            let (attest, signature) = body.split_at(n);
            let _ = verify_quote(&ak, attest, signature, &[0; 32]);
        }
        _ => {
            let Ok(ek) = Public::from_tpm2b(EK) else { return };
            let mut roots = EkRoots::new();
            let _ = roots.add_file(ROOT);
            let _ = roots.add_file(ISSUER);
            let now = UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_796_342_400));
            let _ = verify_ek_certificate(rest, &ek, &roots, now);
        }
    }
});
