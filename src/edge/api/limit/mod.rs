//! The throttling step: one interface, two ways of keeping count, chosen once per request.
//!
//! - [`Strict`]: every request asks the account's guard, which counts it exactly, everywhere.
//! - [`Leased`]: requests spend a slice of the windows that this isolate holds, and one request
//!   at a time renews it (see `domain::throttle::lease` for what the mode promises).
//!
//! Either way the step ends in a value: [`Granted`] or [`Refused`]. A guard that gives no answer
//! is handled here, in one place, by the plan's `guard_failure`.

mod books;
mod leased;
mod strict;

use serde_json::json;

use self::leased::{Held, Leased};
use self::strict::Strict;
use super::admit::Admitted;
use super::guard::Guard;
use super::request::Incoming;
use crate::domain::access::id::Id;
use crate::domain::http::problem::Problem;
use crate::domain::throttle::charge::{Charge, RecipientCharge};
use crate::domain::throttle::verdict::{Allowance, ItemSlice, Quota, Verdict};
use crate::domain::throttle::lease::{self, key::LeaseKey};
use crate::domain::throttle::limit::GuardFailure;
use crate::domain::time::clock::UnixMillis;
use crate::domain::guard::command::Reply;
use crate::edge::guard::client::GuardError;
use crate::edge::log;

/// How one request is limited: strictly, or from this isolate's lease for its key.
pub enum Limiter {
    Strict(Strict),
    Leased(Leased),
}

/// The request may go on to the origin.
pub struct Granted {
    /// The windows as the guard left them, for the rate-limit headers (none if it was bypassed).
    pub quotas: Vec<Quota>,
    /// The recipient's reservation: how many items the response may carry.
    pub allowance: Option<Allowance>,
    /// The lease the request was served from, whose settlement carries its deliveries.
    pub lease: Option<Held>,
    /// A stream's number at the guard, which keeps it while it is open.
    pub stream: Option<u64>,
}

/// The request stops here: its problem, and the windows for the headers of a 429.
pub struct Refused {
    pub problem: Problem,
    pub quotas: Vec<Quota>,
}

/// What a limiter made of a request, before the plan's failure mode applies.
enum Answer<T> {
    Granted(T),
    Refused(Refused),
    /// The guard gave no answer; why, for the log.
    Unanswered(String),
}

/// What the guard allowed.
struct Allowed {
    /// Units charged: 1 for a request, the lease's size for a lease.
    granted: u64,
    quotas: Vec<Quota>,
    allowance: Option<Allowance>,
    stream: Option<u64>,
    /// A lease's slice of the monthly cap.
    items: Option<ItemSlice>,
}

/// Limits an admitted request: [`Granted`] to go on, or [`Refused`].
pub async fn limit(admitted: &Admitted, req: &Incoming, guard: &Guard<'_>, now: UnixMillis) -> Result<Granted, Refused> {
    match Limiter::choose(admitted).ask(req, guard, now).await {
        Answer::Granted(granted) => Ok(granted),
        Answer::Refused(refused) => Err(refused),
        Answer::Unanswered(failure) => guard_failure(admitted, &failure, now),
    }
}

impl Limiter {
    /// Leased when every limit of the group asks for leases; strict otherwise. A stream is always
    /// strict: the guard keeps it while it is open.
    pub fn choose(admitted: &Admitted) -> Self {
        let charge = charge(admitted);
        if !charge.stream && lease::applies(&charge.limits) {
            let grant = &admitted.grant;
            let recipient = charge.recipient.as_ref().map(|r| r.recipient.clone());
            let key = LeaseKey::new(grant.account.clone(), grant.app.clone(), grant.group.clone(), recipient);
            Self::Leased(Leased { key, charge })
        } else {
            Self::Strict(Strict { charge })
        }
    }

    async fn ask(self, req: &Incoming, guard: &Guard<'_>, now: UnixMillis) -> Answer<Granted> {
        match self {
            Self::Strict(strict) => strict.ask(req, guard).await,
            Self::Leased(leased) => leased.ask(req, guard, now).await,
        }
    }
}

/// What the guard is asked to charge for this request (its fingerprint is added only when the
/// guard is called).
pub fn charge(admitted: &Admitted) -> Charge {
    let grant = &admitted.grant;
    let plan = &admitted.plan.record;
    Charge {
        app: grant.app.clone(),
        token_hash: admitted.token_hash.clone(),
        group: grant.group.clone(),
        limits: plan.limits_for(&grant.group),
        monthly_item_cap: plan.monthly_item_cap,
        recipient: grant.delivery.as_ref().map(|d| RecipientCharge {
            recipient: d.recipient.clone(),
            entity: d.entity.clone(),
            ids_cap_30d: d.ids_cap_30d,
        }),
        fingerprint: None,
        stream: grant.stream,
        connections_per_app: plan.stream_connections_per_app.filter(|_| grant.stream),
        connections_per_account: plan.stream_connections_per_account.filter(|_| grant.stream),
    }
}

/// The guard's reply, read: allowed, refused (a 429 for the windows keeps their rate-limit
/// headers), or no answer.
fn read(reply: Result<Reply, GuardError>, account: &Id) -> Answer<Allowed> {
    let verdict = match reply {
        Ok(Reply::Verdict(verdict)) => verdict,
        Ok(other) => return Answer::Unanswered(format!("unexpected reply {other:?}")),
        Err(e) => return Answer::Unanswered(e.to_string()),
    };
    if let Some(problem) = verdict.refusal() {
        let quotas = match verdict {
            Verdict::RateLimited { quotas, .. } => quotas,
            _ => Vec::new(),
        };
        return Answer::Refused(Refused { problem, quotas });
    }
    match verdict {
        Verdict::Allow { granted, quotas, pooling, allowance, stream, items } => {
            if let Some(evidence) = pooling {
                log::event("warn", "pooling_detected", json!({ "account": account.as_str(), "evidence": evidence }));
            }
            Answer::Granted(Allowed { granted, quotas, allowance, stream, items })
        }
        // Every verdict but `Allow` has a refusal, above.
        other => Answer::Unanswered(format!("unexpected verdict {other:?}")),
    }
}

/// No answer from the guard: the plan says whether the request is refused (closed) or goes on
/// uncounted (open).
fn guard_failure(admitted: &Admitted, failure: &str, now: UnixMillis) -> Result<Granted, Refused> {
    let grant = &admitted.grant;
    match admitted.plan.record.guard_failure {
        GuardFailure::Closed => {
            log::event("error", "guard_unavailable", json!({ "account": grant.account.as_str(), "error": failure }));
            Err(Refused { problem: Problem::GuardUnavailable, quotas: Vec::new() })
        }
        GuardFailure::Open => {
            // Forwarded uncounted: this line is what reconciliation works from.
            log::event(
                "error",
                "guard_bypassed",
                json!({ "account": grant.account.as_str(), "app": grant.app.as_str(), "group": grant.group.as_str(), "at": now.0, "error": failure }),
            );
            Ok(Granted { quotas: Vec::new(), allowance: None, lease: None, stream: None })
        }
    }
}

impl<T> Answer<T> {
    fn map<U>(self, f: impl FnOnce(T) -> U) -> Answer<U> {
        match self {
            Self::Granted(t) => Answer::Granted(f(t)),
            Self::Refused(refused) => Answer::Refused(refused),
            Self::Unanswered(why) => Answer::Unanswered(why),
        }
    }
}
