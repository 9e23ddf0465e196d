//! `keybound backup FILE` and `keybound restore FILE`: a consistent copy
//! of a live SQLite database, checked before it is called a backup, and
//! its way back into place. The store crate makes the copy (`VACUUM
//! INTO`); here it is judged — its audit chain verified, what it holds
//! counted — and put back with the locks and checks that keep a restore
//! from pulling a database out from under a running server.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use keybound_store::{Durability, Store};

use super::audit::verify_chain;
use crate::lifecycle::DatabaseLock;
use crate::settings::{redact_password, Sources, StoreSettings};

/// Copy the live database to FILE (SQLite; PostgreSQL: use pg_dump) and
/// verify the copy's audit chain.
#[derive(Args, Debug)]
pub(crate) struct Backup {
    #[command(flatten)]
    store: StoreSettings,
    /// Where to write the copy; must not exist.
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

/// Put a backup in place of the database (no server may be running on it).
#[derive(Args, Debug)]
pub(crate) struct Restore {
    #[command(flatten)]
    store: StoreSettings,
    /// A file `keybound backup` wrote.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Replace an existing database.
    #[arg(long)]
    force: bool,
}

/// What a checked copy holds.
struct Contents {
    events: u64,
    identities: usize,
}

impl Backup {
    /// Copies, then verifies the copy.
    pub(crate) async fn run(self, sources: &Sources) -> Result<ExitCode, String> {
        let store = sources.resolve(self.store)?;
        let url = store.located_url()?;
        if keybound_store::sqlite_file(&url).is_none() && url.starts_with("postgres") {
            return Err(format!(
                "{} is PostgreSQL: back it up with pg_dump (for example \
                 `pg_dump --format=custom --file=keybound.dump DBNAME`)",
                redact_password(&url)
            ));
        }
        // Never a backup of an empty database made up on the spot.
        crate::app::existing_database(&store).await?;
        keybound_store::backup_sqlite(&url, &self.file)
            .await
            .map_err(|e| format!("backup to {}: {e}", self.file.display()))?;
        let contents = check(&self.file).await.map_err(|e| {
            format!(
                "{} was written but is not a good backup: {e}",
                self.file.display()
            )
        })?;
        println!(
            "backed up {} to {}: {} audit events verified, {} identities",
            redact_password(&url),
            self.file.display(),
            contents.events,
            contents.identities
        );
        Ok(ExitCode::SUCCESS)
    }
}

impl Restore {
    /// Verifies a copy of FILE beside the database, then moves it in.
    pub(crate) async fn run(self, sources: &Sources) -> Result<ExitCode, String> {
        let url = sources.resolve(self.store)?.database_url()?;
        let Some(db) = keybound_store::sqlite_file(&url) else {
            return Err(format!(
                "{} is not a SQLite file: restore a PostgreSQL dump with pg_restore",
                redact_password(&url)
            ));
        };
        if !self.file.is_file() {
            return Err(format!("{}: no such backup file", self.file.display()));
        }
        let _lock = DatabaseLock::restoring(&db)?;
        if db.exists() && !self.force {
            return Err(format!(
                "{} exists: pass --force to replace it with {}",
                db.display(),
                self.file.display()
            ));
        }
        let staged = sibling(&db, ".restoring");
        remove_database(&staged)?;
        stage(&self.file, &staged)?;
        let contents = match check(&staged).await {
            Ok(contents) => contents,
            Err(e) => {
                let _ = remove_database(&staged);
                return Err(format!("{} is not a good backup: {e}", self.file.display()));
            }
        };
        // The replaced database's log and shared memory would be read as
        // the new file's: they go first. The database itself is replaced
        // in one rename, so a crash leaves the old file or the new one,
        // never none (which the next `serve` would fill with an empty
        // database).
        remove_sidecars(&db)?;
        std::fs::rename(&staged, &db)
            .map_err(|e| format!("cannot move the backup into {}: {e}", db.display()))?;
        let _ = remove_sidecars(&staged);
        if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
        }
        println!(
            "restored {} to {}: {} audit events verified, {} identities",
            self.file.display(),
            db.display(),
            contents.events,
            contents.identities
        );
        Ok(ExitCode::SUCCESS)
    }
}

/// Checks, read-only, that the SQLite file `path` is a keybound database
/// with audit events; then opens it, verifies its audit chain and counts
/// its identities; closes it again with its log checkpointed away.
async fn check(path: &Path) -> Result<Contents, String> {
    keybound_store::inspect_sqlite(path)
        .await
        .map_err(|e| e.to_string())?;
    let url = format!("sqlite://{}", path.display());
    let store = Store::open_with(&url, Durability::Full)
        .await
        .map_err(|e| e.to_string())?;
    let events = match verify_chain(&store).await.map_err(|e| e.to_string())? {
        Ok(events) => events,
        Err(broken) => return Err(format!("its audit chain is BROKEN: {broken}")),
    };
    let identities = store
        .read()
        .await
        .map_err(|e| e.to_string())?
        .identities()
        .await
        .map_err(|e| e.to_string())?
        .len();
    store.close().await.map_err(|e| e.to_string())?;
    Ok(Contents { events, identities })
}

/// `path` with `suffix` appended to its file name.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Copies `backup` to `staged`, which is created new and private to its
/// owner: the copy holds what the live database does.
fn stage(backup: &Path, staged: &Path) -> Result<(), String> {
    let mut from = std::fs::File::open(backup)
        .map_err(|e| format!("cannot read {}: {e}", backup.display()))?;
    let mut to = keybound_store::create_private(staged)
        .map_err(|e| format!("cannot create {}: {e}", staged.display()))?;
    std::io::copy(&mut from, &mut to)
        .and_then(|_| to.sync_all())
        .map_err(|e| format!("cannot copy {}: {e}", backup.display()))?;
    Ok(())
}

/// Removes a SQLite database file with its log and shared memory, those
/// that exist.
fn remove_database(db: &Path) -> Result<(), String> {
    remove_sidecars(db)?;
    remove(db)
}

/// Removes a SQLite database's log and shared memory, those that exist.
fn remove_sidecars(db: &Path) -> Result<(), String> {
    remove(&sibling(db, "-wal"))?;
    remove(&sibling(db, "-shm"))
}

/// Removes `file` if it exists.
fn remove(file: &Path) -> Result<(), String> {
    match std::fs::remove_file(file) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("cannot remove {}: {e}", file.display())),
    }
}
