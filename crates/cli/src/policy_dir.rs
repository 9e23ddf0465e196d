//! Reading `--policy-dir`: its `*.cedar` files, bounded before they are
//! read, in name order, loaded with the defaults; and the fingerprint
//! (names, sizes, modification times) the reload job compares each second.

use std::io::Read;
use std::path::Path;
use std::time::SystemTime;

use keybound_service::policies::{PolicySet, MAX_POLICY_FILES, MAX_POLICY_FILE_BYTES};

/// The policy files of `dir`, sorted by name, with their size and mtime.
pub(crate) type Fingerprint = Vec<(String, u64, Option<SystemTime>)>;

fn cedar_files(dir: &Path) -> Result<Fingerprint, String> {
    let shown = dir.display();
    let entries = std::fs::read_dir(dir).map_err(|e| format!("policy directory {shown}: {e}"))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("policy directory {shown}: {e}"))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".cedar") || name.starts_with('.') {
            continue;
        }
        let meta = std::fs::metadata(entry.path())
            .map_err(|e| format!("policy {}: {e}", entry.path().display()))?;
        if !meta.is_file() {
            continue;
        }
        files.push((name, meta.len(), meta.modified().ok()));
        if files.len() > MAX_POLICY_FILES {
            return Err(format!(
                "policy directory {shown}: more than {MAX_POLICY_FILES} policy files"
            ));
        }
    }
    files.sort();
    Ok(files)
}

/// What the reload job compares: changed means reload.
pub(crate) fn fingerprint(dir: &Path) -> Result<Fingerprint, String> {
    cedar_files(dir)
}

/// The defaults and `dir`'s policies, validated; the error names the file
/// (with the directory) and the problem.
pub(crate) fn load(dir: Option<&Path>) -> Result<PolicySet, String> {
    let Some(dir) = dir else {
        return PolicySet::defaults().map_err(|e| format!("default policies: {e}"));
    };
    let mut sources = Vec::new();
    for (name, len, _) in cedar_files(dir)? {
        let path = dir.join(&name);
        if len > MAX_POLICY_FILE_BYTES as u64 {
            return Err(format!(
                "policy {}: {len} bytes; at most {MAX_POLICY_FILE_BYTES}",
                path.display()
            ));
        }
        // Read at most one byte past the bound: a file that grew since it
        // was listed is still refused (by the load), never read whole.
        let mut text = String::new();
        std::fs::File::open(&path)
            .and_then(|f| {
                f.take(MAX_POLICY_FILE_BYTES as u64 + 1)
                    .read_to_string(&mut text)
            })
            .map_err(|e| format!("policy {}: {e}", path.display()))?;
        sources.push((name, text));
    }
    let borrowed: Vec<(&str, &str)> = sources
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    PolicySet::load(&borrowed).map_err(|e| {
        if e.file.is_empty() || e.file.starts_with("defaults/") {
            format!("policy directory {}: {e}", dir.display())
        } else {
            format!("policy {}: {}", dir.join(&e.file).display(), e.problem)
        }
    })
}

/// How often the reload job looks at the directory.
pub(crate) const RELOAD_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Reloads the policies when the directory changes: a valid set replaces
/// the one in use (audited with its hash); an invalid one is refused,
/// logged and audited, and the last valid set stays.
pub(crate) struct ReloadPolicies {
    pub(crate) service: std::sync::Arc<keybound_service::Service>,
    pub(crate) dir: std::path::PathBuf,
    /// What the set in use (or the last refused one) was loaded from.
    pub(crate) seen: Result<Fingerprint, String>,
}

impl crate::jobs::Job for ReloadPolicies {
    async fn run(&mut self) {
        let now = fingerprint(&self.dir);
        if now == self.seen {
            return;
        }
        self.seen = now;
        let shown = self.dir.display().to_string();
        match load(Some(&self.dir)) {
            Ok(set) => {
                let hash = set.hash().to_owned();
                let policies = set.len();
                match self
                    .service
                    .install_policies(set, keybound_service::PolicyLoad::Reload, Some(&shown))
                    .await
                {
                    Ok(()) => tracing::info!(dir = %shown, policies, hash, "policies reloaded"),
                    Err(e) => tracing::warn!(
                        error = %e,
                        "policy reload not recorded, so not applied; the last valid set stays"
                    ),
                }
            }
            Err(error) => {
                tracing::warn!(
                    error = %error,
                    "policy reload refused; the last valid set stays"
                );
                if let Err(e) = self.service.record_policy_refused(&error).await {
                    tracing::warn!(error = %e, "cannot record the refused policy reload");
                }
            }
        }
    }
}
