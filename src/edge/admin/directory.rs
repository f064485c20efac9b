//! Who is an admin, through the API: `whoami` for any caller, and for owners the roles record
//! and the admin keys. Both live in the admin guard (the Durable Object that keeps the admin
//! log), not in KV, so a removal or a revocation holds on the very next request everywhere.

use serde_json::json;

use super::actions::{bad, ok, unavailable, Admin, Answer, Fail};
use crate::domain::access::entitlement::decode;
use crate::domain::admin::caller::Caller;
use crate::domain::admin::key::{id_of, AdminKey, KeyRecord, KeyRequest, MAX_LIVE_KEYS};
use crate::domain::admin::roles::RolesRecord;
use crate::domain::guard::command::{Command, Reply};
use crate::domain::time::clock::UnixMillis;
use crate::edge::guard::client::ADMIN_LOG;
use crate::edge::log;

/// The caller, their role and what it allows: what the console shows and offers.
pub fn whoami(caller: &Caller) -> Answer {
    ok(&json!({ "id": caller.id, "role": caller.role, "via": caller.via, "permissions": caller.role.permissions() }))
}

fn unexpected() -> Fail {
    unavailable("The admin guard gave an unexpected answer.")
}

pub async fn roles(admin: &Admin<'_>) -> Answer {
    match admin.guard(ADMIN_LOG, &Command::Roles).await? {
        Reply::Roles(record) => ok(&serde_json::to_value(record).unwrap_or_default()),
        _ => Err(unexpected()),
    }
}

/// Replaces the roles record, validated whole first; the guard keeps it and its audit entry in
/// one step.
pub async fn put_roles(admin: &Admin<'_>) -> Answer {
    let text = std::str::from_utf8(admin.body).map_err(|_| bad("The body is not UTF-8."))?;
    let record: RolesRecord = decode(text).map_err(|e| bad(e.to_string()))?;
    let command = Command::PutRoles { record, actor: admin.caller.actor() };
    match admin.guard(ADMIN_LOG, &command).await? {
        Reply::Roles(record) => ok(&json!({ "written": true, "identities": record.identities.len() })),
        _ => Err(unexpected()),
    }
}

async fn all_keys(admin: &Admin<'_>) -> Result<Vec<KeyRecord>, Fail> {
    match admin.guard(ADMIN_LOG, &Command::Keys).await? {
        Reply::Keys(keys) => Ok(keys),
        _ => Err(unexpected()),
    }
}

pub async fn keys(admin: &Admin<'_>) -> Answer {
    ok(&json!({ "keys": all_keys(admin).await? }))
}

/// Issues a key: shown once in this answer, kept only as its SHA-256.
pub async fn issue_key(admin: &Admin<'_>, now: UnixMillis) -> Answer {
    let request: KeyRequest = admin.json()?;
    request.validate(now.as_secs()).map_err(|e| bad(e.to_string()))?;
    let live = all_keys(admin).await?.iter().filter(|k| k.check(now.as_secs()).is_ok()).count();
    if live >= MAX_LIVE_KEYS {
        return Err(Fail(409, "Conflict", format!("There are {MAX_LIVE_KEYS} live admin keys: revoke one first.")));
    }
    let mut body = [0u8; 32];
    getrandom::fill(&mut body).map_err(|_| unavailable("No randomness available."))?;
    let key = AdminKey::from_random(body);
    let hash = key.hash();
    let record = KeyRecord {
        id: id_of(&hash),
        owner: request.owner,
        role: request.role,
        expires_at: request.expires_at,
        created_at: now.as_secs(),
        created_by: admin.caller.id.clone(),
        revoked_at: None,
    };
    let command = Command::IssueKey { hash, key: record.clone(), actor: admin.caller.actor() };
    admin.guard(ADMIN_LOG, &command).await?;
    log::event("info", "admin_key_issued", json!({ "key": record.id, "role": record.role, "by": admin.caller.id }));
    ok(&json!({ "key": key.reveal(), "id": record.id, "owner": record.owner, "role": record.role, "expires_at": record.expires_at,
        "note": "The key is shown once. Only its hash is stored." }))
}

pub async fn revoke_key(admin: &Admin<'_>, id: &str, now: UnixMillis) -> Answer {
    let command = Command::RevokeKey { id: id.to_owned(), at: now.as_secs(), actor: admin.caller.actor() };
    match admin.guard(ADMIN_LOG, &command).await? {
        Reply::Key(Some(key)) => {
            log::event("info", "admin_key_revoked", json!({ "key": key.id, "by": admin.caller.id }));
            ok(&serde_json::to_value(key).unwrap_or_default())
        }
        Reply::Key(None) => Err(Fail(404, "Not Found", format!("No admin key `{}`.", id.chars().take(20).collect::<String>()))),
        _ => Err(unexpected()),
    }
}
