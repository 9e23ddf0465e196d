//! What `serve` does besides serving: stop on SIGTERM or SIGINT, reload
//! its certificate on SIGHUP or when the files change, and hold the lock
//! that tells `restore` a server is using the database.

use std::fs::File;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use keybound_server::Tls;
use rustix::fs::{flock, FlockOperation};
use tokio::signal::unix::{signal, SignalKind};

/// How often the certificate files are looked at for a change.
const TLS_POLL: Duration = Duration::from_secs(2);

/// Completes on the first SIGTERM (what systemd and Kubernetes send) or
/// SIGINT (Ctrl-C). Both handlers are installed now, before anything is
/// served, so an early signal is not lost.
pub(crate) fn stop_signal() -> Result<impl Future<Output = &'static str>, String> {
    let mut term = signal(SignalKind::terminate()).map_err(|e| format!("SIGTERM: {e}"))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| format!("SIGINT: {e}"))?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        }
    })
}

/// Reloads `tls` on SIGHUP and whenever its files change, for as long as
/// the runtime runs. A pair that does not load is logged, and the
/// certificate served so far stays. Without TLS, SIGHUP (a habitual
/// `systemctl reload`) is logged and otherwise ignored rather than
/// killing the server, its default action.
pub(crate) fn on_hangup(tls: Option<Tls>) -> Result<(), String> {
    let mut hup = signal(SignalKind::hangup()).map_err(|e| format!("SIGHUP: {e}"))?;
    let Some(tls) = tls else {
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                tracing::info!("SIGHUP: nothing to reload (no --tls-cert)");
            }
        });
        return Ok(());
    };
    tokio::spawn(async move {
        let mut poll = tokio::time::interval(TLS_POLL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let outcome = tokio::select! {
                _ = hup.recv() => tls.reload().map(|()| true),
                _ = poll.tick() => tls.reload_if_changed(),
            };
            let cert = tls.files().cert.display();
            match outcome {
                Ok(true) => tracing::info!(cert = %cert, "TLS certificate reloaded"),
                Ok(false) => {}
                Err(e) => tracing::error!(
                    error = %e,
                    "TLS certificate not reloaded; still serving the previous one"
                ),
            }
        }
    });
    Ok(())
}

/// A lock on `<database>.lock` beside a SQLite database: shared by every
/// `serve` on it for the server's life, exclusive for a `restore`. Admin
/// commands run against a live database by design and do not take it.
/// The kernel drops the lock when its holder exits, however it exits.
#[derive(Debug)]
pub(crate) struct DatabaseLock {
    _file: File,
}

impl DatabaseLock {
    /// The lock file for the database file `db`.
    pub(crate) fn path(db: &Path) -> PathBuf {
        let mut name = db.as_os_str().to_owned();
        name.push(".lock");
        PathBuf::from(name)
    }

    /// Taken by `serve`; fails while a restore is writing the database.
    pub(crate) fn serving(db: &Path) -> Result<Self, String> {
        Self::take(db, FlockOperation::NonBlockingLockShared).map_err(|e| {
            format!(
                "{}: {e} (is `keybound restore` replacing the database?)",
                db.display()
            )
        })
    }

    /// Taken by `restore`; fails while any server runs on the database.
    pub(crate) fn restoring(db: &Path) -> Result<Self, String> {
        Self::take(db, FlockOperation::NonBlockingLockExclusive).map_err(|e| {
            format!(
                "{}: {e}: a server is running on it; stop it before restoring",
                db.display()
            )
        })
    }

    fn take(db: &Path, how: FlockOperation) -> Result<Self, String> {
        let path = Self::path(db);
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        flock(&file, how).map_err(|e| format!("locked ({e})"))?;
        Ok(DatabaseLock { _file: file })
    }
}
