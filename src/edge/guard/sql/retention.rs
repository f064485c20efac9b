//! Deleting what has outlived its retention (`guard::ports::Retention`), a bounded batch at a
//! time, each by an index fit to its cutoff.

use super::{int, SqlStore};
use crate::domain::guard::ports::{Retention, StoreError};
use crate::domain::record::retention::Kept;

impl Retention for SqlStore {
    fn prune(&mut self, what: Kept, before: u64, limit: u64) -> Result<u64, StoreError> {
        let (table, column) = match what {
            Kept::SeenItems => ("seen_items", "day"),
            Kept::Fingerprints => ("fingerprints", "day"),
            Kept::EntityDays => ("entity_days", "day"),
            Kept::Ledger => ("ledger", "day"),
            Kept::Events => ("events", "at"),
            Kept::Counters => ("counters", "window_start"),
        };
        let mut gone = self.delete_before(table, column, before, limit)?;
        if what == Kept::Ledger && gone < limit {
            gone += self.delete_before("refusals", "day", before, limit - gone)?;
        }
        Ok(gone)
    }
}

impl SqlStore {
    /// Deletes up to `limit` rows whose `column` is below `before`; returns how many.
    fn delete_before(&self, table: &str, column: &str, before: u64, limit: u64) -> Result<u64, StoreError> {
        let deleted: Vec<serde_json::Value> = self.query(
            &format!("DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} WHERE {column} < ? LIMIT ?) RETURNING 1 AS n"),
            vec![int(before), int(limit)],
        )?;
        Ok(deleted.len() as u64)
    }
}
