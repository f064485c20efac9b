//! The admin API under `/_tollgate/admin/v1/`, in the control plane. Each request is signed in
//! (`auth`: a Cloudflare Access token, an admin key, or the break-glass secret), its route's
//! permission is checked against the caller's role (`domain::admin::role`), and then it is
//! answered by an action (`actions` for entitlements, tokens, usage and audit; `directory` for
//! who is an admin; `statement`, `billing` and `fleet` for what accounts owe). The routes are described in `openapi.json`, served at `<prefix>openapi.json`.

mod access;
mod actions;
mod auth;
mod billing;
mod directory;
mod fleet;
mod statement;

use std::cell::RefCell;

use serde_json::json;
use worker::{Env, Method, Request, Response};

use self::actions::{bad, enforcer_counters, not_found, ok, problem, respond, unavailable, Admin, Answer, Fail};
use self::auth::Refusal;
use crate::domain::access::entitlement::{AccountRecord, PlanRecord};
use crate::domain::access::kv_layout::{self, BINDING};
use crate::domain::admin::caller::{Caller, Via};
use crate::domain::admin::role;
use crate::domain::admin::secret::Failures;
use crate::domain::guard::command::Command;
use crate::domain::record::audit::AdminChange;
use crate::domain::time::clock::Clock;
use crate::edge::clock::EdgeClock;
use crate::edge::guard::client::ADMIN_LOG;
use crate::edge::log;

pub const PREFIX: &str = crate::domain::http::own_paths::ADMIN_PREFIX;
const OPENAPI: &str = include_str!("../openapi.json");
const MAX_BODY: usize = 256 * 1024;
/// The enforcer's isolate counters, set by the enforcer on every admin request it passes on.
const ENFORCER_COUNTERS: &str = "x-tollgate-enforcer-counters";

thread_local! {
    static FAILURES: RefCell<Failures> = RefCell::new(Failures::default());
}

pub async fn handle(mut req: Request, env: &Env) -> Response {
    let now = EdgeClock.now();
    let client = req.headers().get("cf-connecting-ip").ok().flatten().unwrap_or_else(|| "local".into());
    if !FAILURES.with(|f| f.borrow().allows(&client, now)) {
        let mut r = problem(Fail(429, "Too Many Requests", "Too many failed admin attempts. Wait a minute.".into()));
        let _ = r.headers_mut().set("retry-after", "60");
        return r;
    }
    let signed_in = match auth::sign_in(&req, env, now).await {
        Ok(s) => s,
        Err(Refusal::Unauthorized(detail)) => {
            FAILURES.with(|f| f.borrow_mut().record(&client, now));
            log::event("warn", "admin_auth_failed", json!({ "client": client, "why": detail }));
            return problem(Fail(401, "Unauthorized", detail));
        }
        Err(Refusal::NoRole(detail)) => {
            log::event("warn", "admin_forbidden", json!({ "client": client, "why": detail }));
            return problem(Fail(403, "Forbidden", detail));
        }
        Err(Refusal::Unavailable(detail)) => {
            log::event("error", "admin_sign_in_unavailable", json!({ "why": detail }));
            return problem(unavailable(detail));
        }
    };
    let caller = signed_in.caller;
    let path = req.path();
    let route: Vec<String> = path.strip_prefix(PREFIX).unwrap_or_default().split('/').map(str::to_owned).collect();
    let r: Vec<&str> = route.iter().map(String::as_str).collect();
    let method = req.method();
    let needed = role::required(method.as_ref(), &r);
    if !caller.role.allows(needed) {
        log::event("warn", "admin_forbidden", json!({ "actor": caller.id, "role": caller.role, "method": method.as_ref(), "path": path }));
        let detail = format!("`{}` is {}: this route needs {} permission.", caller.id, caller.role.as_str(), serde_json::to_value(needed).unwrap_or_default().as_str().unwrap_or_default());
        return problem(Fail(403, "Forbidden", detail));
    }
    let changes = !matches!(method, Method::Get | Method::Head);
    if signed_in.by_cookie && changes && !same_origin(&req) {
        return problem(Fail(403, "Forbidden", "A change signed in by cookie must come from the console's own origin.".into()));
    }
    if caller.via == Via::BreakGlass {
        if let Err(fail) = record_break_glass(env, &caller, method.as_ref(), &path).await {
            return problem(fail);
        }
    }
    let body = if matches!(method, Method::Post | Method::Put) {
        match req.bytes().await {
            Ok(b) if b.len() <= MAX_BODY => b,
            Ok(_) => return problem(Fail(413, "Payload Too Large", format!("Bodies are limited to {MAX_BODY} bytes."))),
            Err(_) => return problem(actions::bad("The body could not be read.")),
        }
    } else {
        Vec::new()
    };
    let counters = req.headers().get(ENFORCER_COUNTERS).ok().flatten();
    let query = req.url().ok().map(|u| u.query_pairs().into_owned().collect::<Vec<_>>()).unwrap_or_default();
    let Ok(kv) = env.kv(BINDING) else { return problem(unavailable("KV is not bound.")) };
    let admin = Admin { env, kv, body: &body, query: &query, caller: &caller };
    let answer = match (&method, r.as_slice()) {
        (Method::Get, ["openapi.json"]) => Ok(respond(OPENAPI.as_bytes().to_vec(), 200, "application/json")),
        (Method::Get, ["whoami"]) => directory::whoami(&caller),
        (Method::Get, ["roles"]) => directory::roles(&admin).await,
        (Method::Put, ["roles"]) => directory::put_roles(&admin).await,
        (Method::Get, ["keys"]) => directory::keys(&admin).await,
        (Method::Post, ["keys"]) => directory::issue_key(&admin, now).await,
        (Method::Post, ["keys", id, "revoke"]) => directory::revoke_key(&admin, id, now).await,
        (Method::Get, ["metrics"]) => enforcer_counters(counters.as_deref()),
        (Method::Get, ["plans"]) => admin.list("plan:").await,
        (Method::Get, ["plans", id]) => admin.get_record::<PlanRecord>(id, kv_layout::plan_key).await,
        (Method::Put, ["plans", id]) => admin.put_plan(id).await,
        (Method::Get, ["accounts"]) => admin.list("account:").await,
        (Method::Get, ["accounts", id]) => admin.get_record::<AccountRecord>(id, kv_layout::account_key).await,
        (Method::Put, ["accounts", id]) => admin.put_account(id).await,
        (Method::Post, ["accounts", id, "suspend"]) => admin.set_suspended(id, true).await,
        (Method::Post, ["accounts", id, "reinstate"]) => admin.set_suspended(id, false).await,
        (Method::Put, ["accounts", id, "use-cases", case]) => admin.put_use_case(id, case).await,
        (Method::Put, ["accounts", id, "recipients", rid]) => admin.put_recipient(id, rid).await,
        (Method::Get, ["accounts", id, "tokens"]) => admin.report(id).await.and_then(|r| actions::ok(&json!({ "tokens": r["apps"] }))),
        (Method::Post, ["accounts", id, "tokens"]) => admin.issue(id).await,
        (Method::Get, ["accounts", id, "usage"]) => admin.usage(id).await,
        (Method::Get, ["accounts", id, "audit"]) => admin.audit(id, false).await,
        (Method::Post, ["accounts", id, "housekeep"]) => admin.housekeep(id).await,
        (Method::Get, ["accounts", id, "audit", "verify"]) => admin.audit(id, true).await,
        (Method::Get, ["accounts", id, "report"]) => admin.report(id).await.and_then(|r| actions::ok(&r)),
        (Method::Get, ["accounts", id, "statement"]) => admin.statement(id).await,
        (Method::Get, ["accounts", id, "billing-events"]) => admin.billing_events(id).await,
        (Method::Post, ["billing", "export"]) => admin.billing_export().await,
        (Method::Get, ["fleet"]) => admin.fleet().await,
        (Method::Post, ["fleet", "sync"]) => admin.fleet_sync().await,
        (Method::Get, ["billing", "dead-letters"]) => admin.dead_letters().await,
        (Method::Post, ["billing", "dead-letters", "replay"]) => admin.replay_dead_letters().await,
        (Method::Get, ["audit"]) => admin.audit(ADMIN_LOG, false).await,
        (Method::Get, ["audit", "verify"]) => admin.audit(ADMIN_LOG, true).await,
        (Method::Post, ["tokens", hash, action]) => admin.token_action(hash, action).await,
        (_, _) => Err(not_found("No such admin route. See openapi.json.")),
    };
    answer.unwrap_or_else(problem)
}

/// Every request made with the break-glass secret is logged and is an entry of the admin log,
/// before it is answered; a use that cannot be recorded is refused.
async fn record_break_glass(env: &Env, caller: &Caller, method: &str, path: &str) -> Result<(), Fail> {
    log::event("warn", "admin_break_glass_used", json!({ "method": method, "path": path }));
    let command = Command::Audit { change: AdminChange::BreakGlassUsed, detail: json!({ "method": method, "path": path }), actor: Some(caller.actor()) };
    crate::edge::guard::client::call_named(env, ADMIN_LOG, &command)
        .await
        .map(|_| ())
        .map_err(|e| unavailable(format!("The break-glass use could not be recorded, so it is refused: {e}")))
}

/// Whether a request comes from the page's own origin (`Origin` names the host it was sent to).
fn same_origin(req: &Request) -> bool {
    let origin = req.headers().get("origin").ok().flatten();
    let own = req.url().ok().map(|u| u.origin().ascii_serialization());
    matches!((origin, own), (Some(o), Some(own)) if o == own)
}

