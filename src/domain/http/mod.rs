//! The request and response as HTTP: the request's shape and overrides, the headers that reach
//! the origin, the signed context, rate-limit headers, problem responses and the error body they
//! are written in, and the paths Tollgate answers itself.

pub mod client_address;
pub mod context;
pub mod error_body;
pub mod header_text;
pub mod namespace;
pub mod overrides;
pub mod own_paths;
pub mod problem;
pub mod rate_headers;
pub mod request_shape;
