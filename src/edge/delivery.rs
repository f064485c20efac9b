//! The origin's response on its way back: rate-limit headers added, items counted, and for a
//! downstream recipient, filtered to the form and volume it may receive.

use worker::{Headers, Response};

use crate::domain::clock::UnixMillis;
use crate::domain::guard::Quota;
use crate::domain::problem::Problem;
use crate::domain::recipient::Mode;
use crate::domain::rewrite::{self, Filtered};
use crate::domain::{items, rate_headers};

/// What the response may carry for a recipient: its form and how many items are reserved.
pub struct Constraint {
    pub mode: Mode,
    pub allowance: u64,
}

/// The response to send and the number of items it delivers.
///
/// # Errors
/// [`Problem::OriginResponseUnfilterable`] when a recipient's response cannot be filtered:
/// nothing leaves unfiltered.
pub async fn deliver(
    mut response: Response,
    quotas: &[Quota],
    constraint: Option<Constraint>,
    now: UnixMillis,
) -> Result<(Response, u64), Problem> {
    let status = response.status_code();
    let headers = Headers::new();
    for (name, value) in response.headers().entries() {
        // The body may be re-framed below; the runtime sets the length itself.
        if name != "content-length" {
            let _ = headers.append(&name, &value);
        }
    }
    for (name, value) in rate_headers::headers(quotas, now) {
        let _ = headers.set(name, &value);
    }
    let content_type = response.headers().get("content-type").ok().flatten();
    let json = items::is_json(content_type.as_deref());
    let success = (200..300).contains(&status);

    if let Some(constraint) = constraint {
        if !json {
            // An error page from the origin carries no data; a success that is not JSON cannot be
            // checked, so it does not leave.
            return if success { Err(Problem::OriginResponseUnfilterable) } else { Ok((response.with_headers(headers), 0)) };
        }
        let body = response.bytes().await.map_err(|_| Problem::OriginUnreachable)?;
        let filtered = rewrite::filter(&body, constraint.mode, constraint.allowance)
            .map_err(|_| Problem::OriginResponseUnfilterable)?;
        let delivered = filtered.items();
        let body = match filtered {
            Filtered::Unchanged { .. } => body,
            Filtered::Rewritten { body, .. } => body,
        };
        return Ok((rebuild(body, status, headers), delivered));
    }

    if success && json {
        if let Ok(body) = response.bytes().await {
            let delivered = items::count(&body).unwrap_or(0);
            return Ok((rebuild(body, status, headers), delivered));
        }
        return Err(Problem::OriginUnreachable);
    }
    Ok((response.with_headers(headers), 0))
}

fn rebuild(body: Vec<u8>, status: u16, headers: Headers) -> Response {
    Response::from_bytes(body)
        .unwrap_or_else(|_| Response::builder().fixed(Vec::new()))
        .with_status(status)
        .with_headers(headers)
}
