//! The counters a charge is checked and made against (`throttle::store::CounterStore`).

use serde::Deserialize;
use worker::SqlStorageValue;

use super::{int, unsigned, SqlStore};
use crate::domain::access::id::Id;
use crate::domain::throttle::counter_key::CounterKey;
use crate::domain::throttle::store::{CounterStore, StoreError};
use crate::domain::time::day::Day;
use crate::domain::time::month::Month;

#[derive(Deserialize)]
struct WindowRow {
    window_start: i64,
    count: i64,
}

#[derive(Deserialize)]
struct KeyCount {
    key: String,
    count: i64,
}

impl CounterStore for SqlStore {
    fn count(&self, key: &CounterKey, window_start: u64) -> Result<u64, StoreError> {
        let rows: Vec<WindowRow> = self.query("SELECT window_start, count FROM counters WHERE key = ?", vec![key.text().into()])?;
        Ok(rows.first().filter(|r| unsigned(r.window_start) == window_start).map_or(0, |r| unsigned(r.count)))
    }

    fn add(&mut self, key: &CounterKey, window_start: u64, n: u64) -> Result<(), StoreError> {
        // A row holds one window; a charge in a newer window starts the count again.
        self.exec(
            "INSERT INTO counters (key, window_start, count) VALUES (?, ?, ?)
             ON CONFLICT(key) DO UPDATE SET
               count = CASE WHEN window_start = excluded.window_start THEN count + excluded.count ELSE excluded.count END,
               window_start = excluded.window_start",
            vec![key.text().into(), int(window_start), int(n)],
        )
    }

    fn take_back(&mut self, key: &CounterKey, window_start: u64, n: u64) -> Result<(), StoreError> {
        self.exec(
            "UPDATE counters SET count = MAX(count - ?, 0) WHERE key = ? AND window_start = ?",
            vec![int(n), key.text().into(), int(window_start)],
        )
    }

    fn family_counts(&self, key: &CounterKey, window_start: u64) -> Result<Vec<(String, u64)>, StoreError> {
        // The family as a key range (`app:search:900:` up to `app:search:900;`), served by the
        // primary key's index.
        let family = key.family();
        let end = format!("{};", &family[..family.len() - 1]);
        let rows: Vec<KeyCount> = self.query(
            "SELECT key, count FROM counters WHERE key > ? AND key < ? AND window_start = ?",
            vec![family.as_str().into(), end.into(), int(window_start)],
        )?;
        Ok(rows.into_iter().map(|r| (r.key[family.len().min(r.key.len())..].to_owned(), unsigned(r.count))).collect())
    }

    fn month_items(&self, month: Month) -> Result<u64, StoreError> {
        self.number("SELECT items AS n FROM months WHERE month = ?", vec![month.key().into()])
    }

    fn add_month_items(&mut self, month: Month, delta: i64) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO months (month, items) VALUES (?1, MAX(0, ?2)) ON CONFLICT(month) DO UPDATE SET items = MAX(0, items + ?2)",
            vec![month.key().into(), SqlStorageValue::Integer(delta)],
        )
    }

    fn entity_ids(&self, entity: &Id, from: Day, to: Day) -> Result<u64, StoreError> {
        self.number(
            "SELECT SUM(ids) AS n FROM entity_days WHERE entity = ? AND day >= ? AND day <= ?",
            vec![entity.as_str().into(), int(from.0), int(to.0)],
        )
    }

    fn add_entity_ids(&mut self, entity: &Id, day: Day, delta: i64) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO entity_days (entity, day, ids) VALUES (?, ?, ?) ON CONFLICT(entity, day) DO UPDATE SET ids = ids + excluded.ids",
            vec![entity.as_str().into(), int(day.0), SqlStorageValue::Integer(delta)],
        )
    }
}
