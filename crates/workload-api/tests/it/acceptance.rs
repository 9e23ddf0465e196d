//! The published SPIFFE clients, unchanged, against our Workload API:
//!
//! - the `spiffe` crate 0.19's own `#[ignore]`d integration tests (61:
//!   `workload_api_client`, `x509_source`, `jwt_source`,
//!   `jwt_authority_policy`), which expect what SPIRE's `run-spire.sh` sets
//!   up (see [`World::spire_like`]). Its source comes from the cargo
//!   registry (this crate's dev-dependency on `spiffe = "=0.19.0"` makes
//!   cargo download it), copied under `target/tmp` and run there with its
//!   own target directory, so nothing of it is committed;
//! - py-spiffe (`spiffe==0.3.2` from PyPI, into a venv under `target/tmp`)
//!   running `pyspiffe_check.py`.
//!
//! Both need the network on their first run (crates.io, PyPI), like the
//! other acceptance tests that fetch their clients.

use std::path::{Path, PathBuf};
use std::process::Command;

use keybound_workload_api::Limits;

use crate::fixture::{start_workload_api, Running, World};

const SPIFFE_CRATE: &str = "spiffe-0.19.0";
/// `x509_source` and `jwt_source` each have a `test_custom_endpoint` that
/// dials this fixed path (SPIRE's default): it is pointed at our socket.
const SPIRE_DEFAULT_SOCKET: &str = "/tmp/spire-agent/public/api.sock";

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

/// Runs a blocking command while the Workload API keeps serving; returns
/// (success, stdout + stderr).
async fn run(mut cmd: Command) -> (bool, String) {
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// The end of a long output, for a failure message.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(80)..].join("\n")
}

/// Sums `test result:` lines: (passed, failed).
fn totals(text: &str) -> (u32, u32) {
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

async fn serve_spire_like() -> Running {
    let world = World::new();
    start_workload_api(world.spire_like(), world.jwt.clone(), Limits::default()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_spiffe_crates_integration_tests_pass() {
    let running = serve_spire_like().await;
    point_spire_default_socket_at(&running.socket);

    let copy = tmp().join("spiffe-acceptance").join(SPIFFE_CRATE);
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
        .env("CARGO_TARGET_DIR", tmp().join("spiffe-acceptance-target"))
        // No debug info: 0.5 GB of build instead of 1.8.
        .env("CARGO_PROFILE_DEV_DEBUG", "0")
        .env("CARGO_PROFILE_TEST_DEBUG", "0")
        .env(
            "SPIFFE_ENDPOINT_SOCKET",
            format!("unix://{}", running.socket.display()),
        )
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS");
    let (ok, text) = run(cmd).await;
    let log = tmp().join("spiffe-acceptance.log");
    std::fs::write(&log, &text).unwrap();
    let (passed, failed) = totals(&text);
    assert!(
        ok && failed == 0 && passed == 61,
        "spiffe crate: {passed} passed, {failed} failed (61 expected); full output in {}\n{}",
        log.display(),
        tail(&text)
    );
    running.shutdown().await;
}

/// The venv's python with py-spiffe installed.
async fn pyspiffe_python() -> PathBuf {
    let venv = tmp().join("pyspiffe-venv");
    let python = venv.join("bin").join("python");
    if !python.is_file() {
        let mut c = Command::new("python3");
        c.args(["-m", "venv"]).arg(&venv);
        let (ok, text) = run(c).await;
        assert!(ok, "python3 -m venv: {text}");
    }
    let mut c = Command::new(&python);
    c.args(["-m", "pip", "install", "-q", "spiffe==0.3.2"]);
    let (ok, text) = run(c).await;
    assert!(ok, "pip install spiffe==0.3.2: {text}");
    python
}

/// Runs `pyspiffe_check.py` with `endpoint` from `cwd`.
async fn pyspiffe_check(endpoint: &str, cwd: &Path) {
    let python = pyspiffe_python().await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/pyspiffe_check.py");
    let mut cmd = Command::new(&python);
    cmd.arg(script)
        .current_dir(cwd)
        .env("SPIFFE_ENDPOINT_SOCKET", endpoint);
    let (ok, text) = run(cmd).await;
    assert!(
        ok && text.contains("pyspiffe ok: 14 checks"),
        "py-spiffe:\n{text}"
    );
}

/// gRPC C-core (grpcio >= 1.57, py-spiffe's transport) sends the socket
/// path, percent-encoded, as `:authority` (`tmp%2F.tmpXYZ%2Fapi.sock`);
/// the server rewrites it (`server/authority`), or h2 would reset every
/// stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn py_spiffe_fetches_and_validates() {
    let running = serve_spire_like().await;
    let endpoint = format!("unix://{}", running.socket.display());
    pyspiffe_check(&endpoint, Path::new("/")).await;
    running.shutdown().await;
}

/// A relative endpoint (plain authority `api.sock`) works too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn py_spiffe_with_a_relative_socket_path() {
    let running = serve_spire_like().await;
    pyspiffe_check("unix:api.sock", running.dir.path()).await;
    running.shutdown().await;
}

#[test]
fn test_result_lines_are_summed() {
    let text = "test result: ok. 14 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 1.0s\n\
                noise\n\
                test result: FAILED. 20 passed; 3 failed; 0 ignored; 0 measured; 0 filtered out; finished in 2.0s\n";
    assert_eq!(totals(text), (34, 3));
}
