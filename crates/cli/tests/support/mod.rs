//! The real `keybound` binary on a port of its own with a temporary SQLite
//! database, and its admin CLI on the same data: what the end-to-end and
//! browser tests drive.
#![allow(dead_code)]

pub mod http;
pub mod tls;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_keybound");

pub struct Server {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
    rp_id: String,
    origin: String,
    /// A shared database (PostgreSQL) instead of the data directory's file.
    database_url: Option<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Serves on `listen` (port 0: any) for `rp_id` and `origin`.
    pub fn start_on(listen: &str, rp_id: &str, origin: &str, extra: &[&str]) -> Server {
        Server::start_with_database(listen, rp_id, origin, None, extra)
    }

    /// One node of several on the database at `url`.
    pub fn node(url: &str, extra: &[&str]) -> Server {
        Server::start_with_database(
            "127.0.0.1:0",
            http::RP_ID,
            http::ORIGIN,
            Some(url.to_owned()),
            extra,
        )
    }

    fn start_with_database(
        listen: &str,
        rp_id: &str,
        origin: &str,
        database_url: Option<String>,
        extra: &[&str],
    ) -> Server {
        let dir = tempfile::tempdir().unwrap();
        Server::launch(dir, listen, rp_id, origin, database_url, extra)
    }

    /// Serves the data directory `dir` (the test's RP ID and origin).
    pub fn start_in(dir: tempfile::TempDir, extra: &[&str]) -> Server {
        Server::launch(dir, "127.0.0.1:0", http::RP_ID, http::ORIGIN, None, extra)
    }

    fn launch(
        dir: tempfile::TempDir,
        listen: &str,
        rp_id: &str,
        origin: &str,
        database_url: Option<String>,
        extra: &[&str],
    ) -> Server {
        let mut child = Command::new(BIN)
            .args([
                "serve", "--listen", listen, "--rp-id", rp_id, "--origin", origin,
            ])
            .args(database_url.iter().flat_map(|u| ["--database-url", u]))
            // An https origin spoken to in plain HTTP, as if a TLS proxy
            // were in front: said explicitly, or the start is refused.
            .args(
                origin
                    .starts_with("https://")
                    .then_some("--allow-insecure-origin"),
            )
            .args(extra)
            .arg("--data-dir")
            .arg(dir.path())
            .env_remove("KEYBOUND_DATABASE_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let port = first
            .split("127.0.0.1:")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .expect("the first line names the address")
            .parse()
            .unwrap();
        Server {
            child,
            port,
            dir,
            rp_id: rp_id.to_owned(),
            origin: origin.to_owned(),
            database_url,
        }
    }

    /// SIGKILL: no shutdown, no flushing, as a crash or an OOM kill.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Sends the signal `name` (`TERM`, `INT`, `HUP`) to the server.
    pub fn signal(&self, name: &str) {
        let sent = Command::new("kill")
            .args(["-s", name, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -s {name}");
    }

    /// The server's exit status once it has exited, waiting up to `limit`;
    /// `None` if it is still running then.
    pub fn exit_within(&mut self, limit: std::time::Duration) -> Option<std::process::ExitStatus> {
        let started = std::time::Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if started.elapsed() > limit {
                return None;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Runs the admin CLI on this server's data; (success, stdout). The
    /// server's RP ID and origin come as a shared environment gives them:
    /// the commands that print links (`admin invite`) read them, the others
    /// take no such flags.
    pub fn cli(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new(BIN)
            .args(args)
            .env("KEYBOUND_RP_ID", &self.rp_id)
            .env("KEYBOUND_ORIGIN", &self.origin)
            .arg("--data-dir")
            .arg(self.dir.path())
            .args(
                self.database_url
                    .iter()
                    .flat_map(|u| ["--database-url", u.as_str()]),
            )
            .output()
            .unwrap();
        if !out.status.success() {
            // Said when a test fails on it: why the command refused.
            eprintln!(
                "keybound {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }
}

/// A `--policy-dir` holding `policies` as `apps.cedar`: routes behind
/// forward-auth are denied until a policy permits them. Keep it as long as
/// the server that reads it.
pub fn policy_dir(policies: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("apps.cedar"), policies).unwrap();
    dir
}

/// Policies for the app on `host`: everyone signed in may use it; its
/// `/admin` wants a sign-in at tier 3 (the shape `docs/manual/policy.md`
/// shows).
pub fn app_policies(host: &str) -> String {
    format!(
        r#"@id("app-everyone")
permit (principal, action in Keybound::Action::"http", resource in Keybound::App::"{host}");
@id("app-admin-tier3")
forbid (principal, action, resource in Keybound::App::"{host}")
  when {{ resource.path like "/admin*" && context.tier < 3 }};
"#
    )
}

impl Server {
    /// Starts the server again on the same data (directory, database) with
    /// `extra`, as an operator restarts it after a crash; a new port.
    pub fn restart(&mut self, extra: &[&str]) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        let fresh = Server::launch(
            dir,
            "127.0.0.1:0",
            &self.rp_id.clone(),
            &self.origin.clone(),
            self.database_url.clone(),
            extra,
        );
        // The old value's child is already reaped; dropping it is harmless.
        drop(std::mem::replace(self, fresh));
    }
}
