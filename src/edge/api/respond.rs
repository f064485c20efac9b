//! The one place where a problem becomes a response, in the deployment's error body.

use worker::{web_sys, Headers, Response};

use crate::domain::http::error_body::ErrorBody;
use crate::domain::http::problem::Problem;
use crate::domain::http::rate_headers;
use crate::domain::throttle::verdict::Quota;
use crate::domain::time::clock::UnixMillis;

/// How the deployment writes its errors: the problem `type` base and the body.
#[derive(Clone, Copy)]
pub struct Errors<'a> {
    pub type_base: &'a str,
    pub body: &'a ErrorBody,
}

pub fn problem(p: &Problem, errors: Errors<'_>) -> web_sys::Response {
    render(p, errors, &[]).into()
}

/// A refusal of the throttling step, with the rate-limit headers of the windows it names (those
/// of a 429 for a window; a refusal for anything else names none).
pub fn refused(p: &Problem, quotas: &[Quota], errors: Errors<'_>, now: UnixMillis) -> web_sys::Response {
    render(p, errors, &rate_headers::headers(quotas, now)).into()
}

fn render(p: &Problem, errors: Errors<'_>, extra: &[(&'static str, String)]) -> Response {
    let headers = Headers::new();
    // Names and values here are constants or digits: setting them cannot fail.
    let _ = headers.set("content-type", errors.body.content_type());
    let _ = headers.set("cache-control", "no-store");
    if let Some(seconds) = p.retry_after() {
        let _ = headers.set("retry-after", &seconds.to_string());
    }
    for (name, value) in extra {
        let _ = headers.set(name, value);
    }
    Response::from_bytes(errors.body.render(p, errors.type_base).into_bytes())
        .unwrap_or_else(|_| Response::builder().fixed(Vec::new()))
        .with_status(p.status())
        .with_headers(headers)
}
