//! Who is calling: the kernel's word on the peer of the Unix socket
//! (`SO_PEERCRED`: uid, gid, pid), turned into selectors.
//!
//! - `unix:uid:<n>` and `unix:gid:<n>` come straight from the credentials
//!   the kernel recorded when the caller connected.
//! - `unix:path:<exe>` is `readlink /proc/<pid>/exe`. A pid can be reused
//!   after its process exits, so the process start time
//!   (`/proc/<pid>/stat`, field 22) is read before and after the link; when
//!   they differ, or either read fails, the caller gets no path selector (it
//!   may still match entries by uid/gid). What this cannot rule out is the
//!   connecting process itself calling `exec` on another binary and
//!   handing the socket to a child: the path then names the new binary.
//!   A path selector is therefore only as strong as the uid boundary around
//!   it; docs/manual/workload-api.md says to pair it with a uid selector.
//!   An agent not running as root can read only its own uid's
//!   `/proc/<pid>/exe`: other callers get no path selector.

use tokio::net::unix::UCred;

/// The caller's selectors, in a fixed order (uid, gid, path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The caller's effective uid.
    pub uid: u32,
    /// Selectors to match entries with.
    pub selectors: Vec<String>,
}

impl Caller {
    /// From the socket peer's credentials; reads `/proc` for the path.
    pub fn from_cred(cred: &UCred) -> Caller {
        let mut selectors = vec![
            format!("unix:uid:{}", cred.uid()),
            format!("unix:gid:{}", cred.gid()),
        ];
        if let Some(path) = cred.pid().and_then(exe_path) {
            selectors.push(format!("unix:path:{path}"));
        }
        Caller {
            uid: cred.uid(),
            selectors,
        }
    }
}

/// `/proc/<pid>/exe`, when the same process (same start time) was there
/// before and after the read.
fn exe_path(pid: i32) -> Option<String> {
    if pid <= 0 {
        return None;
    }
    let before = start_time(pid)?;
    let link = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    let after = start_time(pid)?;
    if before != after {
        return None;
    }
    link.into_os_string().into_string().ok()
}

/// Field 22 of `/proc/<pid>/stat` (start time in clock ticks since boot).
fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_start_time(&stat)
}

/// The command name (field 2) is in parentheses and may itself contain
/// spaces and parentheses: fields are counted after the last `)`.
pub(crate) fn parse_start_time(stat: &str) -> Option<u64> {
    let (_, rest) = stat.rsplit_once(')')?;
    // After `)`: field 3 (state) is the first; field 22 is the 20th.
    rest.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::parse_start_time;

    #[test]
    fn the_start_time_is_counted_after_the_last_parenthesis() {
        // A command name with spaces and a `)`: naive splitting would shift
        // every field.
        let stat =
            "42 (evil) 1 2 3) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        assert_eq!(parse_start_time(stat), Some(987_654));
        assert_eq!(parse_start_time("42 (x) S 1"), None);
        assert_eq!(parse_start_time("no parenthesis"), None);
    }
}
