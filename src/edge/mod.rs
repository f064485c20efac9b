//! The edge: the only code that touches `worker` types. It reads the request, loads records,
//! asks the core for a decision and carries it out.

mod account_guard;
mod admin;
mod clock;
mod delivery;
mod entitlements;
mod guard_client;
mod guard_protocol;
mod handler;
mod incoming;
mod leases;
mod log;
mod metrics;
mod origin;
mod random;
mod respond;
mod settings;
mod sql_ledger;
mod sql_store;

use worker::{event, web_sys, Context, Env, Request, Result};

use crate::domain::request_shape::split_url;

/// The runtime's request as it is: the hot path reads only what it needs of it.
#[event(fetch)]
pub async fn fetch(req: web_sys::Request, env: Env, ctx: Context) -> Result<web_sys::Response> {
    if split_url(&req.url()).is_some_and(|(path, _)| path.starts_with(admin::PREFIX)) {
        return Ok(admin::handle(Request::from(req), &env).await.into());
    }
    metrics::request();
    Ok(handler::handle(req, env, ctx).await)
}
