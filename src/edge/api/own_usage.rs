//! `GET /2/usage/tweets`: the customer's own usage, answered here and never forwarded to the
//! origin (`domain::billing::own_usage`). The token is admitted as for any request, without a
//! plan route; the account's guard checks the query, charges the endpoint's own window, sums
//! the ledger and writes the body, all in one call, so the request path carries none of that.

use worker::{web_sys, Env, Headers, Response};

use super::admit::{self, Records};
use super::request::Incoming;
use super::respond;
use crate::domain::access::decision;
use crate::domain::billing::own_usage::{self, Answer};
use crate::domain::guard::command::{Command, Reply};
use crate::domain::http::problem::Problem;
use crate::domain::http::rate_headers;
use crate::domain::settings::Settings;
use crate::domain::throttle::verdict::Verdict;
use crate::domain::time::clock::UnixMillis;
use crate::edge::guard::client as guard_client;
use crate::edge::log;

/// Whether Tollgate answers this request itself.
pub fn is_own(req: &Incoming) -> bool {
    req.path == own_usage::PATH && matches!(req.method.as_str(), "GET" | "HEAD")
}

pub async fn answer(req: &Incoming, env: &Env, settings: &Settings, now: UnixMillis) -> web_sys::Response {
    let base = respond::Errors { type_base: &settings.problem_type_base, body: &settings.error_body };
    let Records { app, account, plan, token_hash } = match admit::records(req, env, settings, now).await {
        Ok(records) => records,
        Err(problem) => return respond::problem(&problem, base),
    };
    if let Err(problem) = decision::admissible(&app, &account, now) {
        return respond::problem(&problem, base);
    }
    let command = Command::OwnUsage {
        charge: own_usage::charge(app.app.clone(), token_hash),
        account: account.id.clone(),
        query: req.query.clone(),
        cap: plan.record.monthly_item_cap,
    };
    // The customer's view fails closed whatever the plan says: it is never worth a guess.
    let answer = match guard_client::call(env, &account.id, &command).await {
        Ok(Reply::OwnUsage(answer)) => answer,
        Ok(_) | Err(_) => {
            log::event("error", "own_usage_unavailable", serde_json::json!({ "account": account.id }));
            return respond::problem(&Problem::GuardUnavailable, base);
        }
    };
    let (quotas, body) = match answer {
        Answer::Usage { quotas, body } => (quotas, body),
        Answer::BadQuery => return respond::problem(&Problem::InvalidQuery, base),
        Answer::Refused(verdict) => {
            let quotas = match &verdict {
                Verdict::RateLimited { quotas, .. } => quotas.as_slice(),
                _ => &[],
            };
            return respond::refused(&verdict.refusal().unwrap_or(Problem::GuardUnavailable), quotas, base, now);
        }
    };
    let headers = Headers::new();
    let _ = headers.set("content-type", "application/json; charset=utf-8");
    let _ = headers.set("cache-control", "no-store");
    for (name, value) in rate_headers::headers(&quotas, now) {
        let _ = headers.set(name, &value);
    }
    Response::from_bytes(body.into_bytes())
        .unwrap_or_else(|_| Response::builder().fixed(Vec::new()))
        .with_headers(headers)
        .into()
}
