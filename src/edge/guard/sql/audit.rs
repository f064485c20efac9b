//! The audit hash chain (`guard::ports::AuditLog`).

use serde::Deserialize;
use worker::SqlStorageValue;

use super::{int, unsigned, SqlStore};
use crate::domain::guard::ports::{AuditLog, StoreError};
use crate::domain::record::audit::{self, Actor, AuditKind, Entry};
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
    #[serde(default)]
    actor_id: Option<String>,
    #[serde(default)]
    actor_role: Option<String>,
    #[serde(default)]
    actor_via: Option<String>,
}

impl From<AuditRow> for Entry {
    fn from(r: AuditRow) -> Self {
        // An entry has an actor when its id is set; the role and via come with it.
        let actor = r.actor_id.map(|id| Actor { id, role: r.actor_role.unwrap_or_default(), via: r.actor_via.unwrap_or_default() });
        Entry { seq: unsigned(r.seq), at: unsigned(r.at), kind: r.kind, detail: r.detail, prev_hash: r.prev_hash, hash: r.hash, actor }
    }
}

const COLUMNS: &str = "seq, at, kind, detail, prev_hash, hash, actor_id, actor_role, actor_via";

impl AuditLog for SqlStore {
    fn append_audit(&mut self, now: UnixMillis, kind: AuditKind, detail: &str, actor: Option<&Actor>) -> Result<Entry, StoreError> {
        let last: Vec<AuditRow> = self.query(&format!("SELECT {COLUMNS} FROM audit ORDER BY seq DESC LIMIT 1"), vec![])?;
        let last = last.into_iter().next().map(Entry::from);
        let entry = audit::next(last.as_ref(), now.0, &kind.text(), detail.to_owned(), actor.cloned());
        let text = |f: fn(&Actor) -> &str| entry.actor.as_ref().map_or(SqlStorageValue::Null, |a| f(a).into());
        self.exec(
            "INSERT INTO audit (seq, at, kind, detail, prev_hash, hash, actor_id, actor_role, actor_via) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            vec![
                int(entry.seq),
                int(entry.at),
                entry.kind.as_str().into(),
                entry.detail.as_str().into(),
                entry.prev_hash.as_str().into(),
                entry.hash.as_str().into(),
                text(|a| &a.id),
                text(|a| &a.role),
                text(|a| &a.via),
            ],
        )?;
        Ok(entry)
    }

    fn audit_page(&self, after: u64, limit: u64) -> Result<Vec<Entry>, StoreError> {
        let rows: Vec<AuditRow> = self.query(
            &format!("SELECT {COLUMNS} FROM audit WHERE seq > ? ORDER BY seq LIMIT ?"),
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
