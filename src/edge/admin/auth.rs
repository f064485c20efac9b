//! Who is calling: the one credential a request carries, checked. The first present of these
//! decides, and is the only one checked:
//! 1. `Authorization: Bearer tgk_…`, an admin key (looked up by its hash in the admin guard);
//!    any other `Authorization: Bearer …` is taken for the break-glass secret;
//! 2. `Cf-Access-Jwt-Assertion`, the token Cloudflare Access adds to every request it lets through;
//! 3. the `CF_Authorization` cookie, the same token as Access sets it in the browser.
//!
//! An Access identity's role comes from the roles record; a key's from the key.

use worker::{Env, Request};

use super::access::{self, AccessError};
use crate::domain::admin::access_settings::{self, AccessSettings};
use crate::domain::admin::caller::{Caller, Via};
use crate::domain::admin::key::AdminKey;
use crate::domain::admin::secret;
use crate::domain::guard::command::{Command, Reply};
use crate::domain::time::clock::UnixMillis;
use crate::edge::guard::client::{call_named, ADMIN_LOG};

pub const SECRET: &str = "ADMIN_SECRET";
const ACCESS_HEADER: &str = "cf-access-jwt-assertion";
const ACCESS_COOKIE: &str = "CF_Authorization";

/// Why a request signs no one in.
pub enum Refusal {
    /// 401: no credential, or one that is wrong, expired or revoked.
    Unauthorized(String),
    /// 403: a verified Access identity that the roles record does not name.
    NoRole(String),
    /// 503: what the check needs (the admin guard, the Access keys, valid settings) is not there.
    Unavailable(String),
}

/// A signed-in caller, and whether their credential came from a cookie (a browser's, sent on
/// its own: changes then need a same-origin request).
pub struct SignedIn {
    pub caller: Caller,
    pub by_cookie: bool,
}

pub async fn sign_in(req: &Request, env: &Env, now: UnixMillis) -> Result<SignedIn, Refusal> {
    let header = |name: &str| req.headers().get(name).ok().flatten();
    if let Some(authorization) = header("authorization") {
        return bearer(&authorization, env, now).await.map(|caller| SignedIn { caller, by_cookie: false });
    }
    let (token, by_cookie) = match header(ACCESS_HEADER) {
        Some(token) => (token, false),
        None => match header("cookie").as_deref().and_then(access_cookie) {
            Some(token) => (token, true),
            None => {
                return Err(Refusal::Unauthorized(
                    "No credential: sign in through Cloudflare Access, or send an admin key as `Authorization: Bearer tgk_…`.".into(),
                ))
            }
        },
    };
    let settings = access_settings(env)?;
    let identity = access::verify(&token, &settings, now).await.map_err(|e| match e {
        AccessError::Token(why) => Refusal::Unauthorized(format!("{why}.")),
        AccessError::Unavailable(why) => Refusal::Unavailable(why),
    })?;
    let roles = match guard(env, &Command::Roles).await? {
        Reply::Roles(record) => record,
        _ => return Err(unexpected()),
    };
    let role = roles.role_of(&identity).ok_or_else(|| {
        Refusal::NoRole(format!("`{}` signed in through Access, but the roles record gives it no admin role.", identity.name()))
    })?;
    Ok(SignedIn { caller: Caller { id: identity.name().to_owned(), role, via: Via::Access }, by_cookie })
}

async fn bearer(authorization: &str, env: &Env, now: UnixMillis) -> Result<Caller, Refusal> {
    let presented = authorization.strip_prefix("Bearer ").unwrap_or_default();
    if presented.starts_with(crate::domain::admin::key::PREFIX) {
        let wrong = || Refusal::Unauthorized("The admin key is not one that was issued.".into());
        let key = AdminKey::parse(presented).ok_or_else(wrong)?;
        let record = match guard(env, &Command::FindKey { hash: key.hash() }).await? {
            Reply::Key(found) => found.ok_or_else(wrong)?,
            _ => return Err(unexpected()),
        };
        record.check(now.as_secs()).map_err(|why| Refusal::Unauthorized(why.to_string()))?;
        return Ok(Caller { id: record.id, role: record.role, via: Via::Key });
    }
    let secret = env.secret(SECRET).map(|s| s.to_string()).or_else(|_| env.var(SECRET).map(|v| v.to_string()));
    if secret.is_ok_and(|s| secret::is_break_glass(Some(authorization), s.as_bytes())) {
        return Ok(Caller::break_glass());
    }
    Err(Refusal::Unauthorized("The admin key or secret is wrong.".into()))
}

/// The control plane's Access settings, read once per isolate (a change is a new deployment).
fn access_settings(env: &Env) -> Result<AccessSettings, Refusal> {
    thread_local! {
        static SETTINGS: std::cell::RefCell<Option<Option<AccessSettings>>> = const { std::cell::RefCell::new(None) };
    }
    let read = SETTINGS.with(|s| s.borrow().clone()).map_or_else(
        || {
            let read = access_settings::from_lookup(|name| env.var(name).map(|v| v.to_string()).ok().or_else(|| env.secret(name).map(|s| s.to_string()).ok()))
                .map_err(|e| Refusal::Unavailable(format!("The Access settings are invalid: {e}.")))?;
            SETTINGS.with(|s| *s.borrow_mut() = Some(read.clone()));
            Ok(read)
        },
        Ok,
    )?;
    read.ok_or_else(|| Refusal::Unauthorized("Access sign-in is not set up on this deployment (ACCESS_TEAM_DOMAIN, ACCESS_AUD).".into()))
}

/// `CF_Authorization=<token>` among the request's cookies.
fn access_cookie(cookies: &str) -> Option<String> {
    cookies
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == ACCESS_COOKIE)
        .map(|(_, value)| value.trim_matches('"').to_owned())
        .filter(|v| !v.is_empty())
}

async fn guard(env: &Env, command: &Command) -> Result<Reply, Refusal> {
    call_named(env, ADMIN_LOG, command).await.map_err(|e| Refusal::Unavailable(format!("The admin guard did not answer: {e}")))
}

fn unexpected() -> Refusal {
    Refusal::Unavailable("The admin guard gave an unexpected answer.".into())
}
