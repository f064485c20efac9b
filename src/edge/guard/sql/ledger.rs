//! The usage ledger (`guard::ports::Ledger`): forwarded, refused by reason, and delivered, per
//! day, app, endpoint group and recipient; the day's distinct items.

use std::collections::BTreeMap;

use serde::Deserialize;
use worker::SqlStorageValue;

use super::{int, unsigned, SqlStore};
use crate::domain::guard::ports::{Ledger, Line, StoreError};
use crate::domain::record::ledger::Row;
use crate::domain::throttle::lease::Deliveries;
use crate::domain::time::day::Day;

fn key(line: &Line<'_>) -> Vec<SqlStorageValue> {
    vec![int(line.day.0), line.app.into(), line.group.into(), line.recipient.into()]
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

impl Ledger for SqlStore {
    fn count_forwarded(&mut self, line: &Line<'_>, n: u64) -> Result<(), StoreError> {
        if n == 0 {
            return Ok(());
        }
        let mut values = key(line);
        values.push(int(n));
        self.exec(
            "INSERT INTO ledger (day, app, grp, recipient, forwarded) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT(day, app, grp, recipient) DO UPDATE SET forwarded = forwarded + excluded.forwarded",
            values,
        )
    }

    fn count_refused(&mut self, line: &Line<'_>, reason: &str) -> Result<(), StoreError> {
        let mut values = key(line);
        values.push(reason.into());
        self.exec(
            "INSERT INTO refusals (day, app, grp, recipient, reason, n) VALUES (?, ?, ?, ?, ?, 1)
             ON CONFLICT(day, app, grp, recipient, reason) DO UPDATE SET n = n + 1",
            values,
        )
    }

    fn count_delivered(&mut self, line: &Line<'_>, delivered: &Deliveries) -> Result<u64, StoreError> {
        self.exec("DELETE FROM seen_items WHERE day < ?", vec![int(line.day.minus(1).0)])?;
        // Counted before and after: the number of rows SQLite reports written includes index rows.
        let seen_today = |store: &Self| store.number("SELECT COUNT(*) AS n FROM seen_items WHERE day = ?", vec![int(line.day.0)]);
        let before = seen_today(self)?;
        for id in &delivered.ids {
            self.exec("INSERT OR IGNORE INTO seen_items (day, id) VALUES (?, ?)", vec![int(line.day.0), id.as_str().into()])?;
        }
        let distinct = seen_today(self)? - before + delivered.untracked;
        let mut values = key(line);
        values.extend([int(delivered.items), int(distinct), int(delivered.bytes)]);
        self.exec(
            "INSERT INTO ledger (day, app, grp, recipient, items, distinct_items, bytes) VALUES (?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT(day, app, grp, recipient) DO UPDATE SET items = items + excluded.items,
               distinct_items = distinct_items + excluded.distinct_items, bytes = bytes + excluded.bytes",
            values,
        )?;
        Ok(distinct)
    }

    fn usage(&self, from: Day, to: Day) -> Result<Vec<Row>, StoreError> {
        let rows: Vec<LedgerRow> = self.query(
            "SELECT day, app, grp, recipient, forwarded, items, distinct_items, bytes FROM ledger
             WHERE day >= ? AND day <= ? ORDER BY day, app, grp, recipient",
            vec![int(from.0), int(to.0)],
        )?;
        let refusals: Vec<RefusalRow> = self.query(
            "SELECT day, app, grp, recipient, reason, n FROM refusals WHERE day >= ? AND day <= ?",
            vec![int(from.0), int(to.0)],
        )?;
        let blank = |day: i64, app: String, group: String, recipient: String| Row {
            day: Day(unsigned(day)).label(),
            app,
            group,
            recipient,
            forwarded: 0,
            refused: BTreeMap::new(),
            items: 0,
            distinct_items: 0,
            bytes: 0,
        };
        let mut out: BTreeMap<(i64, String, String, String), Row> = BTreeMap::new();
        for r in rows {
            let mut row = blank(r.day, r.app.clone(), r.grp.clone(), r.recipient.clone());
            row.forwarded = unsigned(r.forwarded);
            row.items = unsigned(r.items);
            row.distinct_items = unsigned(r.distinct_items);
            row.bytes = unsigned(r.bytes);
            out.insert((r.day, r.app, r.grp, r.recipient), row);
        }
        for r in refusals {
            let key = (r.day, r.app.clone(), r.grp.clone(), r.recipient.clone());
            let row = out.entry(key).or_insert_with(|| blank(r.day, r.app, r.grp, r.recipient));
            row.refused.insert(r.reason, unsigned(r.n));
        }
        Ok(out.into_values().collect())
    }
}
