//! A plan's prices: a list of versions, each in force from a month (UTC) until the next one
//! takes over. A price change is a new version from a later month, so a month is always billed
//! at the prices it began with, and a statement names the version it used. Every amount is an
//! integer of the currency's minor unit.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::access::id::Id;
use crate::domain::time::month::Month;

/// One version of a plan's prices:
/// `{"version":1,"from":"2026-11","currency":"USD","monthly_fee":50000,"included_items":1000000,
///   "overage_per_1000_items":25,"per_1000_requests":{"search":10}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceVersion {
    /// Numbers the versions of one plan, rising with `from`.
    pub version: u32,
    /// The first month (`YYYY-MM`, UTC) billed at these prices.
    pub from: String,
    /// ISO 4217: three capital letters.
    pub currency: String,
    /// Digits of the minor unit: 2 for USD and EUR (cents), 0 for JPY.
    #[serde(default = "two")]
    pub minor_digits: u8,
    /// The base fee of a month.
    #[serde(default)]
    pub monthly_fee: u64,
    /// Distinct items the base fee includes each month.
    #[serde(default)]
    pub included_items: u64,
    /// The price of 1,000 distinct items past those included.
    #[serde(default)]
    pub overage_per_1000_items: u64,
    /// The price of 1,000 forwarded requests, per endpoint group; groups not named cost nothing
    /// per request.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub per_1000_requests: BTreeMap<Id, u64>,
}

fn two() -> u8 {
    2
}

/// The most price versions one plan keeps.
pub const MAX_VERSIONS: usize = 120;
/// The largest price or fee, in minor units: large enough for any agreement, small enough that
/// no month's amount can leave the range a statement carries exactly.
pub const MAX_PRICE: u64 = 1_000_000_000_000;

/// Reads past a plan's prices without keeping them (the enforcer's build).
///
/// # Errors
/// The reader's own error, when the field is not JSON.
pub fn skip<'de, D: serde::Deserializer<'de>>(reader: D) -> Result<Vec<PriceVersion>, D::Error> {
    serde::de::IgnoredAny::deserialize(reader).map(|_| Vec::new())
}

/// Why a list of prices is refused (the plan's `prices` field).
#[must_use]
pub fn problem(prices: &[PriceVersion], groups: &[&Id]) -> Option<String> {
    if prices.len() > MAX_VERSIONS {
        return Some(format!("at most {MAX_VERSIONS} versions"));
    }
    let mut previous: Option<(u32, Month)> = None;
    for (i, p) in prices.iter().enumerate() {
        let Some(from) = Month::parse(&p.from) else {
            return Some(format!("version {i}: `from` must be YYYY-MM"));
        };
        if let Some((version, month)) = previous {
            if p.version <= version || from <= month {
                return Some(format!("version {i}: versions and their `from` months must rise in order"));
            }
        }
        previous = Some((p.version, from));
        if p.currency.len() != 3 || !p.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Some(format!("version {i}: `currency` must be three capital letters (ISO 4217)"));
        }
        if p.minor_digits > 4 {
            return Some(format!("version {i}: `minor_digits` must be 0 to 4"));
        }
        let prices = [p.monthly_fee, p.overage_per_1000_items].into_iter().chain(p.per_1000_requests.values().copied());
        if prices.into_iter().any(|n| n > MAX_PRICE) {
            return Some(format!("version {i}: a price is above {MAX_PRICE} minor units"));
        }
        if let Some(group) = p.per_1000_requests.keys().find(|g| !groups.contains(g)) {
            return Some(format!("version {i}: no endpoint is in group `{group}`"));
        }
    }
    None
}

/// The version in force in `month`: the last one from that month or before.
#[must_use]
pub fn in_force(prices: &[PriceVersion], month: Month) -> Option<&PriceVersion> {
    prices.iter().rev().find(|p| Month::parse(&p.from).is_some_and(|from| from <= month))
}

/// Whether a plan's prices may change from `old` to `new` in `now`: a version in force this
/// month or earlier stays as it was, and a new or changed version starts next month or later.
///
/// # Errors
/// What the change would rewrite.
pub fn check_change(old: &[PriceVersion], new: &[PriceVersion], now: Month) -> Result<(), String> {
    let started = |p: &PriceVersion| Month::parse(&p.from).is_some_and(|from| from <= now);
    for kept in old.iter().filter(|p| started(p)) {
        if !new.contains(kept) {
            return Err(format!(
                "price version {} has been in force since {}: it cannot be changed or removed; add a version from {} or later",
                kept.version,
                kept.from,
                now.next().key()
            ));
        }
    }
    for added in new.iter().filter(|p| !old.contains(p)) {
        if started(added) {
            return Err(format!(
                "price version {} starts in {}: a new price applies from the next month ({}) or later",
                added.version,
                added.from,
                now.next().key()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(version: u32, from: &str, fee: u64) -> PriceVersion {
        PriceVersion {
            version,
            from: from.into(),
            currency: "USD".into(),
            minor_digits: 2,
            monthly_fee: fee,
            included_items: 1_000,
            overage_per_1000_items: 25,
            per_1000_requests: BTreeMap::new(),
        }
    }

    const NOV: Month = Month { year: 2026, month: 11 };

    #[test]
    fn reads_the_documented_form_with_defaults() {
        let p: PriceVersion = serde_json::from_str(r#"{"version":1,"from":"2026-11","currency":"USD","per_1000_requests":{"search":10}}"#).unwrap();
        assert_eq!((p.minor_digits, p.monthly_fee, p.included_items), (2, 0, 0));
        assert_eq!(p.per_1000_requests[&Id::new("search").unwrap()], 10);
        assert!(serde_json::from_str::<PriceVersion>(r#"{"version":1,"from":"2026-11","currency":"USD","fee":1}"#).is_err());
    }

    #[test]
    fn refuses_prices_that_cannot_be_billed() {
        let search = Id::new("search").unwrap();
        let groups = [&search];
        assert_eq!(problem(&[version(1, "2026-01", 5), version(2, "2026-12", 6)], &groups), None);
        let mut bad_currency = version(1, "2026-01", 5);
        bad_currency.currency = "usd".into();
        let mut unknown_group = version(1, "2026-01", 5);
        unknown_group.per_1000_requests.insert(Id::new("lookup").unwrap(), 1);
        let mut huge = version(1, "2026-01", MAX_PRICE + 1);
        huge.minor_digits = 2;
        for (prices, why) in [
            (vec![version(1, "2026-13", 5)], "YYYY-MM"),
            (vec![version(2, "2026-01", 5), version(1, "2026-02", 5)], "rise"),
            (vec![version(1, "2026-02", 5), version(2, "2026-02", 5)], "rise"),
            (vec![bad_currency], "capital"),
            (vec![unknown_group], "`lookup`"),
            (vec![huge], "above"),
        ] {
            assert!(problem(&prices, &groups).is_some_and(|p| p.contains(why)), "{why}: {:?}", problem(&prices, &groups));
        }
    }

    #[test]
    fn a_month_is_billed_at_the_version_it_began_with() {
        let prices = [version(1, "2026-01", 5), version(2, "2026-12", 6)];
        assert_eq!(in_force(&prices, Month { year: 2025, month: 12 }), None);
        assert_eq!(in_force(&prices, NOV).map(|p| p.version), Some(1));
        assert_eq!(in_force(&prices, NOV.next()).map(|p| p.version), Some(2));
        assert_eq!(in_force(&prices, Month { year: 2027, month: 6 }).map(|p| p.version), Some(2));
    }

    #[test]
    fn a_price_change_applies_from_the_next_month() {
        let old = [version(1, "2026-01", 5)];
        // A new version from next month, or later: allowed.
        assert_eq!(check_change(&old, &[version(1, "2026-01", 5), version(2, "2026-12", 6)], NOV), Ok(()));
        // Rewriting the version in force, or removing it: refused.
        assert!(check_change(&old, &[version(1, "2026-01", 6)], NOV).is_err());
        assert!(check_change(&old, &[], NOV).is_err());
        // A new version from this month: refused, it would change what the month has run up.
        let err = check_change(&old, &[version(1, "2026-01", 5), version(2, "2026-11", 6)], NOV).unwrap_err();
        assert!(err.contains("2026-12"), "{err}");
        // A version not yet in force may be changed or withdrawn.
        let planned = [version(1, "2026-01", 5), version(2, "2027-01", 6)];
        assert_eq!(check_change(&planned, &old, NOV), Ok(()));
        assert_eq!(check_change(&planned, &[version(1, "2026-01", 5), version(2, "2027-02", 7)], NOV), Ok(()));
    }
}
