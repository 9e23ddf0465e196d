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
/// which must not exist, and syncs it to disk. The file is created first,
/// readable by its owner only (it holds names, addresses, the enumeration
/// secret and session hashes), and in one step with the check that it is
/// new, so nothing written there in between is overwritten. Runs beside a server on the
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
    let Some(dest_text) = dest.to_str() else {
        return Err(StoreError::Backend(format!(
            "{}: not a UTF-8 path",
            dest.display()
        )));
    };
    create_private(dest).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => StoreError::Backend(format!(
            "{} exists: a backup never overwrites a file",
            dest.display()
        )),
        _ => StoreError::Backend(format!("{}: {e}", dest.display())),
    })?;
    let copied = copy_into(source, dest, dest_text);
    if copied.is_err() {
        // Ours, and empty or half written: not left to pass for a backup.
        let _ = std::fs::remove_file(dest);
    }
    copied
}

/// Creates `path`, which must not exist, empty and readable and writable
/// by its owner only (whatever the umask allows beyond that).
pub fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

fn copy_into(source: &Path, dest: &Path, dest_text: &str) -> Result<(), StoreError> {
    // Read-write without create: a read-only connection to a WAL database
    // fails when no server left its shared-memory file behind.
    let db = rusqlite::Connection::open_with_flags(
        source,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // A read transaction waits for no writer in WAL mode; this only covers
    // a server's brief exclusive moments (opening, migrating).
    db.busy_timeout(Duration::from_secs(10))?;
    // SQLite writes into an existing file only when it is empty: ours.
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

/// How many audit events the SQLite file at `path` holds, once it is
/// known to be a keybound database: read without creating, migrating or
/// otherwise changing it. An empty file, a text file or another
/// program's database is refused ([`StoreError::Backend`] saying why)
/// rather than opened with [`crate::Store::open`], which would create
/// keybound's schema in it and call it a database with no events. Every
/// server records its start, so a real backup has at least one.
pub async fn inspect_sqlite(path: &Path) -> Result<u64, StoreError> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || inspect(&path))
        .await
        .map_err(|e| StoreError::Backend(e.to_string()))?
}

fn inspect(path: &Path) -> Result<u64, StoreError> {
    let refuse = |why: &str| StoreError::Backend(format!("{}: {why}", path.display()));
    match std::fs::metadata(path) {
        Ok(meta) if meta.len() == 0 => {
            return Err(refuse("an empty file, not a keybound database"))
        }
        Ok(_) => {}
        Err(e) => return Err(refuse(&e.to_string())),
    }
    let Some(text) = path.to_str() else {
        return Err(refuse("not a UTF-8 path"));
    };
    // `immutable`: no lock, no log, no shared-memory file is made or read
    // for a file nothing else writes. A URI, so its specials are escaped.
    let uri = format!(
        "file:{}?immutable=1",
        text.replace('%', "%25")
            .replace('?', "%3f")
            .replace('#', "%23")
    );
    let db = rusqlite::Connection::open_with_flags(
        uri,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
            | rusqlite::OpenFlags::SQLITE_OPEN_URI
            | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| refuse(&format!("cannot open it read-only: {e}")))?;
    let tables: i64 = db
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' \
             AND name IN ('_sqlx_migrations', 'audit_events', 'identities')",
            [],
            |r| r.get(0),
        )
        .map_err(|e| refuse(&format!("not a SQLite database ({e})")))?;
    if tables != 3 {
        return Err(refuse(
            "a SQLite database without keybound's tables: not a keybound database",
        ));
    }
    let events: i64 = db
        .query_row("SELECT count(*) FROM audit_events", [], |r| r.get(0))
        .map_err(|e| refuse(&e.to_string()))?;
    if events < 1 {
        return Err(refuse(
            "no audit events (every keybound server records its start): \
             not a backup of a keybound database",
        ));
    }
    u64::try_from(events).map_err(|e| refuse(&e.to_string()))
}
