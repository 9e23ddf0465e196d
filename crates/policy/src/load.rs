//! Loading: the defaults and the operator's files, each parsed, given
//! stable ids, validated against the schema, and indexed. A set that fails
//! any step is refused whole, with the file and the problem named, so the
//! caller keeps the set it had.

use std::fmt;

use cedar_policy::{
    ActionConstraint, Effect, Entities, Policy, PolicyId, ResourceConstraint, Schema,
    ValidationMode, Validator,
};

use crate::index::Index;
use crate::request::Types;

/// The default policies, always loaded first (`defaults/*.cedar`).
pub const DEFAULTS: [(&str, &str); 3] = [
    (
        "defaults/admin.cedar",
        include_str!("../defaults/admin.cedar"),
    ),
    (
        "defaults/oidc.cedar",
        include_str!("../defaults/oidc.cedar"),
    ),
    (
        "defaults/tasks.cedar",
        include_str!("../defaults/tasks.cedar"),
    ),
];

/// The largest policy file accepted, bytes: a policy directory is
/// configuration, and a file larger than this is a mistake or an attack.
pub const MAX_POLICY_FILE_BYTES: usize = 1024 * 1024;
/// The most policy files a set may have.
pub const MAX_POLICY_FILES: usize = 1_000;
/// The most policies a set may have, all files together.
pub const MAX_POLICIES: usize = 20_000;

/// Why a set of sources was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// The file at fault (empty when the set as a whole is).
    pub file: String,
    /// What is wrong with it.
    pub problem: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.file.is_empty() {
            write!(f, "{}", self.problem)
        } else {
            write!(f, "{}: {}", self.file, self.problem)
        }
    }
}

impl std::error::Error for LoadError {}

fn refuse(file: &str, problem: impl Into<String>) -> LoadError {
    LoadError {
        file: file.to_owned(),
        problem: problem.into(),
    }
}

/// A loaded, validated, indexed policy set. Cheap to share (`Arc` inside
/// the caller); immutable: a reload builds a new one.
pub struct PolicySet {
    pub(crate) all: cedar_policy::PolicySet,
    pub(crate) index: Index,
    pub(crate) types: Types,
    /// The action entities (the `http` group and its methods).
    pub(crate) actions: Entities,
    hash: String,
    files: Vec<String>,
}

impl fmt::Debug for PolicySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicySet")
            .field("hash", &self.hash)
            .field("files", &self.files)
            .field("policies", &self.len())
            .finish()
    }
}

fn schema() -> Result<Schema, LoadError> {
    Schema::from_cedarschema_str(crate::SCHEMA)
        .map(|(schema, _warnings)| schema)
        .map_err(|e| refuse("schema/keybound.cedarschema", e.to_string()))
}

impl PolicySet {
    /// The defaults alone.
    pub fn defaults() -> Result<PolicySet, LoadError> {
        PolicySet::load(&[])
    }

    /// The defaults and `sources` (file name, text), in that order. Every
    /// policy is validated against the schema (strict mode); templates,
    /// duplicate `@id`s, oversized files or sets, and operator policies
    /// that would permit the admin console are refused.
    pub fn load(sources: &[(&str, &str)]) -> Result<PolicySet, LoadError> {
        if sources.len() > MAX_POLICY_FILES {
            return Err(refuse(
                "",
                format!("{} policy files; at most {MAX_POLICY_FILES}", sources.len()),
            ));
        }
        let schema = schema()?;
        let validator = Validator::new(schema.clone());
        let mut all = cedar_policy::PolicySet::new();
        let mut files = Vec::new();
        for (i, (file, text)) in DEFAULTS.iter().chain(sources.iter()).enumerate() {
            let operator = i >= DEFAULTS.len();
            if text.len() > MAX_POLICY_FILE_BYTES {
                return Err(refuse(
                    file,
                    format!("{} bytes; at most {MAX_POLICY_FILE_BYTES}", text.len()),
                ));
            }
            let parsed = parse_file(file, text)?;
            let report = validator.validate(&parsed, ValidationMode::Strict);
            if let Some(error) = report.validation_errors().next() {
                return Err(refuse(file, format!("does not match the schema: {error}")));
            }
            for policy in parsed.policies() {
                if operator && permits_console(policy) {
                    return Err(refuse(
                        file,
                        format!(
                            "policy {} could permit the admin console; only the default admin rule does (forbid policies may narrow it)",
                            policy.id()
                        ),
                    ));
                }
                if all.policy(policy.id()).is_some() {
                    return Err(refuse(
                        file,
                        format!("policy id {} is used twice", policy.id()),
                    ));
                }
                all.add(policy.clone())
                    .map_err(|e| refuse(file, e.to_string()))?;
            }
            if all.num_of_policies() > MAX_POLICIES {
                return Err(refuse(
                    file,
                    format!("more than {MAX_POLICIES} policies in all"),
                ));
            }
            files.push((*file).to_owned());
        }
        let types = Types::new().map_err(|e| refuse("", e))?;
        let actions = schema
            .action_entities()
            .map_err(|e| refuse("schema/keybound.cedarschema", e.to_string()))?;
        let index = Index::build(&all, &schema, &actions, &types).map_err(|e| refuse("", e))?;
        Ok(PolicySet {
            all,
            index,
            types,
            actions,
            hash: hash(sources),
            files,
        })
    }

    /// SHA-256 (hex) of the sources, defaults included: names and texts,
    /// each length-prefixed, so the audit log records exactly which set
    /// decided.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The files loaded, defaults first.
    pub fn files(&self) -> &[String] {
        &self.files
    }

    /// How many policies the set holds.
    pub fn len(&self) -> usize {
        self.all.num_of_policies()
    }

    /// Whether it holds none (never: the defaults are always there).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The whole set as Cedar holds it, for comparing the indexed decision
    /// with an unindexed one.
    pub fn cedar(&self) -> &cedar_policy::PolicySet {
        &self.all
    }
}

/// One file's policies, each with its public id: its `@id("...")`
/// annotation, else `file:index` (0-based, in source order).
fn parse_file(file: &str, text: &str) -> Result<cedar_policy::PolicySet, LoadError> {
    let parsed: cedar_policy::PolicySet = text
        .parse()
        .map_err(|e: cedar_policy::ParseErrors| refuse(file, format!("syntax: {e}")))?;
    if parsed.templates().next().is_some() {
        return Err(refuse(
            file,
            "templates (?principal, ?resource) are not supported",
        ));
    }
    let mut named = cedar_policy::PolicySet::new();
    for policy in parsed.policies() {
        // Cedar numbers a file's policies policy0, policy1... in order.
        let index = policy
            .id()
            .to_string()
            .strip_prefix("policy")
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| refuse(file, "unexpected policy id from the parser"))?;
        let id = match policy.annotation("id") {
            Some(id) if !id.trim().is_empty() => id.to_owned(),
            _ => format!("{file}:{index}"),
        };
        if named.policy(&PolicyId::new(&id)).is_some() {
            return Err(refuse(file, format!("policy id {id} is used twice")));
        }
        named
            .add(policy.new_id(PolicyId::new(&id)))
            .map_err(|e| refuse(file, e.to_string()))?;
    }
    Ok(named)
}

/// Whether a permit's scope could match the admin console.
fn permits_console(policy: &Policy) -> bool {
    if policy.effect() != Effect::Permit {
        return false;
    }
    let action = match policy.action_constraint() {
        ActionConstraint::Any => true,
        ActionConstraint::Eq(a) => a.id().unescaped() == "admin:console",
        ActionConstraint::In(list) => list.iter().any(|a| a.id().unescaped() == "admin:console"),
    };
    let resource = match policy.resource_constraint() {
        ResourceConstraint::Any => true,
        ResourceConstraint::Eq(r) | ResourceConstraint::In(r) => {
            r.type_name().basename() == "Console"
        }
        ResourceConstraint::Is(t) | ResourceConstraint::IsIn(t, _) => t.basename() == "Console",
    };
    action && resource
}

fn hash(sources: &[(&str, &str)]) -> String {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for (file, text) in DEFAULTS.iter().chain(sources.iter()) {
        for part in [file.as_bytes(), text.as_bytes()] {
            ctx.update(&(part.len() as u64).to_be_bytes());
            ctx.update(part);
        }
    }
    hex::encode(ctx.finish().as_ref())
}
