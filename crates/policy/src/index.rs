//! The index that keeps a decision's cost flat: Cedar's authorizer
//! evaluates every policy it is given, so each request is decided over
//! only the policies whose scope could match it.
//!
//! A policy's scope names at most one resource entity it is `==` or `in`
//! (`resource in Keybound::App::"app.example.com"`), and its actions. A
//! request's resource can only be `==` or `in` itself and the entities it
//! is in (a route: its app), so a policy keyed on any other entity cannot
//! match and is left out; a policy whose resource scope names no entity
//! (`resource`, `resource is Keybound::Route`) is kept for every request
//! of its actions. Leaving out policies that cannot match changes no
//! answer (tests compare with Cedar over the whole set).

use std::borrow::Cow;
use std::collections::HashMap;

use cedar_policy::{
    ActionConstraint, Entities, EntityUid, Policy, PolicySet, ResourceConstraint, Schema,
};

use crate::request::Types;

/// Policies by action, and by (resource entity, action).
pub(crate) struct Index {
    /// Per action: the policies that apply whatever the resource.
    always: HashMap<String, PolicySet>,
    /// Per (entity, action): those plus the ones keyed on the entity.
    keyed: HashMap<(EntityUid, String), PolicySet>,
    /// Per (entity, action): only the ones keyed on the entity, to combine
    /// when a request matches two keys (a route named exactly, and its app).
    own: HashMap<(EntityUid, String), Vec<Policy>>,
}

impl Index {
    pub(crate) fn build(
        all: &PolicySet,
        schema: &Schema,
        actions: &Entities,
        types: &Types,
    ) -> Result<Index, String> {
        let names: Vec<EntityUid> = schema
            .actions()
            .filter(|a| a.type_name() == &types.action)
            .cloned()
            .collect();
        let mut always: HashMap<String, Vec<Policy>> = HashMap::new();
        let mut own: HashMap<(EntityUid, String), Vec<Policy>> = HashMap::new();
        for policy in all.policies() {
            let matched: Vec<&EntityUid> = names
                .iter()
                .filter(|a| action_matches(&policy.action_constraint(), a, actions))
                .collect();
            let key = match policy.resource_constraint() {
                ResourceConstraint::Eq(uid)
                | ResourceConstraint::In(uid)
                | ResourceConstraint::IsIn(_, uid) => Some(uid),
                ResourceConstraint::Any | ResourceConstraint::Is(_) => None,
            };
            for action in matched {
                let name = action.id().unescaped().to_owned();
                match &key {
                    Some(uid) => own.entry((uid.clone(), name)).or_default(),
                    None => always.entry(name).or_default(),
                }
                .push(policy.clone());
            }
        }
        let set = |policies: &[&Vec<Policy>]| -> Result<PolicySet, String> {
            PolicySet::from_policies(policies.iter().flat_map(|l| l.iter().cloned()))
                .map_err(|e| e.to_string())
        };
        let empty = Vec::new();
        let mut keyed = HashMap::new();
        for (key, list) in &own {
            let base = always.get(&key.1).unwrap_or(&empty);
            keyed.insert(key.clone(), set(&[base, list])?);
        }
        let mut always_sets = HashMap::new();
        for action in &names {
            let name = action.id().unescaped().to_owned();
            let list = always.get(&name).unwrap_or(&empty);
            always_sets.insert(name, set(&[list])?);
        }
        Ok(Index {
            always: always_sets,
            keyed,
            own,
        })
    }

    /// The policies that could decide `action` on `resource` (which is in
    /// `parent`, if anything): a prebuilt set, or one built for a request
    /// that matches two keys (a route named exactly, and its app).
    pub(crate) fn select(
        &self,
        action: &str,
        resource: &EntityUid,
        parent: Option<&EntityUid>,
    ) -> Option<Cow<'_, PolicySet>> {
        let own_key = (resource.clone(), action.to_owned());
        let parent_key = parent.map(|p| (p.clone(), action.to_owned()));
        let on_resource = self.own.contains_key(&own_key);
        let on_parent = parent_key
            .as_ref()
            .is_some_and(|k| self.own.contains_key(k));
        match (on_resource, on_parent, &parent_key) {
            (true, true, Some(pk)) => {
                let policies = self
                    .always
                    .get(action)?
                    .policies()
                    .chain(self.own.get(&own_key).into_iter().flatten())
                    .chain(self.own.get(pk).into_iter().flatten())
                    .cloned();
                PolicySet::from_policies(policies).ok().map(Cow::Owned)
            }
            (true, _, _) => self.keyed.get(&own_key).map(Cow::Borrowed),
            (false, true, Some(pk)) => self.keyed.get(pk).map(Cow::Borrowed),
            _ => self.always.get(action).map(Cow::Borrowed),
        }
    }
}

/// Whether `action` satisfies a policy's action scope: equal to it, or to
/// one of the listed actions or a group (`http`) it is in.
fn action_matches(constraint: &ActionConstraint, action: &EntityUid, actions: &Entities) -> bool {
    let is_or_in = |target: &EntityUid| {
        target == action
            || actions
                .ancestors(action)
                .is_some_and(|mut up| up.any(|a| a == target))
    };
    match constraint {
        ActionConstraint::Any => true,
        ActionConstraint::Eq(target) => target == action,
        ActionConstraint::In(targets) => targets.iter().any(is_or_in),
    }
}
