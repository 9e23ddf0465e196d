//! Issue 18: task credentials for agents through the real binary.
//!
//! `agents::accept`: a Python agent made of published libraries, unchanged
//! (py-spiffe for its JWT-SVID from keybound's own Workload API, Authlib
//! for the RFC 8693 token exchange, pydpop for the RFC 9449 proofs), gets a
//! task that alice approves with her passkey, exchanges her delegation for
//! a DPoP-bound task token and calls an API behind nginx's forward-auth.
//!
//! `agents::hostile`: the hostile list against two nodes on one
//! PostgreSQL database, each refused with its RFC error, nothing issued,
//! audited.
//!
//! Without nginx, Python's venv or PostgreSQL the tests say so loudly and
//! pass, except under CI (`CI` set), where they fail.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod support;

mod agents {
    pub mod accept;
    pub mod client;
    pub mod hostile;
    pub mod stack;
}
