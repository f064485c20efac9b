//! The fleet at a glance: every account's month on one page, from a rollup each account's guard
//! writes (its month's figures, at most [`ROLLUP_SECONDS`] after a command changed them), joined
//! with the account directory and priced with the plan's version in force. The page never asks
//! a guard anything.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::price::{self, PriceVersion};
use super::statement;
use crate::domain::time::month::Month;

/// How long after a command a guard writes its rollup: the most the fleet page is behind an
/// account's guard (plus the time of one D1 write).
pub const ROLLUP_SECONDS: u64 = 30;

/// What a guard writes for its month.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthFigures {
    /// `YYYY-MM`.
    pub month: String,
    pub requests: u64,
    pub items: u64,
    pub distinct_items: u64,
    pub refused: u64,
    /// Requests forwarded per endpoint group (what per-request prices apply to).
    pub requests_by_group: BTreeMap<String, u64>,
    /// Pooling and resale events recorded this month.
    pub events: u64,
    pub suspended: bool,
}

/// A plan as the fleet needs it: its cap and prices.
#[derive(Debug, Clone, Copy)]
pub struct PlanTerms<'a> {
    pub monthly_item_cap: Option<u64>,
    pub prices: &'a [PriceVersion],
}

/// One account's line on the fleet page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetLine {
    pub account: String,
    pub name: String,
    pub plan: String,
    /// `suspended` when the account record (the directory) or the guard says so, else the
    /// directory's word (`active`, or `unknown` before the directory has the account).
    pub status: String,
    pub requests: u64,
    pub items: u64,
    pub distinct_items: u64,
    pub refused: u64,
    /// The amount so far at the price version in force, in minor units; `None` without a price
    /// (or when the plan cannot be read).
    pub amount_minor: Option<u64>,
    pub currency: Option<String>,
    pub minor_digits: Option<u8>,
    pub cap: Option<u64>,
    /// Distinct items as a share of the cap, in per cent (one decimal).
    pub cap_used_pct: Option<f64>,
    pub events: u64,
    /// When the guard last wrote its rollup (Unix ms); `None` if it has not this month.
    pub updated_at: Option<u64>,
}

/// One account's line, from its directory entry, its rollup of `month` (if any) and its plan.
#[must_use]
pub fn line(account: &str, name: &str, plan: &str, status: &str, rollup: Option<(&MonthFigures, u64)>, terms: Option<PlanTerms<'_>>, month: Month) -> FleetLine {
    let empty = MonthFigures::default();
    let (figures, updated_at) = match rollup {
        Some((f, at)) if f.month == month.key() => (f, Some(at)),
        _ => (&empty, None),
    };
    let price = terms.and_then(|t| price::in_force(t.prices, month));
    let amount = price.and_then(|p| {
        let charges = statement::charges(p, figures.distinct_items, |group| figures.requests_by_group.get(group).copied().unwrap_or(0)).ok()?;
        super::money::sum(charges.iter().map(|c| c.amount_minor)).ok()
    });
    let cap = terms.and_then(|t| t.monthly_item_cap);
    #[allow(clippy::cast_precision_loss)] // a share, shown to one decimal
    let cap_used_pct = cap.map(|c| ((figures.distinct_items as f64) * 1000.0 / (c as f64)).round() / 10.0);
    FleetLine {
        account: account.to_owned(),
        name: name.to_owned(),
        plan: plan.to_owned(),
        status: if status == "suspended" || (updated_at.is_some() && figures.suspended) { "suspended".into() } else { status.to_owned() },
        requests: figures.requests,
        items: figures.items,
        distinct_items: figures.distinct_items,
        refused: figures.refused,
        amount_minor: amount,
        currency: price.map(|p| p.currency.clone()),
        minor_digits: price.map(|p| p.minor_digits),
        cap,
        cap_used_pct,
        events: figures.events,
        updated_at,
    }
}

/// The columns the page sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Account,
    Requests,
    Items,
    Amount,
    CapUsed,
    Events,
    Status,
}

impl SortKey {
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "account" => Self::Account,
            "requests" => Self::Requests,
            "items" => Self::Items,
            "amount" => Self::Amount,
            "cap_used" => Self::CapUsed,
            "events" => Self::Events,
            "status" => Self::Status,
            _ => return None,
        })
    }
}

/// Sorts the lines by `key` (descending when `descending`), ties by account id; lines without
/// the value (no price, no cap) last either way.
pub fn sort(lines: &mut [FleetLine], key: SortKey, descending: bool) {
    use std::cmp::Ordering;
    let value = |l: &FleetLine| -> Option<f64> {
        #[allow(clippy::cast_precision_loss)]
        match key {
            SortKey::Requests => Some(l.requests as f64),
            SortKey::Items => Some(l.items as f64),
            SortKey::Amount => l.amount_minor.map(|a| a as f64),
            SortKey::CapUsed => l.cap_used_pct,
            SortKey::Events => Some(l.events as f64),
            SortKey::Account | SortKey::Status => None,
        }
    };
    lines.sort_by(|a, b| {
        let order = match key {
            SortKey::Account => a.account.cmp(&b.account),
            SortKey::Status => a.status.cmp(&b.status),
            _ => match (value(a), value(b)) {
                (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
                (Some(_), None) => return Ordering::Less,
                (None, Some(_)) => return Ordering::Greater,
                (None, None) => Ordering::Equal,
            },
        };
        let order = if descending { order.reverse() } else { order };
        order.then_with(|| a.account.cmp(&b.account))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::access::id::Id;

    const DEC: Month = Month { year: 2026, month: 12 };

    fn figures(requests: u64, distinct: u64) -> MonthFigures {
        MonthFigures {
            month: "2026-12".into(),
            requests,
            items: distinct + 5,
            distinct_items: distinct,
            refused: 1,
            requests_by_group: BTreeMap::from([("search".to_owned(), requests)]),
            events: 0,
            suspended: false,
        }
    }

    fn prices() -> Vec<PriceVersion> {
        vec![PriceVersion {
            version: 1,
            from: "2026-01".into(),
            currency: "USD".into(),
            minor_digits: 2,
            monthly_fee: 1_000,
            included_items: 100,
            overage_per_1000_items: 500,
            per_1000_requests: BTreeMap::from([(Id::new("search").unwrap(), 1_000)]),
        }]
    }

    #[test]
    fn a_line_is_priced_as_the_statement_prices_it() {
        let prices = prices();
        let terms = PlanTerms { monthly_item_cap: Some(2_000), prices: &prices };
        let l = line("acme", "Acme", "standard", "active", Some((&figures(7, 1_100), 42)), Some(terms), DEC);
        // 10.00 + 1,000 over at 5.00 per 1,000 + 7 searches at 10.00 per 1,000 = 10.00 + 5.00 + 0.07.
        assert_eq!(l.amount_minor, Some(1_507));
        assert_eq!((l.cap_used_pct, l.updated_at, l.status.as_str()), (Some(55.0), Some(42), "active"));
        // Last month's rollup is not this month's: zeros, and the base fee.
        let mut old = figures(7, 1_100);
        old.month = "2026-11".into();
        let l = line("acme", "Acme", "standard", "active", Some((&old, 42)), Some(terms), DEC);
        assert_eq!((l.requests, l.amount_minor, l.updated_at), (0, Some(1_000), None));
        // No plan terms: no amount, no cap.
        let l = line("acme", "Acme", "gone", "suspended", None, None, DEC);
        assert_eq!((l.amount_minor, l.cap_used_pct, l.status.as_str()), (None, None, "suspended"));
        // Suspended at the guard (at once) before the record says so.
        let mut held = figures(1, 1);
        held.suspended = true;
        assert_eq!(line("acme", "Acme", "p", "active", Some((&held, 1)), None, DEC).status, "suspended");
    }

    #[test]
    fn sorts_by_any_column_with_missing_values_last() {
        let prices = prices();
        let terms = PlanTerms { monthly_item_cap: None, prices: &prices };
        let mut lines = vec![
            line("b", "B", "p", "active", Some((&figures(5, 10), 1)), Some(terms), DEC),
            line("a", "A", "p", "active", Some((&figures(9, 500), 1)), Some(terms), DEC),
            line("c", "C", "p", "active", Some((&figures(5, 10), 1)), None, DEC),
        ];
        sort(&mut lines, SortKey::Requests, true);
        assert_eq!(lines.iter().map(|l| l.account.as_str()).collect::<Vec<_>>(), ["a", "b", "c"]);
        sort(&mut lines, SortKey::Amount, false);
        assert_eq!(lines.iter().map(|l| l.account.as_str()).collect::<Vec<_>>(), ["b", "a", "c"]);
        sort(&mut lines, SortKey::Amount, true);
        assert_eq!(lines.iter().map(|l| l.account.as_str()).collect::<Vec<_>>(), ["a", "b", "c"]);
        sort(&mut lines, SortKey::Account, true);
        assert_eq!(lines.iter().map(|l| l.account.as_str()).collect::<Vec<_>>(), ["c", "b", "a"]);
        assert_eq!(SortKey::parse("cap_used"), Some(SortKey::CapUsed));
        assert_eq!(SortKey::parse("nope"), None);
    }
}
