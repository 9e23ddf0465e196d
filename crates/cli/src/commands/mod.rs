//! One module per subcommand: its arguments (the setting groups it takes
//! and its own), the service calls, and how their results are printed.

pub(crate) mod admin;
pub(crate) mod agents;
pub(crate) mod audit;
mod audit_verify;
pub(crate) mod backup;
pub(crate) mod check_config;
pub(crate) mod device;
pub(crate) mod device_import;
pub(crate) mod init;
pub(crate) mod mds;
pub(crate) mod node;
pub(crate) mod oidc;
pub(crate) mod policy;
pub(crate) mod serve;
pub(crate) mod workload;
// Issue 19: the audit log streamed to a SIEM.
pub(crate) mod audit_stream;
// Issue 19: the log's key and checkpoint, as the server publishes them.
pub(crate) mod audit_publish;
