//! Who administers: the admin API's callers and what each may do. A caller signs in through
//! Cloudflare Access (a JWT checked against the team's keys), with an admin key, or with the
//! break-glass secret; the roles record and the keys say which role they have; the role says
//! which routes they may call. Every change they make is recorded under their name.

pub mod access_settings;
pub mod base64url;
pub mod caller;
pub mod jwks;
pub mod jwt;
pub mod key;
pub mod role;
pub mod roles;
pub mod secret;
