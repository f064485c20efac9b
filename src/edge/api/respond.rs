//! The one place where a problem becomes a response.

use worker::{web_sys, Headers, Response};

use crate::domain::http::problem::{Problem, CONTENT_TYPE};
use crate::domain::http::rate_headers;
use crate::domain::throttle::verdict::Quota;
use crate::domain::time::clock::UnixMillis;

pub fn problem(p: &Problem, type_base: &str) -> web_sys::Response {
    render(p, type_base, &[]).into()
}

/// A refusal of the throttling step, with the rate-limit headers of the windows it names (those
/// of a 429 for a window; a refusal for anything else names none).
pub fn refused(p: &Problem, quotas: &[Quota], type_base: &str, now: UnixMillis) -> web_sys::Response {
    render(p, type_base, &rate_headers::headers(quotas, now)).into()
}

fn render(p: &Problem, type_base: &str, extra: &[(&'static str, String)]) -> Response {
    let headers = Headers::new();
    // Names and values here are constants or digits: setting them cannot fail.
    let _ = headers.set("content-type", CONTENT_TYPE);
    let _ = headers.set("cache-control", "no-store");
    if let Some(seconds) = p.retry_after() {
        let _ = headers.set("retry-after", &seconds.to_string());
    }
    for (name, value) in extra {
        let _ = headers.set(name, value);
    }
    Response::from_bytes(p.to_json(type_base).into_bytes())
        .unwrap_or_else(|_| Response::builder().fixed(Vec::new()))
        .with_status(p.status())
        .with_headers(headers)
}
