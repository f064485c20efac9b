//! The admin API under `/_tollgate/admin/v1/`: authenticated by the admin secret. Changes that
//! must take effect at once go to the account's guard as well as to KV.

use serde::Deserialize;
use serde_json::json;
use worker::{Env, Request, Response};

use super::entitlements::BINDING;
use super::guard_client;
use super::guard_protocol::{Command, Reply};
use super::log;
use crate::domain::admin_auth;
use crate::domain::entitlement::{decode, AccountRecord, AccountStatus, AppRecord, AppStatus};
use crate::domain::id::Id;
use crate::domain::kv_layout;
use crate::domain::token::{Token, TokenHash};

pub const PREFIX: &str = "/_tollgate/admin/v1/";
pub const SECRET: &str = "ADMIN_SECRET";

fn problem(status: u16, title: &str, detail: &str) -> Response {
    let body = json!({ "type": "about:blank", "title": title, "detail": detail, "status": status }).to_string();
    let headers = worker::Headers::new();
    let _ = headers.set("content-type", "application/problem+json");
    let _ = headers.set("cache-control", "no-store");
    Response::from_bytes(body.into_bytes())
        .unwrap_or_else(|_| Response::builder().fixed(Vec::new()))
        .with_status(status)
        .with_headers(headers)
}

fn done(value: &serde_json::Value) -> Response {
    Response::from_json(value).unwrap_or_else(|_| problem(500, "Internal Error", "response could not be built"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRef {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    token_sha256: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountRef {
    account: String,
}

pub async fn handle(mut req: Request, env: &Env) -> Response {
    let secret = env.secret(SECRET).map(|s| s.to_string()).or_else(|_| env.var(SECRET).map(|v| v.to_string()));
    let header = req.headers().get("authorization").ok().flatten();
    if !secret.is_ok_and(|s| admin_auth::is_admin(header.as_deref(), s.as_bytes())) {
        return problem(401, "Unauthorized", "The admin secret is missing or wrong.");
    }
    let path = req.path();
    let action = path.strip_prefix(PREFIX).unwrap_or_default().to_owned();
    if action == "metrics" && req.method() == worker::Method::Get {
        return done(&super::metrics::snapshot());
    }
    if req.method() != worker::Method::Post {
        return problem(405, "Method Not Allowed", "Admin actions are POST requests.");
    }
    let body = match req.text().await {
        Ok(b) => b,
        Err(_) => return problem(400, "Invalid Request", "The body could not be read."),
    };
    match action.as_str() {
        "tokens/revoke" => revoke(&body, env).await,
        "accounts/suspend" => set_suspended(&body, env, true).await,
        "accounts/reinstate" => set_suspended(&body, env, false).await,
        "accounts/report" => report(&body, env).await,
        _ => problem(404, "Not Found", "No such admin action."),
    }
}

async fn revoke(body: &str, env: &Env) -> Response {
    let Ok(reference) = serde_json::from_str::<TokenRef>(body) else {
        return problem(400, "Invalid Request", "Send {\"token\": …} or {\"token_sha256\": …}.");
    };
    let hash = match (reference.token, reference.token_sha256) {
        (Some(t), None) => match Token::parse(&t) {
            Ok(token) => token.hash(),
            Err(_) => return problem(400, "Invalid Request", "Field `token` is not a well-formed token."),
        },
        (None, Some(h)) => match TokenHash::from_hex(&h) {
            Some(hash) => hash,
            None => return problem(400, "Invalid Request", "Field `token_sha256` must be 64 lowercase hex digits."),
        },
        _ => return problem(400, "Invalid Request", "Send exactly one of `token` and `token_sha256`."),
    };
    let Ok(kv) = env.kv(BINDING) else { return problem(503, "Service Unavailable", "KV is not bound.") };
    let key = kv_layout::token_key(&hash);
    let record = match kv.get(&key).text().await {
        Ok(Some(text)) => match decode::<AppRecord>(&text) {
            Ok(r) => r,
            Err(e) => return problem(409, "Conflict", &format!("The stored token record is invalid: {e}")),
        },
        Ok(None) => return problem(404, "Not Found", "No token with that hash."),
        Err(_) => return problem(503, "Service Unavailable", "KV could not be read."),
    };
    // The guard first: from this moment every location refuses the token.
    if let Err(e) = guard_client::call(env, &record.account, &Command::RevokeToken { token_hash: hash.as_str().to_owned() }).await {
        return problem(503, "Service Unavailable", &format!("The account guard did not confirm: {e}"));
    }
    let revoked = AppRecord { status: AppStatus::Revoked, ..record };
    let text = serde_json::to_string(&revoked).unwrap_or_default();
    let written = match kv.put(&key, text) {
        Ok(put) => put.execute().await.is_ok(),
        Err(_) => false,
    };
    log::event("info", "token_revoked", json!({ "account": revoked.account.as_str(), "app": revoked.app.as_str(), "token_hash": hash.short(), "kv_written": written }));
    done(&json!({ "account": revoked.account, "app": revoked.app, "status": "revoked", "kv_written": written }))
}

async fn set_suspended(body: &str, env: &Env, suspended: bool) -> Response {
    let Ok(reference) = serde_json::from_str::<AccountRef>(body) else {
        return problem(400, "Invalid Request", "Send {\"account\": \"<id>\"}.");
    };
    let Ok(id) = Id::new(&reference.account) else {
        return problem(400, "Invalid Request", "Field `account` is not a valid id.");
    };
    let Ok(kv) = env.kv(BINDING) else { return problem(503, "Service Unavailable", "KV is not bound.") };
    let key = kv_layout::account_key(&id);
    let record = match kv.get(&key).text().await {
        Ok(Some(text)) => match decode::<AccountRecord>(&text) {
            Ok(r) => r,
            Err(e) => return problem(409, "Conflict", &format!("The stored account record is invalid: {e}")),
        },
        Ok(None) => return problem(404, "Not Found", "No such account."),
        Err(_) => return problem(503, "Service Unavailable", "KV could not be read."),
    };
    match guard_client::call(env, &id, &Command::SetSuspended { suspended }).await {
        Ok(Reply::Done) => {}
        Ok(_) | Err(_) => return problem(503, "Service Unavailable", "The account guard did not confirm."),
    }
    let status = if suspended { AccountStatus::Suspended } else { AccountStatus::Active };
    let updated = AccountRecord { status, ..record };
    let written = match kv.put(&key, serde_json::to_string(&updated).unwrap_or_default()) {
        Ok(put) => put.execute().await.is_ok(),
        Err(_) => false,
    };
    log::event("info", "account_standing_changed", json!({ "account": id.as_str(), "suspended": suspended, "kv_written": written }));
    done(&json!({ "account": id, "status": status, "kv_written": written }))
}

async fn report(body: &str, env: &Env) -> Response {
    let Some(id) = serde_json::from_str::<AccountRef>(body).ok().and_then(|r| Id::new(&r.account).ok()) else {
        return problem(400, "Invalid Request", "Send {\"account\": \"<id>\"} with a valid id.");
    };
    match guard_client::call(env, &id, &Command::Report).await {
        Ok(Reply::Report(report)) => done(&report),
        Ok(_) | Err(_) => problem(503, "Service Unavailable", "The account guard did not answer."),
    }
}
