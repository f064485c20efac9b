//! Tollgate: an edge enforcer in front of a data API.
//!
//! The crate is split in two, and the split is the architecture:
//! - [`domain`] is the pure core: token format, entitlement records, route matching, the
//!   decision, problem responses, the signed origin context. It never touches `worker` and is
//!   tested on the host.
//! - `edge` (wasm32 only) is the thin glue: the fetch handler, KV with its in-isolate cache,
//!   origin forwarding. It moves values between the outside world and the core.

pub mod domain;

#[cfg(target_arch = "wasm32")]
mod edge;
