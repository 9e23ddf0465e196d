//! Identities: who credentials bind to, found by id, by user handle, or
//! by name under the naming rule (`keybound_names`).

use keybound_names::IndexKeys;

use super::{inserted, storable};
use crate::conn::params;
use crate::model::{Identity, IdentityStatus};
use crate::rows::identity_from_row;
use crate::{ReadTx, StoreError, WriteTx};

impl ReadTx {
    /// The identity a person means by `name`: the one stored with exactly
    /// that name if any (names stored before the naming rule keep working
    /// as typed), else the one whose look-up key is `name`'s (`ADA`, `ａｄａ`
    /// and `ada` find `ada`). Input longer than any name is not looked up.
    pub async fn identity_by_name(&mut self, name: &str) -> Result<Option<Identity>, StoreError> {
        if !storable(name) {
            return Ok(None);
        }
        let Some(key) = keybound_names::lookup_key(name) else {
            return Ok(None);
        };
        self.db()?
            .query_opt(
                "SELECT * FROM identities WHERE name = $1 OR name_key = $2
                 ORDER BY CASE WHEN name = $3 THEN 0 ELSE 1 END LIMIT 1",
                params![name, &key, name],
                identity_from_row,
            )
            .await
    }

    /// An identity that `name` would collide with:
    /// [`ReadTx::identity_by_name`]'s, or else one whose name looks like it
    /// (equal TR39 skeleton). What a new name must not meet.
    pub async fn identity_resembling(
        &mut self,
        name: &str,
    ) -> Result<Option<Identity>, StoreError> {
        if !storable(name) {
            return Ok(None);
        }
        let Some(key) = keybound_names::lookup_key(name) else {
            return Ok(None);
        };
        let skeleton = keybound_names::skeleton(&key);
        self.db()?
            .query_opt(
                "SELECT * FROM identities WHERE name = $1 OR name_key = $2 OR name_skeleton = $3
                 ORDER BY CASE WHEN name = $4 THEN 0 WHEN name_key = $5 THEN 1 ELSE 2 END
                 LIMIT 1",
                params![name, &key, &skeleton, name, &key],
                identity_from_row,
            )
            .await
    }

    /// Whether an identity holds `value` in the name index `column`
    /// (`name_key` or `name_skeleton`).
    async fn name_index_taken(&mut self, column: &str, value: &str) -> Result<bool, StoreError> {
        let sql = match column {
            "name_key" => "SELECT id FROM identities WHERE name_key = $1",
            _ => "SELECT id FROM identities WHERE name_skeleton = $1",
        };
        Ok(self
            .db()?
            .query_opt(sql, params![value], |r| r.text("id"))
            .await?
            .is_some())
    }

    /// Every identity, by name.
    pub async fn identities(&mut self) -> Result<Vec<Identity>, StoreError> {
        self.db()?
            .query_all(
                "SELECT * FROM identities ORDER BY name",
                params![],
                identity_from_row,
            )
            .await
    }

    /// How many identities are active administrators: the count that
    /// must not reach zero by a demotion or a suspension.
    pub async fn count_active_admins(&mut self) -> Result<u64, StoreError> {
        let n = self
            .db()?
            .query_opt(
                "SELECT COUNT(*) AS n FROM identities WHERE is_admin = $1 AND status = 'active'",
                params![true],
                |r| r.int("n"),
            )
            .await?
            .unwrap_or(0);
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The identity with this id.
    pub async fn identity_by_id(&mut self, id: &str) -> Result<Option<Identity>, StoreError> {
        self.db()?
            .query_opt(
                "SELECT * FROM identities WHERE id = $1",
                params![id],
                identity_from_row,
            )
            .await
    }

    /// The identity owning this WebAuthn user handle.
    pub async fn identity_by_user_handle(
        &mut self,
        handle: &[u8],
    ) -> Result<Option<Identity>, StoreError> {
        self.db()?
            .query_opt(
                "SELECT * FROM identities WHERE user_handle = $1",
                params![handle],
                identity_from_row,
            )
            .await
    }
}

impl WriteTx {
    /// Adds an identity, indexed by its name's look-up key and skeleton
    /// (`keybound_names`). [`StoreError::Conflict`] when the name, a
    /// spelling of it, a look-alike (equal skeleton) or the user handle is
    /// taken: the unique indexes decide, so the check holds across nodes.
    pub async fn insert_identity(&mut self, identity: &Identity) -> Result<(), StoreError> {
        let keys = IndexKeys::of(&identity.name);
        let done = self
            .write()
            .await?
            .execute(
                "INSERT INTO identities (id, name, status, is_admin, user_handle, created_ms,
                 name_key, name_skeleton, kind)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT DO NOTHING",
                params![
                    &identity.id,
                    &identity.name,
                    identity.status.as_str(),
                    identity.is_admin,
                    &identity.user_handle,
                    identity.created_ms,
                    &keys.key,
                    &keys.skeleton,
                    identity.kind.as_str()
                ],
            )
            .await?;
        inserted(done)
    }

    /// Gives every identity stored without a look-up key or skeleton (rows
    /// from before the naming rule) the ones it can have, oldest first: a
    /// key or skeleton an older identity holds stays NULL, and that row is
    /// found by its exact name only. Idempotent; runs when the store opens,
    /// under the writer lock, so nodes starting together agree. Returns how
    /// many rows it keyed.
    pub(crate) async fn key_identity_names(&mut self) -> Result<u64, StoreError> {
        let pending = self
            .db()?
            .query_all(
                "SELECT id, name, name_key, name_skeleton FROM identities
                 WHERE name_key IS NULL OR name_skeleton IS NULL
                 ORDER BY created_ms, id",
                params![],
                |r| {
                    Ok((
                        r.text("id")?,
                        r.text("name")?,
                        r.opt_text("name_key")?,
                        r.opt_text("name_skeleton")?,
                    ))
                },
            )
            .await?;
        let mut keyed = 0;
        for (id, name, had_key, had_skeleton) in pending {
            let keys = IndexKeys::of(&name);
            let key = match (had_key, keys.key) {
                (Some(k), _) => Some(k),
                (None, Some(k)) if !self.name_index_taken("name_key", &k).await? => Some(k),
                _ => None,
            };
            let skeleton = match (had_skeleton, keys.skeleton) {
                (Some(s), _) => Some(s),
                (None, Some(s)) if !self.name_index_taken("name_skeleton", &s).await? => Some(s),
                _ => None,
            };
            if key.is_none() && skeleton.is_none() {
                continue;
            }
            keyed += self
                .write()
                .await?
                .execute(
                    "UPDATE identities SET name_key = $1, name_skeleton = $2 WHERE id = $3",
                    params![&key, &skeleton, &id],
                )
                .await?;
        }
        Ok(keyed)
    }

    /// Sets an identity's status.
    pub async fn set_identity_status(
        &mut self,
        id: &str,
        status: IdentityStatus,
    ) -> Result<bool, StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "UPDATE identities SET status = $1 WHERE id = $2",
                params![status.as_str(), id],
            )
            .await?;
        Ok(done == 1)
    }

    /// Grants or withdraws the admin role.
    pub async fn set_admin(&mut self, identity_id: &str, admin: bool) -> Result<bool, StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "UPDATE identities SET is_admin = $1 WHERE id = $2",
                params![admin, identity_id],
            )
            .await?;
        Ok(done == 1)
    }
}
