//! The one place where a problem becomes a response.

use worker::{Headers, Response};

use crate::domain::problem::{Problem, CONTENT_TYPE};

pub fn problem(p: &Problem, type_base: &str) -> Response {
    let headers = Headers::new();
    // Header names and values here are constants: setting them cannot fail.
    let _ = headers.set("content-type", CONTENT_TYPE);
    let _ = headers.set("cache-control", "no-store");
    Response::ok(p.to_json(type_base))
        .map_or_else(|_| Response::empty().unwrap_or_else(|_| unreachable_response()), |r| r)
        .with_status(p.status())
        .with_headers(headers)
}

/// A bare 500 for the case where the runtime cannot even build a response body.
fn unreachable_response() -> Response {
    Response::builder().with_status(500).fixed(Vec::new())
}
