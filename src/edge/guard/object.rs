//! The Durable Object that guards one account: it decodes the command, runs the pure guard
//! service on the object's own SQLite, and encodes the reply. Every call runs to completion
//! without an `await`, so each charge is atomic and its ledger line is written with it.

use std::cell::Cell;

use serde_json::json;
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

use super::sql::SqlStore;
use crate::domain::guard::command::Command;
use crate::domain::guard::ports::StoreError;
use crate::domain::guard::service::{self, Notice};
use crate::domain::time::clock::{Clock, UnixMillis};
use crate::domain::time::day::Day;
use crate::edge::clock::EdgeClock;
use crate::edge::log;

#[durable_object]
pub struct AccountGuard {
    state: State,
    /// Set up once per instance; a failure here is answered on every call until it restarts.
    schema: std::result::Result<(), StoreError>,
    /// The day housekeeping (seals, retention) last finished on; it runs before the first
    /// command of each day, and again while it has more to do.
    housekept: Cell<Option<Day>>,
    /// The fleet rollup's alarm is set (`rollup`), and the environment its D1 write needs.
    rollup_armed: Cell<bool>,
    env: Env,
}

impl DurableObject for AccountGuard {
    fn new(state: State, env: Env) -> Self {
        let schema = SqlStore::new(state.storage().sql()).ensure_schema();
        Self { state, schema, housekept: Cell::new(None), rollup_armed: Cell::new(false), env }
    }

    async fn alarm(&self) -> Result<Response> {
        super::rollup::write(&self.state, &self.env, &self.rollup_armed).await;
        Response::ok("")
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let command: Command = match req.json().await {
            Ok(c) => c,
            Err(e) => return Response::error(format!("bad guard command: {e}"), 400),
        };
        if let Err(e) = &self.schema {
            return Response::error(e.to_string(), 500);
        }
        let mut store = SqlStore::new(self.state.storage().sql());
        let now = EdgeClock.now();
        if self.housekept.get() != Some(Day::of(now)) {
            self.housekeep(&mut store, now);
        }
        // Before the command runs, so nothing awaits between its writes.
        super::rollup::arm(&self.state, &self.rollup_armed).await;
        match service::handle(&mut store, command, now) {
            Ok(outcome) => {
                for notice in outcome.notices {
                    let Notice::ResaleDetected { app, day } = notice;
                    log::event("warn", "resale_detected", json!({ "app": app, "day": day }));
                }
                Response::from_json(&outcome.reply)
            }
            Err(e) => Response::error(e.to_string(), 500),
        }
    }
}

impl AccountGuard {
    /// One housekeeping pass; a failure is logged and the command still runs.
    fn housekeep(&self, store: &mut SqlStore, now: UnixMillis) {
        match service::housekeep(store, now) {
            Ok(done) => {
                if !done.more {
                    self.housekept.set(Some(Day::of(now)));
                }
                if !done.sealed.is_empty() || done.pruned > 0 {
                    log::event("info", "guard_housekeeping", json!({ "sealed": done.sealed, "pruned": done.pruned, "more": done.more }));
                }
            }
            Err(e) => log::event("error", "guard_housekeeping_failed", json!({ "error": e.to_string() })),
        }
    }
}
