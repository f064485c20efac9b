//! The pure core. Nothing here imports `worker`; time and randomness arrive as values.

pub mod admin_auth;
pub mod bearer;
pub mod cache;
pub mod clock;
pub mod context;
pub mod decision;
pub mod entitlement;
pub mod fingerprint;
pub mod guard;
pub mod hex;
pub mod id;
pub mod items;
pub mod kv_layout;
pub mod limit;
pub mod month;
pub mod pooling;
pub mod namespace;
pub mod problem;
pub mod recipient;
pub mod rate_headers;
pub mod rewrite;
pub mod route;
pub mod settings;
pub mod token;
pub mod use_case;
pub mod window;
