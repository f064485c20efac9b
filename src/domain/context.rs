//! The signed context header that tells the origin a request came through the edge.
//!
//! `x-tollgate-context: v1;t=<unix seconds>;account=<id>;app=<id>;sig=<hex>` where `sig` is
//! HMAC-SHA256 under the shared signing key over
//! `v1\n<t>\n<METHOD>\n<path-and-query>\n<account>\n<app>`. The origin recomputes it from the
//! request it received and refuses anything unsigned, mis-signed or older than its window.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::clock::UnixMillis;
use super::decision::Grant;
use super::hex;

pub const HEADER: &str = "x-tollgate-context";

/// What the signature covers.
#[derive(Debug, Clone, Copy)]
pub struct Signed<'a> {
    pub method: &'a str,
    pub path_and_query: &'a str,
    pub grant: &'a Grant,
    pub now: UnixMillis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the context signing key is empty")]
pub struct EmptyKey;

/// The header value for one forwarded request.
///
/// # Errors
/// [`EmptyKey`] when the deployment has no signing key: the edge then refuses to forward.
pub fn header_value(key: &[u8], signed: Signed<'_>) -> Result<String, EmptyKey> {
    if key.is_empty() {
        return Err(EmptyKey);
    }
    let t = signed.now.as_secs();
    let account = signed.grant.account.as_str();
    let app = signed.grant.app.as_str();
    let message = format!("v1\n{t}\n{}\n{}\n{account}\n{app}", signed.method, signed.path_and_query);
    let mut mac = Hmac::<Sha256>::new_from_slice(key).map_err(|_| EmptyKey)?;
    mac.update(message.as_bytes());
    let sig = hex::encode(&mac.finalize().into_bytes());
    Ok(format!("v1;t={t};account={account};app={app};sig={sig}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::id::Id;

    fn grant() -> Grant {
        Grant {
            account: Id::new("acme").unwrap(),
            app: Id::new("acme-search").unwrap(),
            plan: Id::new("pro").unwrap(),
            group: Id::new("search").unwrap(),
            delivery: None,
        }
    }

    #[test]
    fn matches_a_known_hmac() {
        let g = grant();
        let value = header_value(
            b"demo-key",
            Signed { method: "GET", path_and_query: "/2/tweets/20?x=1", grant: &g, now: UnixMillis::from_secs(1_700_000_000) },
        )
        .unwrap();
        // Independent value: printf 'v1\n1700000000\nGET\n/2/tweets/20?x=1\nacme\nacme-search' |
        //   openssl dgst -sha256 -hmac demo-key
        assert_eq!(
            value,
            "v1;t=1700000000;account=acme;app=acme-search;sig=8c123b407e6118d8623f72d232c0f9f22ddd9ef970a158f3e6350c96654a5fa5"
        );
    }

    #[test]
    fn refuses_an_empty_key() {
        let g = grant();
        let signed = Signed { method: "GET", path_and_query: "/", grant: &g, now: UnixMillis(0) };
        assert_eq!(header_value(b"", signed), Err(EmptyKey));
    }
}
