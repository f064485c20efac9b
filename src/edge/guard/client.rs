//! Calls from the edge to an account's guard (its Durable Object).

use worker::{Env, Headers, Method, Request, RequestInit};

use crate::domain::guard::command::{Command, Reply};

pub const BINDING: &str = "ACCOUNT_GUARD";

/// Why the guard gave no answer. Every one of these falls under the plan's `guard_failure`.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    #[error("guard unreachable: {0}")]
    Unreachable(String),
    #[error("guard answered {status}: {body}")]
    Failed { status: u16, body: String },
    #[error("guard reply unreadable: {0}")]
    Reply(String),
}

#[cfg(feature = "enforcer")]
pub async fn call(env: &Env, account: &crate::domain::access::id::Id, command: &Command) -> Result<Reply, GuardError> {
    call_named(env, account.as_str(), command).await
}

/// The guard instance that keeps the audit chain of changes not tied to one account (plans).
/// Its name is not a valid account id, so it can never be an account's guard.
#[cfg(feature = "control")]
pub const ADMIN_LOG: &str = "_admin";

pub async fn call_named(env: &Env, name: &str, command: &Command) -> Result<Reply, GuardError> {
    let unreachable = |e: worker::Error| GuardError::Unreachable(e.to_string());
    let namespace = env.durable_object(BINDING).map_err(unreachable)?;
    let stub = namespace.id_from_name(name).and_then(|id| id.get_stub()).map_err(unreachable)?;
    let body = serde_json::to_string(command).map_err(|e| GuardError::Reply(e.to_string()))?;
    let headers = Headers::new();
    headers.set("content-type", "application/json").map_err(unreachable)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_headers(headers).with_body(Some(body.into()));
    let request = Request::new_with_init("https://account-guard/", &init).map_err(unreachable)?;
    crate::edge::metrics::guard_call();
    let mut response = stub.fetch_with_request(request).await.map_err(unreachable)?;
    let status = response.status_code();
    let text = response.text().await.map_err(unreachable)?;
    if status != 200 {
        return Err(GuardError::Failed { status, body: text.chars().take(200).collect() });
    }
    serde_json::from_str(&text).map_err(|e| GuardError::Reply(e.to_string()))
}
