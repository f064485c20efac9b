//! The streams open on the account (`guard::ports::Streams`): one row each, with its holds and
//! the time its heartbeat keeps it until; pruned by that time once it has passed.

use super::marks::Mark;
use super::{int, SqlStore};
use crate::domain::access::id::Id;
use crate::domain::guard::ports::{StoreError, Streams};
use crate::domain::throttle::hold::Holds;
use crate::domain::time::clock::UnixMillis;
use crate::domain::time::day::Day;

impl Streams for SqlStore {
    fn open_stream(&mut self, app: &Id, group: &Id, holds: Holds, until: UnixMillis) -> Result<u64, StoreError> {
        self.number(
            "INSERT INTO streams (app, grp, until_ms, month_day, month, ids_day, ids) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id AS n",
            vec![app.as_str().into(), group.as_str().into(), int(until.0), int(holds.month_day.0), int(holds.month), int(holds.ids_day.0), int(holds.ids)],
        )
    }

    fn stream_holds(&self, stream: u64) -> Result<Option<Holds>, StoreError> {
        // The four numbers as one text row, read the way the marks are.
        let rows: Vec<Mark> =
            self.query("SELECT month_day || ' ' || month || ' ' || ids_day || ' ' || ids AS v FROM streams WHERE id = ?", vec![int(stream)])?;
        Ok(rows.first().map(|row| {
            let mut n = row.v.split(' ').map(|part| part.parse().unwrap_or(0));
            let mut next = || n.next().unwrap_or(0);
            Holds { month_day: Day(next()), month: next(), ids_day: Day(next()), ids: next() }
        }))
    }

    fn keep_stream(&mut self, stream: u64, app: &Id, group: &Id, holds: Holds, until: UnixMillis) -> Result<(), StoreError> {
        self.exec(
            "INSERT OR REPLACE INTO streams (id, app, grp, until_ms, month_day, month, ids_day, ids) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            vec![
                int(stream),
                app.as_str().into(),
                group.as_str().into(),
                int(until.0),
                int(holds.month_day.0),
                int(holds.month),
                int(holds.ids_day.0),
                int(holds.ids),
            ],
        )
    }

    fn close_stream(&mut self, stream: u64) -> Result<(), StoreError> {
        self.exec("DELETE FROM streams WHERE id = ?", vec![int(stream)])
    }

    fn open_streams(&self, group: &Id, app: Option<&Id>, now: UnixMillis) -> Result<u64, StoreError> {
        match app {
            Some(app) => self.number(
                "SELECT COUNT(*) AS n FROM streams WHERE grp = ? AND app = ? AND until_ms > ?",
                vec![group.as_str().into(), app.as_str().into(), int(now.0)],
            ),
            None => self.number("SELECT COUNT(*) AS n FROM streams WHERE grp = ? AND until_ms > ?", vec![group.as_str().into(), int(now.0)]),
        }
    }
}
