//! The audit hash chain (`guard::ports::AuditLog`).

use serde::Deserialize;

use super::{int, unsigned, SqlStore};
use crate::domain::guard::ports::{AuditLog, StoreError};
use crate::domain::record::audit::{self, AuditKind, Entry};
use crate::domain::time::clock::UnixMillis;
use crate::domain::time::day::Day;

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

impl AuditLog for SqlStore {
    fn append_audit(&mut self, now: UnixMillis, kind: AuditKind, detail: &str) -> Result<Entry, StoreError> {
        let last: Vec<AuditRow> =
            self.query("SELECT seq, at, kind, detail, prev_hash, hash FROM audit ORDER BY seq DESC LIMIT 1", vec![])?;
        let last = last.into_iter().next().map(Entry::from);
        let entry = audit::next(last.as_ref(), now.0, &kind.text(), detail.to_owned());
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

    fn audit_page(&self, after: u64, limit: u64) -> Result<Vec<Entry>, StoreError> {
        let rows: Vec<AuditRow> = self.query(
            "SELECT seq, at, kind, detail, prev_hash, hash FROM audit WHERE seq > ? ORDER BY seq LIMIT ?",
            vec![int(after), int(limit)],
        )?;
        Ok(rows.into_iter().map(Entry::from).collect())
    }

    fn audit_len(&self) -> Result<u64, StoreError> {
        self.number("SELECT COUNT(*) AS n FROM audit", vec![])
    }

    fn seals(&self, from: Day, to: Day) -> Result<Vec<Entry>, StoreError> {
        // The seals only (one a day), through their index; the day is read from each seal.
        let rows: Vec<AuditRow> = self.query(
            "SELECT seq, at, kind, detail, prev_hash, hash FROM audit WHERE kind = 'seal'
             AND json_extract(detail, '$.day_number') BETWEEN ? AND ? ORDER BY seq",
            vec![int(from.0), int(to.0)],
        )?;
        Ok(rows.into_iter().map(Entry::from).collect())
    }
}
