//! The one place where a problem becomes a response.

use worker::{Headers, Response};

use crate::domain::http::problem::{Problem, CONTENT_TYPE};

pub fn problem(p: &Problem, type_base: &str) -> Response {
    problem_with(p, type_base, &[])
}

/// A problem response with extra headers (rate-limit state on a 429).
pub fn problem_with(p: &Problem, type_base: &str, extra: &[(&'static str, String)]) -> Response {
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
