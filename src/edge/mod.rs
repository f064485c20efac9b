//! The edge: the only code that touches `worker` types. It reads the request, loads records,
//! asks the core for a decision and carries it out.

mod clock;
mod entitlements;
mod handler;
mod log;
mod origin;
mod respond;

use worker::{event, Context, Env, Request, Response, Result};

#[event(fetch)]
pub async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    Ok(handler::handle(req, &env).await)
}
