//! The API pipeline: one request, in one direction, as the README draws it.
//!
//! read the request → admit (token, entitlements, decision) → limit (strict or leased) →
//! forward to the origin → deliver (count, filter; a stream line by line) → record (off the
//! client's path)
//!
//! In two halves: [`prepare`] up to the call to the origin, [`finish`] from its answer on. The
//! runtime waits for the call between them (`entry`).

mod admit;
mod delivery;
mod entry;
mod guard;
mod limit;
mod origin;
mod own_usage;
mod record;
mod request;
mod respond;
mod stream;

use std::rc::Rc;

use serde_json::json;
use wasm_bindgen::prelude::wasm_bindgen;
use worker::js_sys::Promise;
use worker::wasm_bindgen::JsValue;
use worker::{web_sys, Context, Env};

use self::delivery::{Constraint, Shipment};
use self::admit::Admitted;
use self::guard::Guard;
use self::limit::Granted;
use self::request::Incoming;
use self::stream::Opened;
use super::clock::EdgeClock;
use super::{log, settings};
use crate::domain::http::error_body::ErrorBody;
use crate::domain::http::problem::Problem;
use crate::domain::settings::Settings;
use crate::domain::time::clock::{Clock, UnixMillis};

/// Fallback problem base when even the settings cannot be read.
const FALLBACK_TYPE_BASE: &str = "https://api.example.com/2/problems/";

/// Where a request stands when the call to the origin is to be waited for.
pub enum Step {
    /// Answered without the origin.
    Answered(web_sys::Response),
    /// Sent to the origin: what the request needs to finish, and the call under way.
    Sent(Box<Ticket>, Promise),
}

/// An admitted request whose call to the origin is under way: everything its delivery and its
/// record need, held by the runtime while it waits.
#[wasm_bindgen]
pub struct Ticket {
    env: Env,
    ctx: Context,
    settings: Rc<Settings>,
    admitted: Admitted,
    granted: Granted,
    now: UnixMillis,
}

/// The request up to the call to the origin: read, admitted and limited, and the call started.
/// `url` is `req.url()`, already read by the caller to route the request.
pub async fn prepare(req: web_sys::Request, url: &str, env: Env, ctx: Context) -> Step {
    let now = EdgeClock.now();
    let settings = match settings::read(&env) {
        Ok(settings) => settings,
        Err(why) => {
            log::event("error", "settings_invalid", json!({ "error": why }));
            let fallback = respond::Errors { type_base: FALLBACK_TYPE_BASE, body: &ErrorBody::Problem };
            return Step::Answered(respond::problem(&Problem::EntitlementUnavailable, fallback));
        }
    };
    let errors = respond::Errors { type_base: &settings.problem_type_base, body: &settings.error_body };
    // Read the request, once.
    let incoming = match Incoming::read(req, url) {
        Ok(incoming) => incoming,
        Err(problem) => return Step::Answered(respond::problem(&problem, errors)),
    };
    // The customer's own usage is answered here, never by the origin.
    if own_usage::is_own(&incoming) {
        return Step::Answered(own_usage::answer(&incoming, &env, &settings, now).await);
    }
    // Admit: the token, its entitlements, the decision.
    let admitted = match admit::admit(&incoming, &env, &settings, now).await {
        Ok(admitted) => admitted,
        Err(refusal) => {
            record::refused(&env, &ctx, &refusal);
            return Step::Answered(respond::problem(&refusal.problem, errors));
        }
    };
    // Limit: strict or leased, chosen from the plan's limits.
    let guard = Guard::new(&env, &ctx, &admitted.grant.account);
    let granted = match limit::limit(&admitted, &incoming, &guard, now).await {
        Ok(granted) => granted,
        Err(refused) => return Step::Answered(respond::refused(&refused.problem, &refused.quotas, errors, now)),
    };
    // Forward to the origin: the call starts here, and the runtime waits for it.
    match origin::send(&incoming, &admitted.grant, &settings, now) {
        Ok(sent) => Step::Sent(Box::new(Ticket { env, ctx, settings, admitted, granted, now }), sent),
        Err(problem) => {
            record::delivered(&guard, &admitted.grant, granted, Shipment::default(), now);
            Step::Answered(respond::problem(&problem, errors))
        }
    }
}

/// The request from the origin's answer on (`Ok` what the call resolved to, `Err` what it
/// rejected with): delivered (counted, filtered; a stream line by line) and recorded.
pub async fn finish(ticket: Ticket, answer: Result<JsValue, JsValue>) -> web_sys::Response {
    let Ticket { env, ctx, settings, admitted, granted, now } = ticket;
    let errors = respond::Errors { type_base: &settings.problem_type_base, body: &settings.error_body };
    let guard = Guard::new(&env, &ctx, &admitted.grant.account);
    let constraint = Constraint::of(&admitted.grant, granted.allowance.as_ref());
    let delivered = match origin::received(answer, &admitted.grant, &settings) {
        // A stream: its lines are passed on, metered and recorded as they arrive.
        Ok((response, _)) if admitted.grant.stream => match stream::open(response, &granted.quotas, constraint, &admitted.grant, now).await {
            Opened::Stream(response, pump) => {
                record::streaming(&guard, &admitted, granted, pump, &settings);
                return response;
            }
            Opened::Page(delivered) => delivered,
        },
        Ok((response, read)) => delivery::deliver(response, read, &granted.quotas, constraint, &admitted.grant, now).await,
        Err(problem) => Err(problem),
    };
    let (response, shipment) = delivered.unwrap_or_else(|problem| (respond::problem(&problem, errors), Shipment::default()));
    // Record what was delivered, off the client's path.
    record::delivered(&guard, &admitted.grant, granted, shipment, now);
    response
}
