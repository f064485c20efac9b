//! What is kept as proof: ledger rows and their CSV, and the hash-chained audit trail.

pub mod audit;
pub mod ledger;
pub mod retention;
pub mod seal;
