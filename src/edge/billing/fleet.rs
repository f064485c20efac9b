//! The fleet's two D1 tables and the one query the fleet page makes.
//!
//! - `rollup`: one row per account, its month's figures as its guard last wrote them (the guard
//!   writes at most every `ROLLUP_SECONDS`, after a command; `edge::guard::rollup`).
//! - `directory`: one row per account, its name, plan and status, written when the admin API
//!   writes the account and by the hourly sync of the accounts in KV (which also covers records
//!   written to KV by hand).

use serde::Deserialize;
use serde_json::json;
use worker::wasm_bindgen::JsValue;
use worker::Env;

use super::store;
use crate::domain::access::entitlement::{decode, AccountRecord, AccountStatus};
use crate::domain::access::kv_layout::{self, BINDING};
use crate::domain::billing::fleet::MonthFigures;
use crate::domain::time::clock::Clock;
use crate::edge::clock::EdgeClock;
use crate::edge::log;

#[allow(clippy::cast_precision_loss)] // Unix milliseconds are far below 2^53
fn number(n: u64) -> JsValue {
    JsValue::from_f64(n as f64)
}

/// A guard's month, written over its previous row.
pub async fn write_rollup(env: &Env, account: &str, figures: &MonthFigures) -> worker::Result<()> {
    let db = store::open(env).await?;
    let text = serde_json::to_string(figures).unwrap_or_default();
    db.prepare("INSERT INTO rollup (account, month, figures, updated_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT(account) DO UPDATE SET month = excluded.month, figures = excluded.figures, updated_at = excluded.updated_at")
        .bind(&[account.into(), figures.month.as_str().into(), text.as_str().into(), number(EdgeClock.now().0)])?
        .run()
        .await?;
    Ok(())
}

/// An account's directory row.
pub async fn remember(env: &Env, record: &AccountRecord) -> worker::Result<()> {
    let db = store::open(env).await?;
    let status = if record.status == AccountStatus::Suspended { "suspended" } else { "active" };
    db.prepare("INSERT INTO directory (account, name, plan, status, updated_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(account) DO UPDATE SET name = excluded.name, plan = excluded.plan, status = excluded.status, updated_at = excluded.updated_at")
        .bind(&[record.id.as_str().into(), record.name.as_str().into(), record.plan.as_str().into(), status.into(), number(EdgeClock.now().0)])?
        .run()
        .await?;
    Ok(())
}

/// Every account record in KV into the directory: one KV list per 1,000 accounts and one read
/// per account. Run hourly and on `POST fleet/sync`.
pub async fn sync(env: &Env) -> serde_json::Value {
    let Ok(kv) = env.kv(BINDING) else { return json!({ "error": "KV is not bound" }) };
    let prefix = format!("{}account:", kv_layout::PREFIX);
    let (mut synced, mut failed) = (0u64, 0u64);
    let mut cursor: Option<String> = None;
    loop {
        let mut list = kv.list().prefix(prefix.clone()).limit(1000);
        if let Some(c) = cursor.take() {
            list = list.cursor(c);
        }
        let Ok(listed) = list.execute().await else {
            return json!({ "synced": synced, "failed": failed, "error": "KV could not be listed" });
        };
        for key in &listed.keys {
            let record = kv.get(&key.name).text().await.ok().flatten().and_then(|text| decode::<AccountRecord>(&text).ok());
            match record {
                Some(record) if remember(env, &record).await.is_ok() => synced += 1,
                _ => failed += 1,
            }
        }
        match listed.cursor {
            Some(c) if !listed.list_complete => cursor = Some(c),
            _ => break,
        }
    }
    if failed > 0 {
        log::event("warn", "fleet_sync_incomplete", json!({ "synced": synced, "failed": failed }));
    }
    json!({ "synced": synced, "failed": failed })
}

/// One account as the fleet query returns it.
#[derive(Debug, Deserialize)]
pub struct Entry {
    pub account: String,
    pub name: Option<String>,
    pub plan: Option<String>,
    pub status: Option<String>,
    pub figures: Option<String>,
    pub updated_at: Option<f64>,
}

impl Entry {
    pub fn figures(&self) -> Option<MonthFigures> {
        self.figures.as_deref().and_then(|f| serde_json::from_str(f).ok())
    }
}

/// Every account of the directory or the rollup, in one D1 query.
pub async fn entries(env: &Env) -> worker::Result<Vec<Entry>> {
    let db = store::open(env).await?;
    db.prepare(
        "SELECT d.account AS account, d.name AS name, d.plan AS plan, d.status AS status, r.figures AS figures, r.updated_at AS updated_at
           FROM directory d LEFT JOIN rollup r ON r.account = d.account
         UNION ALL
         SELECT r.account, NULL, NULL, NULL, r.figures, r.updated_at
           FROM rollup r WHERE r.account NOT IN (SELECT account FROM directory)",
    )
    .all()
    .await?
    .results()
}
