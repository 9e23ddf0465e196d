//! The third-party agent client (`agent.py`): a venv under the target
//! directory with the published libraries, pinned, installed with pip
//! from PyPI, and one run per step.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Authlib (RFC 8693 token exchange), pydpop (RFC 9449 proofs), py-spiffe
/// (the Workload API) and requests: unchanged, as a third party installs
/// them.
pub const PACKAGES: &[&str] = &[
    "authlib==1.9.10",
    "pydpop==0.2.1",
    "spiffe==0.3.2",
    "requests==2.34.2",
];

/// The venv's python with [`PACKAGES`]; `None`, after a loud message, where
/// that is impossible and this is not CI (where it fails the test).
pub fn python() -> Option<PathBuf> {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("agents-venv");
    let python = venv.join("bin").join("python");
    let fail = |what: &str, out: &str| -> Option<PathBuf> {
        let message = format!("{what} failed: {out}");
        if std::env::var_os("CI").is_some() {
            panic!("{message}: the agent acceptance test must run in CI");
        }
        eprintln!(
            "\n{}\n!!! SKIPPING the agent acceptance test: {message}\n{}\n",
            "!".repeat(78),
            "!".repeat(78)
        );
        None
    };
    if !python.is_file() {
        let out = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .output();
        match out {
            Ok(o) if o.status.success() => {}
            Ok(o) => return fail("python3 -m venv", &String::from_utf8_lossy(&o.stderr)),
            Err(e) => return fail("python3 -m venv", &e.to_string()),
        }
    }
    let out = Command::new(&python)
        .args(["-m", "pip", "install", "-q", "--disable-pip-version-check"])
        .args(PACKAGES)
        .output()
        .unwrap();
    if !out.status.success() {
        return fail("pip install", &String::from_utf8_lossy(&out.stderr));
    }
    Some(python)
}

/// Runs one step of `agent.py`; the JSON object it printed last.
pub fn step(python: &Path, socket: Option<&Path>, args: &[&str]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/agents/agent.py");
    let mut cmd = Command::new(python);
    cmd.arg(script).args(args);
    if let Some(socket) = socket {
        cmd.env(
            "SPIFFE_ENDPOINT_SOCKET",
            format!("unix://{}", socket.display()),
        );
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "agent.py {:?}:\n{stdout}\n{}",
        args.first(),
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("agent.py printed {stdout:?}: {e}"))
}

/// [`step`], but `None` when the step failed (a JWT-SVID not served yet).
pub fn try_step(python: &Path, socket: Option<&Path>, args: &[&str]) -> Option<Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/agents/agent.py");
    let mut cmd = Command::new(python);
    cmd.arg(script).args(args);
    if let Some(socket) = socket {
        cmd.env(
            "SPIFFE_ENDPOINT_SOCKET",
            format!("unix://{}", socket.display()),
        );
    }
    let out = cmd.output().unwrap();
    if !out.status.success() {
        return None;
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).ok()
}
