//! The Durable Object that guards one account: it decodes the command, runs the pure guard
//! service on the object's own SQLite, and encodes the reply. Every call runs to completion
//! without an `await`, so each charge is atomic and its ledger line is written with it.

use serde_json::json;
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

use super::sql::SqlStore;
use crate::domain::guard::command::Command;
use crate::domain::guard::ports::StoreError;
use crate::domain::guard::service::{self, Notice};
use crate::domain::time::clock::Clock;
use crate::edge::clock::EdgeClock;
use crate::edge::log;

#[durable_object]
pub struct AccountGuard {
    state: State,
    /// Set up once per instance; a failure here is answered on every call until it restarts.
    schema: std::result::Result<(), StoreError>,
}

impl DurableObject for AccountGuard {
    fn new(state: State, _env: Env) -> Self {
        let schema = SqlStore::new(state.storage().sql()).ensure_schema();
        Self { state, schema }
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
        match service::handle(&mut store, command, EdgeClock.now()) {
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
