//! Deleting what has outlived its retention (`guard::ports::Retention`), a bounded batch at a
//! time, each by an index fit to its cutoff.

use super::{int, SqlStore};
use crate::domain::guard::ports::{Retention, StoreError};
use crate::domain::record::retention::Kept;

impl Retention for SqlStore {
    fn prune(&mut self, what: Kept, before: u64, limit: u64) -> Result<u64, StoreError> {
        // (table, the key a row is deleted by, the column the cutoff applies to)
        let (table, key, column) = match what {
            Kept::SeenItems => ("seen_ids", "(day, id)", "day"),
            Kept::Fingerprints => ("fingerprints", "rowid", "day"),
            Kept::EntityDays => ("entity_days", "rowid", "day"),
            Kept::Ledger => ("ledger", "rowid", "day"),
            Kept::Events => ("events", "rowid", "at"),
            Kept::Counters => ("counters", "rowid", "window_start"),
            Kept::Settlements => ("settled", "rowid", "at"),
            Kept::Streams => ("streams", "id", "until_ms"),
        };
        let mut gone = self.delete_before(table, key, column, before, limit)?;
        if what == Kept::Ledger && gone < limit {
            gone += self.delete_before("refusals", "rowid", "day", before, limit - gone)?;
        }
        Ok(gone)
    }
}

impl SqlStore {
    /// Deletes up to `limit` rows whose `column` is below `before`; returns how many.
    fn delete_before(&self, table: &str, key: &str, column: &str, before: u64, limit: u64) -> Result<u64, StoreError> {
        let select = key.trim_matches(['(', ')']);
        let deleted: Vec<serde_json::Value> = self.query(
            &format!("DELETE FROM {table} WHERE {key} IN (SELECT {select} FROM {table} WHERE {column} < ? LIMIT ?) RETURNING 1 AS n"),
            vec![int(before), int(limit)],
        )?;
        Ok(deleted.len() as u64)
    }
}
