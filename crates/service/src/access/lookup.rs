//! The principal a policy sees, looked up by name: what `keybound policy
//! check` asks the seam about.

use super::AccessPrincipal;
use crate::{policy, Actor, IdentityStatus, Service, ServiceError};

impl Service {
    /// `name` as the seam sees it (groups from its role, active or not),
    /// read-only. Unknown name: [`ServiceError::NotFound`].
    pub async fn access_principal(
        &self,
        _viewer: Actor<'_>,
        name: &str,
    ) -> Result<AccessPrincipal, ServiceError> {
        let mut tx = self.kernel.store.read().await?;
        let identity = tx
            .identity_by_name(name)
            .await?
            .ok_or(ServiceError::NotFound)?;
        Ok(AccessPrincipal {
            id: identity.id.clone(),
            kind: identity.kind,
            name: identity.name.clone(),
            groups: vec![policy::group_of(identity.is_admin).to_owned()],
            active: identity.status == IdentityStatus::Active,
        })
    }
}
