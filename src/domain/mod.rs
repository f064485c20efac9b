//! The pure core. Nothing here imports `worker`; time and randomness arrive as values.

pub mod bearer;
pub mod cache;
pub mod clock;
pub mod context;
pub mod decision;
pub mod entitlement;
pub mod hex;
pub mod id;
pub mod kv_layout;
pub mod namespace;
pub mod problem;
pub mod route;
pub mod settings;
pub mod token;
