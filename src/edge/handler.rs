//! The fetch handler: token → entitlement → decision → origin, in one direction.

use serde_json::json;
use worker::{Env, Request, Response};

use super::clock::EdgeClock;
use super::entitlements::{Entitlements, LoadError, BINDING};
use super::{log, origin, respond};
use crate::domain::bearer;
use crate::domain::clock::{Clock, UnixMillis};
use crate::domain::decision::{decide, Call, Decision, Grant};
use crate::domain::problem::{Problem, Unauthorized};
use crate::domain::settings::Settings;
use crate::domain::token::TokenHash;

/// Fallback problem base when even the settings cannot be read.
const FALLBACK_TYPE_BASE: &str = "https://api.example.com/2/problems/";

pub async fn handle(req: Request, env: &Env) -> Response {
    let now = EdgeClock.now();
    let settings = match read_settings(env) {
        Ok(s) => s,
        Err(why) => {
            log::event("error", "settings_invalid", json!({ "error": why }));
            return respond::problem(&Problem::EntitlementUnavailable, FALLBACK_TYPE_BASE);
        }
    };
    match admit(&req, env, &settings, now).await {
        Ok(grant) => match origin::forward(req, &grant, &settings, now).await {
            Ok(response) => response,
            Err(problem) => respond::problem(&problem, &settings.problem_type_base),
        },
        Err(problem) => respond::problem(&problem, &settings.problem_type_base),
    }
}

fn read_settings(env: &Env) -> Result<Settings, String> {
    Settings::from_lookup(|name| {
        env.secret(name)
            .map(|s| s.to_string())
            .or_else(|_| env.var(name).map(|v| v.to_string()))
            .ok()
    })
    .map_err(|e| e.to_string())
}

/// Everything before the origin: the token, its records, the decision.
async fn admit(req: &Request, env: &Env, settings: &Settings, now: UnixMillis) -> Result<Grant, Problem> {
    let header = req.headers().get("authorization").ok().flatten();
    // The format is checked before any KV read: garbage costs nothing.
    let token = bearer::token_from_header(header.as_deref())?;
    let hash = token.hash();
    let kv = env.kv(BINDING).map_err(|e| {
        log::event("error", "kv_binding_missing", json!({ "error": e.to_string() }));
        Problem::EntitlementUnavailable
    })?;
    let table = Entitlements::new(kv, settings.cache_ttl_ms, now);

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

    let method = req.method().to_string();
    let path = req.path();
    match decide(&app, &account, &plan, Call { method: &method, path: &path }, now) {
        Decision::Allow(grant) => Ok(grant),
        Decision::Deny(problem) => Err(problem),
    }
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
