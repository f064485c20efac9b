//! The ledger, the audit chain and the token index of one account, in the guard's SQLite.

use std::collections::BTreeMap;

use serde::Deserialize;
use worker::SqlStorageValue;

use super::sql_store::{int, unsigned, SqlStore};
use crate::domain::record::audit::{self, Entry};
use crate::domain::time::clock::UnixMillis;
use crate::domain::throttle::charge::StoreError;
use crate::domain::record::ledger::{day_label, Row};

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS ledger (day INTEGER NOT NULL, app TEXT NOT NULL, grp TEXT NOT NULL, recipient TEXT NOT NULL,
  forwarded INTEGER NOT NULL DEFAULT 0, items INTEGER NOT NULL DEFAULT 0, distinct_items INTEGER NOT NULL DEFAULT 0,
  bytes INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (day, app, grp, recipient));
CREATE TABLE IF NOT EXISTS refusals (day INTEGER NOT NULL, app TEXT NOT NULL, grp TEXT NOT NULL, recipient TEXT NOT NULL,
  reason TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (day, app, grp, recipient, reason));
CREATE TABLE IF NOT EXISTS seen_items (day INTEGER NOT NULL, id TEXT NOT NULL, PRIMARY KEY (day, id));
CREATE TABLE IF NOT EXISTS audit (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL,
  prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS apps (token_hash TEXT PRIMARY KEY, app TEXT NOT NULL, status TEXT NOT NULL, updated_at INTEGER NOT NULL);
";

/// Where a ledger line belongs.
pub struct Line<'a> {
    pub day: u64,
    pub app: &'a str,
    pub group: &'a str,
    pub recipient: &'a str,
}

impl Line<'_> {
    fn key(&self) -> Vec<SqlStorageValue> {
        vec![int(self.day), self.app.into(), self.group.into(), self.recipient.into()]
    }
}

#[derive(Deserialize)]
struct LedgerRow {
    day: i64,
    app: String,
    grp: String,
    recipient: String,
    forwarded: i64,
    items: i64,
    distinct_items: i64,
    bytes: i64,
}

#[derive(Deserialize)]
struct RefusalRow {
    day: i64,
    app: String,
    grp: String,
    recipient: String,
    reason: String,
    n: i64,
}

#[derive(Deserialize)]
struct AuditRow {
    seq: i64,
    at: i64,
    kind: String,
    detail: String,
    prev_hash: String,
    hash: String,
}

impl From<AuditRow> for Entry {
    fn from(r: AuditRow) -> Self {
        Entry { seq: unsigned(r.seq), at: unsigned(r.at), kind: r.kind, detail: r.detail, prev_hash: r.prev_hash, hash: r.hash }
    }
}

#[derive(Deserialize, serde::Serialize)]
pub struct AppRow {
    #[serde(rename(serialize = "token_sha256"))]
    pub token_hash: String,
    pub app: String,
    pub status: String,
    pub updated_at: i64,
}

#[derive(Deserialize)]
struct Count {
    n: i64,
}

impl SqlStore {
    pub fn count_forwarded(&self, line: &Line<'_>) -> Result<(), StoreError> {
        self.count_forwarded_n(line, 1)
    }

    pub fn count_forwarded_n(&self, line: &Line<'_>, n: u64) -> Result<(), StoreError> {
        if n == 0 {
            return Ok(());
        }
        let mut values = line.key();
        values.push(int(n));
        self.exec(
            "INSERT INTO ledger (day, app, grp, recipient, forwarded) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT(day, app, grp, recipient) DO UPDATE SET forwarded = forwarded + excluded.forwarded",
            values,
        )
    }

    pub fn count_refused(&self, line: &Line<'_>, reason: &str) -> Result<(), StoreError> {
        let mut values = line.key();
        values.push(reason.into());
        self.exec(
            "INSERT INTO refusals (day, app, grp, recipient, reason, n) VALUES (?, ?, ?, ?, ?, 1)
             ON CONFLICT(day, app, grp, recipient, reason) DO UPDATE SET n = n + 1",
            values,
        )
    }

    /// Records a delivery; returns how many of its items are new to the account today.
    pub fn count_delivered(&self, line: &Line<'_>, ids: &[String], untracked: u64, items: u64, bytes: u64) -> Result<u64, StoreError> {
        self.exec("DELETE FROM seen_items WHERE day < ?", vec![int(line.day.saturating_sub(1))])?;
        // Counted before and after: the number of rows SQLite reports written includes index rows.
        let before = self.seen_today(line.day)?;
        for id in ids {
            self.exec("INSERT OR IGNORE INTO seen_items (day, id) VALUES (?, ?)", vec![int(line.day), id.as_str().into()])?;
        }
        let distinct = self.seen_today(line.day)? - before + untracked;
        let mut values = line.key();
        values.extend([int(items), int(distinct), int(bytes)]);
        self.exec(
            "INSERT INTO ledger (day, app, grp, recipient, items, distinct_items, bytes) VALUES (?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT(day, app, grp, recipient) DO UPDATE SET items = items + excluded.items,
               distinct_items = distinct_items + excluded.distinct_items, bytes = bytes + excluded.bytes",
            values,
        )?;
        Ok(distinct)
    }

    /// The ledger rows of the days `from..=to`.
    pub fn usage(&self, from: u64, to: u64) -> Result<Vec<Row>, StoreError> {
        let rows: Vec<LedgerRow> = self.query(
            "SELECT day, app, grp, recipient, forwarded, items, distinct_items, bytes FROM ledger
             WHERE day >= ? AND day <= ? ORDER BY day, app, grp, recipient",
            vec![int(from), int(to)],
        )?;
        let refusals: Vec<RefusalRow> = self.query(
            "SELECT day, app, grp, recipient, reason, n FROM refusals WHERE day >= ? AND day <= ?",
            vec![int(from), int(to)],
        )?;
        let mut out: BTreeMap<(i64, String, String, String), Row> = BTreeMap::new();
        for r in rows {
            out.insert(
                (r.day, r.app.clone(), r.grp.clone(), r.recipient.clone()),
                Row {
                    day: day_label(unsigned(r.day)),
                    app: r.app,
                    group: r.grp,
                    recipient: r.recipient,
                    forwarded: unsigned(r.forwarded),
                    refused: BTreeMap::new(),
                    items: unsigned(r.items),
                    distinct_items: unsigned(r.distinct_items),
                    bytes: unsigned(r.bytes),
                },
            );
        }
        for r in refusals {
            let row = out.entry((r.day, r.app.clone(), r.grp.clone(), r.recipient.clone())).or_insert_with(|| Row {
                day: day_label(unsigned(r.day)),
                app: r.app,
                group: r.grp,
                recipient: r.recipient,
                forwarded: 0,
                refused: BTreeMap::new(),
                items: 0,
                distinct_items: 0,
                bytes: 0,
            });
            row.refused.insert(r.reason, unsigned(r.n));
        }
        Ok(out.into_values().collect())
    }

    /// Appends to the hash chain.
    pub fn append_audit(&self, now: UnixMillis, kind: &str, detail: &str) -> Result<Entry, StoreError> {
        let last: Vec<AuditRow> =
            self.query("SELECT seq, at, kind, detail, prev_hash, hash FROM audit ORDER BY seq DESC LIMIT 1", vec![])?;
        let last = last.into_iter().next().map(Entry::from);
        let entry = audit::next(last.as_ref(), now.0, kind, detail.to_owned());
        self.exec(
            "INSERT INTO audit (seq, at, kind, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?)",
            vec![
                int(entry.seq),
                int(entry.at),
                entry.kind.as_str().into(),
                entry.detail.as_str().into(),
                entry.prev_hash.as_str().into(),
                entry.hash.as_str().into(),
            ],
        )?;
        Ok(entry)
    }

    pub fn audit_entries(&self) -> Result<Vec<Entry>, StoreError> {
        let rows: Vec<AuditRow> = self.query("SELECT seq, at, kind, detail, prev_hash, hash FROM audit ORDER BY seq", vec![])?;
        Ok(rows.into_iter().map(Entry::from).collect())
    }

    pub fn register_app(&self, token_hash: &str, app: &str, status: &str, now: UnixMillis) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO apps (token_hash, app, status, updated_at) VALUES (?, ?, ?, ?)
             ON CONFLICT(token_hash) DO UPDATE SET app = excluded.app, status = excluded.status, updated_at = excluded.updated_at",
            vec![token_hash.into(), app.into(), status.into(), int(now.0)],
        )
    }

    pub fn apps(&self) -> Result<Vec<AppRow>, StoreError> {
        self.query("SELECT token_hash, app, status, updated_at FROM apps ORDER BY app, updated_at", vec![])
    }

    fn seen_today(&self, day: u64) -> Result<u64, StoreError> {
        let rows: Vec<Count> = self.query("SELECT COUNT(*) AS n FROM seen_items WHERE day = ?", vec![int(day)])?;
        Ok(rows.first().map_or(0, |r| unsigned(r.n)))
    }

    pub fn audit_len(&self) -> Result<u64, StoreError> {
        let rows: Vec<Count> = self.query("SELECT COUNT(*) AS n FROM audit", vec![])?;
        Ok(rows.first().map_or(0, |r| unsigned(r.n)))
    }
}
