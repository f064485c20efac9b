//! The guard's `CounterStore` in Durable Object SQLite.

use serde::Deserialize;
use worker::{SqlStorage, SqlStorageValue};

use crate::domain::clock::UnixMillis;
use crate::domain::guard::{CounterStore, Standing, StoreError};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, window_start INTEGER NOT NULL, count INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS months (month TEXT PRIMARY KEY, items INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS revoked (token_hash TEXT PRIMARY KEY, at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS standing (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, kind TEXT NOT NULL, dedupe TEXT NOT NULL UNIQUE, evidence TEXT NOT NULL);
";

pub struct SqlStore {
    sql: SqlStorage,
}

fn err(e: &worker::Error) -> StoreError {
    StoreError(e.to_string())
}

/// Counts are far below 2^53: they pass through JavaScript numbers unchanged.
fn int(n: u64) -> SqlStorageValue {
    SqlStorageValue::Integer(i64::try_from(n).unwrap_or(i64::MAX))
}

fn unsigned(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

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

#[derive(Deserialize)]
struct Items {
    items: i64,
}

#[derive(Deserialize)]
struct Flag {
    v: i64,
}

#[derive(Deserialize, serde::Serialize)]
pub struct EventRow {
    pub id: i64,
    pub at: i64,
    pub kind: String,
    pub evidence: String,
}

impl SqlStore {
    pub fn new(sql: SqlStorage) -> Self {
        Self { sql }
    }

    pub fn ensure_schema(&self) -> Result<(), StoreError> {
        self.sql.exec(SCHEMA, None).map(|_| ()).map_err(|e| err(&e))
    }

    pub fn standing(&self, token_hash: &str) -> Result<Standing, StoreError> {
        let revoked: Vec<Flag> = self
            .sql
            .exec("SELECT 1 AS v FROM revoked WHERE token_hash = ?", vec![token_hash.into()])
            .and_then(|c| c.to_array())
            .map_err(|e| err(&e))?;
        let suspended: Vec<Flag> = self
            .sql
            .exec("SELECT v FROM standing WHERE k = 'suspended'", None)
            .and_then(|c| c.to_array())
            .map_err(|e| err(&e))?;
        Ok(Standing {
            token_revoked: !revoked.is_empty(),
            account_suspended: suspended.first().is_some_and(|f| f.v != 0),
        })
    }

    pub fn revoke(&self, token_hash: &str, now: UnixMillis) -> Result<(), StoreError> {
        self.sql
            .exec("INSERT OR IGNORE INTO revoked (token_hash, at) VALUES (?, ?)", vec![token_hash.into(), int(now.0)])
            .map(|_| ())
            .map_err(|e| err(&e))
    }

    pub fn set_suspended(&self, suspended: bool) -> Result<(), StoreError> {
        self.sql
            .exec(
                "INSERT INTO standing (k, v) VALUES ('suspended', ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v",
                vec![int(u64::from(suspended))],
            )
            .map(|_| ())
            .map_err(|e| err(&e))
    }

    pub fn add_month_items(&self, month: &str, items: u64) -> Result<(), StoreError> {
        self.sql
            .exec(
                "INSERT INTO months (month, items) VALUES (?, ?) ON CONFLICT(month) DO UPDATE SET items = items + excluded.items",
                vec![month.into(), int(items)],
            )
            .map(|_| ())
            .map_err(|e| err(&e))
    }

    pub fn month_items_now(&self, month: &str) -> Result<u64, StoreError> {
        self.month_items(month)
    }

    pub fn record_event(&self, now: UnixMillis, kind: &str, dedupe: &str, evidence: &str) -> Result<(), StoreError> {
        self.sql
            .exec(
                "INSERT OR IGNORE INTO events (at, kind, dedupe, evidence) VALUES (?, ?, ?, ?)",
                vec![int(now.0), kind.into(), dedupe.into(), evidence.into()],
            )
            .map(|_| ())
            .map_err(|e| err(&e))
    }

    pub fn events(&self) -> Result<Vec<EventRow>, StoreError> {
        self.sql
            .exec("SELECT id, at, kind, evidence FROM events ORDER BY id DESC LIMIT 100", None)
            .and_then(|c| c.to_array())
            .map_err(|e| err(&e))
    }
}

impl CounterStore for SqlStore {
    fn count(&self, key: &str, window_start: u64) -> Result<u64, StoreError> {
        let rows: Vec<WindowRow> = self
            .sql
            .exec("SELECT window_start, count FROM counters WHERE key = ?", vec![key.into()])
            .and_then(|c| c.to_array())
            .map_err(|e| err(&e))?;
        Ok(rows
            .first()
            .filter(|r| unsigned(r.window_start) == window_start)
            .map_or(0, |r| unsigned(r.count)))
    }

    fn add(&mut self, key: &str, window_start: u64, n: u64) -> Result<(), StoreError> {
        // A row holds one window; a charge in a newer window starts the count again.
        self.sql
            .exec(
                "INSERT INTO counters (key, window_start, count) VALUES (?, ?, ?)
                 ON CONFLICT(key) DO UPDATE SET
                   count = CASE WHEN window_start = excluded.window_start THEN count + excluded.count ELSE excluded.count END,
                   window_start = excluded.window_start",
                vec![key.into(), int(window_start), int(n)],
            )
            .map(|_| ())
            .map_err(|e| err(&e))
    }

    fn counts_with_prefix(&self, prefix: &str, window_start: u64) -> Result<Vec<(String, u64)>, StoreError> {
        let rows: Vec<KeyCount> = self
            .sql
            .exec(
                "SELECT key, count FROM counters WHERE substr(key, 1, ?) = ? AND window_start = ?",
                vec![int(prefix.len() as u64), prefix.into(), int(window_start)],
            )
            .and_then(|c| c.to_array())
            .map_err(|e| err(&e))?;
        Ok(rows.into_iter().map(|r| (r.key, unsigned(r.count))).collect())
    }

    fn month_items(&self, month: &str) -> Result<u64, StoreError> {
        let rows: Vec<Items> = self
            .sql
            .exec("SELECT items FROM months WHERE month = ?", vec![month.into()])
            .and_then(|c| c.to_array())
            .map_err(|e| err(&e))?;
        Ok(rows.first().map_or(0, |r| unsigned(r.items)))
    }
}
