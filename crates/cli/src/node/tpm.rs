//! The node agent's side of TPM attestation: `tpm2-tools` run as
//! subprocesses against the TPM the operator names (`TPM2TOOLS_TCTI`, e.g.
//! `device:/dev/tpmrm0` or `swtpm:port=2321`).
//!
//! [`Tpm::start`] reads the EK certificate from NV, creates the EK from
//! the TCG template and a fresh AK under it (ECC P-256, ECDSA/SHA-256,
//! restricted signing), and returns the [`TpmAttestStart`] the server
//! checks. [`Tpm::finish`] activates the server's credential (only this
//! TPM, with this AK loaded, can) and quotes
//! `SHA-256(secret || node key thumbprint)` with the AK.
//!
//! A fresh AK per attestation keeps no TPM state between runs; the node's
//! stable identity is its EK. The files live in the directory given to
//! [`Tpm::new`] (the agent's data dir), the AK's saved context between
//! start and finish. After every command transient objects and sessions
//! are flushed: the in-kernel resource manager (`/dev/tpmrm0`) does that
//! itself, a raw TPM or swtpm does not and runs out of object slots.
//!
//! This file uses only std, the wire types and `keybound-tpm` (for the
//! nonce), so `crates/tpm/tests/swtpm.rs` compiles it as is and drives it
//! against a real swtpm.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use keybound_workload_api::wire::{TpmAttestFinish, TpmAttestStart, TpmChallenge};

/// NV index of the RSA 2048 EK certificate (TCG EK Credential Profile).
pub const NV_EK_CERT_RSA: &str = "0x01c00002";
/// NV index of the ECC P-256 EK certificate.
pub const NV_EK_CERT_ECC: &str = "0x01c0000a";
/// How long one tpm2-tools command may run.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// How much of a failed command's stderr is kept in the error.
const STDERR_KEEP: usize = 2048;

/// Which EK to use: the one whose certificate the TPM carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EkKind {
    /// RSA 2048 (`tpm2_createek -G rsa`, certificate at 0x01c00002).
    Rsa,
    /// ECC P-256 (`tpm2_createek -G ecc`, certificate at 0x01c0000a).
    Ecc,
}

/// A failed TPM step: which one, and what tpm2-tools said.
#[derive(Debug)]
pub struct TpmError {
    /// The step (`createek`, `activatecredential`...).
    pub step: &'static str,
    /// The tool's stderr (cut) or the IO error.
    pub detail: String,
}

impl std::fmt::Display for TpmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TPM step {} failed: {}", self.step, self.detail)
    }
}

impl std::error::Error for TpmError {}

/// One TPM, driven through tpm2-tools.
#[derive(Debug, Clone)]
pub struct Tpm {
    tcti: Option<String>,
    dir: PathBuf,
    ek: EkKind,
}

impl Tpm {
    /// `tcti`: the TCTI string (`None`: tpm2-tools' default, or
    /// `TPM2TOOLS_TCTI` from the environment); `dir`: where to keep the
    /// key files (created if missing).
    pub fn new(tcti: Option<String>, dir: impl Into<PathBuf>, ek: EkKind) -> Self {
        Tpm {
            tcti,
            dir: dir.into(),
            ek,
        }
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// Runs one tpm2-tools command, then flushes transient objects and
    /// sessions.
    fn run(&self, step: &'static str, args: &[&str]) -> Result<Vec<u8>, TpmError> {
        let out = self.exec(step, args);
        self.flush();
        out
    }

    fn exec(&self, step: &'static str, args: &[&str]) -> Result<Vec<u8>, TpmError> {
        let err = |detail: String| TpmError { step, detail };
        let (program, rest) = args.split_first().ok_or_else(|| err("no command".into()))?;
        let mut cmd = Command::new(program);
        cmd.args(rest)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(tcti) = &self.tcti {
            cmd.env("TPM2TOOLS_TCTI", tcti);
        }
        let mut child = cmd.spawn().map_err(|e| err(format!("{program}: {e}")))?;
        // The outputs are small (a name, a YAML line); reading them after
        // the exit cannot dead-lock on a full pipe of a few hundred bytes.
        let started = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if started.elapsed() > COMMAND_TIMEOUT => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(err(format!("{program} timed out")));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(e) => return Err(err(e.to_string())),
            }
        };
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        if let Some(mut s) = child.stdout.take() {
            let _ = s.read_to_end(&mut stdout);
        }
        if let Some(mut s) = child.stderr.take() {
            let _ = s.read_to_end(&mut stderr);
        }
        if status.success() {
            Ok(stdout)
        } else {
            let text = String::from_utf8_lossy(&stderr);
            let cut: String = text.chars().take(STDERR_KEEP).collect();
            Err(err(format!(
                "{program} exited with {status}: {}",
                cut.trim()
            )))
        }
    }

    fn flush(&self) {
        let _ = self.exec("flushcontext", &["tpm2_flushcontext", "-t"]);
        let _ = self.exec("flushcontext", &["tpm2_flushcontext", "-s"]);
    }

    fn read(&self, step: &'static str, file: &str) -> Result<Vec<u8>, TpmError> {
        std::fs::read(self.path(file)).map_err(|e| TpmError {
            step,
            detail: format!("{file}: {e}"),
        })
    }

    fn write(&self, step: &'static str, file: &str, bytes: &[u8]) -> Result<(), TpmError> {
        std::fs::write(self.path(file), bytes).map_err(|e| TpmError {
            step,
            detail: format!("{file}: {e}"),
        })
    }

    /// The EK certificate (DER) from its NV index.
    ///
    /// # Errors
    /// The TPM has no certificate there, or the tool failed.
    pub fn ek_certificate(&self) -> Result<Vec<u8>, TpmError> {
        let index = match self.ek {
            EkKind::Rsa => NV_EK_CERT_RSA,
            EkKind::Ecc => NV_EK_CERT_ECC,
        };
        self.run("nvread", &["tpm2_nvread", index, "-o", "ek-cert.der"])?;
        let mut der = self.read("nvread", "ek-cert.der")?;
        // NV areas can be larger than the certificate: keep the DER
        // SEQUENCE's own length.
        if let Some(len) = der_length(&der) {
            der.truncate(len);
        }
        Ok(der)
    }

    /// Step one: EK certificate, EK public area, a fresh AK, bound to
    /// `node_key` (the node key's public JWK).
    ///
    /// # Errors
    /// A tpm2-tools step failed (the error names it).
    pub fn start(&self, node_key: serde_json::Value) -> Result<TpmAttestStart, TpmError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| TpmError {
            step: "datadir",
            detail: e.to_string(),
        })?;
        let ek_cert = self.ek_certificate()?;
        let (ek_public, ak_public) = self.create_keys()?;
        Ok(TpmAttestStart {
            ek_cert: URL_SAFE_NO_PAD.encode(ek_cert),
            ek_public: URL_SAFE_NO_PAD.encode(ek_public),
            ak_public: URL_SAFE_NO_PAD.encode(ak_public),
            node_key,
        })
    }

    /// Creates the EK (from the TCG template) and a fresh AK under it;
    /// returns their `TPM2B_PUBLIC`s.
    ///
    /// # Errors
    /// A tpm2-tools step failed.
    pub fn create_keys(&self) -> Result<(Vec<u8>, Vec<u8>), TpmError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| TpmError {
            step: "datadir",
            detail: e.to_string(),
        })?;
        self.create_ek()?;
        self.run(
            "createak",
            &[
                "tpm2_createak",
                "-C",
                "ek.ctx",
                "-c",
                "ak.ctx",
                "-G",
                "ecc",
                "-g",
                "sha256",
                "-s",
                "ecdsa",
                "-u",
                "ak.pub",
                "-n",
                "ak.name",
                "-r",
                "ak.priv",
            ],
        )?;
        Ok((
            self.read("createek", "ek.pub")?,
            self.read("createak", "ak.pub")?,
        ))
    }

    fn create_ek(&self) -> Result<(), TpmError> {
        let alg = match self.ek {
            EkKind::Rsa => "rsa",
            EkKind::Ecc => "ecc",
        };
        self.run(
            "createek",
            &["tpm2_createek", "-c", "ek.ctx", "-G", alg, "-u", "ek.pub"],
        )?;
        Ok(())
    }

    /// Step two: activate `challenge`'s credential with the AK from
    /// [`Tpm::start`] and quote `SHA-256(secret || node_key_thumbprint)`
    /// (the raw RFC 7638 thumbprint of the node key).
    ///
    /// # Errors
    /// The challenge is not base64url, or a tpm2-tools step failed; an
    /// activation failure means the credential was not made for this
    /// TPM's EK and AK.
    pub fn finish(
        &self,
        challenge: &TpmChallenge,
        node_key_thumbprint: &[u8],
    ) -> Result<TpmAttestFinish, TpmError> {
        let decode = |s: &str| {
            URL_SAFE_NO_PAD.decode(s).map_err(|e| TpmError {
                step: "challenge",
                detail: e.to_string(),
            })
        };
        let blob = decode(&challenge.credential_blob)?;
        let secret = decode(&challenge.encrypted_secret)?;
        self.write(
            "activatecredential",
            "cred.in",
            &credential_file(&blob, &secret),
        )?;
        self.create_ek()?;
        // The EK's auth is a policy (PolicySecret on the endorsement
        // hierarchy): one policy session per activation.
        self.exec(
            "startauthsession",
            &[
                "tpm2_startauthsession",
                "--policy-session",
                "-S",
                "session.ctx",
            ],
        )?;
        let activated = self
            .exec(
                "policysecret",
                &["tpm2_policysecret", "-S", "session.ctx", "-c", "e"],
            )
            .and_then(|_| {
                self.exec(
                    "activatecredential",
                    &[
                        "tpm2_activatecredential",
                        "-c",
                        "ak.ctx",
                        "-C",
                        "ek.ctx",
                        "-i",
                        "cred.in",
                        "-o",
                        "secret.out",
                        "-P",
                        "session:session.ctx",
                    ],
                )
            });
        let _ = self.exec("flushcontext", &["tpm2_flushcontext", "session.ctx"]);
        self.flush();
        activated?;
        let secret = self.read("activatecredential", "secret.out")?;
        let _ = std::fs::remove_file(self.path("secret.out"));
        let nonce = keybound_tpm::quote_nonce(&secret, node_key_thumbprint);
        let nonce_hex: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
        self.run(
            "quote",
            &[
                "tpm2_quote",
                "-c",
                "ak.ctx",
                "-l",
                "sha256:0",
                "-q",
                &nonce_hex,
                "-g",
                "sha256",
                "-m",
                "quote.msg",
                "-s",
                "quote.sig",
            ],
        )?;
        Ok(TpmAttestFinish {
            attempt: challenge.attempt.clone(),
            secret: URL_SAFE_NO_PAD.encode(&secret),
            quote: URL_SAFE_NO_PAD.encode(self.read("quote", "quote.msg")?),
            quote_signature: URL_SAFE_NO_PAD.encode(self.read("quote", "quote.sig")?),
        })
    }

    /// The directory the key files live in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// The file `tpm2_activatecredential -i` reads (tpm2-tools'
/// `tpm2_makecredential` output): magic `0xBADCC0DE`, version 1 (both u32
/// big-endian), then the `TPM2B_ID_OBJECT` and the
/// `TPM2B_ENCRYPTED_SECRET`, each with its u16 size.
pub fn credential_file(credential_blob: &[u8], encrypted_secret: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + credential_blob.len() + encrypted_secret.len());
    out.extend_from_slice(&0xBADC_C0DE_u32.to_be_bytes());
    out.extend_from_slice(&1u32.to_be_bytes());
    out.extend_from_slice(credential_blob);
    out.extend_from_slice(encrypted_secret);
    out
}

/// The total length of the DER element at the start of `der` (tag, length,
/// contents), `None` if it does not parse.
fn der_length(der: &[u8]) -> Option<usize> {
    let first = usize::from(*der.get(1)?);
    if first < 0x80 {
        return first.checked_add(2);
    }
    let n = first & 0x7f;
    if n == 0 || n > 3 {
        return None;
    }
    let mut len = 0usize;
    for i in 0..n {
        len = (len << 8) | usize::from(*der.get(2 + i)?);
    }
    len.checked_add(2 + n)
}
