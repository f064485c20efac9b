//! The edge: the only code that touches `worker` types. It reads the request, loads records,
//! asks the core for a decision and carries it out.
//!
//! Two Workers are built from it. The enforcer (feature `enforcer`) answers the API's requests
//! and passes its own paths to its neighbours. The control plane (feature `control`) hosts the
//! account guards (the `AccountGuard` Durable Object) and the admin API; it has no route of its
//! own and is reached through the enforcer's `CONTROL` binding.

#[cfg(feature = "control")]
mod admin;
#[cfg(feature = "enforcer")]
mod api;
#[cfg(feature = "control")]
mod billing;
mod clock;
#[cfg(feature = "enforcer")]
mod entitlements;
#[cfg(feature = "enforcer")]
mod forward;
mod guard;
mod log;
mod metrics;
mod random;
#[cfg(feature = "enforcer")]
mod settings;

#[cfg(all(feature = "control", not(feature = "enforcer")))]
use worker::{event, web_sys, Context, Env, Result};

#[cfg(all(feature = "control", not(feature = "enforcer")))]
use crate::domain::http::own_paths;
#[cfg(all(feature = "control", not(feature = "enforcer")))]
use crate::domain::http::request_shape::split_url;

// The enforcer's request path is `api::entry::RequestPath`, which the runtime drives from
// `src/edge/entry.mjs`.

/// The control plane answers the admin API only; everything else is not its.
#[cfg(all(feature = "control", not(feature = "enforcer")))]
#[event(fetch)]
pub async fn fetch(req: web_sys::Request, env: Env, _ctx: Context) -> Result<web_sys::Response> {
    let url = req.url();
    let path = split_url(&url).map_or("", |(path, _)| path);
    if own_paths::is_admin(path) {
        return Ok(admin::handle(worker::Request::from(req), &env).await.into());
    }
    Ok(worker::Response::error("Not Found", 404)?.into())
}

/// The billing queue's consumer (the export's events, and the dead letters).
#[cfg(all(feature = "control", not(feature = "enforcer")))]
#[event(queue)]
pub async fn queue(batch: worker::MessageBatch<worker::wasm_bindgen::JsValue>, env: Env, _ctx: Context) -> Result<()> {
    billing::delivery::consume(batch, &env).await;
    Ok(())
}

/// The cron trigger: the fleet directory's sync from KV, and the billing export pass.
#[cfg(all(feature = "control", not(feature = "enforcer")))]
#[event(scheduled)]
pub async fn scheduled(_event: worker::ScheduledEvent, env: Env, _ctx: worker::ScheduleContext) {
    billing::fleet::sync(&env).await;
    billing::export::run(&env).await;
}
