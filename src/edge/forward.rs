//! The enforcer's two neighbours, reached through service bindings for their own paths only
//! (`domain::http::own_paths`), so API traffic never passes through either: the admin console's
//! static files (CONSOLE, www/wrangler.toml) and the admin API of the control plane (CONTROL,
//! control/wrangler.toml).

use worker::{web_sys, Env, Request, Response};

use super::{entitlements, log, metrics};

/// The header that carries this isolate's counters to the admin API's `metrics` route. The
/// enforcer sets it on every admin request it forwards, over any a client sent.
pub const COUNTERS: &str = "x-tollgate-enforcer-counters";

pub async fn console(req: web_sys::Request, env: &Env) -> web_sys::Response {
    to(env, "CONSOLE", Request::from(req), "The admin console is not deployed with this worker.").await
}

pub async fn admin(req: web_sys::Request, env: &Env) -> web_sys::Response {
    // A request's own headers cannot be changed: the same request, with a copy that can.
    let with_counters = web_sys::Headers::new_with_headers(&req.headers()).and_then(|headers| {
        headers.set(COUNTERS, &metrics::snapshot().to_string())?;
        let init = web_sys::RequestInit::new();
        init.set_headers(&headers);
        web_sys::Request::new_with_request_and_init(&req, &init)
    });
    let req = with_counters.unwrap_or(req);
    let writes = !matches!(req.method().as_str(), "GET" | "HEAD");
    let response = to(env, "CONTROL", Request::from(req), "The admin API is not deployed with this worker.").await;
    // After a change, this isolate reads its records from KV again: in one location (and in
    // `wrangler dev`, which has one isolate) a change is seen at once; elsewhere within the
    // cache's lifetime, as the README says.
    if writes {
        entitlements::forget_all();
    }
    response
}

async fn to(env: &Env, binding: &str, req: Request, missing: &str) -> web_sys::Response {
    let response = match env.service(binding) {
        Ok(service) => service.fetch_request(req).await,
        Err(e) => Err(e),
    };
    response
        .unwrap_or_else(|e| {
            log::event("error", "neighbour_unavailable", serde_json::json!({ "binding": binding, "error": e.to_string() }));
            Response::error(missing, 404)
                .unwrap_or_else(|_| Response::empty().unwrap_or_else(|_| Response::builder().fixed(Vec::new())))
        })
        .into()
}
