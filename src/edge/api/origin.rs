//! Forwarding an admitted request to the origin, with the signed context and a time limit.
//!
//! Works on the runtime's own request and response objects: the body goes from the client to the
//! origin without entering wasm, and the headers are copied, dropped and set inside the runtime,
//! in one call (`origin.js`). A response body the delivery will read whole is read in that same
//! call, so the request waits once for both, and it waits in the runtime (`src/edge/entry.mjs`),
//! not in wasm.

use serde_json::json;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::wasm_bindgen;
use worker::js_sys::{self, Array, ArrayBuffer, Promise};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::web_sys;

use super::request::Incoming;
use crate::edge::log;
use crate::domain::time::clock::UnixMillis;
use crate::domain::http::context::{self, Signed};
use crate::domain::http::header_text;
use crate::domain::access::decision::Grant;
use crate::domain::http::namespace::{forwards_to_origin, FORWARDED_FOR};
use crate::domain::http::problem::Problem;
use crate::domain::redistribution::whole_body;
use crate::domain::settings::Settings;

/// Starts the call to the origin: the promise of its response, and of its body when the delivery
/// reads it whole (`whole_body::Delivery::reads`). The request waits for it in the runtime, and
/// hands what it got to [`received`].
///
/// # Errors
/// [`Problem::EntitlementUnavailable`] when the signed context cannot be made.
pub fn send(incoming: &Incoming, grant: &Grant, settings: &Settings, now: UnixMillis) -> Result<Promise, Problem> {
    let path_and_query = incoming.target();
    let client = incoming.client();
    let signed = context::header_value(
        &settings.signing_key,
        Signed { method: &incoming.method, path_and_query: &path_and_query, grant, client, now },
    )
    .map_err(|_| Problem::EntitlementUnavailable)?;

    // The client's headers that stay at the edge, and the edge's own, for the runtime to apply.
    let drop = incoming.headers.iter().filter(|(name, _)| !forwards_to_origin(name)).fold(String::new(), |mut text, (name, _)| {
        text.push_str(name);
        text.push('\n');
        text
    });
    let forwarded_for = client.ip().map(|ip| ip.to_string());
    let set = header_text::join([(context::HEADER, signed.as_str())].into_iter().chain(forwarded_for.as_deref().map(|ip| (FORWARDED_FOR, ip))));
    let target = format!("{}{path_and_query}", settings.origin_url);
    let timeout_ms = u32::try_from(settings.origin_timeout_ms).unwrap_or(u32::MAX);
    let delivery = whole_body::Delivery::of(grant).bits();
    Ok(READS.with(|reads| {
        forward_in_runtime(&target, &incoming.method, &incoming.raw_headers(), &drop, &set, incoming.body(), timeout_ms, reads, delivery)
    }))
}

/// What the call to the origin came to: `Ok` with what the promise of [`send`] resolved to, `Err`
/// with what it rejected with. The origin's response, and its body if it was read.
///
/// # Errors
/// [`Problem::OriginTimeout`] when no response head came within the time limit,
/// [`Problem::OriginUnreachable`] when the call or the body's read failed.
pub fn received(answer: Result<JsValue, JsValue>, grant: &Grant, settings: &Settings) -> Result<(web_sys::Response, Option<ArrayBuffer>), Problem> {
    match answer {
        Ok(answer) => {
            let answer: Array = answer.unchecked_into();
            let read = answer.get(1).dyn_into::<ArrayBuffer>().ok();
            answer.get(0).dyn_into::<web_sys::Response>().map(|response| (response, read)).map_err(|e| {
                log::event("warn", "origin_unreachable", json!({ "account": grant.account.as_str(), "error": describe(&e) }));
                Problem::OriginUnreachable
            })
        }
        Err(e) if e.as_string().as_deref() == Some(TIMED_OUT) => {
            log::event("warn", "origin_timeout", json!({ "account": grant.account.as_str(), "timeout_ms": settings.origin_timeout_ms }));
            Err(Problem::OriginTimeout)
        }
        Err(e) => {
            log::event("warn", "origin_unreachable", json!({ "account": grant.account.as_str(), "error": describe(&e) }));
            Err(Problem::OriginUnreachable)
        }
    }
}

/// What `origin.js` rejects with when its timer aborted the fetch.
const TIMED_OUT: &str = "timed out";

/// The runtime's handle on `whole_body::Delivery::reads`, made once per isolate.
type Reads = Closure<dyn Fn(u16, Option<String>, bool, u8) -> bool>;

thread_local! {
    static READS: Reads = Closure::new(|status: u16, content_type: Option<String>, has_body: bool, delivery: u8| {
        whole_body::Delivery::from_bits(delivery).reads(status, content_type.as_deref(), has_body)
    });
}

#[wasm_bindgen(module = "/src/edge/api/origin.js")]
extern "C" {
    /// Copies the client's headers, drops and sets as told, fetches within the time limit, and
    /// reads the body if `reads` says the delivery will (see `origin.js`): `[response, body]`.
    #[wasm_bindgen(js_name = forward)]
    fn forward_in_runtime(
        url: &str,
        method: &str,
        source: &web_sys::Headers,
        drop: &str,
        set: &str,
        body: Option<web_sys::ReadableStream>,
        timeout_ms: u32,
        reads: &Reads,
        delivery: u8,
    ) -> Promise;
}

/// A runtime error as text for the log (its message, not the request it concerned).
pub fn describe(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "unknown error".to_owned())
}
