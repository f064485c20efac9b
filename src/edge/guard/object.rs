//! The Durable Object that guards one account: it decodes the command, runs the pure guard
//! service on the object's own SQLite, and encodes the reply. Every call runs to completion
//! without an `await`, inside one SQLite transaction (`transactionSync`): a command either keeps
//! all it wrote or, if any write fails, none of it.
//!
//! A command the storage cannot keep is answered 500 (the edge then applies the plan's
//! `guard_failure`) and logged here with what it carried. When the storage is full, the API's
//! traffic is refused at once for [`FULL_PAUSE_MS`], then tried again; admin commands and reads
//! are always tried.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use serde_json::json;
use worker::js_sys::{Function, Reflect};
use worker::wasm_bindgen::closure::Closure;
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

use super::sql::SqlStore;
use crate::domain::guard::command::{Command, Tally};
use crate::domain::guard::ports::StoreError;
use crate::domain::guard::service::{self, Notice};
use crate::domain::time::clock::{Clock, UnixMillis};
use crate::domain::time::day::Day;
use crate::edge::clock::EdgeClock;
use crate::edge::log;

/// How long a guard whose storage was found full refuses traffic before trying it again.
const FULL_PAUSE_MS: u64 = 60_000;
/// Test only: the variable that caps the guard's database, in bytes (see `atomically`).
const STORAGE_LIMIT_VAR: &str = "GUARD_STORAGE_LIMIT_BYTES";

#[durable_object]
pub struct AccountGuard {
    state: State,
    /// Test only: a size past which a command that grows the database fails as SQLite does when
    /// it cannot grow (`SQLITE_FULL`). A deployment never sets it; the platform's own limit
    /// (10 GB) fails the same way.
    storage_limit: Option<usize>,
    /// Until when the API's traffic is refused, the storage having been found full.
    full_until: Cell<Option<UnixMillis>>,
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
        let storage_limit = env.var(STORAGE_LIMIT_VAR).ok().and_then(|v| v.to_string().parse().ok());
        Self { state, storage_limit, full_until: Cell::new(None), schema, housekept: Cell::new(None), rollup_armed: Cell::new(false), env }
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
        let now = EdgeClock.now();
        if command.is_traffic() && self.full_until.get().is_some_and(|until| now < until) {
            return Response::error(StoreError(StoreError::FULL.into()).to_string(), 500);
        }
        // Before the command runs, so nothing awaits between its writes.
        super::rollup::arm(&self.state, &self.rollup_armed).await;
        if self.housekept.get() != Some(Day::of(now)) {
            self.housekeep(now);
        }
        let (name, tally) = (command.name(), command.tally());
        let mut store = SqlStore::new(self.state.storage().sql());
        match self.atomically(move || service::handle(&mut store, command, now)) {
            Ok(outcome) => {
                for notice in outcome.notices {
                    let Notice::ResaleDetected { app, day } = notice;
                    log::event("warn", "resale_detected", json!({ "app": app, "day": day }));
                }
                Response::from_json(&outcome.reply)
            }
            Err(e) => {
                self.not_kept(&e, name, tally, now);
                Response::error(e.to_string(), 500)
            }
        }
    }
}

impl AccountGuard {
    /// A command the storage did not keep: logged with what it carried (the edge logs it too,
    /// as the plan's failure mode); a full storage pauses the traffic.
    fn not_kept(&self, e: &StoreError, command: &str, tally: Tally, now: UnixMillis) {
        let full = e.is_full();
        if full {
            self.full_until.set(Some(now.plus_millis(FULL_PAUSE_MS)));
        }
        log::event(
            "error",
            if full { "guard_storage_full" } else { "guard_storage_failed" },
            json!({
                "account": self.state.id().name(), "command": command, "reports": tally.reports, "requests": tally.requests,
                "items": tally.items, "database_bytes": self.state.storage().sql().database_size(), "error": e.to_string(),
            }),
        );
    }

    /// Runs `work` in one SQLite transaction: if it fails, or the commit does, nothing it wrote
    /// is kept.
    fn atomically<T: 'static>(&self, work: impl FnOnce() -> std::result::Result<T, StoreError> + 'static) -> std::result::Result<T, StoreError> {
        let out = Rc::new(RefCell::new(None));
        let slot = Rc::clone(&out);
        self.transaction(Box::new(move || work().map(|value| *slot.borrow_mut() = Some(value))))?;
        let value = out.borrow_mut().take();
        value.ok_or_else(|| StoreError("the transaction did not run".into()))
    }

    /// `transactionSync` around `work`. With the test-only storage limit, work that grows the
    /// database past it fails as a full disk does, and is rolled back like any failure.
    fn transaction(&self, work: Box<dyn FnOnce() -> std::result::Result<(), StoreError>>) -> std::result::Result<(), StoreError> {
        let failure = Rc::new(RefCell::new(None));
        let slot = Rc::clone(&failure);
        let (limit, sql) = (self.storage_limit, self.state.storage().sql());
        let body = Closure::once(move || -> std::result::Result<(), JsValue> {
            let before = sql.database_size();
            let done = work().and_then(|()| match limit {
                Some(limit) if sql.database_size() > limit.max(before) => Err(StoreError(StoreError::FULL.into())),
                _ => Ok(()),
            });
            // Throwing is how the runtime is told to roll the transaction back.
            done.map_err(|e| {
                *slot.borrow_mut() = Some(e);
                JsValue::from_str("rolled back")
            })
        });
        let called = self.state.as_raw().storage().and_then(|storage| {
            let run: Function = Reflect::get(&storage, &JsValue::from_str("transactionSync"))?.dyn_into()?;
            run.call1(&storage, body.as_ref())
        });
        if let Some(e) = failure.borrow_mut().take() {
            return Err(e);
        }
        called.map(|_| ()).map_err(|e| StoreError(format!("the transaction failed: {e:?}")))
    }

    /// One housekeeping pass, in a transaction of its own; a failure is logged and the command
    /// still runs.
    fn housekeep(&self, now: UnixMillis) {
        let mut store = SqlStore::new(self.state.storage().sql());
        match self.atomically(move || service::housekeep(&mut store, now)) {
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
