//! The account guard as a pure service: one per account, it takes a command and gives a reply,
//! with the account's state behind small storage ports. The Durable Object (`edge/guard`) only
//! decodes the command, calls [`service::handle`] and encodes the reply.

pub mod command;
#[cfg(any(test, feature = "test-doubles"))]
pub mod memory;
pub mod ports;
pub mod service;
