//! A throwaway PostgreSQL server for tests and benchmarks: `initdb` in a
//! temporary directory, `pg_ctl start` on a free localhost port, trust
//! authentication, and stopped (and removed) when the process that started
//! it ends, even if that process is killed or panics.
//!
//! PostgreSQL refuses to run as root, so as root the server commands run as
//! the `postgres` user (`runuser`). Binaries are found in
//! `$KEYBOUND_PG_BIN_DIR`, `/usr/lib/postgresql/15/bin`, or the newest
//! `/usr/lib/postgresql/*/bin`. Without any, [`shared`] prints a loud
//! banner and returns `None` so the caller can skip, except under `CI`,
//! where it panics: CI installs PostgreSQL and must run these tests.

// Test support: failing loudly (a panic in the test that asked) is the
// contract when a server that exists will not start.
#![allow(clippy::panic)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// A running PostgreSQL server owned by this process.
#[derive(Debug)]
pub struct Postgres {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    as_postgres: bool,
    next_db: AtomicU32,
}

/// Settings for test servers: durability off, since tests check behaviour
/// (the benchmarks start their own server with the defaults).
pub const FAST: &[&str] = &[
    "fsync=off",
    "full_page_writes=off",
    "synchronous_commit=off",
];

/// The server shared by every test of this process, started on first use
/// with [`FAST`] settings. `None` (after a loud banner naming `test`) when
/// no PostgreSQL server binary exists; panics under `CI`, or when a server
/// binary exists but will not start.
pub fn shared(test: &str) -> Option<&'static Postgres> {
    static SERVER: OnceLock<Option<Postgres>> = OnceLock::new();
    let server = SERVER.get_or_init(|| {
        bin_dir()
            .map(|bin| Postgres::start_in(bin, FAST).unwrap_or_else(|e| panic!("PostgreSQL: {e}")))
    });
    if server.is_none() {
        let message = "no PostgreSQL server binary (install Debian's `postgresql` or set KEYBOUND_PG_BIN_DIR)";
        if std::env::var_os("CI").is_some() {
            panic!("{message}: the PostgreSQL tests must run in CI");
        }
        // Straight to the terminal: the test harness captures eprintln!.
        let _ = writeln!(
            std::io::stderr(),
            "\n{bar}\n!!! SKIPPING {test} on PostgreSQL: {message}\n{bar}",
            bar = "!".repeat(78)
        );
    }
    server.as_ref()
}

/// Where the PostgreSQL server binaries are, if anywhere.
pub fn bin_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("KEYBOUND_PG_BIN_DIR") {
        return Some(PathBuf::from(dir));
    }
    let preferred = PathBuf::from("/usr/lib/postgresql/15/bin");
    if preferred.join("initdb").exists() {
        return Some(preferred);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    found.sort_by_key(|bin| {
        bin.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found.pop()
}

impl Postgres {
    /// Starts a server of its own with `settings` (`name=value`, passed as
    /// `-c`); it stops when dropped or when this process ends.
    pub fn start(settings: &[&str]) -> Result<Postgres, String> {
        let bin = bin_dir().ok_or("no PostgreSQL server binary")?;
        Postgres::start_in(bin, settings)
    }

    fn start_in(bin: PathBuf, settings: &[&str]) -> Result<Postgres, String> {
        let as_postgres = is_root();
        let dir = tempfile::Builder::new()
            .prefix("keybound-pg-")
            .tempdir()
            .map_err(|e| e.to_string())?
            .keep();
        if as_postgres {
            chown_to_postgres(&dir)?;
        }
        let data = dir.join("data");
        let server = |tool: &str| {
            let mut cmd = if as_postgres {
                let mut c = Command::new("runuser");
                c.args(["-u", "postgres", "--"]).arg(bin.join(tool));
                c
            } else {
                Command::new(bin.join(tool))
            };
            cmd.current_dir(&dir);
            cmd
        };
        run(server("initdb").arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ]))?;
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port()?;
            let mut options = format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200",
                dir.display()
            );
            for s in settings {
                options.push_str(" -c ");
                options.push_str(s);
            }
            let started = run(server("pg_ctl")
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(dir.join("server.log"))
                .args(["-w", "-t", "60", "-o", &options, "start"]));
            match started {
                Ok(()) => {
                    let pg = Postgres {
                        bin,
                        dir,
                        port,
                        as_postgres,
                        next_db: AtomicU32::new(0),
                    };
                    pg.stop_when_this_process_ends()?;
                    return Ok(pg);
                }
                Err(e) => last = e,
            }
        }
        Err(format!("pg_ctl start failed: {last}"))
    }

    /// The TCP port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of database `name` on this server.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Creates a new empty database and returns its URL: each test gets
    /// its own.
    pub fn fresh_database(&self) -> String {
        let n = self.next_db.fetch_add(1, Ordering::Relaxed);
        let name = format!("kb_{}_{n}", std::process::id());
        let created = run(Command::new(self.bin.join("createdb"))
            .args(["-h", "127.0.0.1", "-U", "postgres", "-p"])
            .arg(self.port.to_string())
            .arg(&name));
        if let Err(e) = created {
            panic!("createdb {name}: {e}");
        }
        self.url(&name)
    }

    /// A watchdog that stops the server and removes its directory once
    /// this process is gone, however it ended.
    fn stop_when_this_process_ends(&self) -> Result<(), String> {
        // In a session of its own (`setsid`), so killing the test's process
        // group does not take the watchdog with it; a zombie counts as gone.
        let script = format!(
            "while kill -0 {pid} 2>/dev/null && [ \"$(cut -d' ' -f3 /proc/{pid}/stat 2>/dev/null)\" != Z ]; \
             do sleep 0.5; done; {stop}; rm -rf '{dir}'",
            pid = std::process::id(),
            stop = self.stop_command(),
            dir = self.dir.display(),
        );
        Command::new("setsid")
            .args(["sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map(|_| ())
            .map_err(|e| format!("watchdog: {e}"))
    }

    fn stop_command(&self) -> String {
        let pg_ctl = self.bin.join("pg_ctl");
        let data = self.dir.join("data");
        let stop = format!(
            "'{}' -D '{}' -m immediate stop",
            pg_ctl.display(),
            data.display()
        );
        if self.as_postgres {
            format!("runuser -u postgres -- {stop}")
        } else {
            stop
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = Command::new("sh")
            .args(["-c", &self.stop_command()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// A TCP port on 127.0.0.1 free at the time of the call.
pub fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

fn is_root() -> bool {
    id(&["-u"]).is_some_and(|uid| uid == "0")
}

fn id(args: &[&str]) -> Option<String> {
    let out = Command::new("id").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn chown_to_postgres(dir: &Path) -> Result<(), String> {
    let uid = id(&["-u", "postgres"]).and_then(|u| u.parse().ok());
    let gid = id(&["-g", "postgres"]).and_then(|g| g.parse().ok());
    let (Some(uid), Some(gid)) = (uid, gid) else {
        return Err("running as root and there is no `postgres` user to run the server".into());
    };
    std::os::unix::fs::chown(dir, Some(uid), Some(gid)).map_err(|e| e.to_string())
}
