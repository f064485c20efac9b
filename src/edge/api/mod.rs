//! The fetch handler: token → entitlement → decision → account guard → origin → delivery,
//! in one direction.

mod admit;
mod delivery;
mod leases;
mod origin;
mod request;
mod respond;

use serde_json::json;
use std::time::Duration;

use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys;
use worker::{Context, Delay, Env};

use self::admit::{admit, Admitted, Known, Refusal};
use self::delivery::{Constraint, Shipment};
use self::request::Incoming;
use super::clock::EdgeClock;
use super::guard_protocol::{Command, Reply};
use super::{guard_client, log, settings};
use crate::domain::time::clock::{Clock, UnixMillis};
use crate::domain::access::id::Id;
use crate::domain::redistribution::fingerprint::Fingerprint;
use crate::domain::throttle::lease::key::LeaseKey;
use crate::domain::throttle::lease::{self, Lease, Report, LEASE_SIZE, LEASE_TTL_MS};
use crate::domain::throttle::charge::{Allowance, Charge, Quota, RecipientCharge, Verdict};
use crate::domain::throttle::limit::GuardFailure;
use crate::domain::http::problem::{Forbidden, Problem, Unauthorized};
use crate::domain::http::rate_headers;

/// Fallback problem base when even the settings cannot be read.
const FALLBACK_TYPE_BASE: &str = "https://api.example.com/2/problems/";

pub async fn handle(req: web_sys::Request, url: &str, env: Env, ctx: Context) -> web_sys::Response {
    let now = EdgeClock.now();
    let settings = match settings::read(&env) {
        Ok(s) => s,
        Err(why) => {
            log::event("error", "settings_invalid", json!({ "error": why }));
            return respond::problem(&Problem::EntitlementUnavailable, FALLBACK_TYPE_BASE).into();
        }
    };
    let base = settings.problem_type_base.as_str();
    let incoming = match Incoming::read(req, url) {
        Ok(incoming) => incoming,
        Err(problem) => return respond::problem(&problem, base).into(),
    };
    let admitted = match admit(&incoming, &env, &settings, now).await {
        Ok(a) => a,
        Err(Refusal { problem, known }) => {
            if let Some(known) = known {
                record_refusal(&ctx, env, known, &problem);
            }
            return respond::problem(&problem, base).into();
        }
    };
    let Passed { quotas, allowance, lease } = match guard(&env, &ctx, &admitted, &incoming, base, now).await {
        Ok(passed) => passed,
        Err(response) => return (*response).into(),
    };
    let constraint = admitted.grant.delivery.as_ref().map(|d| Constraint {
        mode: d.mode,
        // With the guard bypassed (fail open) there is no reservation: nothing may pass.
        allowance: allowance.as_ref().map_or(0, |a| a.ids),
    });
    let outcome = match origin::forward(&incoming, &admitted.grant, &settings, now).await {
        Ok(response) => delivery::deliver(response, &quotas, constraint, now).await,
        Err(problem) => Err(problem),
    };
    let (response, shipment) = match outcome {
        Ok((response, shipment)) => (response, shipment),
        Err(problem) => (respond::problem(&problem, base).into(), Shipment::default()),
    };
    let grant = &admitted.grant;
    if let Some((key, charge)) = lease {
        // Under a lease the deliveries travel with the lease's settlement, not one call each.
        leases::deliver(&key, shipment.items, shipment.ids, shipment.untracked, shipment.bytes);
        if let Some(report) = leases::orphaned(&key, &charge, now) {
            settle_later(&ctx, env, grant.account.clone(), report, 0);
        }
        return response;
    }
    let items = shipment.items;
    let command = Command::Delivered {
        app: grant.app.to_string(),
        group: grant.group.to_string(),
        recipient: grant.delivery.as_ref().map(|d| d.recipient.to_string()).unwrap_or_default(),
        ids: shipment.ids,
        untracked: shipment.untracked,
        items,
        bytes: shipment.bytes,
        allowance,
    };
    let account = grant.account.clone();
    // Off the client's path: the response does not wait for the ledger.
    ctx.wait_until(async move {
        if let Err(e) = guard_client::call(&env, &account, &command).await {
            log::event("error", "delivery_not_recorded", json!({ "account": account.as_str(), "items": items, "error": e.to_string() }));
        }
    });
    response
}

fn record_refusal(ctx: &Context, env: Env, known: Known, problem: &Problem) {
    let command = Command::Refused {
        app: known.app.to_string(),
        group: known.group,
        recipient: known.recipient,
        reason: problem.ledger_reason().to_owned(),
    };
    let account = known.account;
    ctx.wait_until(async move {
        if let Err(e) = guard_client::call(&env, &account, &command).await {
            log::event("error", "refusal_not_recorded", json!({ "account": account.as_str(), "error": e.to_string() }));
        }
    });
}

/// What the guard granted: the windows for the headers, the recipient's reservation, and the
/// lease the request was served from (its key and charge), if any.
struct Passed {
    quotas: Vec<Quota>,
    allowance: Option<Allowance>,
    lease: Option<(LeaseKey, Charge)>,
}

/// Sends a lease's settlement after `delay_ms`, off the client's path.
fn settle_later(ctx: &Context, env: Env, account: Id, report: Report, delay_ms: u64) {
    ctx.wait_until(async move {
        if delay_ms > 0 {
            Delay::from(Duration::from_millis(delay_ms)).await;
        }
        if let Err(e) = guard_client::call(&env, &account, &Command::Settle { report }).await {
            log::event("error", "lease_not_settled", json!({ "account": account.as_str(), "error": e.to_string() }));
        }
    });
}

/// Settles the lease of `generation` when it expires, unless a newer one replaced it.
fn settle_when_due(ctx: &Context, env: Env, account: Id, key: LeaseKey, generation: u64) {
    ctx.wait_until(async move {
        Delay::from(Duration::from_millis(LEASE_TTL_MS)).await;
        let Some(report) = leases::due(&key, generation) else { return };
        if let Err(e) = guard_client::call(&env, &account, &Command::Settle { report: report.clone() }).await {
            leases::reopen(&key, report);
            log::event("error", "lease_not_settled", json!({ "account": account.as_str(), "error": e.to_string() }));
        }
    });
}

/// The account guard: revocation, suspension, windows and caps, exact across locations.
async fn guard(
    env: &Env,
    ctx: &Context,
    admitted: &Admitted,
    req: &Incoming,
    base: &str,
    now: UnixMillis,
) -> Result<Passed, Box<worker::Response>> {
    let grant = &admitted.grant;
    let plan = &admitted.plan.record;
    let mut charge = Charge {
        app: grant.app.clone(),
        token_hash: admitted.token_hash.as_str().to_owned(),
        group: grant.group.clone(),
        limits: plan.limits_for(&grant.group),
        monthly_item_cap: plan.monthly_item_cap,
        recipient: grant.delivery.as_ref().map(|d| RecipientCharge {
            recipient: d.recipient.clone(),
            entity: d.entity.clone(),
            ids_cap_30d: d.ids_cap_30d,
        }),
        fingerprint: None,
    };
    let refuse = |p: Problem, extra: &[(&'static str, String)]| Err(Box::new(respond::problem_with(&p, base, extra)));
    let leased = lease::applies(&charge.limits, charge.monthly_item_cap, charge.recipient.is_some());
    let key = LeaseKey::new(grant.account.clone(), grant.app.clone(), grant.group.clone());
    let mut returned = None;
    // Set while this request renews the lease; cleared once the guard has answered (below).
    let mut _renewing = None;
    let command = if leased {
        if let Some(quotas) = leases::take(&key, now) {
            return Ok(Passed { quotas, allowance: None, lease: Some((key, charge)) });
        }
        // Another request is renewing this lease: wait for it once, then try the fresh lease.
        if let Some(renewal) = leases::renewal_in_flight(&key) {
            let _ = JsFuture::from(renewal).await;
            if let Some(quotas) = leases::take(&key, now) {
                return Ok(Passed { quotas, allowance: None, lease: Some((key, charge)) });
            }
        }
        _renewing = Some(leases::begin_renewal(&key));
        charge.fingerprint = Some(fingerprint(req));
        returned = leases::close(&key);
        Command::Lease { charge: charge.clone(), want: LEASE_SIZE, report: returned.clone() }
    } else {
        charge.fingerprint = Some(fingerprint(req));
        Command::Charge(charge.clone())
    };
    // `return` inside this block ends the block: the renewal mark is cleared after it either way.
    let result: Result<Passed, Box<worker::Response>> = async {
        let failure = match guard_client::call(env, &grant.account, &command).await {
            Ok(Reply::Verdict(verdict)) => {
                return match verdict {
                    Verdict::Allow { granted, quotas, pooling, allowance } => {
                        if let Some(evidence) = pooling {
                            log::event("warn", "pooling_detected", json!({ "account": grant.account.as_str(), "evidence": evidence }));
                        }
                        if !leased {
                            return Ok(Passed { quotas, allowance, lease: None });
                        }
                        let fresh = Lease::new(charge.clone(), now, granted, quotas);
                        let (generation, taken, displaced) = leases::install(&key, fresh, now);
                        if let Some(report) = displaced {
                            settle_later(ctx, env.clone(), grant.account.clone(), report, 0);
                        }
                        settle_when_due(ctx, env.clone(), grant.account.clone(), key.clone(), generation);
                        Ok(Passed { quotas: taken.unwrap_or_default(), allowance: None, lease: Some((key.clone(), charge.clone())) })
                    }
                    Verdict::RedistributionCapped { retry_after } => refuse(Problem::RedistributionCapped { retry_after }, &[]),
                    Verdict::RateLimited { quotas, retry_after } => {
                        refuse(Problem::RateLimited { retry_after }, &rate_headers::headers(&quotas, now))
                    }
                    Verdict::UsageCapped { retry_after } => refuse(Problem::UsageCapped { retry_after }, &[]),
                    Verdict::Revoked => refuse(Problem::Unauthorized(Unauthorized::Revoked), &[]),
                    Verdict::AccountSuspended => refuse(Problem::Forbidden(Forbidden::AccountSuspended), &[]),
                };
            }
            Ok(other) => format!("unexpected reply {other:?}"),
            Err(e) => e.to_string(),
        };
        if let Some(report) = returned.take() {
            // The guard did not take the report: keep it for the next attempt.
            leases::reopen(&key, report);
        }
        match plan.guard_failure {
            GuardFailure::Closed => {
                log::event("error", "guard_unavailable", json!({ "account": grant.account.as_str(), "error": failure }));
                refuse(Problem::GuardUnavailable, &[])
            }
            GuardFailure::Open => {
                // Forwarded uncounted: this line is what reconciliation works from.
                log::event(
                    "error",
                    "guard_bypassed",
                    json!({ "account": grant.account.as_str(), "app": grant.app.as_str(), "group": grant.group.as_str(), "at": now.0, "error": failure }),
                );
                Ok(Passed { quotas: Vec::new(), allowance: None, lease: None })
            }
        }
    }
    .await;
    drop(_renewing);
    // A renewal that ended without a lease leaves the deliveries made meanwhile with nobody to
    // carry them: send them now.
    if leased && !matches!(&result, Ok(Passed { lease: Some(_), .. })) {
        if let Some(report) = leases::orphaned(&key, &charge, now) {
            settle_later(ctx, env.clone(), grant.account.clone(), report, 0);
        }
    }
    result
}

/// Who is calling, for the guard's pooling evidence: read only when the guard is called, since
/// `request.cf` costs a parse on every access.
fn fingerprint(req: &Incoming) -> Fingerprint {
    Fingerprint::new(req.client().ip().map(|ip| ip.to_string()).as_deref(), req.asn(), req.header("user-agent"))
}
