//! Challenges: the server side of an issued ceremony, single use across
//! every node, and the housekeeping that removes what expired.

use crate::conn::{params, Param};
use crate::model::Challenge;
use crate::rows::challenge_from_row;
use crate::{ReadTx, StoreError, WriteTx};

impl ReadTx {
    /// The unused, unexpired challenge `challenge_hash` issued to this
    /// session for `ceremony`, without consuming it (a sign-in verifies the
    /// signature before it takes the challenge, outside the writer).
    pub async fn peek_challenge(
        &mut self,
        challenge_hash: &[u8],
        session_hash: &[u8],
        ceremony: &str,
        now_ms: i64,
    ) -> Result<Option<Challenge>, StoreError> {
        self.db()?
            .query_opt(
                "SELECT challenge_hash, session_hash, ceremony, payload, expires_ms
                 FROM challenges
                 WHERE challenge_hash = $1 AND session_hash = $2 AND ceremony = $3
                   AND used = FALSE AND expires_ms > $4",
                params![challenge_hash, session_hash, ceremony, now_ms],
                challenge_from_row,
            )
            .await
    }

    /// How many challenges are outstanding (issued, unanswered, unexpired)
    /// on every node: what the total bound on pending challenges counts.
    pub async fn count_live_challenges(&mut self, now_ms: i64) -> Result<u64, StoreError> {
        let n = self
            .db()?
            .query_opt(
                "SELECT COUNT(*) AS n FROM challenges WHERE expires_ms > $1",
                params![now_ms],
                |r| r.int("n"),
            )
            .await?
            .unwrap_or(0);
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Which of `challenge_hashes` are still outstanding (not taken, not
    /// expired), on whichever node they were answered. Asked in fixed-size
    /// rounds so every round is the same prepared statement.
    pub async fn live_challenges_among(
        &mut self,
        challenge_hashes: &[Vec<u8>],
        now_ms: i64,
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        const ROUND: usize = 64;
        let placeholders: Vec<String> = (2..ROUND + 2).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT challenge_hash FROM challenges WHERE expires_ms > $1 AND challenge_hash IN ({})",
            placeholders.join(", ")
        );
        let mut live = Vec::new();
        for round in challenge_hashes.chunks(ROUND) {
            let Some(last) = round.last() else { continue };
            let mut params = vec![Param::from(now_ms)];
            // A short round repeats its last hash: the same statement.
            params.extend(
                round
                    .iter()
                    .chain(std::iter::repeat(last))
                    .take(ROUND)
                    .map(Param::from),
            );
            live.extend(
                self.db()?
                    .query_all(&sql, &params, |r| r.blob("challenge_hash"))
                    .await?,
            );
        }
        Ok(live)
    }
}

impl WriteTx {
    /// Stores an issued ceremony's state.
    pub async fn insert_challenge(&mut self, c: &Challenge) -> Result<(), StoreError> {
        self
            .write()
            .await?
            .execute(
                "INSERT INTO challenges (challenge_hash, session_hash, ceremony, payload, expires_ms)
             VALUES ($1, $2, $3, $4, $5)",
                params![&c.challenge_hash, &c.session_hash, &c.ceremony, &c.payload, c.expires_ms],
            )
            .await?;
        Ok(())
    }

    /// Consumes a challenge: only an unused, unexpired one issued to this
    /// session for this ceremony, and only once, even with many nodes racing
    /// (the check and the removal are one statement; a taken challenge is
    /// gone, so the table holds only the ones still outstanding).
    pub async fn take_challenge(
        &mut self,
        challenge_hash: &[u8],
        session_hash: &[u8],
        ceremony: &str,
        now_ms: i64,
    ) -> Result<Option<Challenge>, StoreError> {
        self.write()
            .await?
            .query_opt(
                "DELETE FROM challenges
                 WHERE challenge_hash = $1 AND session_hash = $2 AND ceremony = $3
               AND used = FALSE AND expires_ms > $4
             RETURNING challenge_hash, session_hash, ceremony, payload, expires_ms",
                params![challenge_hash, session_hash, ceremony, now_ms],
                challenge_from_row,
            )
            .await
    }

    /// Removes challenges that expired unanswered and sessions that ended
    /// or expired: nothing reads them again (the audit chain keeps the
    /// record). Returns how many rows went.
    pub async fn purge_expired(&mut self, now_ms: i64) -> Result<u64, StoreError> {
        let challenges = self
            .write()
            .await?
            .execute(
                "DELETE FROM challenges WHERE expires_ms <= $1",
                params![now_ms],
            )
            .await?;
        let sessions = self
            .write()
            .await?
            .execute(
                "DELETE FROM sessions WHERE expires_ms <= $1 OR ended_ms IS NOT NULL",
                params![now_ms],
            )
            .await?;
        // A used value is kept until it expires, so a replay before then is
        // still recognised as one.
        let single_use = self
            .write()
            .await?
            .execute(
                "DELETE FROM single_use WHERE expires_ms <= $1",
                params![now_ms],
            )
            .await?;
        Ok(challenges + sessions + single_use)
    }
}
