//! Forwarding an admitted request to the origin, with the signed context and a time limit.

use std::time::Duration;

use futures_util::future::{select, Either};
use serde_json::json;
use worker::{AbortController, Delay, Fetch, Headers, Request, RequestInit, RequestRedirect, Response};

use super::log;
use crate::domain::clock::UnixMillis;
use crate::domain::context::{self, Signed};
use crate::domain::decision::Grant;
use crate::domain::namespace::forwards_to_origin;
use crate::domain::problem::Problem;
use crate::domain::settings::Settings;

pub async fn forward(req: Request, grant: &Grant, settings: &Settings, now: UnixMillis) -> Result<Response, Problem> {
    let url = req.url().map_err(|_| Problem::OriginUnreachable)?;
    let path_and_query = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    let method = req.method();
    let signed = context::header_value(
        &settings.signing_key,
        Signed { method: method.as_ref(), path_and_query: &path_and_query, grant, now },
    )
    .map_err(|_| Problem::EntitlementUnavailable)?;

    let headers = Headers::new();
    for (name, value) in req.headers().entries() {
        if forwards_to_origin(&name) {
            headers.append(&name, &value).map_err(|_| Problem::OriginUnreachable)?;
        }
    }
    headers.set(context::HEADER, &signed).map_err(|_| Problem::OriginUnreachable)?;

    let mut init = RequestInit::new();
    init.with_method(method).with_headers(headers).with_redirect(RequestRedirect::Manual);
    if let Some(body) = req.inner().body() {
        init.with_body(Some(body.into()));
    }
    let target = format!("{}{path_and_query}", settings.origin_url);
    let outbound = Request::new_with_init(&target, &init).map_err(|e| {
        log::event("error", "origin_request_invalid", json!({ "error": e.to_string() }));
        Problem::OriginUnreachable
    })?;

    let controller = AbortController::default();
    let signal = controller.signal();
    let fetch = Fetch::Request(outbound);
    let timer = Delay::from(Duration::from_millis(settings.origin_timeout_ms));
    let outcome = match select(Box::pin(fetch.send_with_signal(&signal)), timer).await {
        Either::Left((result, _)) => Some(result),
        Either::Right(((), _)) => None,
    };
    match outcome {
        Some(Ok(response)) => Ok(response),
        Some(Err(e)) => {
            log::event("warn", "origin_unreachable", json!({ "account": grant.account.as_str(), "error": e.to_string() }));
            Err(Problem::OriginUnreachable)
        }
        None => {
            controller.abort();
            log::event("warn", "origin_timeout", json!({ "account": grant.account.as_str(), "timeout_ms": settings.origin_timeout_ms }));
            Err(Problem::OriginTimeout)
        }
    }
}
