//! Where the guard keeps what the charge reads and writes: a count per counter and window, the
//! month's distinct items, and each recipient entity's ids per day. SQLite in the Durable
//! Object; an in-memory double in the tests (`guard::memory`).

use crate::domain::access::id::Id;
use crate::domain::throttle::counter_key::CounterKey;
use crate::domain::time::day::Day;
use crate::domain::time::month::Month;

/// The store failed; the guard then answers nothing and the plan's failure mode applies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("guard storage failed: {0}")]
pub struct StoreError(pub String);

impl StoreError {
    /// What SQLite says when the database cannot grow: its size limit (10 GB for a Durable
    /// Object) or the disk.
    pub const FULL: &'static str = "database or disk is full: SQLITE_FULL";

    /// Whether the storage failed for want of room, rather than for another reason.
    #[must_use]
    pub fn is_full(&self) -> bool {
        self.0.contains("SQLITE_FULL") || self.0.contains("disk is full")
    }
}

/// The counters a charge is checked and made against.
pub trait CounterStore {
    /// Requests counted under `key` in the window that starts at `window_start` (0 if none).
    ///
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn count(&self, key: &CounterKey, window_start: u64) -> Result<u64, StoreError>;
    /// Adds `n` to the count of `key` in that window, forgetting any older window of that key.
    ///
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn add(&mut self, key: &CounterKey, window_start: u64, n: u64) -> Result<(), StoreError>;
    /// Takes `n` back from the count of `key`, if that window is still the stored one.
    ///
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn take_back(&mut self, key: &CounterKey, window_start: u64, n: u64) -> Result<(), StoreError>;
    /// The counts of every subject of `key`'s limit (its family) in that window, by subject.
    ///
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn family_counts(&self, key: &CounterKey, window_start: u64) -> Result<Vec<(String, u64)>, StoreError>;
    /// Distinct items delivered to the account in a month.
    ///
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn month_items(&self, month: Month) -> Result<u64, StoreError>;
    /// Adds distinct items to a month (or, negative, gives back a lease's slice); the total
    /// never goes below 0.
    ///
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn add_month_items(&mut self, month: Month, delta: i64) -> Result<(), StoreError>;
    /// IDs delivered (or reserved) to an entity on the days `from..=to`.
    ///
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn entity_ids(&self, entity: &Id, from: Day, to: Day) -> Result<u64, StoreError>;
    /// Adds (or, negative, returns) IDs to an entity's count for one day.
    ///
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn add_entity_ids(&mut self, entity: &Id, day: Day, delta: i64) -> Result<(), StoreError>;
}
