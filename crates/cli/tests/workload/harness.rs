//! The real `keybound node` binary against an upstream, and workload
//! processes under other uids.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use super::child::ROLE;

pub const BIN: &str = env!("CARGO_BIN_EXE_keybound");

/// A running `keybound node`.
pub struct NodeAgent {
    child: Child,
    pub socket: PathBuf,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

impl Drop for NodeAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl NodeAgent {
    /// Starts the agent with `servers` and join token `token`, and waits
    /// for its socket.
    pub fn start(servers: &[String], token: &str) -> NodeAgent {
        let data = tempfile::tempdir().unwrap();
        // Workloads of other uids reach the socket through this directory.
        let run = tempfile::tempdir().unwrap();
        std::fs::set_permissions(run.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let socket = run.path().join("api.sock");
        let mut command = Command::new(BIN);
        command
            .arg("node")
            .args(servers.iter().flat_map(|s| ["--server", s.as_str()]))
            .arg("--socket")
            .arg(&socket)
            .arg("--data-dir")
            .arg(data.path())
            .args(["--sync-interval", "1"])
            .env("KEYBOUND_JOIN_TOKEN", token)
            .env("KEYBOUND_LOG", "info")
            .stdin(Stdio::null());
        let child = command.spawn().unwrap();
        let agent = NodeAgent {
            child,
            socket,
            _dirs: (data, run),
        };
        wait_for(Duration::from_secs(20), "the agent's socket", || {
            agent.socket.exists()
        });
        agent
    }

    /// Sends `kill -s name` (`STOP`, `CONT`) to the agent.
    pub fn signal(&self, name: &str) {
        let sent = Command::new("kill")
            .args(["-s", name, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -s {name}");
    }
}

/// Polls `done` every 100 ms until it holds, or panics after `limit`.
pub fn wait_for(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A workload process (this test binary as `uid`).
pub struct Workload {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

impl Drop for Workload {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Workload {
    pub fn spawn(role: &str, uid: u32, socket: &Path) -> Workload {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "workload_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
                "-q",
            ])
            .env(ROLE, role)
            .env(
                "SPIFFE_ENDPOINT_SOCKET",
                format!("unix:{}", socket.display()),
            )
            .uid(uid)
            .gid(uid)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.strip_prefix("@@ ") {
                    if tx.send(rest.to_owned()).is_err() {
                        break;
                    }
                }
            }
        });
        Workload {
            child,
            stdin,
            lines,
        }
    }

    /// The next answer line.
    pub fn next(&self) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(30))
            .expect("the workload answered")
    }

    /// Sends `command`, returns the answer.
    pub fn ask(&mut self, command: &str) -> String {
        writeln!(self.stdin, "{command}").unwrap();
        self.stdin.flush().unwrap();
        self.next()
    }
}
