//! The guard's own bookkeeping (`guard::ports::Marks`): the last day sealed and the last audit
//! entry verified, as text under a name; and the ids of the lease reports settled
//! (`guard::ports::Settlements`).

use serde::Deserialize;

use super::SqlStore;
use crate::domain::billing::export::Cursor;
use crate::domain::guard::ports::{Marks, Settlements, StoreError};
use crate::domain::time::clock::UnixMillis;
use crate::domain::time::day::Day;

const SEALED_THROUGH: &str = "sealed_through";
const VERIFIED: &str = "verified";
const EXPORTED_THROUGH: &str = "exported_through";

/// A row of one text column `v` (other tables' reads use it too, so it is decoded once).
#[derive(Deserialize)]
pub(super) struct Mark {
    pub v: String,
}

impl SqlStore {
    fn mark(&self, name: &str) -> Result<Option<String>, StoreError> {
        let rows: Vec<Mark> = self.query("SELECT v FROM marks WHERE k = ?", vec![name.into()])?;
        Ok(rows.into_iter().next().map(|m| m.v))
    }

    fn set_mark(&self, name: &str, value: String) -> Result<(), StoreError> {
        self.exec("INSERT INTO marks (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v", vec![name.into(), value.into()])
    }
}

impl Marks for SqlStore {
    fn sealed_through(&self) -> Result<Option<Day>, StoreError> {
        Ok(self.mark(SEALED_THROUGH)?.and_then(|v| v.parse().ok()).map(Day))
    }

    fn set_sealed_through(&mut self, day: Day) -> Result<(), StoreError> {
        self.set_mark(SEALED_THROUGH, day.0.to_string())
    }

    fn verified(&self) -> Result<Option<(u64, String)>, StoreError> {
        Ok(self.mark(VERIFIED)?.and_then(|v| {
            let (seq, hash) = v.split_once(':')?;
            Some((seq.parse().ok()?, hash.to_owned()))
        }))
    }

    fn set_verified(&mut self, seq: u64, hash: &str) -> Result<(), StoreError> {
        self.set_mark(VERIFIED, format!("{seq}:{hash}"))
    }

    fn exported_through(&self) -> Result<Option<Cursor>, StoreError> {
        Ok(self.mark(EXPORTED_THROUGH)?.as_deref().and_then(Cursor::parse))
    }

    fn set_exported_through(&mut self, cursor: &Cursor) -> Result<(), StoreError> {
        self.set_mark(EXPORTED_THROUGH, cursor.text())
    }
}

impl Settlements for SqlStore {
    fn is_settled(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.number("SELECT COUNT(*) AS n FROM settled WHERE id = ?", vec![id.into()])? > 0)
    }

    fn mark_settled(&mut self, id: &str, now: UnixMillis) -> Result<(), StoreError> {
        self.exec("INSERT OR IGNORE INTO settled (id, at) VALUES (?, ?)", vec![id.into(), super::int(now.0)])
    }
}
