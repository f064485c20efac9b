//! Forwarding an admitted request to the origin, with the signed context and a time limit.
//!
//! Works on the runtime's own request and response objects: the body goes from the client to the
//! origin without entering wasm.

use serde_json::json;
use worker::js_sys::{self, Reflect};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::{self, AbortController, RequestInit, RequestRedirect, WorkerGlobalScope};

use super::request::Incoming;
use crate::edge::log;
use crate::domain::time::clock::UnixMillis;
use crate::domain::http::context::{self, Signed};
use crate::domain::access::decision::Grant;
use crate::domain::http::namespace::{forwards_to_origin, FORWARDED_FOR};
use crate::domain::http::problem::Problem;
use crate::domain::settings::Settings;

pub async fn forward(incoming: &Incoming, grant: &Grant, settings: &Settings, now: UnixMillis) -> Result<web_sys::Response, Problem> {
    let path_and_query = incoming.target();
    let client = incoming.client();
    let signed = context::header_value(
        &settings.signing_key,
        Signed { method: &incoming.method, path_and_query: &path_and_query, grant, client, now },
    )
    .map_err(|_| Problem::EntitlementUnavailable)?;

    let invalid = |e: JsValue| {
        log::event("error", "origin_request_invalid", json!({ "error": describe(&e) }));
        Problem::OriginUnreachable
    };
    // The client's headers copied inside the runtime, then the ones that stay at the edge dropped.
    let headers = web_sys::Headers::new_with_headers(&incoming.raw_headers()).map_err(invalid)?;
    for (name, _) in &incoming.headers {
        if !forwards_to_origin(name) {
            headers.delete(name).map_err(invalid)?;
        }
    }
    headers.set(context::HEADER, &signed).map_err(invalid)?;
    if let Some(ip) = client.ip() {
        headers.set(FORWARDED_FOR, &ip.to_string()).map_err(invalid)?;
    }

    let controller = AbortController::new().map_err(invalid)?;
    let signal = controller.signal();
    let init = RequestInit::new();
    init.set_method(&incoming.method);
    init.set_headers(&headers);
    init.set_redirect(RequestRedirect::Manual);
    init.set_signal(Some(&signal));
    if let Some(body) = incoming.body() {
        init.set_body(&body);
    }
    let target = format!("{}{path_and_query}", settings.origin_url);
    let global: WorkerGlobalScope = js_sys::global().unchecked_into();
    // The time limit is the runtime's own timer calling `controller.abort()`: no wasm callback.
    // It covers the wait for the response head and is cleared as soon as that arrives, so a body
    // that streams on for longer is not cut.
    let abort: js_sys::Function = Reflect::get(&controller, &JsValue::from_str("abort"))
        .and_then(JsCast::dyn_into)
        .map_err(invalid)?;
    let timeout_ms = i32::try_from(settings.origin_timeout_ms).unwrap_or(i32::MAX);
    let timer = global
        .set_timeout_with_callback_and_timeout_and_arguments_0(&abort.bind0(&controller), timeout_ms)
        .map_err(invalid)?;
    let outcome = JsFuture::from(global.fetch_with_str_and_init(&target, &init)).await;
    global.clear_timeout_with_handle(timer);
    match outcome {
        Ok(response) => response.dyn_into::<web_sys::Response>().map_err(|e| {
            log::event("warn", "origin_unreachable", json!({ "account": grant.account.as_str(), "error": describe(&e) }));
            Problem::OriginUnreachable
        }),
        Err(_) if signal.aborted() => {
            log::event("warn", "origin_timeout", json!({ "account": grant.account.as_str(), "timeout_ms": settings.origin_timeout_ms }));
            Err(Problem::OriginTimeout)
        }
        Err(e) => {
            log::event("warn", "origin_unreachable", json!({ "account": grant.account.as_str(), "error": describe(&e) }));
            Err(Problem::OriginUnreachable)
        }
    }
}

/// A runtime error as text for the log (its message, not the request it concerned).
pub fn describe(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "unknown error".to_owned())
}
