//! Runs the published SPIFFE clients, unchanged, against a Workload API
//! socket: the `spiffe` crate 0.19's own `#[ignore]`d integration tests and
//! py-spiffe's `pyspiffe_check.py`. Shared (by `#[path]`) between this
//! crate's fixture-based acceptance tests and `keybound-cli`'s run against
//! the real `keybound serve` + `keybound node`, so both run the same thing.
//!
//! Everything here blocks: call it from a plain `#[test]`, or through
//! `spawn_blocking` while an in-process server keeps serving.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub const SPIFFE_CRATE: &str = "spiffe-0.19.0";
/// How many of the crate's `#[ignore]`d tests the four targets hold.
pub const SPIFFE_TESTS: u32 = 61;
/// `x509_source` and `jwt_source` each have a `test_custom_endpoint` that
/// dials this fixed path (SPIRE's default): it is pointed at our socket.
pub const SPIRE_DEFAULT_SOCKET: &str = "/tmp/spire-agent/public/api.sock";
/// What `pyspiffe_check.py` prints when every check passed.
pub const PYSPIFFE_OK: &str = "pyspiffe ok: 14 checks";

fn tmp() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
}

/// The unpacked crate in the cargo registry.
fn registry_copy() -> PathBuf {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .expect("neither CARGO_HOME nor HOME is set");
    let src = home.join("registry").join("src");
    std::fs::read_dir(&src)
        .unwrap_or_else(|e| panic!("{}: {e}", src.display()))
        .filter_map(Result::ok)
        .map(|d| d.path().join(SPIFFE_CRATE))
        .find(|p| p.join("Cargo.toml").is_file())
        .unwrap_or_else(|| panic!("{SPIFFE_CRATE} not found under {}", src.display()))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Runs `cmd` to its end; (success, stdout + stderr).
pub fn run(mut cmd: Command) -> (bool, String) {
    let out = cmd.output().unwrap();
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// The end of a long output, for a failure message.
pub fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(80)..].join("\n")
}

/// Sums `test result:` lines: (passed, failed).
pub fn totals(text: &str) -> (u32, u32) {
    let mut passed = 0;
    let mut failed = 0;
    for line in text.lines().filter(|l| l.starts_with("test result:")) {
        let num = |word: &str| -> u32 {
            line.split(';')
                .find_map(|part| {
                    let part = part
                        .trim()
                        .trim_start_matches("test result: ok.")
                        .trim_start_matches("test result: FAILED.")
                        .trim();
                    part.strip_suffix(word).map(|n| n.trim().parse().unwrap())
                })
                .unwrap_or(0)
        };
        passed += num("passed");
        failed += num("failed");
    }
    (passed, failed)
}

fn point_spire_default_socket_at(socket: &Path) {
    let link = Path::new(SPIRE_DEFAULT_SOCKET);
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    if link.symlink_metadata().is_ok() {
        std::fs::remove_file(link).unwrap();
    }
    std::os::unix::fs::symlink(socket, link).unwrap();
}

/// Runs the `spiffe` crate's 61 integration tests against `socket` (and
/// points SPIRE's default socket path at it); panics unless all pass.
/// `name` keeps the copy and the log of one caller apart from another's.
pub fn spiffe_crate_tests_pass(socket: &Path, name: &str) {
    point_spire_default_socket_at(socket);
    let copy = tmp().join(name).join(SPIFFE_CRATE);
    if copy.exists() {
        std::fs::remove_dir_all(&copy).unwrap();
    }
    copy_dir(&registry_copy(), &copy);
    // Its own workspace root, not a stray member of the one above target/.
    let manifest = copy.join("Cargo.toml");
    let mut toml = std::fs::read_to_string(&manifest).unwrap();
    toml.push_str("\n[workspace]\n");
    std::fs::write(&manifest, toml).unwrap();

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("test")
        .arg("--manifest-path")
        .arg(&manifest)
        .args([
            "--features",
            "workload-api,x509-source,jwt-source,jwt-verify-aws-lc-rs",
        ])
        .args(["--test", "workload_api_client", "--test", "x509_source"])
        .args(["--test", "jwt_source", "--test", "jwt_authority_policy"])
        .args(["--", "--ignored"])
        // One target directory for every caller: built once.
        .env("CARGO_TARGET_DIR", tmp().join("spiffe-acceptance-target"))
        // No debug info: 0.5 GB of build instead of 1.8.
        .env("CARGO_PROFILE_DEV_DEBUG", "0")
        .env("CARGO_PROFILE_TEST_DEBUG", "0")
        .env(
            "SPIFFE_ENDPOINT_SOCKET",
            format!("unix://{}", socket.display()),
        )
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS");
    let (ok, text) = run(cmd);
    let log = tmp().join(format!("{name}.log"));
    std::fs::write(&log, &text).unwrap();
    let (passed, failed) = totals(&text);
    assert!(
        ok && failed == 0 && passed == SPIFFE_TESTS,
        "spiffe crate: {passed} passed, {failed} failed ({SPIFFE_TESTS} expected); \
         full output in {}\n{}",
        log.display(),
        tail(&text)
    );
}

/// The venv's python with py-spiffe installed.
fn pyspiffe_python() -> PathBuf {
    let venv = tmp().join("pyspiffe-venv");
    let python = venv.join("bin").join("python");
    if !python.is_file() {
        let mut c = Command::new("python3");
        c.args(["-m", "venv"]).arg(&venv);
        let (ok, text) = run(c);
        assert!(ok, "python3 -m venv: {text}");
    }
    let mut c = Command::new(&python);
    c.args(["-m", "pip", "install", "-q", "spiffe==0.3.2"]);
    let (ok, text) = run(c);
    assert!(ok, "pip install spiffe==0.3.2: {text}");
    python
}

/// Runs `pyspiffe_check.py` with `endpoint` from `cwd`; panics unless
/// every check passed.
pub fn pyspiffe_check(endpoint: &str, cwd: &Path) {
    let python = pyspiffe_python();
    // Both crates sit in crates/: the script is found from either.
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../workload-api/tests/it/pyspiffe_check.py");
    let mut cmd = Command::new(&python);
    cmd.arg(script)
        .current_dir(cwd)
        .env("SPIFFE_ENDPOINT_SOCKET", endpoint);
    let (ok, text) = run(cmd);
    assert!(ok && text.contains(PYSPIFFE_OK), "py-spiffe:\n{text}");
}

#[test]
fn test_result_lines_are_summed() {
    let text = "test result: ok. 14 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 1.0s\n\
                noise\n\
                test result: FAILED. 20 passed; 3 failed; 0 ignored; 0 measured; 0 filtered out; finished in 2.0s\n";
    assert_eq!(totals(text), (34, 3));
}
