//! The client's request, read once: its method, target and headers crossed into wasm in one go,
//! and everything else (the body, the network facts in `request.cf`) left in the runtime until
//! it is needed. The runtime parses `request.cf` on every access, so it is read only when a
//! fingerprint is due, not on every request.

use wasm_bindgen::prelude::wasm_bindgen;
use worker::js_sys::Reflect;
use worker::wasm_bindgen::JsValue;
use worker::web_sys;

use crate::domain::http::client_address::{self, ClientAddress};
use crate::domain::http::header_text;
use crate::domain::redistribution::fingerprint::Fingerprint;
use crate::domain::http::overrides;
use crate::domain::http::problem::Problem;
use crate::domain::http::request_shape::{self, ShapeError};

pub struct Incoming {
    raw: web_sys::Request,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Names in lower case, as the runtime's `Headers` iterates them.
    pub headers: Vec<(String, String)>,
}

impl Incoming {
    /// Reads the request and checks its shape: sizes, one canonical path, and no override of its
    /// method or target. `url` is `raw.url()`, already read by the caller to route the request.
    ///
    /// # Errors
    /// [`Problem::BadRequest`] for a target or headers out of shape.
    pub fn read(raw: web_sys::Request, url: &str) -> Result<Self, Problem> {
        let (path, query) = request_shape::split_url(url).ok_or(Problem::BadRequest(ShapeError::PathNotCanonical))?;
        request_shape::check_target(path, query).map_err(Problem::BadRequest)?;
        let headers = header_list(&raw.headers());
        request_shape::check_headers(headers.iter().map(|(n, v)| (n.as_str(), v.as_str()))).map_err(Problem::BadRequest)?;
        if let Some(o) = overrides::find(headers.iter().map(|(n, _)| n.as_str()), query) {
            return Err(Problem::BadRequest(ShapeError::Override(o)));
        }
        Ok(Self { method: raw.method(), path: path.to_owned(), query: query.map(str::to_owned), headers, raw })
    }

    /// The first value of a header (`name` in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The client's address as the runtime knows it.
    pub fn client(&self) -> ClientAddress {
        ClientAddress::from_runtime(self.header(client_address::RUNTIME_HEADER))
    }

    /// The path and query as the origin receives them.
    pub fn target(&self) -> String {
        match &self.query {
            Some(q) => format!("{}?{q}", self.path),
            None => self.path.clone(),
        }
    }

    /// The client's network (AS number), from `request.cf`; `None` where the runtime has none.
    pub fn asn(&self) -> Option<u32> {
        let cf = Reflect::get(&self.raw, &JsValue::from_str("cf")).ok()?;
        if cf.is_undefined() || cf.is_null() {
            return None;
        }
        let asn = Reflect::get(&cf, &JsValue::from_str("asn")).ok()?.as_f64()?;
        (asn >= 0.0 && asn <= f64::from(u32::MAX) && asn.fract() == 0.0).then_some(asn as u32)
    }

    /// Who is calling, for the guard's pooling evidence: read only when the guard is called, since
    /// `request.cf` costs a parse on every access.
    pub fn fingerprint(&self) -> Fingerprint {
        // The runtime's address header as it is: the fingerprint reads its network prefix itself.
        Fingerprint::new(self.header(client_address::RUNTIME_HEADER), self.asn(), self.header("user-agent"))
    }

    /// The headers as the runtime holds them, for copying without crossing into wasm.
    pub fn raw_headers(&self) -> web_sys::Headers {
        self.raw.headers()
    }

    /// The request body, still in the runtime, for the origin.
    pub fn body(&self) -> Option<web_sys::ReadableStream> {
        self.raw.body()
    }
}

#[wasm_bindgen(module = "/src/edge/api/request.js")]
extern "C" {
    /// `name \n value \n` for each header (see `request.js`).
    #[wasm_bindgen(js_name = headerText)]
    fn header_text(headers: &web_sys::Headers) -> String;
}

/// All headers in one crossing, as text the runtime builds; should it ever not split into pairs,
/// the headers are iterated one by one instead.
fn header_list(headers: &web_sys::Headers) -> Vec<(String, String)> {
    header_text::split(&header_text(headers)).unwrap_or_else(|| worker::Headers(headers.clone()).entries().collect())
}
