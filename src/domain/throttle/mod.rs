//! How much: the plan's limits and the counters they are kept in, the charge against them (checked
//! all at once, charged all or none) and the guard's verdict, the pooling rule, lease mode's
//! pre-charged slices, and the holds an open stream spends from.

pub mod charge;
pub mod counter_key;
pub mod hold;
pub mod lease;
pub mod limit;
pub mod pooling;
pub mod store;
pub mod verdict;
