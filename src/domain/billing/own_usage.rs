//! The customer's own view of its usage: `GET /2/usage/tweets`, answered by Tollgate itself from
//! the account's ledger, in the API's documented shape, for the account of the bearer token
//! (the project) and its apps (the client apps). It is never forwarded to the origin.
//!
//! The numbers are the ones the statement bills: `project_usage` is the month's distinct items
//! (UTC calendar month, the statement's `totals.distinct_items`), and each day's usage is the
//! day's distinct items.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::domain::access::id::Id;
use crate::domain::access::token::TokenHash;
use crate::domain::throttle::charge::Charge;
use crate::domain::throttle::limit::{Limit, LimitMode, Scope};
use crate::domain::throttle::verdict::{Quota, Verdict};
use crate::domain::time::clock::UnixMillis;
use crate::domain::time::day::{Day, DAY_MS};
use crate::domain::time::month::Month;

/// The path Tollgate answers itself (GET only).
pub const PATH: &str = "/2/usage/tweets";
/// Its own limit, as the API's: 50 requests per app per 15 minutes.
pub const REQUESTS_PER_WINDOW: u64 = 50;
pub const WINDOW_SECONDS: u64 = 900;
/// The counter group of that limit: a name no plan's group can take by accident.
pub const GROUP: &str = "tollgate.usage";
/// Days of daily usage: 1 to 90, 7 when not asked.
pub const MAX_DAYS: u32 = 90;
const DEFAULT_DAYS: u32 = 7;

const FIELDS: [&str; 6] = ["cap_reset_day", "daily_client_app_usage", "daily_project_usage", "project_cap", "project_id", "project_usage"];
/// Without `usage.fields`, the API answers these.
const DEFAULT_FIELDS: [&str; 4] = ["cap_reset_day", "project_cap", "project_id", "project_usage"];

/// A well-formed query: the days of daily usage and the fields asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageQuery {
    pub days: u32,
    fields: Vec<&'static str>,
}

/// The query is not one the endpoint takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadQuery;

impl UsageQuery {
    /// Reads `days=N&usage.fields=a,b` (commas plain or `%2C`); any other parameter, a repeated
    /// one, or a value out of range is refused.
    ///
    /// # Errors
    /// [`BadQuery`].
    pub fn parse(query: Option<&str>) -> Result<Self, BadQuery> {
        let mut days = None;
        let mut fields: Option<Vec<&'static str>> = None;
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            match name {
                "days" if days.is_none() => {
                    days = Some(value.parse::<u32>().ok().filter(|d| (1..=MAX_DAYS).contains(d)).ok_or(BadQuery)?);
                }
                "usage.fields" | "usage%2Efields" | "usage%2efields" if fields.is_none() => {
                    let mut asked = Vec::new();
                    for text in value.split(',').flat_map(|v| v.split("%2C")).flat_map(|v| v.split("%2c")) {
                        let known = FIELDS.iter().find(|f| **f == text).ok_or(BadQuery)?;
                        if !asked.contains(known) {
                            asked.push(*known);
                        }
                    }
                    fields = Some(asked);
                }
                _ => return Err(BadQuery),
            }
        }
        Ok(Self { days: days.unwrap_or(DEFAULT_DAYS), fields: fields.unwrap_or_else(|| DEFAULT_FIELDS.to_vec()) })
    }

    fn wants(&self, field: &str) -> bool {
        self.fields.contains(&field)
    }

    /// The first day the guard must read: the earliest of the month's first day and the first
    /// day of daily usage.
    #[must_use]
    pub fn from(&self, now: UnixMillis) -> Day {
        let today = Day::of(now);
        today.minus(u64::from(self.days) - 1).min(Day::of(Month::of(now).start()))
    }
}

/// The charge of one usage request against the endpoint's own limit.
#[must_use]
pub fn charge(app: Id, token_hash: TokenHash) -> Charge {
    let group = Id::new(GROUP).unwrap_or_else(|_| app.clone());
    let limit = Limit { group: group.clone(), scope: Scope::App, requests: REQUESTS_PER_WINDOW, window_seconds: WINDOW_SECONDS, mode: LimitMode::Strict };
    Charge {
        app,
        token_hash,
        group,
        limits: vec![limit],
        monthly_item_cap: None,
        recipient: None,
        fingerprint: None,
        stream: false,
        connections_per_app: None,
        connections_per_account: None,
    }
}

/// What the guard answers the edge: the body to send with the endpoint's window, a refusal, or
/// a query the endpoint does not take. The body is built in the guard (the control plane), so
/// the request path's module carries none of this code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    Usage { quotas: Vec<Quota>, body: String },
    Refused(Verdict),
    BadQuery,
}

/// One app's distinct items on one day, as the guard sums them from the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppDay {
    pub day: Day,
    pub app: String,
    pub distinct: u64,
}

/// The response body, in the API's shape: counts as strings, dates as UTC midnights.
#[must_use]
pub fn body(query: &UsageQuery, account: &Id, cap: Option<u64>, rows: &[AppDay], now: UnixMillis) -> Value {
    let month_start = Day::of(Month::of(now).start());
    let today = Day::of(now);
    let first = today.minus(u64::from(query.days) - 1);
    let month: u64 = rows.iter().filter(|r| r.day >= month_start && r.day <= today).map(|r| r.distinct).sum();
    let days: Vec<Day> = (first.0..=today.0).map(Day).collect();
    let daily = |app: Option<&str>| -> Vec<Value> {
        days.iter()
            .map(|d| {
                let n: u64 = rows.iter().filter(|r| r.day == *d && app.is_none_or(|a| r.app == a)).map(|r| r.distinct).sum();
                json!({ "date": date(*d), "usage": n.to_string() })
            })
            .collect()
    };
    let mut data = Map::new();
    if query.wants("cap_reset_day") {
        // Days left until the cap resets: 00:00 UTC on the 1st of next month.
        let left = (Month::of(now).next().start().0 - now.0).div_ceil(DAY_MS);
        data.insert("cap_reset_day".into(), json!(left));
    }
    if query.wants("daily_client_app_usage") {
        let mut apps: Vec<&str> = rows.iter().filter(|r| r.day >= first).map(|r| r.app.as_str()).collect();
        apps.sort_unstable();
        apps.dedup();
        let per_app: Vec<Value> = apps
            .into_iter()
            .map(|a| json!({ "client_app_id": a, "usage": daily(Some(a)), "usage_result_count": days.len() }))
            .collect();
        data.insert("daily_client_app_usage".into(), Value::Array(per_app));
    }
    if query.wants("daily_project_usage") {
        data.insert("daily_project_usage".into(), json!({ "project_id": account, "usage": daily(None) }));
    }
    if query.wants("project_cap") {
        if let Some(cap) = cap {
            data.insert("project_cap".into(), json!(cap.to_string()));
        }
    }
    if query.wants("project_id") {
        data.insert("project_id".into(), json!(account));
    }
    if query.wants("project_usage") {
        data.insert("project_usage".into(), json!(month.to_string()));
    }
    json!({ "data": data })
}

/// `2026-11-22T00:00:00.000Z`.
fn date(day: Day) -> String {
    format!("{}T00:00:00.000Z", day.label())
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-11-22T20:00:00Z
    const NOW: UnixMillis = UnixMillis(1_795_377_600_000);

    fn id(s: &str) -> Id {
        Id::new(s).unwrap()
    }

    #[test]
    fn reads_the_query_clients_send_and_refuses_the_rest() {
        let q = UsageQuery::parse(None).unwrap();
        assert_eq!((q.days, q.fields.clone()), (7, DEFAULT_FIELDS.to_vec()));
        let q = UsageQuery::parse(Some("days=30&usage.fields=daily_project_usage%2Cproject_usage,project_id")).unwrap();
        assert_eq!((q.days, q.fields), (30, vec!["daily_project_usage", "project_usage", "project_id"]));
        for bad in ["days=0", "days=91", "days=x", "days=1&days=2", "usage.fields=nope", "query=x", "usage.fields=project_id&usage.fields=project_id"] {
            assert_eq!(UsageQuery::parse(Some(bad)), Err(BadQuery), "{bad}");
        }
    }

    #[test]
    fn reads_back_to_the_month_start_or_the_first_day_asked() {
        let today = Day::of(NOW);
        assert_eq!(UsageQuery::parse(Some("days=3")).unwrap().from(NOW), Day::of(Month::of(NOW).start()));
        assert_eq!(UsageQuery::parse(Some("days=90")).unwrap().from(NOW), today.minus(89));
    }

    #[test]
    fn the_body_is_the_apis_shape_with_the_months_distinct_items() {
        let today = Day::of(NOW);
        let last_month = Day::of(Month::of(NOW).start()).minus(1);
        let rows = [
            AppDay { day: last_month, app: "a1".into(), distinct: 1_000 },
            AppDay { day: today.minus(1), app: "a1".into(), distinct: 30 },
            AppDay { day: today, app: "a1".into(), distinct: 5 },
            AppDay { day: today, app: "a2".into(), distinct: 7 },
        ];
        let all = UsageQuery::parse(Some("days=2&usage.fields=cap_reset_day,daily_client_app_usage,daily_project_usage,project_cap,project_id,project_usage")).unwrap();
        let v = body(&all, &id("acme"), Some(2_000_000), &rows, NOW);
        let d = &v["data"];
        // Last month's items are not this month's usage.
        assert_eq!(d["project_usage"], "42");
        assert_eq!(d["project_cap"], "2000000");
        assert_eq!(d["project_id"], "acme");
        // 2026-11-22T20:00Z: the cap resets at 2026-12-01T00:00Z, 8.17 days on.
        assert_eq!(d["cap_reset_day"], 9);
        assert_eq!(d["daily_project_usage"]["usage"], json!([
            { "date": "2026-11-21T00:00:00.000Z", "usage": "30" },
            { "date": "2026-11-22T00:00:00.000Z", "usage": "12" },
        ]));
        let apps = d["daily_client_app_usage"].as_array().unwrap();
        assert_eq!(apps.len(), 2);
        assert_eq!((apps[0]["client_app_id"].as_str(), apps[0]["usage_result_count"].as_u64()), (Some("a1"), Some(2)));
        assert_eq!(apps[1]["usage"][1]["usage"], "7");
        // The default fields, and no cap when the plan has none.
        let v = body(&UsageQuery::parse(None).unwrap(), &id("acme"), None, &rows, NOW);
        let keys: Vec<&String> = v["data"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["cap_reset_day", "project_id", "project_usage"]);
    }
}
