//! The signed context header that tells the origin a request came through the edge.
//!
//! `x-tollgate-context: v2;t=<unix seconds>;account=<id>;app=<id>;client=<address>;sig=<hex>`
//! where `sig` is HMAC-SHA256 under the shared signing key over
//! `v2\n<t>\n<METHOD>\n<path-and-query>\n<account>\n<app>\n<client>`. The origin recomputes it
//! from the request it received and refuses anything unsigned, mis-signed or older than its
//! window. `client` is the address the runtime knows (or `unknown`), never one the client sent.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::http::client_address::ClientAddress;
use crate::domain::time::clock::UnixMillis;
use crate::domain::access::decision::Grant;
use crate::domain::hex;

pub const HEADER: &str = "x-tollgate-context";

/// What the signature covers.
#[derive(Debug, Clone, Copy)]
pub struct Signed<'a> {
    pub method: &'a str,
    pub path_and_query: &'a str,
    pub grant: &'a Grant,
    pub client: ClientAddress,
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
    let client = signed.client;
    let message = format!("v2\n{t}\n{}\n{}\n{account}\n{app}\n{client}", signed.method, signed.path_and_query);
    let mut mac = Hmac::<Sha256>::new_from_slice(key).map_err(|_| EmptyKey)?;
    mac.update(message.as_bytes());
    let sig = hex::encode(&mac.finalize().into_bytes());
    Ok(format!("v2;t={t};account={account};app={app};client={client};sig={sig}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::access::id::Id;

    fn grant() -> Grant {
        Grant {
            account: Id::new("acme").unwrap(),
            app: Id::new("acme-search").unwrap(),
            plan: Id::new("pro").unwrap(),
            group: Id::new("search").unwrap(),
            stream: false,
            metering: crate::domain::redistribution::items::Metering::default(),
            delivery: None,
        }
    }

    #[test]
    fn matches_a_known_hmac() {
        let g = grant();
        let value = header_value(
            b"demo-key",
            Signed {
                method: "GET",
                path_and_query: "/2/tweets/20?x=1",
                grant: &g,
                client: ClientAddress::from_runtime(Some("203.0.113.7")),
                now: UnixMillis::from_secs(1_700_000_000),
            },
        )
        .unwrap();
        // Independent value: printf 'v2\n1700000000\nGET\n/2/tweets/20?x=1\nacme\nacme-search\n203.0.113.7' |
        //   openssl dgst -sha256 -hmac demo-key
        assert_eq!(
            value,
            "v2;t=1700000000;account=acme;app=acme-search;client=203.0.113.7;sig=08b901985e1a3f32e5a0500f65542d13119c31fe9561ee3caa49744f88c96cdb"
        );
    }

    #[test]
    fn an_unknown_client_is_signed_as_such() {
        let g = grant();
        let signed = Signed { method: "GET", path_and_query: "/", grant: &g, client: ClientAddress::from_runtime(None), now: UnixMillis::from_secs(1_700_000_000) };
        // printf 'v2\n1700000000\nGET\n/\nacme\nacme-search\nunknown' | openssl dgst -sha256 -hmac demo-key
        assert_eq!(
            header_value(b"demo-key", signed).unwrap(),
            "v2;t=1700000000;account=acme;app=acme-search;client=unknown;sig=7fe1063d343283352739b60738e4c3b26a7586d283ff0e0bee68c1bc5c65afb6"
        );
    }

    #[test]
    fn refuses_an_empty_key() {
        let g = grant();
        let signed = Signed { method: "GET", path_and_query: "/", grant: &g, client: ClientAddress::from_runtime(None), now: UnixMillis(0) };
        assert_eq!(header_value(b"", signed), Err(EmptyKey));
    }
}
