//! The admin API's billing routes: an account's monthly statement (JSON or CSV), and the rule
//! that a plan's price change applies from the next month.

use super::{bad, ok, respond, unavailable, Admin, Answer, Fail};
use crate::domain::access::entitlement::{decode, AccountRecord, PlanRecord};
use crate::domain::access::id::Id;
use crate::domain::access::kv_layout;
use crate::domain::billing::price;
use crate::domain::billing::statement::{self, Subject};
use crate::domain::guard::command::{Command, Reply};
use crate::domain::time::clock::Clock;
use crate::domain::time::day::Day;
use crate::domain::time::month::Month;
use crate::edge::clock::EdgeClock;

impl Admin<'_> {
    /// `GET accounts/{id}/statement?month=YYYY-MM&format=json|csv`: the month's statement,
    /// billed under the account's plan and the price version in force that month.
    pub(super) async fn statement(&self, id: &str) -> Answer {
        let id = Id::new(id).map_err(|e| bad(e.to_string()))?;
        let now = EdgeClock.now();
        let month = match self.param("month") {
            Some(m) => Month::parse(m).ok_or_else(|| bad("Query `month` must be YYYY-MM."))?,
            None => Month::of(now),
        };
        let format = self.param("format").unwrap_or("json");
        if !matches!(format, "json" | "csv") {
            return Err(bad("Query `format` must be json or csv."));
        }
        let account: AccountRecord = self.load(&kv_layout::account_key(&id)).await?;
        let plan: PlanRecord = self.load(&kv_layout::plan_key(&account.plan)).await?;
        let (from, to) = (Day::of(month.start()), Day::of(month.next().start()).minus(1));
        let Reply::Statement(figures) = self.guard(id.as_str(), &Command::Statement { from, to }).await? else {
            return Err(unavailable("The account guard gave an unexpected answer."));
        };
        let subject = Subject { account: id.as_str(), month, plan: account.plan.as_str(), prices: &plan.prices };
        let statement = statement::build(subject, &figures, now).map_err(|e| Fail(409, "Conflict", e.to_string()))?;
        if format == "csv" {
            return Ok(respond(statement::to_csv(&statement).into_bytes(), 200, "text/csv; charset=utf-8"));
        }
        ok(&serde_json::to_value(&statement).unwrap_or_default())
    }

    /// A plan written over a stored one keeps the prices already in force: a new price starts
    /// next month (`billing::price::check_change`).
    pub(super) async fn check_price_change(&self, record: &PlanRecord) -> Result<(), Fail> {
        let Some(text) = self.read(&kv_layout::plan_key(&record.id)).await? else { return Ok(()) };
        // A stored plan that no longer reads has no prices that could be in force.
        let Ok(old) = decode::<PlanRecord>(&text) else { return Ok(()) };
        price::check_change(&old.prices, &record.prices, Month::of(EdgeClock.now()))
            .map_err(|why| bad(format!("record field `prices` is invalid: {why}")))
    }
}
