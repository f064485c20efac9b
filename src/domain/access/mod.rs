//! Who may call what: the token and its `Authorization` header, the entitlement records in KV and
//! their cache, the route table, use cases, and the policy decision for one request.

pub mod bearer;
pub mod cache;
pub mod decision;
pub mod entitlement;
pub mod entitlement_file;
pub mod id;
pub mod kv_layout;
pub mod route;
pub mod token;
pub mod use_case;
