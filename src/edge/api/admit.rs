//! Admission: the token, its entitlement records, and the policy decision. Everything before
//! the guard. (The request's shape, sizes and one canonical path, was checked when it was read.)

use std::rc::Rc;

use serde_json::json;
use worker::Env;

use super::request::Incoming;
use crate::domain::access::bearer;
use crate::domain::access::decision::{decide, Call, Decision, Grant};
use crate::domain::access::entitlement::{AccountRecord, AppRecord, Method, Plan};
use crate::domain::access::id::Id;
use crate::domain::access::token::TokenHash;
use crate::domain::http::problem::{Problem, Unauthorized};
use crate::domain::redistribution::recipient;
use crate::domain::settings::Settings;
use crate::domain::time::clock::UnixMillis;
use crate::edge::entitlements::{Entitlements, LoadError};
use crate::edge::log;

/// A request that passed the entitlement check.
pub struct Admitted {
    pub grant: Grant,
    pub plan: Rc<Plan>,
    pub token_hash: TokenHash,
}

/// A refusal before the guard, and whose it is when the token was known.
pub struct Refusal {
    pub problem: Problem,
    pub known: Option<Known>,
}

/// The account and app of a refused request, for its ledger line.
pub struct Known {
    pub account: Id,
    pub app: Id,
    pub group: Option<Id>,
    pub recipient: String,
}

impl From<Problem> for Refusal {
    fn from(problem: Problem) -> Self {
        Self { problem, known: None }
    }
}

/// A token's records: its app, the app's account and the account's plan.
pub struct Records {
    pub app: Rc<AppRecord>,
    pub account: Rc<AccountRecord>,
    pub plan: Rc<Plan>,
    pub token_hash: TokenHash,
}

/// The token, its records, the decision.
pub async fn admit(req: &Incoming, env: &Env, settings: &Settings, now: UnixMillis) -> Result<Admitted, Refusal> {
    let Records { app, account, plan, token_hash: hash } = records(req, env, settings, now).await?;
    let method = req.method.as_str();
    let path = req.path.as_str();
    let recipient = req.header(recipient::HEADER);
    let call = Call { method, path, recipient };
    match decide(&app, &account, &plan, call, now) {
        Decision::Allow(grant) => Ok(Admitted { grant, plan, token_hash: hash }),
        Decision::Deny(problem) => {
            let group = Method::from_request(method).and_then(|m| plan.routes.find(m, path)).cloned();
            let known = Known {
                account: account.id.clone(),
                app: app.app.clone(),
                group,
                recipient: recipient.map(|r| r.chars().take(64).collect()).unwrap_or_default(),
            };
            Err(Refusal { problem, known: Some(known) })
        }
    }
}

/// The token (its format checked before any KV read: garbage costs nothing) and its records.
pub async fn records(req: &Incoming, env: &Env, settings: &Settings, now: UnixMillis) -> Result<Records, Problem> {
    let token = bearer::token_from_header(req.header("authorization")).map_err(Problem::from)?;
    let hash = token.hash();
    let table = Entitlements::new(env, settings.cache_ttl_ms, now);

    let app = table
        .app(&hash)
        .await
        .map_err(|e| unavailable("token", &hash, &e))?
        .ok_or(Problem::Unauthorized(Unauthorized::Unknown))?;
    // An app whose account or plan is missing is a broken table, not a bad token: fail closed.
    let account = table
        .account(&app.account)
        .await
        .map_err(|e| unavailable("account", &hash, &e))?
        .ok_or_else(|| unavailable("account", &hash, &LoadError::Kv("account record missing".into())))?;
    let plan = table
        .plan(&account.plan)
        .await
        .map_err(|e| unavailable("plan", &hash, &e))?
        .ok_or_else(|| unavailable("plan", &hash, &LoadError::Kv("plan record missing".into())))?;
    Ok(Records { app, account, plan, token_hash: hash })
}

fn unavailable(kind: &str, hash: &TokenHash, error: &LoadError) -> Problem {
    let (class, detail) = match error {
        LoadError::Kv(e) => ("kv", e.clone()),
        LoadError::Record(e) => ("record", e.to_string()),
    };
    log::event(
        "error",
        "entitlement_unavailable",
        json!({ "record": kind, "token_hash": hash.short(), "class": class, "error": detail }),
    );
    Problem::EntitlementUnavailable
}
