//! The usage ledger (`guard::ports::Ledger`): forwarded, refused by reason, and delivered, per
//! day, app, endpoint group and recipient; the day's distinct items.

use std::collections::BTreeMap;

use serde::Deserialize;
use worker::SqlStorageValue;

use super::{int, unsigned, SqlStore};
use crate::domain::billing::export::{Cursor, UsageEvent};
use crate::domain::billing::fleet::MonthFigures;
use crate::domain::billing::own_usage::AppDay;
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
        // One statement for the whole delivery, and the rows it wrote are the ids not seen today
        // (`seen_ids` is one B-tree with no other index: one row written per new id). Its cost is
        // the delivery's ids (one index lookup each), never the size of the day's set, and only
        // a count comes back, not a row per new id. Old days are pruned by housekeeping, not here.
        let mut new = 0;
        if !delivered.ids.is_empty() {
            let ids = serde_json::to_string(&delivered.ids).unwrap_or_else(|_| "[]".into());
            new = self.exec_counted(
                "INSERT INTO seen_ids (day, id) SELECT ?, value FROM json_each(?) WHERE true
                 ON CONFLICT (day, id) DO NOTHING",
                vec![int(line.day.0), ids.into()],
            )?;
        }
        let distinct = new + delivered.untracked;
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

    fn days_with_rows(&self, after: Option<Day>, before: Day, limit: u64) -> Result<Vec<Day>, StoreError> {
        #[derive(Deserialize)]
        struct D {
            day: i64,
        }
        let after = after.map_or(-1, |d| i64::try_from(d.0).unwrap_or(i64::MAX));
        let days: Vec<D> = self.query(
            "SELECT day FROM (SELECT DISTINCT day FROM ledger WHERE day > ?1 AND day < ?2
                              UNION SELECT DISTINCT day FROM refusals WHERE day > ?1 AND day < ?2)
             ORDER BY day LIMIT ?3",
            vec![SqlStorageValue::Integer(after), int(before.0), int(limit)],
        )?;
        Ok(days.into_iter().map(|d| Day(unsigned(d.day))).collect())
    }

    fn distinct_by_app_and_day(&self, from: Day, to: Day) -> Result<Vec<AppDay>, StoreError> {
        #[derive(Deserialize)]
        struct Sum {
            day: i64,
            app: String,
            n: i64,
        }
        // The primary key's order (day, app, …): one range read of the days asked for.
        let sums: Vec<Sum> = self.query(
            "SELECT day, app, SUM(distinct_items) AS n FROM ledger WHERE day >= ? AND day <= ?
             GROUP BY day, app HAVING n > 0 ORDER BY day, app",
            vec![int(from.0), int(to.0)],
        )?;
        Ok(sums.into_iter().map(|s| AppDay { day: Day(unsigned(s.day)), app: s.app, distinct: unsigned(s.n) }).collect())
    }

    fn billable(&self, after: Option<&Cursor>, through: Day, limit: u64) -> Result<Vec<UsageEvent>, StoreError> {
        #[derive(Deserialize)]
        struct Sum {
            day: i64,
            app: String,
            grp: String,
            forwarded: i64,
            items: i64,
            distinct_items: i64,
        }
        let (day, app, grp) = after.map_or((-1, String::new(), String::new()), |c| (i64::try_from(c.day.0).unwrap_or(i64::MAX), c.app.clone(), c.group.clone()));
        // The primary key's order: a range read from the cursor on.
        let sums: Vec<Sum> = self.query(
            "SELECT day, app, grp, SUM(forwarded) AS forwarded, SUM(items) AS items, SUM(distinct_items) AS distinct_items
             FROM ledger WHERE (day, app, grp) > (?, ?, ?) AND day <= ?
             GROUP BY day, app, grp HAVING SUM(forwarded) > 0 OR SUM(distinct_items) > 0
             ORDER BY day, app, grp LIMIT ?",
            vec![SqlStorageValue::Integer(day), app.into(), grp.into(), int(through.0), int(limit)],
        )?;
        Ok(sums
            .into_iter()
            .map(|s| UsageEvent {
                account: String::new(),
                app: s.app,
                group: s.grp,
                day: Day(unsigned(s.day)),
                requests: unsigned(s.forwarded),
                items: unsigned(s.items),
                distinct_items: unsigned(s.distinct_items),
                seal_seq: None,
                ledger_sha256: None,
                stripe_customer_id: None,
            })
            .collect())
    }

    fn month_figures(&self, from: Day, to: Day) -> Result<MonthFigures, StoreError> {
        #[derive(Deserialize)]
        struct Sum {
            grp: String,
            forwarded: i64,
            items: i64,
            distinct_items: i64,
        }
        // The month's rows, summed per group: a range read of the month's days.
        let sums: Vec<Sum> = self.query(
            "SELECT grp, SUM(forwarded) AS forwarded, SUM(items) AS items, SUM(distinct_items) AS distinct_items
             FROM ledger WHERE day >= ? AND day <= ? GROUP BY grp",
            vec![int(from.0), int(to.0)],
        )?;
        let mut out = MonthFigures::default();
        for s in sums {
            out.requests += unsigned(s.forwarded);
            out.items += unsigned(s.items);
            out.distinct_items += unsigned(s.distinct_items);
            if s.forwarded > 0 {
                out.requests_by_group.insert(s.grp, unsigned(s.forwarded));
            }
        }
        out.refused = self.number("SELECT SUM(n) AS n FROM refusals WHERE day >= ? AND day <= ?", vec![int(from.0), int(to.0)])?;
        Ok(out)
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
