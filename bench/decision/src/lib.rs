//! One realistic policy decision, set up once: the demo entitlements (`demo/entitlements.json`)
//! decoded and validated the way the edge does after a KV read, and the request
//! `GET /2/tweets/20` with the demo token of `acme-search`.
//!
//! Shared by the criterion benchmark (native) and `bench/decision-wasm` (the same code in wasm).

pub mod before_shapes;
pub mod bodies;

use std::hint::black_box;

use tollgate::domain::access::bearer::token_from_header;
use tollgate::domain::time::clock::UnixMillis;
use tollgate::domain::access::decision::{decide, Call, Decision};
use tollgate::domain::access::entitlement::{decode, AccountRecord, AppRecord, Plan, PlanRecord};

/// DEMO ONLY: the public demo entitlements (their tokens are public demo values).
const DEMO: &str = include_str!("../../../demo/entitlements.json");
/// The app whose token the benchmark presents.
pub const APP: &str = "acme-search";
pub const METHOD: &str = "GET";
pub const PATH: &str = "/2/tweets/20";
/// A fixed instant (2026-09-16), so every iteration decides the same thing.
pub const NOW: UnixMillis = UnixMillis(1_790_000_000_000);

pub struct Fixture {
    /// The `Authorization` header value as the client sends it.
    pub header: String,
    pub app: AppRecord,
    pub account: AccountRecord,
    pub plan: Plan,
}

fn find<'a>(list: &'a serde_json::Value, field: &str, id: &str) -> &'a serde_json::Value {
    list.as_array()
        .and_then(|items| items.iter().find(|item| item[field] == id))
        .unwrap_or_else(|| panic!("demo/entitlements.json has no entry with {field} = {id}"))
}

impl Fixture {
    /// Decodes the demo records once, exactly as the edge decodes KV values.
    ///
    /// # Panics
    /// If the demo file no longer holds a valid `acme-search` entitlement that is allowed
    /// `GET /2/tweets/20`: the benchmark would then time a different path.
    #[must_use]
    pub fn demo() -> Self {
        let doc: serde_json::Value = serde_json::from_str(DEMO).expect("demo/entitlements.json is JSON");
        let app_entry = doc["apps"]
            .as_array()
            .and_then(|apps| apps.iter().find(|a| a["record"]["app"] == APP))
            .expect("demo app acme-search");
        let token = app_entry["token"].as_str().expect("demo token");
        let app: AppRecord = decode(&app_entry["record"].to_string()).expect("valid app record");
        let account_json = find(&doc["accounts"], "id", app.account.as_str());
        let account: AccountRecord = decode(&account_json.to_string()).expect("valid account record");
        let plan_json = find(&doc["plans"], "id", account.plan.as_str());
        let plan = Plan::compile(decode::<PlanRecord>(&plan_json.to_string()).expect("valid plan record"))
            .expect("plan compiles");
        let fixture = Self { header: format!("Bearer {token}"), app, account, plan };
        assert!(matches!(fixture.full(), Ok(Decision::Allow(_))), "the benchmarked request must be allowed");
        fixture
    }

    fn call() -> Call<'static> {
        Call { method: black_box(METHOD), path: black_box(PATH), recipient: None }
    }

    /// The decision alone, on records already in hand.
    #[must_use]
    pub fn decide(&self) -> Decision {
        decide(&self.app, &self.account, &self.plan, Self::call(), black_box(NOW))
    }

    /// What the edge does per request before the guard, minus I/O: read the header, check the
    /// token's format and checksum, hash it (the KV key), and decide.
    ///
    /// # Errors
    /// Never for the demo header; the `Result` keeps the header parse honest.
    pub fn full(&self) -> Result<Decision, tollgate::domain::access::bearer::BearerError> {
        let token = token_from_header(Some(black_box(self.header.as_str())))?;
        let hash = token.hash();
        black_box(&hash);
        Ok(decide(&self.app, &self.account, &self.plan, Self::call(), black_box(NOW)))
    }
}
