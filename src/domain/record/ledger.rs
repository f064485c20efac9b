//! The usage ledger: per account, app, endpoint group, recipient and day, what was forwarded,
//! refused (by reason), and delivered (items, distinct items, bytes). It is what an audit reads.

use serde::{Deserialize, Serialize};

/// One row of the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    pub app: String,
    pub group: String,
    /// Empty when the request named no recipient.
    pub recipient: String,
    pub forwarded: u64,
    /// Refusals by reason, e.g. `rate-limit-exceeded`, `use-case-missing`.
    pub refused: std::collections::BTreeMap<String, u64>,
    pub items: u64,
    /// Items not delivered to this account before on the same day.
    pub distinct_items: u64,
    pub bytes: u64,
}

/// The CSV export: one line per row and refusal reason column.
#[must_use]
pub fn to_csv(rows: &[Row]) -> String {
    let mut reasons: Vec<&str> = rows.iter().flat_map(|r| r.refused.keys().map(String::as_str)).collect();
    reasons.sort_unstable();
    reasons.dedup();
    let mut out = String::from("day,app,group,recipient,forwarded,items,distinct_items,bytes,refused_total");
    for reason in &reasons {
        out.push_str(",refused:");
        out.push_str(reason);
    }
    out.push('\n');
    for r in rows {
        let total: u64 = r.refused.values().sum();
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{}",
            field(&r.day),
            field(&r.app),
            field(&r.group),
            field(&r.recipient),
            r.forwarded,
            r.items,
            r.distinct_items,
            r.bytes,
            total
        ));
        for reason in &reasons {
            out.push_str(&format!(",{}", r.refused.get(*reason).copied().unwrap_or(0)));
        }
        out.push('\n');
    }
    out
}

/// Ids are `[a-z0-9._-]`, but a CSV field is quoted if it ever needs to be.
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_has_a_column_per_refusal_reason() {
        let mut refused = std::collections::BTreeMap::new();
        refused.insert("rate-limit-exceeded".to_owned(), 3);
        let rows = vec![
            Row { day: "2026-11-22".into(), app: "a".into(), group: "search".into(), recipient: String::new(), forwarded: 5, refused, items: 50, distinct_items: 40, bytes: 9000 },
            Row { day: "2026-11-22".into(), app: "b".into(), group: "lookup".into(), recipient: "r,1".into(), forwarded: 1, refused: Default::default(), items: 1, distinct_items: 1, bytes: 100 },
        ];
        let csv = to_csv(&rows);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "day,app,group,recipient,forwarded,items,distinct_items,bytes,refused_total,refused:rate-limit-exceeded");
        assert_eq!(lines[1], "2026-11-22,a,search,,5,50,40,9000,3,3");
        assert_eq!(lines[2], "2026-11-22,b,lookup,\"r,1\",1,1,1,100,0,0");
    }
}
