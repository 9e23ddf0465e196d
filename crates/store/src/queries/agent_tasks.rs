//! Live tasks (pending or active) by what ends them: an agent removed or
//! disabled, a delegator offboarded. Unlike the listing queries these have
//! no limit, because every live task must end, however many there are.

use super::agents::task_from_row;
use super::storable;
use crate::conn::params;
use crate::{ReadTx, StoreError, TaskRow};

impl ReadTx {
    /// Every pending or active task of the agent `agent_id`, oldest first.
    pub async fn live_tasks_of_agent(
        &mut self,
        agent_id: &str,
    ) -> Result<Vec<TaskRow>, StoreError> {
        if !storable(agent_id) {
            return Ok(Vec::new());
        }
        self.db()?
            .query_all(
                "SELECT * FROM tasks WHERE agent_id = $1 AND status IN ('pending', 'active')
                 ORDER BY created_ms, id",
                params![agent_id],
                task_from_row,
            )
            .await
    }

    /// Every pending or active task `person_id` delegated, oldest first.
    pub async fn live_tasks_delegated_by(
        &mut self,
        person_id: &str,
    ) -> Result<Vec<TaskRow>, StoreError> {
        if !storable(person_id) {
            return Ok(Vec::new());
        }
        self.db()?
            .query_all(
                "SELECT * FROM tasks WHERE delegator_id = $1 AND status IN ('pending', 'active')
                 ORDER BY created_ms, id",
                params![person_id],
                task_from_row,
            )
            .await
    }

    /// How many tasks of the agent `agent_id` wait for an approval.
    pub async fn count_pending_tasks_of_agent(
        &mut self,
        agent_id: &str,
    ) -> Result<i64, StoreError> {
        if !storable(agent_id) {
            return Ok(0);
        }
        Ok(self
            .db()?
            .query_opt(
                "SELECT COUNT(*) AS n FROM tasks WHERE agent_id = $1 AND status = 'pending'",
                params![agent_id],
                |r| r.int("n"),
            )
            .await?
            .unwrap_or(0))
    }
}
