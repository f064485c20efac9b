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
mod leases;
mod log;
mod metrics;
mod origin;
mod random;
mod respond;
mod sql_ledger;
mod sql_store;

use worker::{event, Context, Env, Request, Response, Result};

#[event(fetch)]
pub async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    if req.path().starts_with(admin::PREFIX) {
        return Ok(admin::handle(req, &env).await);
    }
    metrics::request();
    Ok(handler::handle(req, env, ctx).await)
}
