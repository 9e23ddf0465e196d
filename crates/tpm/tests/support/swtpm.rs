//! A test harness around swtpm: local manufacturer CAs (`swtpm_localca`),
//! TPMs manufactured under them (`swtpm_setup --create-ek-cert`) and run
//! as `swtpm socket` on free ports. Shared by `crates/tpm/tests/swtpm.rs`
//! and the service's TPM tests (included with `#[path]`).

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use keybound_tpm::EkRoots;

pub fn installed() -> bool {
    let ok = ["swtpm", "swtpm_setup", "swtpm_localca", "tpm2_createek"]
        .iter()
        .all(|tool| {
            Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
    if !ok {
        // CI installs them (.ci/run): there a missing tool is a failure,
        // not a skip.
        assert!(
            std::env::var_os("CI").is_none(),
            "swtpm, swtpm-tools or tpm2-tools is not installed, under CI"
        );
        eprintln!("SKIPPED: swtpm, swtpm-tools or tpm2-tools is not installed");
    }
    ok
}

/// A local manufacturer CA (`swtpm_localca`'s root and issuing CA).
pub struct Manufacturer {
    pub dir: PathBuf,
}

impl Manufacturer {
    pub fn new(base: &Path, name: &str) -> Self {
        let dir = base.join(name);
        std::fs::create_dir_all(dir.join("ca")).unwrap();
        std::fs::write(
            dir.join("localca.conf"),
            format!(
                "statedir = {d}/ca\nsigningkey = {d}/ca/signkey.pem\n\
                 issuercert = {d}/ca/issuercert.pem\ncertserial = {d}/ca/certserial\n",
                d = dir.display()
            ),
        )
        .unwrap();
        std::fs::write(
            dir.join("localca.options"),
            "--platform-manufacturer keybound\n--platform-version 2.1\n--platform-model test\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("setup.conf"),
            format!(
                "create_certs_tool = swtpm_localca\ncreate_certs_tool_config = {d}/localca.conf\n\
                 create_certs_tool_options = {d}/localca.options\n",
                d = dir.display()
            ),
        )
        .unwrap();
        Manufacturer { dir }
    }

    /// The roots a server configures for this manufacturer: its root and
    /// its issuing CA (TPMs carry only the EK certificate).
    pub fn roots(&self) -> EkRoots {
        let mut roots = EkRoots::new();
        for file in ["swtpm-localca-rootca-cert.pem", "issuercert.pem"] {
            roots
                .add_file(&std::fs::read(self.dir.join("ca").join(file)).unwrap())
                .unwrap();
        }
        roots
    }
}

/// A running swtpm.
pub struct Swtpm {
    child: Child,
    /// `TPM2TOOLS_TCTI` for this TPM.
    pub tcti: String,
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two consecutive free TCP ports (swtpm's server and control channel).
fn free_ports() -> u16 {
    loop {
        let a = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = a.local_addr().unwrap().port();
        if port < u16::MAX && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
}

impl Swtpm {
    /// Manufactures a TPM under `maker` and starts it.
    pub fn start(base: &Path, name: &str, maker: &Manufacturer) -> Self {
        let state = base.join(name);
        std::fs::create_dir_all(&state).unwrap();
        let out = Command::new("swtpm_setup")
            .args([
                "--tpm2",
                "--create-ek-cert",
                "--create-platform-cert",
                "--overwrite",
            ])
            .arg("--tpmstate")
            .arg(&state)
            .arg("--config")
            .arg(maker.dir.join("setup.conf"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "swtpm_setup: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_ports();
        let child = Command::new("swtpm")
            .args(["socket", "--tpm2", "--flags", "startup-clear"])
            .arg("--tpmstate")
            .arg(format!("dir={}", state.display()))
            .arg("--server")
            .arg(format!("type=tcp,port={port},bindaddr=127.0.0.1"))
            .arg("--ctrl")
            .arg(format!("type=tcp,port={},bindaddr=127.0.0.1", port + 1))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "swtpm did not listen"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Swtpm {
            child,
            tcti: format!("swtpm:host=127.0.0.1,port={port}"),
        }
    }
}
