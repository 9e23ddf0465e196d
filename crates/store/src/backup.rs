//! A consistent copy of a live SQLite database. Copying `keybound.db` with
//! `cp` misses what is still in its write-ahead log (`keybound.db-wal`):
//! recent commits, acknowledged to their callers, silently absent from the
//! copy. `VACUUM INTO` instead writes what one read transaction sees —
//! database and log together, as of one moment — into a new file, while
//! the server goes on writing. PostgreSQL has `pg_dump` for this.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::backend::{sqlite_path, Backend};
use crate::StoreError;

/// The file a `sqlite:` URL names; `None` for an in-memory database or
/// another backend.
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    if Backend::of(url).ok()? != Backend::Sqlite {
        return None;
    }
    let path = sqlite_path(url);
    (path != ":memory:" && !path.is_empty()).then(|| PathBuf::from(path))
}

/// Writes a consistent copy of the SQLite database at `url` to `dest`,
/// which must not exist, and syncs it to disk. Runs beside a server on the
/// same database: the copy is what was committed when it began.
///
/// Errors: `url` is not a SQLite file ([`StoreError::Backend`] saying to
/// use `pg_dump` for PostgreSQL), `dest` exists, or SQLite failed.
pub async fn backup_sqlite(url: &str, dest: &Path) -> Result<(), StoreError> {
    let Some(source) = sqlite_file(url) else {
        return Err(StoreError::Backend(
            match Backend::of(url)? {
                Backend::Postgres => "a PostgreSQL database is backed up with pg_dump",
                Backend::Sqlite => "an in-memory database has nothing to back up",
            }
            .into(),
        ));
    };
    if !source.exists() {
        return Err(StoreError::Backend(format!(
            "no database at {}",
            source.display()
        )));
    }
    let dest = dest.to_owned();
    tokio::task::spawn_blocking(move || vacuum_into(&source, &dest))
        .await
        .map_err(|e| StoreError::Backend(e.to_string()))?
}

fn vacuum_into(source: &Path, dest: &Path) -> Result<(), StoreError> {
    if dest.exists() {
        return Err(StoreError::Backend(format!(
            "{} exists: a backup never overwrites a file",
            dest.display()
        )));
    }
    let Some(dest_text) = dest.to_str() else {
        return Err(StoreError::Backend(format!(
            "{}: not a UTF-8 path",
            dest.display()
        )));
    };
    // Read-write without create: a read-only connection to a WAL database
    // fails when no server left its shared-memory file behind.
    let db = rusqlite::Connection::open_with_flags(
        source,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // A read transaction waits for no writer in WAL mode; this only covers
    // a server's brief exclusive moments (opening, migrating).
    db.busy_timeout(Duration::from_secs(10))?;
    db.execute("VACUUM INTO ?1", [dest_text])?;
    drop(db);
    // VACUUM INTO does not sync what it wrote: a backup that a power cut
    // can empty is not one.
    std::fs::File::open(dest)
        .and_then(|f| f.sync_all())
        .map_err(|e| StoreError::Backend(format!("{}: {e}", dest.display())))?;
    if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}
