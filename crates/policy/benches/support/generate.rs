//! Realistic generated policy sets and requests, shared by the benchmark
//! and the test that the index never changes an answer: many apps, each
//! with a few route rules by group, tier, recency and address, plus a
//! handful of rules that apply everywhere.

#![allow(dead_code, missing_docs, clippy::indexing_slicing)]

use keybound_policy::{Action, Context, Principal, Request, Resource};

/// A small deterministic generator (xorshift), so runs are comparable.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    pub fn step(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.step() % n.max(1)
    }
}

pub const GROUPS: [&str; 4] = ["admin", "user", "staff", "finance"];
const PATHS: [&str; 5] = ["/", "/admin/", "/api/", "/reports/", "/static/"];

pub fn host(app: usize) -> String {
    format!("app{app}.example.com")
}

/// `count` policies (about four per app, and 4 global ones), as one file.
pub fn policies(count: usize) -> String {
    let mut out = String::new();
    let global = [
        "forbid (principal, action, resource is Keybound::Route) when { principal.status != \"active\" };",
        "permit (principal in Keybound::Group::\"admin\", action in Keybound::Action::\"http\", resource is Keybound::Route) when { context.tier >= 3 && context.auth_age_s <= 300 };",
        "forbid (principal, action == Keybound::Action::\"TRACE\", resource);",
        "forbid (principal, action in Keybound::Action::\"http\", resource) when { context has client_ip && context.client_ip.isInRange(ip(\"203.0.113.0/24\")) };",
    ];
    for p in global.iter().take(count) {
        out.push_str(p);
        out.push('\n');
    }
    let mut rng = Rng::new(count as u64 + 7);
    let mut app = 0usize;
    let mut n = global.len().min(count);
    while n < count {
        let h = host(app);
        for rule in 0..4 {
            if n >= count {
                break;
            }
            let group = GROUPS[rng.below(GROUPS.len() as u64) as usize];
            let path = PATHS[rng.below(PATHS.len() as u64) as usize];
            let tier = 1 + rng.below(3);
            let text = match rule {
                0 => format!("@id(\"{h}-read\")\npermit (principal in Keybound::Group::\"{group}\", action in [Keybound::Action::\"GET\", Keybound::Action::\"HEAD\"], resource in Keybound::App::\"{h}\") when {{ context.tier >= {tier} }};\n"),
                1 => format!("permit (principal in Keybound::Group::\"{group}\", action in Keybound::Action::\"http\", resource in Keybound::App::\"{h}\") when {{ resource.path like \"{path}*\" && context.tier >= {tier} && context.auth_age_s <= 600 }};\n"),
                2 => format!("forbid (principal, action == Keybound::Action::\"DELETE\", resource in Keybound::App::\"{h}\") unless {{ principal in Keybound::Group::\"admin\" }};\n"),
                _ => format!("forbid (principal, action in Keybound::Action::\"http\", resource in Keybound::App::\"{h}\") when {{ resource.path like \"/admin/*\" && context.tier < 3 }};\n"),
            };
            out.push_str(&text);
            n += 1;
        }
        app += 1;
    }
    out
}

/// How many apps `policies(count)` names.
pub fn apps(count: usize) -> usize {
    count.saturating_sub(4).div_ceil(4).max(1)
}

/// A random request against one of `apps` apps (and sometimes another
/// host, an OIDC client or the console).
pub fn request(rng: &mut Rng, apps: usize) -> Request {
    const METHODS: [&str; 6] = ["GET", "HEAD", "POST", "DELETE", "TRACE", "PROPFIND"];
    let groups: Vec<String> = GROUPS
        .iter()
        .filter(|_| rng.below(3) == 0)
        .map(|g| (*g).to_owned())
        .collect();
    let principal = Principal {
        id: format!("id{}", rng.below(1000)),
        kind: "person".into(),
        name: format!("user{}", rng.below(1000)),
        groups,
        status: if rng.below(10) == 0 {
            "suspended"
        } else {
            "active"
        }
        .into(),
    };
    let (action, resource) = match rng.below(10) {
        0 => (
            Action::OidcAuthorize,
            Resource::OidcClient {
                client_id: format!("client{}", rng.below(5)),
            },
        ),
        1 => (Action::AdminConsole, Resource::Console),
        _ => (
            Action::Http(METHODS[rng.below(METHODS.len() as u64) as usize].into()),
            Resource::Route {
                host: host(rng.below(apps as u64 + 1) as usize),
                path: format!(
                    "{}{}",
                    PATHS[rng.below(PATHS.len() as u64) as usize],
                    rng.below(3)
                ),
            },
        ),
    };
    let ip = match rng.below(4) {
        0 => None,
        1 => Some("203.0.113.9".to_owned()),
        2 => Some("not an address".to_owned()),
        _ => Some("10.1.2.3".to_owned()),
    };
    Request {
        principal: Some(principal),
        action,
        resource,
        context: Context {
            tier: 1 + rng.below(3) as i64,
            user_verified: rng.below(2) == 0,
            auth_age_s: rng.below(900) as i64,
            client_ip: ip,
            now_s: 1_800_000_000,
            backup_met: rng.below(2) == 0,
            session_bound: false,
            step_up_window_s: 300,
            device: None,
            task: None,
            task_request: None,
        },
    }
}
