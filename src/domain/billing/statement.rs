//! A month's statement for one account, from its guard's ledger: a line per app and endpoint
//! group (requests, items, distinct items, refusals by reason), the charges at the price version
//! in force, the amount due in minor units, and what pins the figures: the digest of each day's
//! rows beside that day's seal in the audit chain, and the chain's head when it was made.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::money::{self, TooLarge};
use super::price::{self, PriceVersion};
use crate::domain::hex;
use crate::domain::record::audit::Entry;
use crate::domain::record::ledger::Row;
use crate::domain::record::seal::{self, Seal};
use crate::domain::time::clock::UnixMillis;
use crate::domain::time::day::Day;
use crate::domain::time::month::Month;

/// What the guard gives for a statement: the month's ledger rows, the seals of its days, the
/// chain's last entry, and the last day sealed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    pub rows: Vec<Row>,
    pub seals: Vec<Entry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<Entry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_through: Option<Day>,
}

/// What the statement is for: the account, the month and the plan it is billed under.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub account: &'a str,
    pub month: Month,
    pub plan: &'a str,
    pub prices: &'a [PriceVersion],
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Statement {
    pub account: String,
    /// `YYYY-MM`.
    pub month: String,
    /// The first and last day of the month, `YYYY-MM-DD`.
    pub from: String,
    pub to: String,
    /// The month is over and every day of it is sealed: the figures can no longer change.
    #[serde(rename = "final")]
    pub is_final: bool,
    pub plan: String,
    /// The price version in force for the month; `None` when the plan has no price for it (the
    /// usage is still stated, and no amount).
    pub price_version: Option<u32>,
    pub currency: Option<String>,
    pub minor_digits: Option<u8>,
    pub lines: Vec<Line>,
    pub totals: Totals,
    pub charges: Vec<Charge>,
    pub amount_due_minor: Option<u64>,
    /// The same amount as a decimal of the currency's main unit, for people.
    pub amount_due: Option<String>,
    pub pinned_by: Pins,
}

/// One app and endpoint group over the month.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Line {
    pub app: String,
    /// `-` for requests that matched no endpoint of the plan (refusals only).
    pub group: String,
    /// Requests forwarded to the origin.
    pub requests: u64,
    pub items: u64,
    /// Items new to the account on their day (the billed count).
    pub distinct_items: u64,
    pub refused: BTreeMap<String, u64>,
    pub refused_total: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub requests: u64,
    pub items: u64,
    pub distinct_items: u64,
    pub refused: u64,
}

/// One charge: `quantity × rate / per`, rounded once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Charge {
    /// `monthly_fee`, `overage` (distinct items past those included) or `requests` (of a group).
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    pub quantity: u64,
    /// Minor units per `per` of the quantity.
    pub rate: u64,
    pub per: u64,
    pub amount_minor: u64,
}

/// What pins the figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pins {
    /// SHA-256 over `YYYY-MM-DD \t <day digest> \n` for each day with rows, in order.
    pub ledger_sha256: String,
    pub days: Vec<DayPin>,
    /// The audit chain's last entry when the statement was made.
    pub audit_head: Option<Head>,
}

/// One day: the digest of its rows now (`record::seal`'s form) and its seal, once sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayPin {
    pub day: String,
    pub rows: usize,
    pub ledger_sha256: String,
    /// The `seq` of the day's seal entry, once the day is sealed.
    pub seal_seq: Option<u64>,
    /// Whether the rows still match their seal (`None` before the day is sealed).
    pub matches_seal: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Head {
    pub seq: u64,
    pub hash: String,
}

/// Builds the statement of `subject` from the guard's `figures`, at `now`.
///
/// # Errors
/// [`TooLarge`] when an amount leaves the range a statement carries exactly.
pub fn build(subject: Subject<'_>, figures: &Figures, now: UnixMillis) -> Result<Statement, TooLarge> {
    let month = subject.month;
    let first = Day::of(month.start());
    let last = Day::of(month.next().start()).minus(1);
    let lines = lines(&figures.rows);
    let totals = Totals {
        requests: lines.iter().map(|l| l.requests).sum(),
        items: lines.iter().map(|l| l.items).sum(),
        distinct_items: lines.iter().map(|l| l.distinct_items).sum(),
        refused: lines.iter().map(|l| l.refused_total).sum(),
    };
    let price = price::in_force(subject.prices, month);
    let charges = match price {
        Some(p) => charges(p, totals.distinct_items, |group| lines.iter().filter(|l| l.group == group).map(|l| l.requests).sum())?,
        None => Vec::new(),
    };
    let amount = match price {
        Some(_) => Some(money::sum(charges.iter().map(|c| c.amount_minor))?),
        None => None,
    };
    let is_final = now >= month.next().start() && figures.sealed_through.is_some_and(|d| d >= last);
    Ok(Statement {
        account: subject.account.to_owned(),
        month: month.key(),
        from: first.label(),
        to: last.label(),
        is_final,
        plan: subject.plan.to_owned(),
        price_version: price.map(|p| p.version),
        currency: price.map(|p| p.currency.clone()),
        minor_digits: price.map(|p| p.minor_digits),
        lines,
        totals,
        charges,
        amount_due_minor: amount,
        amount_due: price.zip(amount).map(|(p, a)| money::decimal(a, p.minor_digits)),
        pinned_by: pins(figures),
    })
}

/// The rows summed over days and recipients, per app and group.
fn lines(rows: &[Row]) -> Vec<Line> {
    let mut out: BTreeMap<(&str, &str), Line> = BTreeMap::new();
    for r in rows {
        let line = out.entry((&r.app, &r.group)).or_insert_with(|| Line { app: r.app.clone(), group: r.group.clone(), ..Line::default() });
        line.requests += r.forwarded;
        line.items += r.items;
        line.distinct_items += r.distinct_items;
        for (reason, n) in &r.refused {
            *line.refused.entry(reason.clone()).or_insert(0) += n;
            line.refused_total += n;
        }
    }
    out.into_values().collect()
}

/// The charges of a month at price `p`: from its distinct items and its requests per endpoint
/// group (`requests_in`). The statement and the fleet both bill with this one function.
///
/// # Errors
/// [`TooLarge`] when an amount leaves the exact range.
pub fn charges(p: &PriceVersion, distinct_items: u64, requests_in: impl Fn(&str) -> u64) -> Result<Vec<Charge>, TooLarge> {
    let mut out = vec![Charge { kind: "monthly_fee", group: None, quantity: 1, rate: p.monthly_fee, per: 1, amount_minor: money::sum([p.monthly_fee])? }];
    let over = distinct_items.saturating_sub(p.included_items);
    out.push(Charge {
        kind: "overage",
        group: None,
        quantity: over,
        rate: p.overage_per_1000_items,
        per: 1000,
        amount_minor: money::per_thousand(over, p.overage_per_1000_items)?,
    });
    for (group, rate) in &p.per_1000_requests {
        let requests = requests_in(group.as_str());
        out.push(Charge {
            kind: "requests",
            group: Some(group.to_string()),
            quantity: requests,
            rate: *rate,
            per: 1000,
            amount_minor: money::per_thousand(requests, *rate)?,
        });
    }
    Ok(out)
}

fn pins(figures: &Figures) -> Pins {
    let mut by_day: BTreeMap<&str, Vec<Row>> = BTreeMap::new();
    for r in &figures.rows {
        by_day.entry(&r.day).or_default().push(r.clone());
    }
    let seals: Vec<(u64, Seal)> =
        figures.seals.iter().filter_map(|e| serde_json::from_str::<Seal>(&e.detail).ok().map(|s| (e.seq, s))).collect();
    let mut month = Sha256::new();
    let days: Vec<DayPin> = by_day
        .into_iter()
        .map(|(day, rows)| {
            let digest = seal::ledger_digest(&rows);
            month.update(format!("{day}\t{digest}\n").as_bytes());
            let sealed = seals.iter().find(|(_, s)| s.day == day);
            DayPin {
                day: day.to_owned(),
                rows: rows.len(),
                matches_seal: sealed.map(|(_, s)| s.ledger_sha256 == digest),
                seal_seq: sealed.map(|(seq, _)| *seq),
                ledger_sha256: digest,
            }
        })
        .collect();
    Pins {
        ledger_sha256: hex::encode(&month.finalize()),
        days,
        audit_head: figures.head.as_ref().map(|e| Head { seq: e.seq, hash: e.hash.clone() }),
    }
}

/// The statement as CSV, three blocks parted by a blank line: the heading, the lines (a column
/// per refusal reason), and the charges.
#[must_use]
pub fn to_csv(s: &Statement) -> String {
    let opt = |v: Option<String>| v.unwrap_or_default();
    let mut out = String::from("account,month,from,to,final,plan,price_version,currency,amount_due_minor,amount_due,ledger_sha256,audit_head_seq,audit_head_hash\n");
    out.push_str(&format!(
        "{},{},{},{},{},{},{},{},{},{},{},{},{}\n\n",
        s.account,
        s.month,
        s.from,
        s.to,
        s.is_final,
        s.plan,
        opt(s.price_version.map(|v| v.to_string())),
        opt(s.currency.clone()),
        opt(s.amount_due_minor.map(|v| v.to_string())),
        opt(s.amount_due.clone()),
        s.pinned_by.ledger_sha256,
        opt(s.pinned_by.audit_head.as_ref().map(|h| h.seq.to_string())),
        opt(s.pinned_by.audit_head.as_ref().map(|h| h.hash.clone())),
    ));
    let mut reasons: Vec<&str> = s.lines.iter().flat_map(|l| l.refused.keys().map(String::as_str)).collect();
    reasons.sort_unstable();
    reasons.dedup();
    out.push_str("app,group,requests,items,distinct_items,refused_total");
    for reason in &reasons {
        out.push_str(&format!(",refused:{reason}"));
    }
    out.push('\n');
    for l in &s.lines {
        out.push_str(&format!("{},{},{},{},{},{}", l.app, l.group, l.requests, l.items, l.distinct_items, l.refused_total));
        for reason in &reasons {
            out.push_str(&format!(",{}", l.refused.get(*reason).copied().unwrap_or(0)));
        }
        out.push('\n');
    }
    out.push_str("\ncharge,group,quantity,rate,per,amount_minor\n");
    for c in &s.charges {
        out.push_str(&format!("{},{},{},{},{},{}\n", c.kind, opt(c.group.clone()), c.quantity, c.rate, c.per, c.amount_minor));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::access::id::Id;
    use crate::domain::record::audit::{self as chain};

    const NOV: Month = Month { year: 2026, month: 11 };

    fn row(day: &str, app: &str, group: &str, forwarded: u64, items: u64, distinct: u64, refused: &[(&str, u64)]) -> Row {
        Row {
            day: day.into(),
            app: app.into(),
            group: group.into(),
            recipient: String::new(),
            forwarded,
            refused: refused.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect(),
            items,
            distinct_items: distinct,
            bytes: 100,
        }
    }

    fn prices() -> Vec<PriceVersion> {
        let mut per_group = BTreeMap::new();
        per_group.insert(Id::new("search").unwrap(), 40);
        vec![
            PriceVersion {
                version: 1,
                from: "2026-01".into(),
                currency: "USD".into(),
                minor_digits: 2,
                monthly_fee: 50_000,
                included_items: 1_000,
                overage_per_1000_items: 125,
                per_1000_requests: per_group,
            },
            PriceVersion {
                version: 2,
                from: "2026-12".into(),
                currency: "USD".into(),
                minor_digits: 2,
                monthly_fee: 99_999,
                included_items: 0,
                overage_per_1000_items: 0,
                per_1000_requests: BTreeMap::new(),
            },
        ]
    }

    fn rows() -> Vec<Row> {
        vec![
            row("2026-11-02", "a1", "search", 10, 1_000, 900, &[("rate-limit-exceeded", 2)]),
            row("2026-11-02", "a2", "-", 0, 0, 0, &[("endpoint-not-in-plan", 1)]),
            row("2026-11-03", "a1", "search", 15, 2_000, 1_600, &[]),
            row("2026-11-03", "a1", "lookup", 3, 3, 3, &[]),
        ]
    }

    fn subject(prices: &[PriceVersion]) -> Subject<'_> {
        Subject { account: "acme", month: NOV, plan: "standard", prices }
    }

    #[test]
    fn lines_sum_days_and_the_amount_is_exact() {
        let prices = prices();
        let figures = Figures { rows: rows(), ..Figures::default() };
        let s = build(subject(&prices), &figures, NOV.start()).unwrap();
        assert_eq!(s.lines.len(), 3);
        let search = s.lines.iter().find(|l| l.group == "search").unwrap();
        assert_eq!((search.requests, search.items, search.distinct_items, search.refused_total), (25, 3_000, 2_500, 2));
        assert_eq!(s.totals, Totals { requests: 28, items: 3_003, distinct_items: 2_503, refused: 3 });
        // 500.00 base; 1,503 items over at 1.25 per 1,000 = 187.875 → 188; 25 searches at 0.40
        // per 1,000 = 1 → 1 (halves up).
        let amounts: Vec<(&str, u64)> = s.charges.iter().map(|c| (c.kind, c.amount_minor)).collect();
        assert_eq!(amounts, [("monthly_fee", 50_000), ("overage", 188), ("requests", 1)]);
        assert_eq!((s.amount_due_minor, s.amount_due.as_deref()), (Some(50_189), Some("501.89")));
        assert_eq!((s.price_version, s.from.as_str(), s.to.as_str()), (Some(1), "2026-11-01", "2026-11-30"));
        assert!(!s.is_final);
    }

    #[test]
    fn a_month_without_a_price_states_usage_and_no_amount() {
        let figures = Figures { rows: rows(), ..Figures::default() };
        let s = build(Subject { prices: &[], ..subject(&[]) }, &figures, NOV.start()).unwrap();
        assert_eq!((s.price_version, s.amount_due_minor, s.charges.len()), (None, None, 0));
        assert_eq!(s.totals.requests, 28);
    }

    #[test]
    fn each_day_is_pinned_by_its_seal_and_a_changed_row_shows() {
        let prices = prices();
        let mut rows = rows();
        let day2: Vec<Row> = rows.iter().filter(|r| r.day == "2026-11-02").cloned().collect();
        let sealed = seal::seal(Day(Day::of(NOV.start()).0 + 1), &day2);
        let entry = chain::next(None, 0, "seal", serde_json::to_string(&sealed).unwrap(), None);
        let head = entry.clone();
        let after_month = NOV.next().start();
        let figures = Figures { rows: rows.clone(), seals: vec![entry], head: Some(head), sealed_through: Some(Day::of(NOV.next().start()).minus(1)) };
        let s = build(subject(&prices), &figures, after_month).unwrap();
        assert!(s.is_final);
        let days: Vec<(&str, Option<u64>, Option<bool>)> = s.pinned_by.days.iter().map(|d| (d.day.as_str(), d.seal_seq, d.matches_seal)).collect();
        assert_eq!(days, [("2026-11-02", Some(1), Some(true)), ("2026-11-03", None, None)]);
        assert_eq!(s.pinned_by.audit_head.as_ref().map(|h| h.seq), Some(1));
        // A ledger row changed after its day was sealed no longer matches, and the month's
        // digest moves with it.
        rows[0].forwarded -= 1;
        let changed = build(subject(&prices), &Figures { rows, ..figures }, after_month).unwrap();
        assert_eq!(changed.pinned_by.days[0].matches_seal, Some(false));
        assert_ne!(changed.pinned_by.ledger_sha256, s.pinned_by.ledger_sha256);
    }

    #[test]
    fn the_csv_carries_the_same_figures() {
        let prices = prices();
        let s = build(subject(&prices), &Figures { rows: rows(), ..Figures::default() }, NOV.start()).unwrap();
        let csv = to_csv(&s);
        let blocks: Vec<&str> = csv.split("\n\n").collect();
        assert_eq!(blocks.len(), 3, "{csv}");
        assert!(blocks[0].lines().nth(1).unwrap().starts_with("acme,2026-11,2026-11-01,2026-11-30,false,standard,1,USD,50189,501.89,"));
        assert_eq!(blocks[1].lines().next(), Some("app,group,requests,items,distinct_items,refused_total,refused:endpoint-not-in-plan,refused:rate-limit-exceeded"));
        assert!(blocks[1].contains("\na1,search,25,3000,2500,2,0,2\n") || blocks[1].contains("\na1,search,25,3000,2500,2,0,2"), "{csv}");
        assert!(blocks[2].contains("overage,,1503,125,1000,188\n"), "{csv}");
    }

    #[test]
    fn an_amount_out_of_range_is_an_error_not_a_wrong_number() {
        let mut prices = prices();
        prices[0].overage_per_1000_items = price::MAX_PRICE;
        let figures = Figures { rows: vec![row("2026-11-02", "a1", "search", 1, u64::MAX / 2, u64::MAX / 2, &[])], ..Figures::default() };
        assert_eq!(build(subject(&prices), &figures, NOV.start()), Err(TooLarge));
    }
}
