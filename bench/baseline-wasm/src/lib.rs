//! The pass-through baseline (bench/baseline/worker.mjs) in Rust: the request forwarded to the
//! origin with the client's Authorization removed and the signed context header added, and
//! nothing else. The same header as src/domain/context.rs builds, with a fixed account and app:
//!
//!   x-tollgate-context: v2;t=<unix seconds>;account=<id>;app=<id>;client=<address>;sig=<hex>
//!   sig = HMAC-SHA256(key, "v2\n<t>\n<METHOD>\n<path?query>\n<account>\n<app>\n<client>")

// worker-build's generated module reads the start-up state that `worker` exports.
extern crate worker;

use hmac::{Hmac, Mac};
use sha2::Sha256;
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
        let t = (date_now() / 1000.0).floor() as u64;
        let method = request.method();
        let headers = Headers::new_with_headers(&request.headers())?;
        let client = headers.get("cf-connecting-ip")?.unwrap_or_else(|| "unknown".to_owned());
        let message = format!("v2\n{t}\n{method}\n{path_and_query}\n{account}\n{app}\n{client}");
        let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).map_err(|_| JsValue::from_str("the signing key is unusable"))?;
        mac.update(message.as_bytes());
        let sig = hex(&mac.finalize().into_bytes());
        headers.delete("authorization")?;
        headers.set("x-tollgate-context", &format!("v2;t={t};account={account};app={app};client={client};sig={sig}"))?;
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

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        text.push(DIGITS[usize::from(b >> 4)] as char);
        text.push(DIGITS[usize::from(b & 15)] as char);
    }
    text
}
