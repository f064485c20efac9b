//! The guard's part of the fleet page: after a command, it makes sure an alarm is set
//! `ROLLUP_SECONDS` on (one at a time), and when the alarm rings it writes its month's figures to
//! the control plane's D1 (`edge::billing::fleet`). So each account's row is at most that far
//! behind its guard, and an account writes at most one row per interval, only while it is used.

use std::cell::Cell;
use std::time::Duration;

use serde_json::json;
use worker::{Env, State};

use super::sql::SqlStore;
use crate::domain::access::id::Id;
use crate::domain::billing::fleet::ROLLUP_SECONDS;
use crate::domain::guard::command::{Command, Reply};
use crate::domain::guard::service;
use crate::domain::time::clock::Clock;
use crate::edge::billing::fleet;
use crate::edge::clock::EdgeClock;
use crate::edge::log;

/// The account this guard keeps, by the name the guard was reached with; `None` for the admin
/// log's guard, whose name is not an account id.
fn account(state: &State) -> Option<String> {
    state.id().name().filter(|name| Id::new(name).is_ok())
}

/// Sets the rollup's alarm unless one is set (`armed` saves the storage call while it is).
pub async fn arm(state: &State, armed: &Cell<bool>) {
    if armed.replace(true) {
        return;
    }
    if account(state).is_none() {
        // Once per instance (`armed` stays set): the admin log's guard, or a runtime that does
        // not tell an object its name.
        if state.id().name().is_none() {
            log::event("error", "fleet_rollup_unarmed", json!({ "error": "the guard does not know its account" }));
        }
        return;
    }
    let storage = state.storage();
    if matches!(storage.get_alarm().await, Ok(Some(_))) {
        return;
    }
    if let Err(e) = storage.set_alarm(Duration::from_secs(ROLLUP_SECONDS)).await {
        armed.set(false);
        log::event("error", "fleet_rollup_unarmed", json!({ "error": e.to_string() }));
    }
}

/// The alarm: the month's figures into D1. A failure is logged and tried again an interval on.
pub async fn write(state: &State, env: &Env, armed: &Cell<bool>) {
    // Commands from now on arm the next write.
    armed.set(false);
    let Some(account) = account(state) else { return };
    let mut store = SqlStore::new(state.storage().sql());
    let written = match service::handle(&mut store, Command::Rollup, EdgeClock.now()) {
        Ok(outcome) => match outcome.reply {
            Reply::Rollup(figures) => fleet::write_rollup(env, &account, &figures).await.map_err(|e| e.to_string()),
            _ => Err("unexpected reply".into()),
        },
        Err(e) => Err(e.to_string()),
    };
    if let Err(why) = written {
        log::event("error", "fleet_rollup_failed", json!({ "account": account, "error": why }));
        arm(state, armed).await;
    }
}
