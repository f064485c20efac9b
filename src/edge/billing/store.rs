//! The control plane's D1 database (`CONTROL_DB`): the billing events that ran out of retries,
//! kept until an admin replays them; and the fleet's tables (`billing::fleet`). Tables are
//! created by the first use in each isolate.

use std::cell::Cell;

use serde::{Deserialize, Serialize};
use worker::d1::D1Database;
use worker::wasm_bindgen::JsValue;
use worker::Env;

pub const BINDING: &str = "CONTROL_DB";

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS dead_letters (id TEXT PRIMARY KEY, account TEXT NOT NULL, body TEXT NOT NULL, failed_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS rollup (account TEXT PRIMARY KEY, month TEXT NOT NULL, figures TEXT NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS directory (account TEXT PRIMARY KEY, name TEXT NOT NULL, plan TEXT NOT NULL, status TEXT NOT NULL, updated_at INTEGER NOT NULL);";

thread_local! {
    static READY: Cell<bool> = const { Cell::new(false) };
}

/// The database, with its tables in place (`exec` takes one statement a line).
pub async fn open(env: &Env) -> worker::Result<D1Database> {
    let db = env.d1(BINDING)?;
    if !READY.with(Cell::get) {
        db.exec(SCHEMA).await?;
        READY.with(|r| r.set(true));
    }
    Ok(db)
}

/// A billing event that could not be delivered.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeadLetter {
    pub id: String,
    pub account: String,
    /// The queue message as it was sent (a `UsageEvent` as JSON text).
    pub body: String,
    pub failed_at: i64,
}

pub async fn keep_dead_letter(env: &Env, letter: &DeadLetter) -> worker::Result<()> {
    let db = open(env).await?;
    db.prepare("INSERT INTO dead_letters (id, account, body, failed_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT(id) DO UPDATE SET body = excluded.body, failed_at = excluded.failed_at")
        .bind(&[letter.id.as_str().into(), letter.account.as_str().into(), letter.body.as_str().into(), JsValue::from_f64(letter.failed_at as f64)])?
        .run()
        .await?;
    Ok(())
}

/// Up to 1,000 dead letters, oldest first.
pub async fn dead_letters(env: &Env) -> worker::Result<Vec<DeadLetter>> {
    let db = open(env).await?;
    db.prepare("SELECT id, account, body, failed_at FROM dead_letters ORDER BY failed_at, id LIMIT 1000").all().await?.results()
}

pub async fn forget_dead_letters(env: &Env, ids: &[String]) -> worker::Result<()> {
    let db = open(env).await?;
    let statements = ids
        .iter()
        .map(|id| db.prepare("DELETE FROM dead_letters WHERE id = ?1").bind(&[id.as_str().into()]))
        .collect::<worker::Result<Vec<_>>>()?;
    if !statements.is_empty() {
        db.batch(statements).await?;
    }
    Ok(())
}
