//! The API pipeline: one request, in one direction, as the README draws it.
//!
//! read the request → admit (token, entitlements, decision) → limit (strict or leased) →
//! forward to the origin → deliver (count, filter; a stream line by line) → record (off the
//! client's path)

mod admit;
mod delivery;
mod guard;
mod limit;
mod origin;
mod own_usage;
mod record;
mod request;
mod respond;
mod stream;

use serde_json::json;
use worker::{web_sys, Context, Env};

use self::delivery::{Constraint, Shipment};
use self::guard::Guard;
use self::request::Incoming;
use self::stream::Opened;
use super::clock::EdgeClock;
use super::{log, settings};
use crate::domain::http::error_body::ErrorBody;
use crate::domain::http::problem::Problem;
use crate::domain::time::clock::Clock;

/// Fallback problem base when even the settings cannot be read.
const FALLBACK_TYPE_BASE: &str = "https://api.example.com/2/problems/";

pub async fn handle(req: web_sys::Request, url: &str, env: Env, ctx: Context) -> web_sys::Response {
    let now = EdgeClock.now();
    let settings = match settings::read(&env) {
        Ok(settings) => settings,
        Err(why) => {
            log::event("error", "settings_invalid", json!({ "error": why }));
            let fallback = respond::Errors { type_base: FALLBACK_TYPE_BASE, body: &ErrorBody::Problem };
            return respond::problem(&Problem::EntitlementUnavailable, fallback);
        }
    };
    let errors = respond::Errors { type_base: &settings.problem_type_base, body: &settings.error_body };
    // Read the request, once.
    let incoming = match Incoming::read(req, url) {
        Ok(incoming) => incoming,
        Err(problem) => return respond::problem(&problem, errors),
    };
    // The customer's own usage is answered here, never by the origin.
    if own_usage::is_own(&incoming) {
        return own_usage::answer(&incoming, &env, &settings, now).await;
    }
    // Admit: the token, its entitlements, the decision.
    let admitted = match admit::admit(&incoming, &env, &settings, now).await {
        Ok(admitted) => admitted,
        Err(refusal) => {
            record::refused(&env, &ctx, &refusal);
            return respond::problem(&refusal.problem, errors);
        }
    };
    // Limit: strict or leased, chosen from the plan's limits.
    let guard = Guard::new(&env, &ctx, &admitted.grant.account);
    let granted = match limit::limit(&admitted, &incoming, &guard, now).await {
        Ok(granted) => granted,
        Err(refused) => return respond::refused(&refused.problem, &refused.quotas, errors, now),
    };
    // Forward to the origin, and deliver its response: counted, and filtered for a recipient.
    let constraint = Constraint::of(&admitted.grant, granted.allowance.as_ref());
    let delivered = match origin::forward(&incoming, &admitted.grant, &settings, now).await {
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
