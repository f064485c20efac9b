//! The account guard at the edge: the Durable Object (a thin newtype over the pure
//! `domain::guard::service`), its SQLite store, and the client the rest of the edge calls it with.

pub mod client;
#[cfg(feature = "control")]
mod object;
#[cfg(feature = "control")]
mod rollup;
#[cfg(feature = "control")]
mod sql;
