//! A request as keybound asks it, and its translation into Cedar's
//! entities and context.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use cedar_policy::{
    Context as CedarContext, Entities, Entity, EntityId, EntityTypeName, EntityUid,
    RestrictedExpression,
};

/// The HTTP methods the schema names as actions; any other method is the
/// action `OTHER`.
pub const HTTP_METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE",
];

/// A signed-in identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Its opaque id.
    pub id: String,
    /// `person`, `device`, `workload`, `agent`.
    pub kind: String,
    /// The account name.
    pub name: String,
    /// Its groups (`Keybound::Group` entities it is `in`).
    pub groups: Vec<String>,
    /// `active`, `suspended`...
    pub status: String,
}

/// What is being done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// An HTTP request with this method.
    Http(String),
    /// An OpenID Connect authorization.
    OidcAuthorize,
    /// Using the admin console.
    AdminConsole,
    /// An agent asks for a task on an API (`task:request`).
    TaskRequest,
    /// The task may start without a person's approval (`task:unattended`).
    TaskUnattended,
    /// A person approves an agent's task (`task:approve`).
    TaskApprove,
}

impl Action {
    /// The Cedar action id: the method upper-cased (`OTHER` for methods
    /// the schema does not name), `oidc:authorize`, `admin:console`.
    pub fn cedar_id(&self) -> &str {
        match self {
            Action::Http(method) => HTTP_METHODS
                .iter()
                .find(|m| m.eq_ignore_ascii_case(method))
                .copied()
                .unwrap_or("OTHER"),
            Action::OidcAuthorize => "oidc:authorize",
            Action::AdminConsole => "admin:console",
            Action::TaskRequest => "task:request",
            Action::TaskUnattended => "task:unattended",
            Action::TaskApprove => "task:approve",
        }
    }

    /// Whether this is one of the task actions, decided over a
    /// `TaskContext` (and never answered with a step-up).
    pub fn is_task(&self) -> bool {
        matches!(
            self,
            Action::TaskRequest | Action::TaskUnattended | Action::TaskApprove
        )
    }

    /// The action a name from the command line or a test means: an HTTP
    /// method the schema names, `OTHER`, `oidc:authorize` or
    /// `admin:console`, `task:request`, `task:unattended` or
    /// `task:approve`; anything else is `None`.
    pub fn parse(name: &str) -> Option<Action> {
        match name {
            "oidc:authorize" => Some(Action::OidcAuthorize),
            "admin:console" => Some(Action::AdminConsole),
            "task:request" => Some(Action::TaskRequest),
            "task:unattended" => Some(Action::TaskUnattended),
            "task:approve" => Some(Action::TaskApprove),
            _ if name == "OTHER" || HTTP_METHODS.contains(&name) => {
                Some(Action::Http(name.to_owned()))
            }
            _ => None,
        }
    }
}

/// What it is done to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// A route of an app: host and path.
    Route {
        /// The host (the app).
        host: String,
        /// The path, without the query.
        path: String,
    },
    /// An OpenID Connect client.
    OidcClient {
        /// Its `client_id`.
        client_id: String,
    },
    /// The admin console.
    Console,
    /// An API an agent's task may touch, by its resource URI (RFC 8707).
    Api {
        /// The URI, as the agent asked for it.
        uri: String,
    },
}

/// The facts of the request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Context {
    /// The tier the session proved.
    pub tier: i64,
    /// Whether that sign-in verified the user.
    pub user_verified: bool,
    /// Seconds since that proof.
    pub auth_age_s: i64,
    /// The client's address, when known (an unparsable one is left out).
    pub client_ip: Option<String>,
    /// Now, seconds since the epoch.
    pub now_s: i64,
    /// Whether the backup rule is met.
    pub backup_met: bool,
    /// The deployment's step-up window, seconds.
    pub step_up_window_s: i64,
    /// Whether the session is device-bound (DBSC) and this request proved
    /// it with the live bound cookie (`context.session_bound`).
    pub session_bound: bool,
    /// The device the session was proven on, when it was proven with a
    /// device's credential (`context.device`).
    pub device: Option<crate::DeviceContext>,
    /// The task of the agent's token on a forward-auth request
    /// (`context.task`); `None` for every other request.
    pub task: Option<crate::TaskGrant>,
    /// The task asked for, for the task actions (`task:request`,
    /// `task:unattended`, `task:approve`), which are decided over it,
    /// `tier` (the approving passkey's at `task:approve`, else 0),
    /// `user_verified`, `now_s` and `client_ip`. A task action without it
    /// is denied.
    pub task_request: Option<crate::TaskFacts>,
}

/// One question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Who; `None` without a live session (the answer is then sign in).
    pub principal: Option<Principal>,
    /// What.
    pub action: Action,
    /// To what.
    pub resource: Resource,
    /// In which circumstances.
    pub context: Context,
}

/// The entity type names, parsed once.
pub(crate) struct Types {
    pub(crate) identity: EntityTypeName,
    pub(crate) group: EntityTypeName,
    pub(crate) app: EntityTypeName,
    pub(crate) route: EntityTypeName,
    pub(crate) client: EntityTypeName,
    pub(crate) console: EntityTypeName,
    pub(crate) api: EntityTypeName,
    pub(crate) action: EntityTypeName,
}

impl Types {
    pub(crate) fn new() -> Result<Types, String> {
        let t = |name: &str| EntityTypeName::from_str(name).map_err(|e| e.to_string());
        Ok(Types {
            identity: t("Keybound::Identity")?,
            group: t("Keybound::Group")?,
            app: t("Keybound::App")?,
            route: t("Keybound::Route")?,
            client: t("Keybound::OidcClient")?,
            console: t("Keybound::Console")?,
            api: t("Keybound::Api")?,
            action: t("Keybound::Action")?,
        })
    }

    pub(crate) fn uid(ty: &EntityTypeName, id: &str) -> EntityUid {
        EntityUid::from_type_name_and_id(ty.clone(), EntityId::new(id))
    }

    pub(crate) fn action_uid(&self, action: &Action) -> EntityUid {
        Types::uid(&self.action, action.cedar_id())
    }

    /// The resource's uid and the uids it is `in` (its app), which are the
    /// index keys a request looks up.
    pub(crate) fn resource(&self, resource: &Resource) -> (EntityUid, Option<EntityUid>) {
        match resource {
            Resource::Route { host, path } => (
                Types::uid(&self.route, &format!("{host}{path}")),
                Some(Types::uid(&self.app, host)),
            ),
            Resource::OidcClient { client_id } => (Types::uid(&self.client, client_id), None),
            Resource::Console => (Types::uid(&self.console, "console"), None),
            Resource::Api { uri } => (Types::uid(&self.api, uri), None),
        }
    }
}

fn string(s: &str) -> RestrictedExpression {
    RestrictedExpression::new_string(s.to_owned())
}

/// The principal and resource entities (with the groups and the app they
/// are in) added to the action entities from the schema.
pub(crate) fn entities(
    types: &Types,
    base: &Entities,
    principal: &Principal,
    resource: &Resource,
) -> Result<(EntityUid, Entities), String> {
    let uid = Types::uid(&types.identity, &principal.id);
    let groups: HashSet<EntityUid> = principal
        .groups
        .iter()
        .map(|g| Types::uid(&types.group, g))
        .collect();
    let attrs = HashMap::from([
        ("kind".to_owned(), string(&principal.kind)),
        ("name".to_owned(), string(&principal.name)),
        ("status".to_owned(), string(&principal.status)),
    ]);
    let mut list: Vec<Entity> = groups
        .iter()
        .map(|g| Entity::new_no_attrs(g.clone(), HashSet::new()))
        .collect();
    list.push(Entity::new(uid.clone(), attrs, groups).map_err(|e| e.to_string())?);
    let (resource_uid, parent) = types.resource(resource);
    let resource_entity = match resource {
        Resource::Route { host, path } => Entity::new(
            resource_uid,
            HashMap::from([
                ("host".to_owned(), string(host)),
                ("path".to_owned(), string(path)),
            ]),
            parent.iter().cloned().collect(),
        ),
        Resource::OidcClient { client_id } => Entity::new(
            resource_uid,
            HashMap::from([("client_id".to_owned(), string(client_id))]),
            HashSet::new(),
        ),
        Resource::Console | Resource::Api { .. } => {
            Ok(Entity::new_no_attrs(resource_uid, HashSet::new()))
        }
    }
    .map_err(|e| e.to_string())?;
    list.push(resource_entity);
    if let Some(app) = parent {
        list.push(Entity::new_no_attrs(app, HashSet::new()));
    }
    let entities = base
        .clone()
        .add_entities(list, None)
        .map_err(|e| e.to_string())?;
    Ok((uid, entities))
}

/// The context as Cedar sees it for `action`: a `TaskContext` for the task
/// actions, a `RequestContext` for the others.
pub(crate) fn context(c: &Context, action: &Action) -> Result<CedarContext, String> {
    if action.is_task() {
        return task_context(c);
    }
    let mut pairs = vec![
        ("tier".to_owned(), RestrictedExpression::new_long(c.tier)),
        (
            "user_verified".to_owned(),
            RestrictedExpression::new_bool(c.user_verified),
        ),
        (
            "auth_age_s".to_owned(),
            RestrictedExpression::new_long(c.auth_age_s),
        ),
        ("now_s".to_owned(), RestrictedExpression::new_long(c.now_s)),
        (
            "backup_met".to_owned(),
            RestrictedExpression::new_bool(c.backup_met),
        ),
        (
            "session_bound".to_owned(),
            RestrictedExpression::new_bool(c.session_bound),
        ),
        (
            "step_up_window_s".to_owned(),
            RestrictedExpression::new_long(c.step_up_window_s),
        ),
    ];
    push_client_ip(&mut pairs, c);
    if let Some(device) = &c.device {
        pairs.push(("device".to_owned(), crate::device::record(device)?));
    }
    if let Some(task) = &c.task {
        pairs.push(("task".to_owned(), crate::task::grant_record(task)?));
    }
    CedarContext::from_pairs(pairs).map_err(|e| e.to_string())
}

/// A `TaskContext`: the task's facts, with the request's tier, user
/// verification, time and address.
fn task_context(c: &Context) -> Result<CedarContext, String> {
    let facts = c
        .task_request
        .as_ref()
        .ok_or_else(|| "a task action needs the task's facts".to_owned())?;
    let mut pairs = crate::task::facts_pairs(facts);
    pairs.extend([
        ("tier".to_owned(), RestrictedExpression::new_long(c.tier)),
        (
            "user_verified".to_owned(),
            RestrictedExpression::new_bool(c.user_verified),
        ),
        ("now_s".to_owned(), RestrictedExpression::new_long(c.now_s)),
    ]);
    push_client_ip(&mut pairs, c);
    CedarContext::from_pairs(pairs).map_err(|e| e.to_string())
}

/// Only an address that parses reaches Cedar's `ip()`, which would
/// otherwise fail the whole context on a malformed header.
fn push_client_ip(pairs: &mut Vec<(String, RestrictedExpression)>, c: &Context) {
    if let Some(ip) = c
        .client_ip
        .as_deref()
        .filter(|ip| ip.parse::<std::net::IpAddr>().is_ok())
    {
        pairs.push(("client_ip".to_owned(), RestrictedExpression::new_ip(ip)));
    }
}
