//! The guard's `CounterStore` in Durable Object SQLite.

use serde::Deserialize;
use worker::{SqlStorage, SqlStorageValue};

use crate::domain::time::clock::UnixMillis;
use crate::domain::redistribution::fingerprint::Fingerprint;
use crate::domain::throttle::charge::{CounterStore, Standing, StoreError};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, window_start INTEGER NOT NULL, count INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS months (month TEXT PRIMARY KEY, items INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS revoked (token_hash TEXT PRIMARY KEY, at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS standing (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS entity_days (entity TEXT NOT NULL, day INTEGER NOT NULL, ids INTEGER NOT NULL, PRIMARY KEY (entity, day));
CREATE TABLE IF NOT EXISTS fingerprints (app TEXT NOT NULL, day INTEGER NOT NULL, key TEXT NOT NULL, prefix TEXT NOT NULL, asn INTEGER, agent TEXT NOT NULL, PRIMARY KEY (app, day, key));
CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, kind TEXT NOT NULL, dedupe TEXT NOT NULL UNIQUE, evidence TEXT NOT NULL);
";

pub struct SqlStore {
    sql: SqlStorage,
}

pub(super) fn err(e: &worker::Error) -> StoreError {
    StoreError(e.to_string())
}

/// Counts are far below 2^53: they pass through JavaScript numbers unchanged.
pub(super) fn int(n: u64) -> SqlStorageValue {
    SqlStorageValue::Integer(i64::try_from(n).unwrap_or(i64::MAX))
}

pub(super) fn unsigned(n: i64) -> u64 {
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
struct Ids {
    ids: Option<i64>,
}

#[derive(Deserialize, serde::Serialize)]
pub struct SeenClient {
    pub prefix: String,
    pub asn: Option<i64>,
    pub agent: String,
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
        self.sql.exec(SCHEMA, None).map_err(|e| err(&e))?;
        self.sql.exec(super::sql_ledger::SCHEMA, None).map(|_| ()).map_err(|e| err(&e))
    }

    pub(super) fn exec(&self, query: &str, values: Vec<SqlStorageValue>) -> Result<(), StoreError> {
        self.sql.exec(query, values).map(|_| ()).map_err(|e| err(&e))
    }

    pub(super) fn query<T: serde::de::DeserializeOwned>(&self, query: &str, values: Vec<SqlStorageValue>) -> Result<Vec<T>, StoreError> {
        self.sql.exec(query, values).and_then(|c| c.to_array()).map_err(|e| err(&e))
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

    /// Records a client of an app on a day; returns how many distinct clients that day has seen,
    /// or `None` if this one was already known.
    pub fn record_fingerprint(&self, app: &str, day: u64, fp: &Fingerprint) -> Result<Option<u64>, StoreError> {
        let cursor = self
            .sql
            .exec(
                "INSERT OR IGNORE INTO fingerprints (app, day, key, prefix, asn, agent) VALUES (?, ?, ?, ?, ?, ?)",
                vec![
                    app.into(),
                    int(day),
                    fp.key.as_str().into(),
                    fp.prefix.as_str().into(),
                    fp.asn.map(|a| SqlStorageValue::Integer(i64::from(a))).unwrap_or(SqlStorageValue::Null),
                    fp.agent.as_str().into(),
                ],
            )
            .map_err(|e| err(&e))?;
        if cursor.rows_written() == 0 {
            return Ok(None);
        }
        let rows: Vec<Flag> = self
            .sql
            .exec("SELECT COUNT(*) AS v FROM fingerprints WHERE app = ? AND day = ?", vec![app.into(), int(day)])
            .and_then(|c| c.to_array())
            .map_err(|e| err(&e))?;
        Ok(Some(rows.first().map_or(0, |r| unsigned(r.v))))
    }

    pub fn clients(&self, app: &str, day: u64) -> Result<Vec<SeenClient>, StoreError> {
        self.sql
            .exec("SELECT prefix, asn, agent FROM fingerprints WHERE app = ? AND day = ? LIMIT 50", vec![app.into(), int(day)])
            .and_then(|c| c.to_array())
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

    fn take_back(&mut self, key: &str, window_start: u64, n: u64) -> Result<(), StoreError> {
        self.sql
            .exec(
                "UPDATE counters SET count = MAX(count - ?, 0) WHERE key = ? AND window_start = ?",
                vec![int(n), key.into(), int(window_start)],
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

    fn entity_ids(&self, entity: &str, from_day: u64, to_day: u64) -> Result<u64, StoreError> {
        let rows: Vec<Ids> = self
            .sql
            .exec(
                "SELECT SUM(ids) AS ids FROM entity_days WHERE entity = ? AND day >= ? AND day <= ?",
                vec![entity.into(), int(from_day), int(to_day)],
            )
            .and_then(|c| c.to_array())
            .map_err(|e| err(&e))?;
        Ok(rows.first().and_then(|r| r.ids).map_or(0, unsigned))
    }

    fn add_entity_ids(&mut self, entity: &str, day: u64, delta: i64) -> Result<(), StoreError> {
        self.sql
            .exec(
                "INSERT INTO entity_days (entity, day, ids) VALUES (?, ?, ?) ON CONFLICT(entity, day) DO UPDATE SET ids = ids + excluded.ids",
                vec![entity.into(), int(day), SqlStorageValue::Integer(delta)],
            )
            .map(|_| ())
            .map_err(|e| err(&e))
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
