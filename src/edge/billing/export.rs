//! The export pass: for every account, the billing events of its sealed days that have not been
//! sent (after the guard's export mark), onto the billing queue; then the mark moves on. Run by
//! the control plane's cron trigger and by `POST billing/export`. The mark moves only after the
//! queue took the events, so a failed pass is repeated, never skipped: at least once, and the
//! events' ids let the receiver drop a repeat.

use serde::Serialize;
use serde_json::json;
use worker::{Env, Queue};

use super::{endpoint, QUEUE};
use crate::domain::access::entitlement::{decode, AccountRecord};
use crate::domain::access::id::Id;
use crate::domain::billing::export::UsageEvent;
use crate::domain::access::kv_layout::{self, BINDING};
use crate::domain::guard::command::{Command, Reply};
use crate::edge::guard::client;
use crate::edge::log;

/// Events asked of one guard at a time, and so sent to the queue in one batch (the queue takes
/// up to 100 messages a batch).
const PAGE: u64 = 100;
/// Pages one account sends in one pass; the rest waits for the next pass.
const PAGES_PER_ACCOUNT: u32 = 50;

#[derive(Debug, Default, Serialize)]
pub struct Pass {
    pub accounts: u64,
    pub events: u64,
    /// Accounts whose export failed, with why; they are tried again on the next pass.
    pub failed: Vec<serde_json::Value>,
    /// `false` when no endpoint is configured: then nothing is sent, and the events stay
    /// readable by cursor.
    pub enabled: bool,
}

pub async fn run(env: &Env) -> Pass {
    let mut pass = Pass { enabled: endpoint(env).is_some(), ..Pass::default() };
    if !pass.enabled {
        return pass;
    }
    let (Ok(queue), Ok(kv)) = (env.queue(QUEUE), env.kv(BINDING)) else {
        pass.failed.push(json!({ "error": "the billing queue or KV is not bound" }));
        return pass;
    };
    let prefix = format!("{}account:", kv_layout::PREFIX);
    let mut cursor: Option<String> = None;
    loop {
        let mut list = kv.list().prefix(prefix.clone()).limit(1000);
        if let Some(c) = cursor.take() {
            list = list.cursor(c);
        }
        let Ok(listed) = list.execute().await else {
            pass.failed.push(json!({ "error": "KV could not be listed" }));
            break;
        };
        for key in &listed.keys {
            let Ok(account) = Id::new(key.name.trim_start_matches(&prefix)) else { continue };
            pass.accounts += 1;
            match account_pass(env, &queue, &account).await {
                Ok(n) => pass.events += n,
                Err(why) => {
                    log::event("error", "billing_export_failed", json!({ "account": account, "error": why }));
                    pass.failed.push(json!({ "account": account, "error": why }));
                }
            }
        }
        match listed.cursor {
            Some(c) if !listed.list_complete => cursor = Some(c),
            _ => break,
        }
    }
    if pass.events > 0 || !pass.failed.is_empty() {
        log::event("info", "billing_export", json!({ "accounts": pass.accounts, "events": pass.events, "failed": pass.failed.len() }));
    }
    pass
}

/// The Stripe customer the account's record names, if any.
async fn stripe_customer(env: &Env, account: &Id) -> Result<Option<String>, String> {
    let kv = env.kv(BINDING).map_err(|e| e.to_string())?;
    let text = kv.get(&kv_layout::account_key(account)).text().await.map_err(|_| "KV could not be read".to_owned())?;
    let record = text.as_deref().map(decode::<AccountRecord>).transpose().map_err(|e| e.to_string())?;
    Ok(record.and_then(|r| r.stripe_customer_id))
}

/// One account: page by page, each page onto the queue and then the mark past it.
async fn account_pass(env: &Env, queue: &Queue, account: &Id) -> Result<u64, String> {
    let mut sent = 0;
    let mut customer: Option<Option<String>> = None;
    for _ in 0..PAGES_PER_ACCOUNT {
        let command = Command::ExportDue { account: account.clone(), limit: PAGE };
        let Reply::UsageEvents { events, next, more } = client::call_named(env, account.as_str(), &command).await.map_err(|e| e.to_string())? else {
            return Err("the guard gave an unexpected answer".into());
        };
        let Some(through) = next.filter(|_| !events.is_empty()) else { break };
        // The account's Stripe customer, read once a pass, and only when there is something to send.
        if customer.is_none() {
            customer = Some(stripe_customer(env, account).await?);
        }
        let stripe_customer_id = customer.clone().flatten();
        let bodies: Vec<String> = events
            .into_iter()
            .map(|e| serde_json::to_string(&UsageEvent { stripe_customer_id: stripe_customer_id.clone(), ..e }).unwrap_or_default())
            .collect();
        let count = bodies.len() as u64;
        queue.send_batch(bodies).await.map_err(|e| format!("the queue refused the events: {e}"))?;
        client::call_named(env, account.as_str(), &Command::Exported { through }).await.map_err(|e| e.to_string())?;
        sent += count;
        if !more {
            break;
        }
    }
    Ok(sent)
}
