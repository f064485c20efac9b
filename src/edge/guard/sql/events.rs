//! Detection events, each recorded once under its dedupe key (`guard::ports::Events`).

use super::{int, SqlStore};
use crate::domain::guard::ports::{EventKind, EventRow, Events, StoreError};
use crate::domain::time::clock::UnixMillis;

impl Events for SqlStore {
    fn record_event(&mut self, now: UnixMillis, kind: EventKind, dedupe: &str, evidence: &str) -> Result<(), StoreError> {
        self.exec(
            "INSERT OR IGNORE INTO events (at, kind, dedupe, evidence) VALUES (?, ?, ?, ?)",
            vec![int(now.0), kind.as_str().into(), dedupe.into(), evidence.into()],
        )
    }

    fn events(&self) -> Result<Vec<EventRow>, StoreError> {
        self.query("SELECT id, at, kind, evidence FROM events ORDER BY id DESC LIMIT 100", vec![])
    }
}
