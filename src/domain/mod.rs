//! The pure core. Nothing here imports `worker`; time and randomness arrive as values. Each
//! folder is one subsystem of the request path or of what the guard keeps.

pub mod access;
pub mod admin;
pub mod billing;
pub mod guard;
pub mod hex;
pub mod http;
pub mod record;
pub mod redistribution;
pub mod settings;
pub mod throttle;
pub mod time;
