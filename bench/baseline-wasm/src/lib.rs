//! The pass-through baseline (bench/baseline/worker.mjs) in Rust: the request forwarded to the
//! origin with the client's Authorization removed and the signed context header added (by
//! Tollgate's own `domain::http::context`, for a fixed account and app), and nothing else.

// worker-build's generated module reads the start-up state that `worker` exports.
extern crate worker;

use tollgate::domain::access::decision::Grant;
use tollgate::domain::access::id::Id;
use tollgate::domain::http::client_address::{ClientAddress, RUNTIME_HEADER};
use tollgate::domain::http::context::{self, Signed};
use tollgate::domain::redistribution::items::Metering;
use tollgate::domain::time::clock::UnixMillis;
use wasm_bindgen::prelude::*;
use web_sys::{Headers, Request, RequestInit, RequestRedirect};
use worker::js_sys::Promise;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch)]
    fn fetch_with_init(url: &str, init: &RequestInit) -> Promise;
    #[wasm_bindgen(js_namespace = Date, js_name = now)]
    fn date_now() -> f64;
}

/// The baseline, for its entry (worker.mjs).
#[wasm_bindgen]
pub struct PassThrough;

#[wasm_bindgen]
impl PassThrough {
    /// The call to the origin, under way: the promise of its response.
    pub fn forward(request: Request, origin: &str, key: &str, account: &str, app: &str) -> Result<Promise, JsValue> {
        let url = request.url();
        let authority = url.find("://").map_or(0, |i| i + 3);
        let path_and_query = url[authority..].find('/').map_or("/", |i| &url[authority + i..]);
        let method = request.method();
        let headers = Headers::new_with_headers(&request.headers())?;
        let client = ClientAddress::from_runtime(headers.get(RUNTIME_HEADER)?.as_deref());
        let grant = fixed_grant(account, app)?;
        let now = UnixMillis(date_now() as u64);
        let signed = context::header_value(key.as_bytes(), Signed { method: &method, path_and_query, grant: &grant, client, now })
            .map_err(|e| JsValue::from_str(&e.to_string()))?;
        headers.delete("authorization")?;
        headers.set(context::HEADER, &signed)?;
        let init = RequestInit::new();
        init.set_method(&method);
        init.set_headers(&headers);
        if method != "GET" && method != "HEAD" {
            init.set_body(&request.body().map_or(JsValue::UNDEFINED, JsValue::from));
        }
        init.set_redirect(RequestRedirect::Manual);
        Ok(fetch_with_init(&format!("{origin}{path_and_query}"), &init))
    }
}

/// The account and app the baseline signs for (it knows no tokens); the rest of a grant is not
/// signed.
fn fixed_grant(account: &str, app: &str) -> Result<Grant, JsValue> {
    let id = |text: &str| Id::new(text).map_err(|e| JsValue::from_str(&e.to_string()));
    Ok(Grant {
        account: id(account)?,
        app: id(app)?,
        plan: id("baseline")?,
        group: id("baseline")?,
        stream: false,
        metering: Metering::default(),
        delivery: None,
    })
}
