//! The origin's response on its way back: rate-limit headers added, items counted.

use worker::{Headers, Response};

use crate::domain::clock::UnixMillis;
use crate::domain::guard::Quota;
use crate::domain::{items, rate_headers};

/// The response to send and the number of items it delivers.
pub async fn deliver(mut response: Response, quotas: &[Quota], now: UnixMillis) -> (Response, u64) {
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
    if (200..300).contains(&status) && items::is_json(content_type.as_deref()) {
        if let Ok(body) = response.bytes().await {
            let delivered = items::count(&body).unwrap_or(0);
            let rebuilt = Response::from_bytes(body)
                .unwrap_or_else(|_| Response::builder().fixed(Vec::new()))
                .with_status(status)
                .with_headers(headers);
            return (rebuilt, delivered);
        }
    }
    (response.with_headers(headers), 0)
}
