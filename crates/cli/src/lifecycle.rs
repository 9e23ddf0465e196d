//! What `serve` does besides serving: stop on SIGTERM or SIGINT (unready
//! first, then drained, within a hard grace), reload
//! its certificate on SIGHUP or when the files change, and hold the lock
//! that tells `restore` a server is using the database.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use keybound_server::{Readiness, Tls};
use rustix::fs::{flock, FlockOperation};
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::oneshot;
use tokio::task::{JoinError, JoinHandle};

/// How often the certificate files are looked at for a change.
const TLS_POLL: Duration = Duration::from_secs(2);

/// SIGTERM (what systemd and Kubernetes send) and SIGINT (Ctrl-C). Both
/// handlers are installed when this is made, before anything is served,
/// so an early signal is not lost.
pub(crate) struct StopSignals {
    term: Signal,
    int: Signal,
}

impl StopSignals {
    /// Installs the handlers: from now on these signals no longer end the
    /// process by themselves.
    pub(crate) fn install() -> Result<Self, String> {
        Ok(StopSignals {
            term: signal(SignalKind::terminate()).map_err(|e| format!("SIGTERM: {e}"))?,
            int: signal(SignalKind::interrupt()).map_err(|e| format!("SIGINT: {e}"))?,
        })
    }

    /// The next stop signal's name.
    pub(crate) async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}

/// How a node stops once told to.
pub(crate) struct Stop {
    /// Turned off at the signal.
    pub(crate) readiness: Readiness,
    /// Unready but still serving, before the listener closes.
    pub(crate) delay: Duration,
    /// The whole stop, from the signal, delay included.
    pub(crate) grace: Duration,
}

/// Waits for a stop signal, then stops: `/readyz` answers 503 at once,
/// requests are still accepted and served for `stop.delay` (long enough
/// for a load balancer polling `/readyz` to move away), then `close`
/// fires, and `drain` (a task of its own: the listener closed, running
/// requests finished, jobs stopped, the database flushed) ends the stop.
///
/// The grace is a hard limit, counted from the signal: past it the
/// process exits with status 1 there and then, whatever is still running
/// or blocked (a thread in a synchronous SQLite call would otherwise hold
/// the runtime's teardown forever). A second stop signal during the stop
/// does the same at once. Both say so on stderr, so a supervisor's log
/// shows that requests may have been cut off.
pub(crate) async fn stop_on_signal(
    mut signals: StopSignals,
    stop: Stop,
    close: oneshot::Sender<()>,
    mut drain: JoinHandle<Result<(), String>>,
) -> Result<ExitCode, String> {
    let which = tokio::select! {
        which = signals.next() => which,
        // The server ended by itself: an error.
        done = &mut drain => return finished(done),
    };
    stop.readiness.stop();
    tracing::info!(
        signal = which,
        delay_s = stop.delay.as_secs(),
        "stopping: /readyz unready; serving on until the delay is over"
    );
    let drained = async {
        tokio::time::sleep(stop.delay).await;
        tracing::info!("stopping: listener closed; finishing running requests");
        let _ = close.send(());
        (&mut drain).await
    };
    tokio::select! {
        done = drained => finished(done),
        again = signals.next() => exit_now(&format!(
            "{again} while stopping: exiting at once with requests unfinished"
        )),
        () = tokio::time::sleep(stop.grace) => exit_now(&format!(
            "still stopping after {}s (--shutdown-grace): exiting with requests unfinished",
            stop.grace.as_secs()
        )),
    }
}

/// The drain's outcome as the command's.
fn finished(done: Result<Result<(), String>, JoinError>) -> Result<ExitCode, String> {
    done.map_err(|e| format!("the server task failed: {e}"))??;
    Ok(ExitCode::SUCCESS)
}

/// Ends the process with status 1 without waiting for anything: no
/// destructor runs, no thread is joined. The database is left as a killed
/// process leaves it, which SQLite and PostgreSQL recover from.
fn exit_now(why: &str) -> ! {
    eprintln!("keybound: {why}");
    std::process::exit(1)
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
