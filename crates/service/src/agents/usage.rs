//! Task uses, audited aggregated. Every request a task token makes through
//! forward-auth is counted in the task's row inside that request's own
//! transaction (`tasks.uses`, which `task.end`/`task.expire` report); the
//! audit log gets one `task.use` event per task per flush per node with
//! the count since the last one, not one per request: an agent making a
//! thousand calls a minute must not write a thousand audit events.

use std::collections::HashMap;
use std::sync::Mutex;

use keybound_audit::{NewEvent, Outcome};

use crate::record::Record;
use crate::{ClientContext, EventKind, Service, ServiceError};

/// Tasks a node keeps counts for between flushes; past it, a new task's
/// uses are still counted in its row, only not in this minute's event.
const MAX_COUNTED_TASKS: usize = 10_000;

/// One task's uses on this node since the last flush.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Uses {
    agent: String,
    delegator: String,
    count: u64,
}

/// The agents context's state on this node.
#[derive(Default)]
pub(crate) struct Agents {
    uses: Mutex<HashMap<String, Uses>>,
    /// Forward-auth refusals of task tokens audited this minute, per
    /// client address (bounded as the OIDC provider's are).
    pub(crate) refusals: Mutex<crate::oidc::RefusalWindow>,
}

impl Agents {
    /// Counts one use of `task` (its agent's and delegator's names).
    pub(crate) fn count_use(&self, task: &str, agent: &str, delegator: Option<&str>) {
        let mut uses = self.uses.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(known) = uses.get_mut(task) {
            known.count = known.count.saturating_add(1);
            return;
        }
        if uses.len() >= MAX_COUNTED_TASKS {
            return;
        }
        uses.insert(
            task.to_owned(),
            Uses {
                agent: agent.to_owned(),
                delegator: delegator.unwrap_or("-").to_owned(),
                count: 1,
            },
        );
    }

    /// Takes every count, leaving none.
    fn take(&self) -> HashMap<String, Uses> {
        std::mem::take(&mut *self.uses.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Puts counts back (a flush that could not be written).
    fn restore(&self, taken: HashMap<String, Uses>) {
        let mut uses = self.uses.lock().unwrap_or_else(|e| e.into_inner());
        for (task, back) in taken {
            uses.entry(task)
                .and_modify(|u| u.count = u.count.saturating_add(back.count))
                .or_insert(back);
        }
    }
}

impl Service {
    /// Writes one `task.use` event per task used on this node since the
    /// last flush (details `task`, `agent`, `delegator`, `count`), in one
    /// transaction; the jobs runner calls it every minute. Returns how
    /// many events it wrote. When the write fails the counts are kept for
    /// the next flush.
    pub async fn flush_task_uses(&self) -> Result<usize, ServiceError> {
        let taken = self.agents.take();
        if taken.is_empty() {
            return Ok(0);
        }
        let written = async {
            let mut tx = self.kernel.store.begin().await?;
            let mut sorted: Vec<_> = taken.iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(b.0));
            for (task, uses) in sorted {
                let mut event: NewEvent = self.event(EventKind::TaskUse, &ClientContext::default());
                event.outcome = Some(Outcome::Success);
                event.subject = Some(uses.agent.clone());
                event.subject_kind = Some("agent".into());
                for (name, value) in [
                    ("task", task.clone()),
                    ("agent", uses.agent.clone()),
                    ("delegator", uses.delegator.clone()),
                    ("count", uses.count.to_string()),
                ] {
                    event.details.insert(name.into(), value);
                }
                tx.record(event).await?;
            }
            tx.commit().await?;
            Ok::<usize, ServiceError>(taken.len())
        }
        .await;
        match written {
            Ok(n) => Ok(n),
            Err(e) => {
                self.agents.restore(taken);
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uses_add_up_per_task_and_are_taken_once() {
        let agents = Agents::default();
        agents.count_use("t1", "bot", Some("alice"));
        agents.count_use("t1", "bot", Some("alice"));
        agents.count_use("t2", "bot", None);
        let taken = agents.take();
        assert_eq!(taken.get("t1").map(|u| u.count), Some(2));
        assert_eq!(taken.get("t2").map(|u| u.delegator.as_str()), Some("-"));
        assert!(agents.take().is_empty(), "taken once");
        agents.count_use("t1", "bot", Some("alice"));
        agents.restore(taken);
        assert_eq!(agents.take().get("t1").map(|u| u.count), Some(3));
    }
}
