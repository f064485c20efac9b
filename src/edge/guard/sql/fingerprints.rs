//! The distinct clients of each token per day (`guard::ports::Fingerprints`).

use worker::SqlStorageValue;

use super::{int, SqlStore};
use crate::domain::access::id::Id;
use crate::domain::guard::ports::{Fingerprints, SeenClient, StoreError};
use crate::domain::redistribution::fingerprint::{Fingerprint, RESALE_FINGERPRINTS_PER_DAY};
use crate::domain::time::day::Day;

impl Fingerprints for SqlStore {
    fn record_fingerprint(&mut self, app: &Id, day: Day, fp: &Fingerprint) -> Result<Option<u64>, StoreError> {
        let written = self.exec_counted(
            "INSERT OR IGNORE INTO fingerprints (app, day, key, prefix, asn, agent) VALUES (?, ?, ?, ?, ?, ?)",
            vec![
                app.as_str().into(),
                int(day.0),
                fp.key.as_str().into(),
                fp.prefix.as_str().into(),
                fp.asn.map_or(SqlStorageValue::Null, |a| SqlStorageValue::Integer(i64::from(a))),
                fp.agent.as_str().into(),
            ],
        )?;
        if written == 0 {
            return Ok(None);
        }
        // Counted up to one past the threshold: the rule needs no more, and the count stays cheap
        // for a token with thousands of clients.
        let n = self.number(
            "SELECT COUNT(*) AS n FROM (SELECT 1 FROM fingerprints WHERE app = ? AND day = ? LIMIT ?)",
            vec![app.as_str().into(), int(day.0), int(RESALE_FINGERPRINTS_PER_DAY + 1)],
        )?;
        Ok(Some(n))
    }

    fn clients(&self, app: &Id, day: Day) -> Result<Vec<SeenClient>, StoreError> {
        self.query("SELECT prefix, asn, agent FROM fingerprints WHERE app = ? AND day = ? LIMIT 50", vec![app.as_str().into(), int(day.0)])
    }
}
