//! Tollgate: an edge enforcer in front of a data API.
//!
//! The crate is split in two, and the split is the architecture:
//! - [`domain`] is the pure core: token format, entitlement records, route matching, the
//!   decision, problem responses, the signed origin context. It never touches `worker` and is
//!   tested on the host.
//! - `edge` (wasm32 only) is the thin glue: the fetch handlers, KV with its in-isolate cache,
//!   origin forwarding, the guard's Durable Object. It moves values between the outside world and
//!   the core. It is built as two Workers (the `enforcer` and `control` features): the enforcer
//!   on the request path, and the control plane with the guards and the admin API.

pub mod domain;

#[cfg(all(target_arch = "wasm32", any(feature = "enforcer", feature = "control")))]
mod edge;
