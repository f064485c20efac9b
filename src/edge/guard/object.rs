//! The Durable Object that guards one account: it decodes the command, runs the pure guard
//! service on the object's own SQLite, and encodes the reply. Every call runs to completion
//! without an `await`, inside one SQLite transaction (`transactionSync`): a command either keeps
//! all it wrote or, if any write fails, none of it.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use serde_json::json;
use worker::js_sys::{Function, Reflect};
use worker::wasm_bindgen::closure::Closure;
use worker::wasm_bindgen::{JsCast, JsValue};
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
}

impl DurableObject for AccountGuard {
    fn new(state: State, _env: Env) -> Self {
        let schema = SqlStore::new(state.storage().sql()).ensure_schema();
        Self { state, schema, housekept: Cell::new(None) }
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
        if self.housekept.get() != Some(Day::of(now)) {
            self.housekeep(now);
        }
        let mut store = SqlStore::new(self.state.storage().sql());
        match self.atomically(move || service::handle(&mut store, command, now)) {
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
    /// Runs `work` in one SQLite transaction: if it fails, or the commit does, nothing it wrote
    /// is kept.
    fn atomically<T: 'static>(&self, work: impl FnOnce() -> std::result::Result<T, StoreError> + 'static) -> std::result::Result<T, StoreError> {
        let result = Rc::new(RefCell::new(None));
        let slot = Rc::clone(&result);
        let body = Closure::once(move || -> std::result::Result<(), JsValue> {
            let outcome = work();
            let failed = outcome.is_err();
            *slot.borrow_mut() = Some(outcome);
            // Throwing is how the runtime is told to roll the transaction back.
            if failed { Err(JsValue::from_str("rolled back")) } else { Ok(()) }
        });
        let called = self
            .state
            .as_raw()
            .storage()
            .and_then(|storage| {
                let run: Function = Reflect::get(&storage, &JsValue::from_str("transactionSync"))?.dyn_into()?;
                run.call1(&storage, body.as_ref())
            });
        let outcome = result.borrow_mut().take();
        match (outcome, called) {
            (Some(Ok(value)), Ok(_)) => Ok(value),
            (Some(Err(e)), _) => Err(e),
            (_, Err(e)) => Err(StoreError(format!("transaction failed: {}", e.as_string().unwrap_or_else(|| format!("{e:?}"))))),
            (None, Ok(_)) => Err(StoreError("transaction did not run".into())),
        }
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
