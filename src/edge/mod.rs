//! The edge: the only code that touches `worker` types. It reads the request, loads records,
//! asks the core for a decision and carries it out.

mod admin;
mod api;
mod clock;
mod console;
mod entitlements;
mod guard;
mod log;
mod metrics;
mod random;
mod settings;

use worker::{event, web_sys, Context, Env, Request, Result};

use crate::domain::http::own_paths;
use crate::domain::http::request_shape::split_url;

/// The runtime's request as it is: the hot path reads only what it needs of it.
#[event(fetch)]
pub async fn fetch(req: web_sys::Request, env: Env, ctx: Context) -> Result<web_sys::Response> {
    let url = req.url();
    let path = split_url(&url).map_or("", |(path, _)| path);
    if own_paths::is_admin(path) {
        return Ok(admin::handle(Request::from(req), &env).await.into());
    }
    if own_paths::is_console(path) {
        return Ok(console::serve(req, &env).await);
    }
    metrics::request();
    Ok(api::handle(req, &url, env, ctx).await)
}
