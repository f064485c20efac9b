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

/// Ids of one response the ledger tracks for its distinct count. A page of the API holds at most
/// 100; past this many, the rest are counted as distinct without being stored (never undercounted).
pub const MAX_TRACKED_IDS: usize = 1000;

/// What a response delivered, for the ledger.
#[derive(Debug, Default)]
pub struct Shipment {
    pub items: u64,
    pub ids: Vec<String>,
    /// Items whose ids are not tracked: counted as distinct.
    pub untracked: u64,
    pub bytes: u64,
}

impl Shipment {
    fn of(body: &[u8], items: u64) -> Self {
        let mut ids = if items == 0 { Vec::new() } else { items::ids(body).unwrap_or_default() };
        ids.truncate(MAX_TRACKED_IDS);
        let untracked = items.saturating_sub(ids.len() as u64);
        Self { items, ids, untracked, bytes: body.len() as u64 }
    }

    /// A body streamed through unread: its length if the origin stated it, no items.
    fn streamed(length: Option<String>) -> Self {
        Self { bytes: length.and_then(|l| l.parse().ok()).unwrap_or(0), ..Self::default() }
    }
}

/// The response to send and what it delivers.
///
/// # Errors
/// [`Problem::OriginResponseUnfilterable`] when a recipient's response cannot be filtered:
/// nothing leaves unfiltered.
pub async fn deliver(
    mut response: Response,
    quotas: &[Quota],
    constraint: Option<Constraint>,
    now: UnixMillis,
) -> Result<(Response, Shipment), Problem> {
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
    let length = response.headers().get("content-length").ok().flatten();
    let json = items::is_json(content_type.as_deref());
    let success = (200..300).contains(&status);

    if let Some(constraint) = constraint {
        if !json {
            // An error page from the origin carries no data; a success that is not JSON cannot be
            // checked, so it does not leave.
            return if success {
                Err(Problem::OriginResponseUnfilterable)
            } else {
                Ok((response.with_headers(headers), Shipment::streamed(length)))
            };
        }
        let body = response.bytes().await.map_err(|_| Problem::OriginUnreachable)?;
        let filtered = rewrite::filter(&body, constraint.mode, constraint.allowance)
            .map_err(|_| Problem::OriginResponseUnfilterable)?;
        let delivered = filtered.items();
        let body = match filtered {
            Filtered::Unchanged { .. } => body,
            Filtered::Rewritten { body, .. } => body,
        };
        let shipment = Shipment::of(&body, delivered);
        return Ok((rebuild(body, status, headers), shipment));
    }

    if success && json {
        if let Ok(body) = response.bytes().await {
            let shipment = Shipment::of(&body, items::count(&body).unwrap_or(0));
            return Ok((rebuild(body, status, headers), shipment));
        }
        return Err(Problem::OriginUnreachable);
    }
    Ok((response.with_headers(headers), Shipment::streamed(length)))
}

fn rebuild(body: Vec<u8>, status: u16, headers: Headers) -> Response {
    Response::from_bytes(body)
        .unwrap_or_else(|_| Response::builder().fixed(Vec::new()))
        .with_status(status)
        .with_headers(headers)
}
