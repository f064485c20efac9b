//! The control plane's billing machinery: the export pass that sends sealed days' usage events
//! to the billing queue (`export`), the queue's consumer that delivers them to the configured
//! endpoint and keeps what could not be delivered (`delivery`), the fleet's rollup and directory
//! (`fleet`), and the control plane's own D1 database (`store`).

pub mod delivery;
pub mod export;
pub mod fleet;
pub mod store;

/// The queue the export sends to, and the one that holds what ran out of retries.
pub const QUEUE: &str = "BILLING_QUEUE";
pub const DEAD_QUEUE_NAME: &str = "tollgate-billing-dead";
/// Where events are delivered (a secret: it may carry credentials), its bearer token, and the
/// form they are sent in.
pub const ENDPOINT: &str = "BILLING_ENDPOINT";
pub const ENDPOINT_TOKEN: &str = "BILLING_ENDPOINT_TOKEN";
pub const FORM: &str = "BILLING_FORM";

/// A setting from a secret or a var; `None` when absent, empty or `none`.
pub fn setting(env: &worker::Env, name: &str) -> Option<String> {
    let value = env.secret(name).map(|s| s.to_string()).or_else(|_| env.var(name).map(|v| v.to_string())).ok()?;
    (!value.is_empty() && value != "none").then_some(value)
}

/// The endpoint, when the export is on: HTTPS, or HTTP to this machine's loopback (local runs).
pub fn endpoint(env: &worker::Env) -> Option<String> {
    let url = setting(env, ENDPOINT)?;
    let local = ["http://127.0.0.1:", "http://127.0.0.1/", "http://localhost:", "http://localhost/", "http://[::1]:"];
    (url.starts_with("https://") || local.iter().any(|p| url.starts_with(p))).then_some(url)
}
