//! The pipeline's last step: what happened to a request goes to the account's ledger, off the
//! client's path. A refusal made before the guard and what an admitted request delivered are each
//! one guard call the response does not wait for; a stream reports as it flows (a lease's
//! settlements are sent by `limit::leased`).

use serde_json::json;
use worker::{Context, Env};

use super::admit::{Admitted, Refusal};
use super::delivery::Shipment;
use super::guard::Guard;
use super::limit::{self, Granted};
use super::stream::{Ledger, Pump};
use crate::domain::access::decision::Grant;
use crate::domain::guard::command::Command;
use crate::domain::settings::Settings;
use crate::domain::throttle::lease::Deliveries;
use crate::domain::time::clock::UnixMillis;
use crate::edge::guard::client as guard_client;
use crate::edge::log;

/// A refusal before the guard, when the token was known: the ledger counts it for its app.
pub fn refused(env: &Env, ctx: &Context, refusal: &Refusal) {
    let Some(known) = &refusal.known else { return };
    let command = Command::Refused {
        app: known.app.clone(),
        group: known.group.clone(),
        recipient: known.recipient.clone(),
        reason: refusal.problem.ledger_reason().to_owned(),
    };
    Guard::new(env, ctx, &known.account).later(move |env, account| async move {
        if let Err(e) = guard_client::call(&env, &account, &command).await {
            log::event("error", "refusal_not_recorded", json!({ "account": account.as_str(), "error": e.to_string() }));
        }
    });
}

/// What an admitted request delivered. Under a lease it travels with the lease's settlement;
/// otherwise it is one call of its own, with what is left of the recipient's reservation.
pub fn delivered(guard: &Guard<'_>, grant: &Grant, granted: Granted, shipment: Shipment, now: UnixMillis) {
    if let Some(lease) = granted.lease {
        lease.delivered(guard, shipment, granted.allowance, now);
        return;
    }
    let items = shipment.items;
    let command = Command::Delivered {
        app: grant.app.clone(),
        group: grant.group.clone(),
        recipient: grant.delivery.as_ref().map(|d| d.recipient.clone()),
        delivered: Deliveries { items, ids: shipment.ids, untracked: shipment.untracked, bytes: shipment.bytes, returned: Vec::new() },
        allowance: granted.allowance,
    };
    guard.later(move |env, account| async move {
        if let Err(e) = guard_client::call(&env, &account, &command).await {
            log::event("error", "delivery_not_recorded", json!({ "account": account.as_str(), "items": items, "error": e.to_string() }));
        }
    });
}

/// A stream: its pump runs off the client's path for as long as the stream lasts, and reports
/// what it delivered as it goes (see `stream::Pump::run`). Under a lease, the request itself is
/// already in the lease's report.
pub fn streaming(guard: &Guard<'_>, admitted: &Admitted, granted: Granted, pump: Pump, settings: &Settings) {
    let ledger = Ledger {
        stream: granted.stream.unwrap_or(0),
        charge: limit::charge(admitted),
        reserved: granted.allowance.map_or(0, |a| a.ids),
        type_base: settings.problem_type_base.clone(),
        silence_ms: settings.stream_silence_ms,
    };
    guard.later(move |env, account| pump.run(env, account, ledger));
}
