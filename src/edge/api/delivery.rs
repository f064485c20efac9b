//! The origin's response on its way back: rate-limit headers added, items counted where the
//! endpoint's shape puts them, and for a downstream recipient, filtered to the form and volume it
//! may receive. A body that is not the shape is never passed on uncounted under a monthly cap.

use serde_json::json;
use worker::js_sys::{self, ArrayBuffer, Uint8Array};
use worker::wasm_bindgen::JsCast;
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::{self, ResponseInit};

use crate::domain::access::decision::Grant;
use crate::domain::time::clock::UnixMillis;
use crate::domain::throttle::verdict::{Allowance, Quota};
use crate::domain::http::problem::Problem;
use crate::domain::redistribution::recipient::Mode;
use crate::domain::redistribution::rewrite::{self, Filtered};
use crate::domain::http::rate_headers;
use crate::domain::redistribution::items::{self, Reading, Unshaped};
use crate::domain::redistribution::whole_body;
use crate::edge::log;

/// What the response may carry for a recipient: its form and how many items are reserved.
pub struct Constraint {
    pub mode: Mode,
    pub allowance: u64,
}

impl Constraint {
    /// The constraint on a response to a recipient, with the reservation the guard made for it.
    pub fn of(grant: &Grant, allowance: Option<&Allowance>) -> Option<Self> {
        grant.delivery.as_ref().map(|d| Self {
            mode: d.mode,
            // With the guard bypassed (fail open) there is no reservation: nothing may pass.
            allowance: allowance.map_or(0, |a| a.ids),
        })
    }
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
    fn of(reading: Reading, bytes: usize) -> Self {
        let Reading { items, ids } = reading;
        let mut ids = if items == 0 { Vec::new() } else { ids.unwrap_or_default() };
        ids.truncate(MAX_TRACKED_IDS);
        let untracked = items.saturating_sub(ids.len() as u64);
        Self { items, ids, untracked, bytes: bytes as u64 }
    }

    /// A body streamed through unread: its length if the origin stated it, no items.
    fn streamed(length: Option<String>) -> Self {
        Self { bytes: length.and_then(|l| l.parse().ok()).unwrap_or(0), ..Self::default() }
    }
}

/// The response to send and what it delivers.
///
/// A body that is neither counted nor filtered streams through without entering wasm; one that
/// is counted but not rewritten is read once and sent on as the runtime's own buffer. `read` is
/// the body when the call to the origin read it already (`whole_body::Delivery::reads`).
///
/// # Errors
/// [`Problem::OriginResponseUnfilterable`] when a recipient's response cannot be filtered:
/// nothing leaves unfiltered. [`Problem::OriginResponseUncountable`] when a successful response
/// under a monthly cap does not have the endpoint's shape: nothing leaves uncounted.
pub async fn deliver(
    response: web_sys::Response,
    read: Option<ArrayBuffer>,
    quotas: &[Quota],
    constraint: Option<Constraint>,
    grant: &Grant,
    now: UnixMillis,
) -> Result<(web_sys::Response, Shipment), Problem> {
    let metering = &grant.metering;
    let shape = &*metering.shape;
    let status = response.status();
    // Ranges never reach the origin (`namespace`); a part of a body sent anyway cannot be
    // counted or filtered, so it does not leave.
    if status == 206 {
        return Err(Problem::OriginResponsePartial);
    }
    let origin_headers = response.headers();
    let content_type = origin_headers.get("content-type").ok().flatten();
    let length = origin_headers.get("content-length").ok().flatten();
    let json = items::is_json(content_type.as_deref());
    let success = (200..300).contains(&status);
    let with_headers = |out: web_sys::Response| with_rate_headers(out, quotas, now);
    let origin_init: &ResponseInit = response.unchecked_ref();
    let rebuild = |body: &js_sys::Object| {
        web_sys::Response::new_with_opt_buffer_source_and_init(Some(body), origin_init)
            .map(with_headers)
            .map_err(|_| Problem::OriginUnreachable)
    };
    let stream_through = || {
        // A body read already is no longer the response's to pass on: its bytes are.
        let out = match &read {
            Some(buffer) => web_sys::Response::new_with_opt_buffer_source_and_init(Some(buffer), origin_init),
            None => web_sys::Response::new_with_opt_readable_stream_and_init(response.body().as_ref(), origin_init),
        };
        out.map(|out| (with_headers(out), Shipment::streamed(length.clone()))).map_err(|_| Problem::OriginUnreachable)
    };

    if let Some(constraint) = constraint {
        if !json {
            // An error page from the origin carries no data; a success that is not JSON cannot be
            // checked, so it does not leave.
            return if success { Err(Problem::OriginResponseUnfilterable) } else { stream_through() };
        }
        let (buffer, body) = read_body(&response, read.clone()).await?;
        let filtered = rewrite::filter(&body, shape, constraint.mode, constraint.allowance)
            .map_err(|_| Problem::OriginResponseUnfilterable)?;
        let delivered = filtered.items();
        let (out, sent) = match &filtered {
            Filtered::Unchanged { .. } => (rebuild(&buffer)?, body.as_slice()),
            Filtered::Rewritten { body, .. } => (rebuild(&Uint8Array::from(body.as_slice()))?, body.as_slice()),
        };
        let ids = if delivered == 0 { None } else { items::ids(sent, shape) };
        return Ok((out, Shipment::of(Reading { items: delivered, ids }, sent.len())));
    }

    // A success that is JSON is read; under a cap one that is not JSON is read too, if it has a
    // body: it may carry data, and it is only passed on if it is empty.
    let page = whole_body::Delivery { page: true, recipient: false, capped: metering.capped };
    if page.reads(status, content_type.as_deref(), response.body().is_some()) {
        let (buffer, body) = read_body(&response, read.clone()).await?;
        let reading = match items::meter(&body, metering) {
            Ok(reading) => reading,
            Err(unshaped) => {
                let refused = unshaped == Unshaped::Refused;
                log::event(
                    if refused { "error" } else { "warn" },
                    "origin_response_unshaped",
                    json!({ "account": grant.account.as_str(), "app": grant.app.as_str(), "group": grant.group.as_str(),
                            "status": status, "bytes": body.len(), "json": json, "refused": refused }),
                );
                if refused {
                    return Err(Problem::OriginResponseUncountable);
                }
                Reading { items: 0, ids: None }
            }
        };
        return Ok((rebuild(&buffer)?, Shipment::of(reading, body.len())));
    }
    stream_through()
}

/// The response that leaves: the origin's status and headers (`new Response(body, origin)` copies
/// both inside the runtime), the rate-limit headers added, and no stated length, as the body may
/// be re-framed; the runtime sets it.
pub fn with_rate_headers(out: web_sys::Response, quotas: &[Quota], now: UnixMillis) -> web_sys::Response {
    let headers = out.headers();
    let _ = headers.delete("content-length");
    for (name, value) in rate_headers::headers(quotas, now) {
        let _ = headers.set(name, &value);
    }
    out
}

/// The whole body: the runtime's buffer (`read`, if the call to the origin read it already), and a
/// copy in wasm to read.
async fn read_body(response: &web_sys::Response, read: Option<ArrayBuffer>) -> Result<(ArrayBuffer, Vec<u8>), Problem> {
    let buffer = match read {
        Some(buffer) => buffer,
        None => {
            let promise = response.array_buffer().map_err(|_| Problem::OriginUnreachable)?;
            JsFuture::from(promise).await.ok().and_then(|b| b.dyn_into().ok()).ok_or(Problem::OriginUnreachable)?
        }
    };
    let body = Uint8Array::new(&buffer).to_vec();
    Ok((buffer, body))
}
