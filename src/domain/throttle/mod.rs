//! How much: the plan's limits, their counters and the charge against them (checked all at once,
//! charged all or none), the pooling rule, and lease mode's pre-charged slices.

pub mod charge;
pub mod lease;
pub mod limit;
pub mod pooling;
