//! The admin API's fleet routes: every account's month on one page, from one D1 query (the
//! rollup the guards write, joined with the account directory) and one KV read per distinct
//! plan; and the directory's sync from KV.

use std::collections::BTreeMap;

use serde_json::json;

use super::{bad, ok, unavailable, Admin, Answer};
use crate::domain::access::entitlement::PlanRecord;
use crate::domain::access::id::Id;
use crate::domain::access::kv_layout;
use crate::domain::billing::fleet::{self, PlanTerms, SortKey, ROLLUP_SECONDS};
use crate::domain::time::clock::Clock;
use crate::domain::time::month::Month;
use crate::edge::billing::fleet as rows;
use crate::edge::clock::EdgeClock;

impl Admin<'_> {
    /// `GET fleet?sort=account|requests|items|amount|cap_used|events|status&order=asc|desc`.
    pub(super) async fn fleet(&self) -> Answer {
        let sort = match self.param("sort") {
            None => SortKey::Amount,
            Some(text) => SortKey::parse(text).ok_or_else(|| bad("Query `sort` must be account, requests, items, amount, cap_used, events or status."))?,
        };
        let descending = match self.param("order") {
            None => sort != SortKey::Account && sort != SortKey::Status,
            Some("desc") => true,
            Some("asc") => false,
            Some(_) => return Err(bad("Query `order` must be asc or desc.")),
        };
        let now = EdgeClock.now();
        let month = Month::of(now);
        let started = worker::Date::now().as_millis();
        let entries = rows::entries(self.env).await.map_err(|e| unavailable(format!("D1 could not be read: {e}")))?;
        let query_ms = worker::Date::now().as_millis().saturating_sub(started);
        // The plans the accounts name, each read once.
        let mut plans: BTreeMap<String, Option<PlanRecord>> = BTreeMap::new();
        for plan in entries.iter().filter_map(|e| e.plan.clone()) {
            if plans.contains_key(&plan) {
                continue;
            }
            let record = match Id::new(&plan) {
                Ok(id) => self.load::<PlanRecord>(&kv_layout::plan_key(&id)).await.ok(),
                Err(_) => None,
            };
            plans.insert(plan, record);
        }
        let mut lines: Vec<_> = entries
            .iter()
            .map(|e| {
                let figures = e.figures();
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let rollup = figures.as_ref().zip(e.updated_at.map(|at| at as u64));
                let plan = e.plan.as_deref().unwrap_or("");
                let terms = plans.get(plan).and_then(Option::as_ref).map(|p| PlanTerms { monthly_item_cap: p.monthly_item_cap, prices: &p.prices });
                fleet::line(&e.account, e.name.as_deref().unwrap_or(""), plan, e.status.as_deref().unwrap_or("unknown"), rollup, terms, month)
            })
            .collect();
        fleet::sort(&mut lines, sort, descending);
        let oldest = lines.iter().filter_map(|l| l.updated_at).min();
        ok(&json!({
            "month": month.key(),
            "generated_at": now.0,
            "accounts": lines.len(),
            "d1_queries": 1,
            "query_ms": query_ms,
            "rollup_seconds": ROLLUP_SECONDS,
            "oldest_update": oldest,
            "sort": self.param("sort").unwrap_or("amount"),
            "order": if descending { "desc" } else { "asc" },
            "lines": lines,
        }))
    }

    /// `POST fleet/sync`: every account record in KV into the fleet's directory, now.
    pub(super) async fn fleet_sync(&self) -> Answer {
        ok(&rows::sync(self.env).await)
    }
}
