//! Daily seals: once a UTC day is over, the guard appends to the audit chain one entry that
//! carries a hash of that day's ledger rows. The rows themselves then become tamper-evident: a
//! changed count no longer matches its day's seal.
//!
//! The digest is SHA-256 over the rows in order of app, group and recipient, one line each:
//! `app \t group \t recipient \t forwarded \t items \t distinct_items \t bytes \t reason=n,… \n`.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::hex;
use crate::domain::record::ledger::Row;
use crate::domain::time::day::Day;

/// The detail of a seal entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seal {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// Days since the epoch, for finding the rows again.
    pub day_number: u64,
    pub rows: usize,
    pub ledger_sha256: String,
}

/// The digest of one day's rows (given in any order).
#[must_use]
pub fn ledger_digest(rows: &[Row]) -> String {
    let mut sorted: Vec<&Row> = rows.iter().collect();
    sorted.sort_by(|a, b| (&a.app, &a.group, &a.recipient).cmp(&(&b.app, &b.group, &b.recipient)));
    let mut hasher = Sha256::new();
    for r in sorted {
        let refused: Vec<String> = r.refused.iter().map(|(k, n)| format!("{k}={n}")).collect();
        hasher.update(
            format!(
                "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
                r.app,
                r.group,
                r.recipient,
                r.forwarded,
                r.items,
                r.distinct_items,
                r.bytes,
                refused.join(",")
            )
            .as_bytes(),
        );
    }
    hex::encode(&hasher.finalize())
}

/// The seal of a day's rows.
#[must_use]
pub fn seal(day: Day, rows: &[Row]) -> Seal {
    Seal { day: day.label(), day_number: day.0, rows: rows.len(), ledger_sha256: ledger_digest(rows) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn row(app: &str, forwarded: u64) -> Row {
        Row {
            day: "2026-12-01".into(),
            app: app.into(),
            group: "search".into(),
            recipient: String::new(),
            forwarded,
            refused: BTreeMap::from([("rate-limit-exceeded".to_owned(), 3)]),
            items: 10,
            distinct_items: 8,
            bytes: 100,
        }
    }

    #[test]
    fn the_digest_does_not_depend_on_row_order_and_changes_with_any_count() {
        let a = [row("a1", 5), row("a2", 7)];
        let b = [row("a2", 7), row("a1", 5)];
        assert_eq!(ledger_digest(&a), ledger_digest(&b));
        let mut changed = a.clone();
        changed[1].refused.insert("rate-limit-exceeded".into(), 2);
        assert_ne!(ledger_digest(&a), ledger_digest(&changed));
        changed = a.clone();
        changed[0].bytes += 1;
        assert_ne!(ledger_digest(&a), ledger_digest(&changed));
        let sealed = seal(Day(20_423), &a);
        assert_eq!((sealed.rows, sealed.day.as_str()), (2, "2025-12-01"));
    }

    #[test]
    fn the_digest_of_no_rows_is_the_empty_hash() {
        assert_eq!(ledger_digest(&[]), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }
}
