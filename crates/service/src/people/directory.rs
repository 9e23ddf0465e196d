//! The console's list of people: a name search and pages by name, so the
//! page stays small however many people there are; and one person.

use crate::people::PersonByName;
use keybound_store::{Credential, Identity};

use crate::{Actor, Service, ServiceError};

/// The most people one page lists.
pub const MAX_PEOPLE_PAGE: usize = 200;

/// Which people a console page lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeopleQuery {
    /// Names containing this, ignoring case (`None` or empty: everyone).
    pub name_contains: Option<String>,
    /// Names after this one (the [`PeoplePage::next`] of the page before).
    pub after: Option<String>,
    /// At most this many (1 to [`MAX_PEOPLE_PAGE`]).
    pub limit: usize,
}

/// One page of people, by name, each with their credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeoplePage {
    /// The people.
    pub people: Vec<(Identity, Vec<Credential>)>,
    /// When more match: the `after` that shows them.
    pub next: Option<String>,
}

impl Service {
    /// A page of people for the console. A search longer than any name
    /// matches nobody.
    pub async fn people_page(
        &self,
        _viewer: Actor<'_>,
        query: &PeopleQuery,
    ) -> Result<PeoplePage, ServiceError> {
        let limit = query.limit.clamp(1, MAX_PEOPLE_PAGE);
        let needle = query
            .name_contains
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_lowercase);
        if needle.as_ref().is_some_and(|n| n.chars().count() > 64) {
            return Ok(PeoplePage::default());
        }
        let mut tx = self.kernel.store.read().await?;
        // Byte order here, whatever the database's collation, so the
        // `after` cursor pages the same way on SQLite and PostgreSQL.
        let mut everyone = tx.identities().await?;
        // People, not the devices they enrolled (issue 16).
        everyone.retain(|i| i.kind == keybound_store::IdentityKind::Person);
        everyone.sort_by(|a, b| a.name.cmp(&b.name));
        let mut matching = everyone.into_iter().filter(|i| {
            query.after.as_ref().is_none_or(|after| i.name > *after)
                && needle
                    .as_ref()
                    .is_none_or(|n| i.name.to_lowercase().contains(n.as_str()))
        });
        let mut page = PeoplePage::default();
        for identity in matching.by_ref().take(limit) {
            let credentials = tx.credentials_of(&identity.id).await?;
            page.people.push((identity, credentials));
        }
        if matching.next().is_some() {
            page.next = page.people.last().map(|(i, _)| i.name.clone());
        }
        Ok(page)
    }

    /// One person and their credentials. Unknown name:
    /// [`ServiceError::NotFound`].
    pub async fn person(
        &self,
        _viewer: Actor<'_>,
        name: &str,
    ) -> Result<(Identity, Vec<Credential>), ServiceError> {
        let mut tx = self.kernel.store.read().await?;
        let identity = tx
            .person_by_name(name)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let credentials = tx.credentials_of(&identity.id).await?;
        Ok((identity, credentials))
    }
}
