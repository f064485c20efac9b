//! Revocations, the account's suspension, and the index of its tokens (`guard::ports::Tokens`).

use super::{int, SqlStore};
use crate::domain::access::entitlement::AppStatus;
use crate::domain::access::id::Id;
use crate::domain::access::token::TokenHash;
use crate::domain::guard::ports::{AppEntry, StoreError, Tokens};
use crate::domain::time::clock::UnixMillis;

impl Tokens for SqlStore {
    fn is_revoked(&self, token: &TokenHash) -> Result<bool, StoreError> {
        Ok(self.number("SELECT COUNT(*) AS n FROM revoked WHERE token_hash = ?", vec![token.as_str().into()])? > 0)
    }

    fn is_suspended(&self) -> Result<bool, StoreError> {
        Ok(self.number("SELECT v AS n FROM standing WHERE k = 'suspended'", vec![])? != 0)
    }

    fn revoke(&mut self, token: &TokenHash, now: UnixMillis) -> Result<(), StoreError> {
        self.exec("INSERT OR IGNORE INTO revoked (token_hash, at) VALUES (?, ?)", vec![token.as_str().into(), int(now.0)])
    }

    fn set_suspended(&mut self, suspended: bool) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO standing (k, v) VALUES ('suspended', ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v",
            vec![int(u64::from(suspended))],
        )
    }

    fn register_app(&mut self, token: &TokenHash, app: &Id, status: AppStatus, now: UnixMillis) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO apps (token_hash, app, status, updated_at) VALUES (?, ?, ?, ?)
             ON CONFLICT(token_hash) DO UPDATE SET app = excluded.app, status = excluded.status, updated_at = excluded.updated_at",
            vec![token.as_str().into(), app.as_str().into(), status.as_str().into(), int(now.0)],
        )
    }

    fn apps(&self) -> Result<Vec<AppEntry>, StoreError> {
        self.query("SELECT token_hash AS token_sha256, app, status, updated_at FROM apps ORDER BY app, updated_at", vec![])
    }
}
