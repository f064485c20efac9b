//! The guard as a pure service: one command in, one reply out, with the account's state behind
//! [`GuardStore`]. The Durable Object runs each command to completion without yielding, so a
//! charge and its ledger line are written together, atomically.
//!
//! The bookkeeping that several commands share is written once here: a refusal is counted and
//! appended to the audit chain (`refuse`); a delivery is counted and its distinct items added
//! to the month (`deliver`); a lease's report is settled (`settle`).

use serde_json::json;

use crate::domain::access::entitlement::decode;
use crate::domain::access::id::Id;
use crate::domain::admin::key::KeyRecord;
use crate::domain::admin::roles::RolesRecord;
use crate::domain::billing::export::{self, Cursor};
use crate::domain::billing::fleet::MonthFigures;
use crate::domain::billing::own_usage;
use crate::domain::billing::statement::Figures;
use crate::domain::guard::command::{AccountReport, Command, Housekeeping, Reply};
use crate::domain::guard::ports::{EventKind, GuardStore, Line, StoreError};
use crate::domain::record::audit::{AdminChange, AuditKind, Verifier};
use crate::domain::record::retention::{self, PRUNE_BATCH};
use crate::domain::record::seal::{self, Seal};
use crate::domain::redistribution::fingerprint::{Fingerprint, RESALE_FINGERPRINTS_PER_DAY};
use crate::domain::throttle::charge::{self, Charge};
use crate::domain::throttle::hold::{self, Caps, Holds, STREAM_TTL_MS};
use crate::domain::throttle::lease::{Deliveries, Report, ITEMS_PER_UNIT};
use crate::domain::throttle::pooling::PoolingEvidence;
use crate::domain::throttle::verdict::{Standing, Verdict};
use crate::domain::time::clock::UnixMillis;
use crate::domain::time::day::Day;
use crate::domain::time::month::Month;

/// Something the guard saw that the edge should log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A token reached the day's distinct-client threshold.
    ResaleDetected { app: Id, day: Day },
}

/// The reply, and what to log.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub reply: Reply,
    pub notices: Vec<Notice>,
}

/// Runs one command against the account's state at `now`.
///
/// # Errors
/// [`StoreError`] when the storage fails; the Durable Object's transaction then keeps nothing of
/// the command, and the edge applies the plan's failure mode.
pub fn handle(store: &mut impl GuardStore, command: Command, now: UnixMillis) -> Result<Outcome, StoreError> {
    let day = Day::of(now);
    let mut notices = Vec::new();
    let reply = match command {
        Command::Charge(charge) => {
            let standing = standing(store, &charge)?;
            // A stream past a connection limit is refused before anything is charged.
            let full = charge.stream && standing.refusal().is_none() && at_connection_limit(store, &charge, now)?;
            let mut verdict = if full { Verdict::TooManyConnections } else { charge::charge(store, standing, &charge, now)? };
            if charge.stream {
                open_stream(store, &charge, &mut verdict, now)?;
            }
            let recipient = charge.recipient.as_ref().map_or("", |r| r.recipient.as_str());
            let line = Line { day, app: charge.app.as_str(), group: charge.group.as_str(), recipient };
            if let Some(problem) = verdict.refusal() {
                refuse(store, &line, problem.ledger_reason())?;
            } else {
                store.count_forwarded(&line, 1)?;
            }
            notices.extend(watch(store, &charge, &verdict, now)?);
            Reply::Verdict(verdict)
        }
        Command::Lease { charge, want, reports } => {
            for report in &reports {
                settle(store, report, now)?;
            }
            let standing = standing(store, &charge)?;
            let mut verdict = charge::charge_units(store, standing, &charge, want, now)?;
            // Under a monthly cap the lease also takes a slice of the month's items.
            if let (Verdict::Allow { granted, items, .. }, Some(cap)) = (&mut verdict, charge.monthly_item_cap) {
                *items = Some(charge::reserve_items(store, cap, granted.saturating_mul(ITEMS_PER_UNIT), now)?);
            }
            if let Some(problem) = verdict.refusal() {
                let recipient = charge.recipient.as_ref().map_or("", |r| r.recipient.as_str());
                let line = Line { day, app: charge.app.as_str(), group: charge.group.as_str(), recipient };
                refuse(store, &line, problem.ledger_reason())?;
            }
            // A lease is watched as a request is: its grant can take a token to its limit, and
            // its renewal brings the client's fingerprint.
            notices.extend(watch(store, &charge, &verdict, now)?);
            Reply::Verdict(verdict)
        }
        Command::Settle { reports } => {
            for report in &reports {
                settle(store, report, now)?;
            }
            Reply::Done
        }
        Command::Delivered { app, group, recipient, delivered, allowance } => {
            let recipient = recipient.as_ref().map_or("", Id::as_str);
            let line = Line { day, app: app.as_str(), group: group.as_str(), recipient };
            deliver(store, &line, &delivered, now)?;
            if let Some(allowance) = allowance {
                charge::settle(store, &allowance, delivered.items)?;
            }
            Reply::Done
        }
        Command::Stream { stream: id, charge, delivered, last } => stream(store, id, &charge, &delivered, last, now)?,
        Command::Refused { app, group, recipient, reason } => {
            let group = group.as_ref().map_or("-", Id::as_str);
            let line = Line { day, app: app.as_str(), group, recipient: &recipient };
            refuse(store, &line, &reason)?;
            Reply::Done
        }
        Command::RevokeToken { token_hash } => {
            store.revoke(&token_hash, now)?;
            Reply::Done
        }
        Command::SetSuspended { suspended } => {
            store.set_suspended(suspended)?;
            Reply::Done
        }
        Command::RegisterApp { token_hash, app, status } => {
            store.register_app(&token_hash, &app, status, now)?;
            Reply::Done
        }
        Command::Audit { change, detail, actor } => {
            store.append_audit(now, AuditKind::Admin(change), &detail.to_string(), actor.as_ref())?;
            Reply::Done
        }
        Command::Roles => Reply::Roles(roles(store)?),
        Command::PutRoles { record, actor } => {
            let text = serde_json::to_string(&record).unwrap_or_default();
            store.set_roles(&text)?;
            store.append_audit(now, AuditKind::Admin(AdminChange::RolesWritten), &text, Some(&actor))?;
            Reply::Roles(record)
        }
        Command::FindKey { hash } => Reply::Key(store.admin_key(&hash)?),
        Command::Keys => Reply::Keys(store.admin_keys()?),
        Command::IssueKey { hash, key, actor } => {
            store.add_admin_key(&hash, &key)?;
            let detail = json!({ "key": key.id, "owner": key.owner, "role": key.role, "expires_at": key.expires_at });
            store.append_audit(now, AuditKind::Admin(AdminChange::KeyIssued), &detail.to_string(), Some(&actor))?;
            Reply::Key(Some(key))
        }
        Command::RevokeKey { id, at, actor } => {
            let found = store.admin_keys()?.into_iter().find(|k| k.id == id);
            match found {
                Some(key) if key.revoked_at.is_none() => {
                    let revoked = KeyRecord { revoked_at: Some(at), ..key };
                    store.update_admin_key(&revoked)?;
                    let detail = json!({ "key": revoked.id, "owner": revoked.owner, "role": revoked.role });
                    store.append_audit(now, AuditKind::Admin(AdminChange::KeyRevoked), &detail.to_string(), Some(&actor))?;
                    Reply::Key(Some(revoked))
                }
                other => Reply::Key(other),
            }
        }
        Command::Usage { from, to } => Reply::Usage { rows: store.usage(from, to)? },
        Command::AuditExport { after, limit } => {
            let limit = limit.clamp(1, MAX_PAGE);
            let entries = store.audit_page(after, limit)?;
            let next = (entries.len() as u64 == limit).then(|| entries.last().map_or(after, |e| e.seq));
            Reply::Audit { entries, next }
        }
        Command::AuditVerify { full } => Reply::Verified(verify(store, full, now)?),
        Command::Housekeep => Reply::Housekept(housekeep(store, now)?),
        Command::Report => Reply::Report(report(store, now)?),
        Command::Statement { from, to } => Reply::Statement(statement(store, from, to)?),
        Command::Rollup => Reply::Rollup(rollup(store, now)?),
        Command::UsageEvents { account, after, limit } => usage_events(store, &account, after, limit)?,
        Command::ExportDue { account, limit } => {
            let after = store.exported_through()?;
            usage_events(store, &account, after, limit)?
        }
        Command::Exported { through } => {
            if store.exported_through()?.is_none_or(|at| through > at) {
                store.set_exported_through(&through)?;
            }
            Reply::Done
        }
        Command::OwnUsage { charge, account, query, cap } => Reply::OwnUsage(own_usage(store, &charge, &account, query.as_deref(), cap, now)?),
    };
    Ok(Outcome { reply, notices })
}

/// The roles record as stored; one that no longer decodes is a storage failure, never an empty
/// record (which would quietly sign everyone out) nor a guess.
fn roles(store: &impl GuardStore) -> Result<RolesRecord, StoreError> {
    match store.roles()? {
        None => Ok(RolesRecord::default()),
        Some(text) => decode(&text).map_err(|e| StoreError(format!("the stored roles record is invalid: {e}"))),
    }
}

fn standing(store: &impl GuardStore, charge: &Charge) -> Result<Standing, StoreError> {
    Ok(Standing { token_revoked: store.is_revoked(&charge.token_hash)?, account_suspended: store.is_suspended()? })
}

/// A refusal: a count in the ledger under its reason. Refusals are not audit entries: a flood
/// of them costs one counter update each, and the day's seal makes the counts tamper-evident.
fn refuse(store: &mut impl GuardStore, line: &Line<'_>, reason: &str) -> Result<(), StoreError> {
    store.count_refused(line, reason)
}

/// A delivery: counted in the ledger, and its distinct items added to the month (monthly caps
/// count distinct items, as the API bills them).
fn deliver(store: &mut impl GuardStore, line: &Line<'_>, delivered: &Deliveries, now: UnixMillis) -> Result<(), StoreError> {
    let distinct = store.count_delivered(line, delivered)?;
    if distinct > 0 {
        store.add_month_items(Month::of(now), i64::try_from(distinct).unwrap_or(i64::MAX))?;
    }
    Ok(())
}

/// An open stream's report: its deliveries go to the ledger and the month, as a page's do; its
/// token and account are checked again, and its holds settled and renewed, and its heartbeat
/// with them. When the token is revoked, the account suspended or a cap has nothing left, or on
/// its last report, the holds are given back and the stream is closed; a refusal that ends it
/// is counted on its line.
fn stream(store: &mut impl GuardStore, id: u64, charge: &Charge, delivered: &Deliveries, last: bool, now: UnixMillis) -> Result<Reply, StoreError> {
    let recipient = charge.recipient.as_ref().map_or("", |r| r.recipient.as_str());
    let line = Line { day: Day::of(now), app: charge.app.as_str(), group: charge.group.as_str(), recipient };
    deliver(store, &line, delivered, now)?;
    let caps = Caps::of(charge);
    // A stream already closed holds nothing; nor does one the guard did not see open (number 0:
    // the plan let it open with the guard down), which it notes now.
    let held = if id == 0 { Holds::default() } else { store.stream_holds(id)?.unwrap_or_default() };
    let used = delivered.items;
    if last {
        hold::release(store, caps, held, used, now)?;
        store.close_stream(id)?;
        return Ok(Reply::Done);
    }
    // A revoked token or a suspended account ends the stream at its next report.
    let renewed = match standing(store, charge)?.refusal() {
        Some(refusal) => {
            hold::release(store, caps, held, used, now)?;
            Err(refusal)
        }
        None => hold::renew(store, caps, held, used, now)?,
    };
    Ok(Reply::Verdict(match renewed {
        Ok(holds) => {
            let until = now.plus_millis(STREAM_TTL_MS);
            let id = if id == 0 {
                store.open_stream(&charge.app, &charge.group, holds, until)?
            } else {
                store.keep_stream(id, &charge.app, &charge.group, holds, until)?;
                id
            };
            Verdict::Allow { granted: holds.spendable(caps), quotas: Vec::new(), pooling: None, allowance: None, stream: Some(id), items: None }
        }
        Err(verdict) => {
            store.close_stream(id)?;
            if let Some(problem) = verdict.refusal() {
                refuse(store, &line, problem.ledger_reason())?;
            }
            verdict
        }
    }))
}

/// Whether the streams of the charge's group already open (those whose time has not run out)
/// reach one of its connection limits, per app or for the account.
fn at_connection_limit(store: &impl GuardStore, charge: &Charge, now: UnixMillis) -> Result<bool, StoreError> {
    for (app, max) in [(Some(&charge.app), charge.connections_per_app), (None, charge.connections_per_account)] {
        let Some(max) = max else { continue };
        if store.open_streams(&charge.group, app, now)? >= max {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A charge that opens a stream: the guard notes it, with the page of ids the charge reserved
/// for its recipient as its first hold.
fn open_stream(store: &mut impl GuardStore, charge: &Charge, verdict: &mut Verdict, now: UnixMillis) -> Result<(), StoreError> {
    if let Verdict::Allow { allowance, stream, .. } = verdict {
        let holds = Holds::opening(allowance.as_ref());
        *stream = Some(store.open_stream(&charge.app, &charge.group, holds, now.plus_millis(STREAM_TTL_MS))?);
    }
    Ok(())
}

/// A lease's report: its requests go to the ledger as forwarded, its deliveries as items (their
/// ids into the day's de-dup, and the distinct ones into the month), its unused units back to the
/// windows they came from, its slice of the month back whole, and the recipient ids no response
/// used back to their entity; once per report id. The month
/// thus holds the distinct items delivered, not the slice nor the repeats the isolate pre-charged.
fn settle(store: &mut impl GuardStore, report: &Report, now: UnixMillis) -> Result<(), StoreError> {
    if store.is_settled(&report.id)? {
        return Ok(());
    }
    store.mark_settled(&report.id, now)?;
    let recipient = report.charge.recipient.as_ref().map_or("", |r| r.recipient.as_str());
    let line = Line { day: Day::of(now), app: report.charge.app.as_str(), group: report.charge.group.as_str(), recipient };
    if report.used > 0 {
        store.count_forwarded(&line, report.used)?;
    }
    if !report.deliveries.is_empty() {
        deliver(store, &line, &report.deliveries, now)?;
    }
    if let Some(slice) = &report.items {
        charge::return_items(store, slice)?;
    }
    // Recipient ids: the slice's unreserved rest, and what responses reserved and left.
    for unused in report.ids.iter().chain(&report.deliveries.returned) {
        charge::settle(store, unused, 0)?;
    }
    charge::return_units(store, &report.charge, report.granted_at, report.granted.saturating_sub(report.used))
}

/// After a grant, the detection rules: a pooling event the charge found, and the client's
/// fingerprint for the resale count.
fn watch(store: &mut impl GuardStore, charge: &Charge, verdict: &Verdict, now: UnixMillis) -> Result<Option<Notice>, StoreError> {
    let Verdict::Allow { pooling, .. } = verdict else { return Ok(None) };
    if let Some(evidence) = pooling {
        record_pooling(store, evidence, now)?;
    }
    match &charge.fingerprint {
        Some(fp) => watch_resale(store, &charge.app, fp, now),
        None => Ok(None),
    }
}

/// A pooling event: recorded once per group and window, and appended to the audit chain.
fn record_pooling(store: &mut impl GuardStore, evidence: &PoolingEvidence, now: UnixMillis) -> Result<(), StoreError> {
    let dedupe = format!("pooling:{}:{}", evidence.group, evidence.window_start);
    let text = serde_json::to_string(evidence).unwrap_or_default();
    store.record_event(now, EventKind::Pooling, &dedupe, &text)?;
    store.append_audit(now, AuditKind::Pooling, &text, None)?;
    Ok(())
}

/// Counts the token's distinct clients today; the count reaching the threshold is an event.
fn watch_resale(store: &mut impl GuardStore, app: &Id, fp: &Fingerprint, now: UnixMillis) -> Result<Option<Notice>, StoreError> {
    let day = Day::of(now);
    if store.record_fingerprint(app, day, fp)? != Some(RESALE_FINGERPRINTS_PER_DAY) {
        return Ok(None);
    }
    let evidence = json!({
        "app": app,
        "day": day,
        "distinct_clients": RESALE_FINGERPRINTS_PER_DAY,
        "threshold": RESALE_FINGERPRINTS_PER_DAY,
        "clients": store.clients(app, day)?,
    });
    let text = evidence.to_string();
    store.record_event(now, EventKind::Resale, &format!("resale:{app}:{}", day.0), &text)?;
    store.append_audit(now, AuditKind::Resale, &text, None)?;
    Ok(Some(Notice::ResaleDetected { app: app.clone(), day }))
}

/// Most audit entries one export page returns.
pub const MAX_PAGE: u64 = 10_000;
/// Days sealed in one housekeeping pass; more wait for the next.
const SEALS_PER_PASS: u64 = 3;

/// Seals the finished days not sealed yet (a few a pass) and prunes what has outlived its
/// retention (a bounded batch a table). Idempotent: the Durable Object runs it once a day, and
/// again while it reports more to do.
///
/// # Errors
/// [`StoreError`] when the storage fails.
pub fn housekeep(store: &mut impl GuardStore, now: UnixMillis) -> Result<Housekeeping, StoreError> {
    let today = Day::of(now);
    let mut done = Housekeeping::default();
    let days = store.days_with_rows(store.sealed_through()?, today, SEALS_PER_PASS)?;
    for day in &days {
        let rows = store.usage(*day, *day)?;
        let seal = seal::seal(*day, &rows);
        store.append_audit(now, AuditKind::Seal, &serde_json::to_string(&seal).unwrap_or_default(), None)?;
        store.set_sealed_through(*day)?;
        done.sealed.push(seal.day);
    }
    if (days.len() as u64) < SEALS_PER_PASS {
        // Nothing else is waiting: days without rows need no seal.
        store.set_sealed_through(today.minus(1))?;
    } else {
        done.more = true;
    }
    for cutoff in retention::cutoffs(now) {
        let n = store.prune(cutoff.what, cutoff.before, PRUNE_BATCH)?;
        done.pruned += n;
        done.more |= n == PRUNE_BATCH;
    }
    Ok(done)
}

/// Walks the chain from the last checkpoint (or from the start), a page at a time, and checks
/// each seal it meets against the day's ledger rows, while they are kept.
fn verify(store: &mut impl GuardStore, full: bool, now: UnixMillis) -> Result<serde_json::Value, StoreError> {
    let checkpoint = if full { None } else { store.verified()? };
    let mut walk = match &checkpoint {
        Some((seq, hash)) => Verifier::from_checkpoint(*seq, hash.clone()),
        None => Verifier::default(),
    };
    let from_seq = walk.checkpoint().0;
    let oldest_kept = retention::oldest_ledger_day(now).0;
    let mut checked = 0u64;
    let mut first_break = None;
    'walk: loop {
        let page = store.audit_page(walk.checkpoint().0, 1_000)?;
        if page.is_empty() {
            break;
        }
        for e in &page {
            if let Err(b) = walk.feed(e) {
                first_break = Some(json!({ "seq": b.seq, "reason": b.reason }));
                break 'walk;
            }
            checked += 1;
            if e.kind == "seal" {
                let Ok(seal) = serde_json::from_str::<Seal>(&e.detail) else {
                    first_break = Some(json!({ "seq": e.seq, "reason": "the seal cannot be read" }));
                    break 'walk;
                };
                if seal.day_number >= oldest_kept {
                    let rows = store.usage(Day(seal.day_number), Day(seal.day_number))?;
                    if seal::ledger_digest(&rows) != seal.ledger_sha256 {
                        first_break = Some(json!({ "seq": e.seq, "reason": "the day's ledger rows do not match their seal", "day": seal.day }));
                        break 'walk;
                    }
                }
            }
        }
    }
    let (seq, head) = walk.checkpoint();
    let head = head.to_owned();
    if first_break.is_none() {
        store.set_verified(seq, &head)?;
    }
    let mut out = json!({
        "entries": store.audit_len()?,
        "checked": checked,
        "from_seq": from_seq,
        "ok": first_break.is_none(),
        "head": head,
    });
    if let Some(b) = first_break {
        out["first_break"] = b;
    }
    Ok(out)
}

/// The customer's own usage: the query checked, the endpoint's own window charged (not a request
/// to the origin, so no ledger line and no detection rule), then each app's distinct items per
/// day summed from the ledger in one query.
fn own_usage(store: &mut impl GuardStore, charge: &Charge, account: &Id, query: Option<&str>, cap: Option<u64>, now: UnixMillis) -> Result<own_usage::Answer, StoreError> {
    let Ok(query) = own_usage::UsageQuery::parse(query) else { return Ok(own_usage::Answer::BadQuery) };
    let verdict = charge::charge(store, standing(store, charge)?, charge, now)?;
    let Verdict::Allow { quotas, .. } = verdict else { return Ok(own_usage::Answer::Refused(verdict)) };
    let days = store.distinct_by_app_and_day(query.from(now), Day::of(now))?;
    let body = own_usage::body(&query, account, cap, &days, now).to_string();
    Ok(own_usage::Answer::Usage { quotas, body })
}

/// The month so far, for the fleet rollup: the ledger's sums, the month's detection events (of
/// the newest 100) and the account's suspension.
fn rollup(store: &impl GuardStore, now: UnixMillis) -> Result<MonthFigures, StoreError> {
    let month = Month::of(now);
    let mut figures = store.month_figures(Day::of(month.start()), Day::of(now))?;
    figures.month = month.key();
    let since = month.start().0;
    figures.events = store.events()?.iter().filter(|e| u64::try_from(e.at).is_ok_and(|at| at >= since)).count() as u64;
    figures.suspended = store.is_suspended()?;
    Ok(figures)
}

/// A page of billing events of the sealed days after `after`, each with its day's seal.
fn usage_events(store: &impl GuardStore, account: &Id, after: Option<Cursor>, limit: u64) -> Result<Reply, StoreError> {
    let limit = limit.clamp(1, export::MAX_PAGE);
    let Some(through) = store.sealed_through()? else { return Ok(Reply::UsageEvents { events: Vec::new(), next: after, more: false }) };
    let mut events = store.billable(after.as_ref(), through, limit)?;
    if let (Some(first), Some(last)) = (events.first(), events.last()) {
        let seals: Vec<(u64, Seal)> =
            store.seals(first.day, last.day)?.into_iter().filter_map(|e| serde_json::from_str(&e.detail).ok().map(|s| (e.seq, s))).collect();
        for e in &mut events {
            e.account = account.to_string();
            if let Some((seq, seal)) = seals.iter().find(|(_, s)| s.day_number == e.day.0) {
                e.seal_seq = Some(*seq);
                e.ledger_sha256 = Some(seal.ledger_sha256.clone());
            }
        }
    }
    let more = events.len() as u64 == limit;
    let next = events.last().map(export::UsageEvent::cursor).or(after);
    Ok(Reply::UsageEvents { events, next, more })
}

/// The figures of a statement: the rows, the days' seals and the chain's head, read in one
/// command so that they agree.
fn statement(store: &impl GuardStore, from: Day, to: Day) -> Result<Figures, StoreError> {
    let len = store.audit_len()?;
    let head = if len == 0 { None } else { store.audit_page(len - 1, 1)?.pop() };
    Ok(Figures { rows: store.usage(from, to)?, seals: store.seals(from, to)?, head, sealed_through: store.sealed_through()? })
}

fn report(store: &impl GuardStore, now: UnixMillis) -> Result<AccountReport, StoreError> {
    let month = Month::of(now);
    Ok(AccountReport {
        month: month.key(),
        month_distinct_items: store.month_items(month)?,
        suspended: store.is_suspended()?,
        apps: store.apps()?,
        audit_entries: store.audit_len()?,
        events: store.events()?.into_iter().map(Into::into).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::access::entitlement::AppStatus;
    use crate::domain::access::token::TokenHash;
    use crate::domain::guard::memory::MemoryStore;
    use crate::domain::record::audit::AdminChange;
    use crate::domain::record::ledger::Row;
    use crate::domain::throttle::charge::RecipientCharge;
    use crate::domain::throttle::limit::{Limit, LimitMode, Scope};
    use crate::domain::guard::ports::AuditLog;
    use crate::domain::throttle::store::CounterStore;
    use crate::domain::throttle::verdict::Allowance;
    use crate::domain::throttle::hold::STREAM_HOLD;

    const T0: UnixMillis = UnixMillis(1_800_000_000_000); // a multiple of 900 s
    const DAY: u64 = 86_400_000;

    fn id(s: &str) -> Id {
        Id::new(s).unwrap()
    }

    fn hash(n: u8) -> TokenHash {
        TokenHash::from_hex(&format!("{n:02x}").repeat(32)).unwrap()
    }

    fn limit(scope: Scope, requests: u64) -> Limit {
        Limit { group: id("search"), scope, requests, window_seconds: 900, mode: LimitMode::Strict }
    }

    fn charge(app: &str, token: u8, limits: Vec<Limit>) -> Charge {
        Charge { app: id(app), token_hash: hash(token), group: id("search"), limits, monthly_item_cap: None, recipient: None, fingerprint: None, stream: false, connections_per_app: None, connections_per_account: None }
    }

    fn run(store: &mut MemoryStore, command: Command, now: UnixMillis) -> Reply {
        handle(store, command, now).unwrap().reply
    }

    fn verdict(store: &mut MemoryStore, c: &Charge, now: UnixMillis) -> Verdict {
        match run(store, Command::Charge(c.clone()), now) {
            Reply::Verdict(v) => v,
            other => panic!("not a verdict: {other:?}"),
        }
    }

    fn usage(store: &mut MemoryStore, now: UnixMillis) -> Vec<Row> {
        match run(store, Command::Usage { from: Day::of(now), to: Day::of(now) }, now) {
            Reply::Usage { rows } => rows,
            other => panic!("not usage: {other:?}"),
        }
    }

    fn delivered(app: &str, ids: &[&str], untracked: u64) -> Command {
        let items = ids.len() as u64 + untracked;
        Command::Delivered {
            app: id(app),
            group: id("search"),
            recipient: None,
            delivered: Deliveries { items, ids: ids.iter().map(|s| (*s).to_owned()).collect(), untracked, bytes: 10 * items, returned: vec![] },
            allowance: None,
        }
    }

    #[test]
    fn a_charge_is_ledgered_as_forwarded_or_refused_with_its_reason_and_audited() {
        let mut store = MemoryStore::default();
        let c = charge("a1", 1, vec![limit(Scope::App, 2)]);
        for _ in 0..3 {
            verdict(&mut store, &c, T0);
        }
        let rows = usage(&mut store, T0);
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].app.as_str(), rows[0].group.as_str(), rows[0].forwarded), ("a1", "search", 2));
        assert_eq!(rows[0].refused.get("rate-limit-exceeded"), Some(&1));
        // Refusals are ledger counts, not audit entries.
        assert_eq!(store.audit_len().unwrap(), 0);
    }

    #[test]
    fn a_refusal_flood_costs_counts_not_chain_entries() {
        let mut store = MemoryStore::default();
        let c = charge("a1", 1, vec![limit(Scope::App, 5)]);
        for _ in 0..2_000 {
            verdict(&mut store, &c, T0);
        }
        let row = &usage(&mut store, T0)[0];
        assert_eq!((row.forwarded, row.refused.get("rate-limit-exceeded")), (5, Some(&1_995)));
        assert_eq!(store.audit_len().unwrap(), 0);
        assert_eq!(store.refusals.len(), 1, "one counter row, whatever the number of refusals");
    }

    #[test]
    fn revocation_and_suspension_bind_on_the_next_charge() {
        let mut store = MemoryStore::default();
        let (c1, c2) = (charge("a1", 1, vec![]), charge("a2", 2, vec![]));
        run(&mut store, Command::RevokeToken { token_hash: hash(1) }, T0);
        assert_eq!(verdict(&mut store, &c1, T0), Verdict::Revoked);
        assert!(matches!(verdict(&mut store, &c2, T0), Verdict::Allow { .. }), "another token was refused");
        run(&mut store, Command::SetSuspended { suspended: true }, T0);
        assert_eq!(verdict(&mut store, &c2, T0), Verdict::AccountSuspended);
        run(&mut store, Command::SetSuspended { suspended: false }, T0);
        assert!(matches!(verdict(&mut store, &c2, T0), Verdict::Allow { .. }));
        let rows = usage(&mut store, T0);
        let a1 = rows.iter().find(|r| r.app == "a1").unwrap();
        assert_eq!((a1.forwarded, a1.refused.get("revoked-token")), (0, Some(&1)));
        let a2 = rows.iter().find(|r| r.app == "a2").unwrap();
        assert_eq!((a2.forwarded, a2.refused.get("account-suspended")), (2, Some(&1)));
    }

    #[test]
    fn deliveries_count_items_and_distinct_items_per_day_and_feed_the_monthly_cap() {
        let mut store = MemoryStore::default();
        run(&mut store, delivered("a1", &["1", "2"], 0), T0);
        run(&mut store, delivered("a1", &["2", "3"], 0), T0);
        // Ids not sent are counted as distinct: usage is never undercounted.
        run(&mut store, delivered("a1", &["3"], 2), T0);
        let row = &usage(&mut store, T0)[0];
        assert_eq!((row.items, row.distinct_items, row.bytes), (7, 5, 70));
        // The next day, the same ids are new again.
        let next_day = T0.plus_millis(DAY);
        run(&mut store, delivered("a1", &["1", "2"], 0), next_day);
        assert_eq!(usage(&mut store, next_day)[0].distinct_items, 2);
        assert_eq!(store.month_items(Month::of(T0)).unwrap(), 7);
        // The cap counts distinct items: at 7 of a cap of 7, the next charge is refused.
        let mut capped = charge("a1", 1, vec![]);
        capped.monthly_item_cap = Some(7);
        assert!(matches!(verdict(&mut store, &capped, next_day), Verdict::UsageCapped { .. }));
        assert_eq!(usage(&mut store, next_day)[0].refused.get("usage-capped"), Some(&1));
    }

    #[test]
    fn a_delivery_gives_back_the_unused_part_of_its_reservation() {
        let mut store = MemoryStore::default();
        let mut c = charge("relay", 1, vec![]);
        c.recipient = Some(RecipientCharge { recipient: id("nw-east"), entity: id("northwind"), ids_cap_30d: 150 });
        let Verdict::Allow { allowance: Some(allowance), .. } = verdict(&mut store, &c, T0) else { panic!() };
        assert_eq!(allowance, Allowance { entity: id("northwind"), day: Day::of(T0), ids: 100 });
        let Command::Delivered { app, group, delivered, .. } = delivered("relay", &["1", "2", "3"], 37) else { panic!() };
        let command = Command::Delivered { app, group, recipient: Some(id("nw-east")), delivered, allowance: Some(allowance) };
        run(&mut store, command, T0);
        assert_eq!(store.entity_ids(&id("northwind"), Day::of(T0).minus(29), Day::of(T0)).unwrap(), 40);
        let row = &usage(&mut store, T0)[0];
        assert_eq!((row.recipient.as_str(), row.forwarded, row.items), ("nw-east", 1, 40));
    }

    /// A stream's charge, for `app` of `a1`'s token, in group `stream`.
    fn stream_charge(recipient: Option<RecipientCharge>, cap: Option<u64>) -> Charge {
        Charge { group: id("stream"), monthly_item_cap: cap, recipient, stream: true, ..charge("a1", 1, vec![]) }
    }

    /// Opens a stream: its number and the page of ids its charge reserved.
    fn open(store: &mut MemoryStore, c: &Charge, now: UnixMillis) -> (u64, Option<u64>) {
        let Verdict::Allow { stream: Some(n), allowance, .. } = verdict(store, c, now) else { panic!("not opened") };
        (n, allowance.map(|a| a.ids))
    }

    /// A stream's report of the ids `sent`: what it may now send, or the refusal that ends it.
    #[allow(clippy::result_large_err)]
    fn report(store: &mut MemoryStore, n: u64, c: &Charge, sent: std::ops::Range<u64>, last: bool, now: UnixMillis) -> Result<u64, Verdict> {
        let ids: Vec<String> = sent.map(|i| i.to_string()).collect();
        let items = ids.len() as u64;
        let delivered = Deliveries { items, ids, untracked: 0, bytes: items, returned: Vec::new() };
        match run(store, Command::Stream { stream: n, charge: c.clone(), delivered, last }, now) {
            Reply::Verdict(Verdict::Allow { granted, stream, .. }) => {
                assert_eq!(stream, Some(n));
                Ok(granted)
            }
            Reply::Verdict(v) => Err(v),
            Reply::Done => Ok(0),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_stream_holds_items_against_the_monthly_cap_and_is_stopped_when_none_are_left() {
        let mut store = MemoryStore::default();
        let month = Month::of(T0);
        let c = stream_charge(None, Some(2_500));
        let (n, _) = open(&mut store, &c, T0);
        assert_eq!(store.streams[&n].holds, Holds::default(), "nothing held against the month yet");
        // The first report holds what the cap has left, at most a hold's worth.
        assert_eq!(report(&mut store, n, &c, 0..0, false, T0), Ok(STREAM_HOLD));
        assert_eq!(store.month_items(month).unwrap(), STREAM_HOLD, "a hold counts as spent");
        // A page sees the hold: 500 left of 2,500; it delivers 200 items.
        let mut page = charge("a2", 2, vec![]);
        page.monthly_item_cap = Some(2_500);
        assert!(matches!(verdict(&mut store, &page, T0), Verdict::Allow { stream: None, .. }));
        let page_ids: Vec<String> = (0..200).map(|i| i.to_string()).collect();
        run(&mut store, delivered("a2", &page_ids.iter().map(String::as_str).collect::<Vec<_>>(), 0), T0);
        assert_eq!(store.month_items(month).unwrap(), STREAM_HOLD + 200);
        // The stream reports 1,200 sent, 200 of them the page's (the day's de-dup knows them):
        // 1,200 distinct spent, so it may hold the 1,300 left.
        assert_eq!(report(&mut store, n, &c, 0..1_200, false, T0), Ok(1_300));
        assert_eq!(store.month_items(month).unwrap(), 2_500);
        // All 1,300 sent and new: nothing is left, so the stream is stopped and closed.
        let stopped = report(&mut store, n, &c, 10_000..11_300, false, T0);
        assert!(matches!(stopped, Err(Verdict::UsageCapped { .. })), "{stopped:?}");
        assert!(store.streams.is_empty());
        assert_eq!(store.month_items(month).unwrap(), 2_500);
        let rows = usage(&mut store, T0);
        let row = rows.iter().find(|r| r.group == "stream").unwrap();
        assert_eq!((row.forwarded, row.items, row.distinct_items), (1, 2_500, 2_300));
        assert_eq!(row.refused.get("usage-capped"), Some(&1), "the ledger says why the stream ended");
        // Its last report, after the stop, holds nothing to give back.
        assert_eq!(report(&mut store, n, &c, 0..0, true, T0), Ok(0));
        assert_eq!(store.month_items(month).unwrap(), 2_500);
    }

    #[test]
    fn a_streams_last_report_gives_back_what_it_did_not_send_and_closes_it() {
        let mut store = MemoryStore::default();
        let nw = RecipientCharge { recipient: id("nw-east"), entity: id("northwind"), ids_cap_30d: 10_000 };
        let c = stream_charge(Some(nw), Some(50_000));
        let (n, page) = open(&mut store, &c, T0);
        assert_eq!(page, Some(100));
        let window = |store: &MemoryStore| store.entity_ids(&id("northwind"), Day::of(T0).minus(29), Day::of(T0)).unwrap();
        assert_eq!(window(&store), 100, "the charge's page of ids is the stream's first hold");
        assert_eq!(report(&mut store, n, &c, 0..0, false, T0), Ok(STREAM_HOLD));
        assert_eq!(window(&store), STREAM_HOLD);
        assert_eq!(report(&mut store, n, &c, 0..37, true, T0), Ok(0));
        assert_eq!(window(&store), 37);
        assert_eq!(store.month_items(Month::of(T0)).unwrap(), 37);
        assert!(store.streams.is_empty());
        let row = &usage(&mut store, T0)[0];
        assert_eq!((row.recipient.as_str(), row.items, row.forwarded), ("nw-east", 37, 1));
    }

    #[test]
    fn a_recipients_stream_is_renewed_to_the_entity_cap_then_stopped() {
        let mut store = MemoryStore::default();
        let nw = RecipientCharge { recipient: id("nw-east"), entity: id("northwind"), ids_cap_30d: 120 };
        let c = stream_charge(Some(nw), None);
        let (n, _) = open(&mut store, &c, T0);
        // 100 sent: renewed with the 20 the entity has left.
        assert_eq!(report(&mut store, n, &c, 0..100, false, T0), Ok(20));
        // 20 more sent: the entity is at its cap, and the stream is stopped.
        let stopped = report(&mut store, n, &c, 100..120, false, T0);
        assert!(matches!(stopped, Err(Verdict::RedistributionCapped { .. })), "{stopped:?}");
        assert_eq!(store.entity_ids(&id("northwind"), Day::of(T0).minus(29), Day::of(T0)).unwrap(), 120);
        let row = usage(&mut store, T0).into_iter().find(|r| r.group == "stream").unwrap();
        assert_eq!((row.items, row.refused.get("redistribution-capped")), (120, Some(&1)));
    }

    #[test]
    fn a_hold_made_yesterday_is_settled_on_its_day_and_renewed_today() {
        let mut store = MemoryStore::default();
        let nw = RecipientCharge { recipient: id("nw-east"), entity: id("northwind"), ids_cap_30d: 1_000_000 };
        let c = stream_charge(Some(nw), None);
        let (n, _) = open(&mut store, &c, T0);
        assert_eq!(report(&mut store, n, &c, 0..0, false, T0), Ok(STREAM_HOLD));
        let tomorrow = T0.plus_millis(DAY);
        assert_eq!(report(&mut store, n, &c, 0..10, false, tomorrow), Ok(STREAM_HOLD));
        assert_eq!(store.entity_days.get(&("northwind".to_owned(), Day::of(T0).0)), Some(&10), "what was sent stays on its day");
        assert_eq!(store.entity_days.get(&("northwind".to_owned(), Day::of(tomorrow).0)), Some(&(STREAM_HOLD as i64)));
        assert_eq!(store.streams[&n].holds.ids_day, Day::of(tomorrow));
    }

    #[test]
    fn connection_limits_refuse_a_stream_before_anything_is_charged_and_free_a_slot_when_one_ends() {
        let mut store = MemoryStore::default();
        let for_app = |app: &str, token: u8| Charge {
            group: id("stream"),
            stream: true,
            connections_per_app: Some(1),
            connections_per_account: Some(2),
            ..charge(app, token, vec![limit(Scope::App, 100)])
        };
        let (a1, a2, a3) = (for_app("a1", 1), for_app("a2", 2), for_app("a3", 3));
        let (first, _) = open(&mut store, &a1, T0);
        assert_eq!(verdict(&mut store, &a1, T0), Verdict::TooManyConnections, "one per app");
        assert_eq!(Verdict::TooManyConnections.refusal().unwrap().status(), 429);
        let key = crate::domain::throttle::counter_key::CounterKey::of(&limit(Scope::App, 100), &id("a1"), None).unwrap();
        assert_eq!(store.count(&key, T0.0 - T0.0 % 900_000).unwrap(), 1, "the refused stream was not charged");
        open(&mut store, &a2, T0);
        assert_eq!(verdict(&mut store, &a3, T0), Verdict::TooManyConnections, "two for the account");
        // The first stream ends: its slot is free at once.
        report(&mut store, first, &a1, 0..3, true, T0).unwrap();
        let (again, _) = open(&mut store, &a1, T0);
        // A stream that dies without a word holds its slot until its time runs out, 20 s after
        // its last report; one that reports keeps it.
        assert_eq!(verdict(&mut store, &a3, T0.plus_millis(STREAM_TTL_MS - 1)), Verdict::TooManyConnections);
        report(&mut store, again, &a1, 0..0, false, T0.plus_millis(10_000)).unwrap();
        let (_, _) = open(&mut store, &a3, T0.plus_millis(STREAM_TTL_MS + 1));
        assert_eq!(verdict(&mut store, &a1, T0.plus_millis(STREAM_TTL_MS + 1)), Verdict::TooManyConnections, "the reporting stream kept its slot");
        let row = usage(&mut store, T0).into_iter().find(|r| r.app == "a1").unwrap();
        assert_eq!(row.refused.get("too-many-connections"), Some(&2));
    }

    #[test]
    fn an_uncapped_stream_is_kept_while_it_reports_and_pruned_once_it_stops() {
        let mut store = MemoryStore::default();
        let c = stream_charge(None, None);
        let (n, _) = open(&mut store, &c, T0);
        assert_eq!(report(&mut store, n, &c, 0..5, false, T0.plus_millis(1_000)), Ok(0));
        assert_eq!(store.streams[&n].until, T0.0 + 1_000 + STREAM_TTL_MS);
        housekeep(&mut store, T0.plus_millis(1_000 + STREAM_TTL_MS)).unwrap();
        assert_eq!(store.streams.len(), 1, "kept until its time runs out");
        housekeep(&mut store, T0.plus_millis(1_001 + STREAM_TTL_MS)).unwrap();
        assert!(store.streams.is_empty(), "a stream that died without a word is pruned");
    }

    #[test]
    fn a_lease_report_is_settled_before_the_next_grant_and_returns_its_unused_units() {
        let mut store = MemoryStore::default();
        let c = charge("a1", 1, vec![limit(Scope::App, 100)]);
        let Reply::Verdict(Verdict::Allow { granted, .. }) = run(&mut store, Command::Lease { charge: c.clone(), want: 50, reports: vec![] }, T0) else {
            panic!()
        };
        assert_eq!(granted, 50);
        let report = Report {
            id: "iso/k#1".into(),
            charge: c.clone(),
            granted_at: T0,
            granted: 50,
            used: 10,
            deliveries: Deliveries { items: 10, ids: (0..10).map(|i| i.to_string()).collect(), untracked: 0, bytes: 100, returned: vec![] },
            items: None,
            ids: None,
        };
        let Reply::Verdict(Verdict::Allow { granted, quotas, .. }) = run(&mut store, Command::Lease { charge: c.clone(), want: 50, reports: vec![report.clone()] }, T0) else {
            panic!()
        };
        // 10 used and 40 returned, then 50 more granted: 60 of 100 charged.
        assert_eq!((granted, quotas[0].remaining), (50, 40));
        let row = &usage(&mut store, T0)[0];
        assert_eq!((row.forwarded, row.items, row.distinct_items), (10, 10, 10));
        let last = Report { id: "iso/k#2".into(), charge: c, granted_at: T0, granted: 50, used: 0, deliveries: Deliveries::default(), items: None, ids: None };
        assert_eq!(run(&mut store, Command::Settle { reports: vec![last] }, T0), Reply::Done);
        assert_eq!(usage(&mut store, T0)[0].forwarded, 10);
        // The first report, sent again after an answer that was lost, changes nothing.
        assert_eq!(run(&mut store, Command::Settle { reports: vec![report] }, T0), Reply::Done);
        let row = &usage(&mut store, T0)[0];
        assert_eq!((row.forwarded, row.items), (10, 10));
        // The ids are kept for an hour, then pruned.
        assert_eq!(store.settled.len(), 2);
        housekeep(&mut store, T0.plus_millis(retention::SETTLEMENT_MS + 1)).unwrap();
        assert!(store.settled.is_empty());
        let key = crate::domain::throttle::counter_key::CounterKey::of(&limit(Scope::App, 100), &id("a1"), None).unwrap();
        assert_eq!(store.count(&key, T0.0).unwrap(), 10);
    }

    #[test]
    fn under_a_monthly_cap_a_lease_takes_a_slice_and_its_report_leaves_the_distinct_items() {
        let mut store = MemoryStore::default();
        let mut c = charge("a1", 1, vec![limit(Scope::App, 1_000)]);
        c.monthly_item_cap = Some(300);
        let lease = |store: &mut MemoryStore, reports: Vec<Report>| match run(store, Command::Lease { charge: c.clone(), want: 50, reports }, T0) {
            Reply::Verdict(v) => v,
            other => panic!("{other:?}"),
        };
        let Verdict::Allow { granted, items: Some(slice), .. } = lease(&mut store, vec![]) else { panic!() };
        assert_eq!((granted, slice.items), (50, 300), "the slice is what is left of the cap");
        assert!(matches!(lease(&mut store, vec![]), Verdict::UsageCapped { .. }), "the slice counts until it is given back");
        // 200 requests of the lease delivered the same item 300 times, and one new one.
        let mut ids = vec!["7".to_owned(); 300];
        ids.push("8".into());
        let report = Report {
            id: "iso/k#1".into(),
            charge: c.clone(),
            granted_at: T0,
            granted: 50,
            used: 50,
            deliveries: Deliveries { items: 301, ids, untracked: 0, bytes: 3_010, returned: vec![] },
            items: Some(slice),
            ids: None,
        };
        let Verdict::Allow { items: Some(next), .. } = lease(&mut store, vec![report.clone()]) else { panic!() };
        // The month holds the 2 distinct items, so 298 are left for the next slice.
        assert_eq!(next.items, 298);
        // Sent again after a lost answer, the report changes nothing.
        run(&mut store, Command::Settle { reports: vec![report] }, T0);
        assert_eq!(store.month_items(Month::of(T0)).unwrap(), 300);
        let row = &usage(&mut store, T0)[0];
        assert_eq!((row.forwarded, row.items, row.distinct_items), (50, 301, 2));
    }

    #[test]
    fn for_a_recipient_a_lease_takes_a_slice_of_the_entitys_ids_and_its_report_returns_what_went_unused() {
        let mut store = MemoryStore::default();
        let mut c = charge("relay", 1, vec![limit(Scope::Recipient, 1_000)]);
        c.recipient = Some(RecipientCharge { recipient: id("nw-east"), entity: id("northwind"), ids_cap_30d: 250 });
        let mut west = c.clone();
        west.recipient = Some(RecipientCharge { recipient: id("nw-west"), entity: id("northwind"), ids_cap_30d: 250 });
        let lease = |store: &mut MemoryStore, c: &Charge, reports: Vec<Report>| match run(store, Command::Lease { charge: c.clone(), want: 50, reports }, T0) {
            Reply::Verdict(v) => v,
            other => panic!("{other:?}"),
        };
        let Verdict::Allow { allowance: Some(slice), .. } = lease(&mut store, &c, vec![]) else { panic!() };
        assert_eq!(slice.ids, 250, "never more than the cap");
        // A related party shares the entity's 30 days: nothing left while the slice is held.
        assert!(matches!(lease(&mut store, &west, vec![]), Verdict::RedistributionCapped { .. }));
        // The lease reserved 200 for requests; one response used 60 of its 100 and gave back 40
        // after the lease had closed.
        let report = Report {
            id: "iso/k#1".into(),
            charge: c.clone(),
            granted_at: T0,
            granted: 50,
            used: 2,
            deliveries: Deliveries { items: 160, untracked: 160, returned: vec![Allowance { ids: 40, ..slice.clone() }], ..Deliveries::default() },
            items: None,
            ids: Some(Allowance { ids: 50, ..slice.clone() }),
        };
        let Verdict::Allow { allowance: Some(next), .. } = lease(&mut store, &west, vec![report.clone()]) else { panic!() };
        assert_eq!(next.ids, 90, "250 - 160 delivered");
        run(&mut store, Command::Settle { reports: vec![report] }, T0);
        assert_eq!(store.entity_ids(&id("northwind"), Day::of(T0).minus(29), Day::of(T0)).unwrap(), 250);
        let row = &usage(&mut store, T0)[0];
        assert_eq!((row.recipient.as_str(), row.forwarded, row.items), ("nw-east", 2, 160));
    }

    #[test]
    fn a_lease_refusal_is_ledgered_and_audited_without_a_recipient() {
        let mut store = MemoryStore::default();
        let c = charge("a1", 1, vec![limit(Scope::App, 1)]);
        verdict(&mut store, &c, T0);
        let Reply::Verdict(v) = run(&mut store, Command::Lease { charge: c, want: 50, reports: vec![] }, T0) else { panic!() };
        assert!(matches!(v, Verdict::RateLimited { .. }));
        assert_eq!(usage(&mut store, T0)[0].refused.get("rate-limit-exceeded"), Some(&1));
    }

    #[test]
    fn two_tokens_at_their_own_limit_record_one_pooling_event() {
        let mut store = MemoryStore::default();
        let limits = vec![limit(Scope::App, 2), limit(Scope::Account, 5)];
        for (app, token) in [("a1", 1), ("a1", 1), ("a2", 2), ("a2", 2), ("a1", 1)] {
            verdict(&mut store, &charge(app, token, limits.clone()), T0);
        }
        let Reply::Report(report) = run(&mut store, Command::Report, T0) else { panic!() };
        assert_eq!(report.events.len(), 1, "{:?}", report.events);
        assert_eq!(report.events[0].kind, "pooling");
        assert_eq!(report.events[0].evidence["tokens_at_limit"], 2);
        assert_eq!(report.events[0].evidence["by_app"], serde_json::json!([["a1", 2], ["a2", 2]]));
        let Reply::Audit { entries, next } = run(&mut store, Command::AuditExport { after: 0, limit: 100 }, T0) else { panic!() };
        assert_eq!((entries.iter().filter(|e| e.kind == "pooling").count(), next), (1, None));
    }

    #[test]
    fn pooling_and_resale_are_seen_in_lease_mode_too() {
        let mut store = MemoryStore::default();
        let limits = vec![limit(Scope::App, 10), limit(Scope::Account, 100)];
        let mut noticed = Vec::new();
        // Eight tokens, each taking a lease up to its own limit of 10, from clients of its own.
        for (i, token) in (1..=8u8).enumerate() {
            let mut c = charge(&format!("app{i}"), token, limits.clone());
            c.fingerprint = Some(Fingerprint::new(Some(&format!("198.51.{i}.1")), None, Some("c")));
            let Reply::Verdict(Verdict::Allow { granted, .. }) = run(&mut store, Command::Lease { charge: c.clone(), want: 50, reports: vec![] }, T0) else {
                panic!()
            };
            assert_eq!(granted, 10);
            noticed.extend(handle(&mut store, Command::Lease { charge: c, want: 50, reports: vec![] }, T0).unwrap().notices);
        }
        let Reply::Report(report) = run(&mut store, Command::Report, T0) else { panic!() };
        let pooling: Vec<_> = report.events.iter().filter(|e| e.kind == "pooling").collect();
        // Recorded once for the group and window, when the second token reached its limit.
        assert_eq!(pooling.len(), 1, "{:?}", report.events);
        assert_eq!(pooling[0].evidence["tokens_at_limit"], 2);
        // One token leased by ten clients in a day is a resale event, as for requests.
        for i in 0..10 {
            let mut c = charge("shared", 9, vec![limit(Scope::App, 1_000)]);
            c.fingerprint = Some(Fingerprint::new(Some(&format!("203.0.{i}.9")), None, Some("c")));
            noticed.extend(handle(&mut store, Command::Lease { charge: c, want: 50, reports: vec![] }, T0).unwrap().notices);
        }
        assert_eq!(noticed, vec![Notice::ResaleDetected { app: id("shared"), day: Day::of(T0) }]);
    }

    #[test]
    fn ten_clients_of_one_token_in_a_day_are_one_resale_event() {
        let mut store = MemoryStore::default();
        let mut noticed = Vec::new();
        for i in 0..12 {
            let mut c = charge("a1", 1, vec![]);
            c.fingerprint = Some(Fingerprint::new(Some(&format!("203.0.{i}.7")), Some(64_500), Some("client/1.0")));
            noticed.extend(handle(&mut store, Command::Charge(c), T0).unwrap().notices);
        }
        assert_eq!(noticed, vec![Notice::ResaleDetected { app: id("a1"), day: Day::of(T0) }]);
        let Reply::Report(report) = run(&mut store, Command::Report, T0) else { panic!() };
        assert_eq!(report.events[0].kind, "resale");
        assert_eq!(report.events[0].evidence["distinct_clients"], 10);
        assert_eq!(report.events[0].evidence["clients"].as_array().unwrap().len(), 10);
    }

    #[test]
    fn edge_refusals_are_ledgered_under_their_group_or_a_dash() {
        let mut store = MemoryStore::default();
        let refused = |group: Option<Id>, reason: &str| Command::Refused { app: id("a1"), group, recipient: "x".repeat(3), reason: reason.into() };
        run(&mut store, refused(Some(id("search")), "recipient-unknown"), T0);
        run(&mut store, refused(None, "endpoint-not-in-plan"), T0);
        let rows = usage(&mut store, T0);
        assert_eq!(rows.iter().map(|r| (r.group.as_str(), r.recipient.as_str())).collect::<Vec<_>>(), [("-", "xxx"), ("search", "xxx")]);
        assert_eq!(rows[0].refused.get("endpoint-not-in-plan"), Some(&1));
    }

    #[test]
    fn admin_changes_are_chained_and_a_changed_entry_is_found() {
        let mut store = MemoryStore::default();
        for change in [AdminChange::PlanWritten, AdminChange::TokenIssued, AdminChange::AccountSuspended] {
            run(&mut store, Command::Audit { change, detail: serde_json::json!({ "by": "test" }), actor: None }, T0);
        }
        run(&mut store, Command::RegisterApp { token_hash: hash(1), app: id("a1"), status: AppStatus::Active }, T0);
        let Reply::Verified(v) = run(&mut store, Command::AuditVerify { full: false }, T0) else { panic!() };
        assert_eq!((v["ok"].as_bool(), v["entries"].as_u64()), (Some(true), Some(3)));
        store.audit[1].detail = r#"{"by":"someone else"}"#.into();
        let Reply::Verified(v) = run(&mut store, Command::AuditVerify { full: true }, T0) else { panic!() };
        assert_eq!((v["ok"].as_bool(), v["first_break"]["seq"].as_u64()), (Some(false), Some(2)));
        let Reply::Report(report) = run(&mut store, Command::Report, T0) else { panic!() };
        assert_eq!((report.apps.len(), report.apps[0].status.as_str(), report.audit_entries), (1, "active", 3));
    }

    #[test]
    fn verification_continues_from_its_checkpoint() {
        let mut store = MemoryStore::default();
        let audit = |change| Command::Audit { change, detail: serde_json::json!({}), actor: None };
        for _ in 0..3 {
            run(&mut store, audit(AdminChange::PlanWritten), T0);
        }
        let Reply::Verified(v) = run(&mut store, Command::AuditVerify { full: false }, T0) else { panic!() };
        assert_eq!((v["checked"].as_u64(), v["from_seq"].as_u64()), (Some(3), Some(0)));
        run(&mut store, audit(AdminChange::AccountWritten), T0);
        let Reply::Verified(v) = run(&mut store, Command::AuditVerify { full: false }, T0) else { panic!() };
        assert_eq!((v["ok"].as_bool(), v["checked"].as_u64(), v["from_seq"].as_u64(), v["entries"].as_u64()), (Some(true), Some(1), Some(3), Some(4)));
        // A new entry that does not follow the checkpoint is caught without walking the rest.
        run(&mut store, audit(AdminChange::AccountWritten), T0);
        store.audit[4].prev_hash = "0".repeat(64);
        let Reply::Verified(v) = run(&mut store, Command::AuditVerify { full: false }, T0) else { panic!() };
        assert_eq!((v["ok"].as_bool(), v["first_break"]["seq"].as_u64(), v["checked"].as_u64()), (Some(false), Some(5), Some(0)));
    }

    #[test]
    fn export_is_paged() {
        let mut store = MemoryStore::default();
        for _ in 0..5 {
            run(&mut store, Command::Audit { change: AdminChange::PlanWritten, detail: serde_json::json!({}), actor: None }, T0);
        }
        let page = |after| match run(&mut store_clone(&store), Command::AuditExport { after, limit: 2 }, T0) {
            Reply::Audit { entries, next } => (entries.iter().map(|e| e.seq).collect::<Vec<_>>(), next),
            other => panic!("{other:?}"),
        };
        assert_eq!(page(0), (vec![1, 2], Some(2)));
        assert_eq!(page(2), (vec![3, 4], Some(4)));
        assert_eq!(page(4), (vec![5], None));
    }

    fn store_clone(store: &MemoryStore) -> MemoryStore {
        MemoryStore { audit: store.audit.clone(), ..MemoryStore::default() }
    }

    #[test]
    fn a_finished_day_is_sealed_once_and_a_changed_row_breaks_its_seal() {
        let mut store = MemoryStore::default();
        let c = charge("a1", 1, vec![limit(Scope::App, 2)]);
        for _ in 0..3 {
            verdict(&mut store, &c, T0);
        }
        run(&mut store, delivered("a1", &["1", "2"], 0), T0);
        // The same day: nothing to seal yet.
        assert_eq!(housekeep(&mut store, T0).unwrap().sealed, Vec::<String>::new());
        let tomorrow = T0.plus_millis(DAY);
        let done = housekeep(&mut store, tomorrow).unwrap();
        assert_eq!(done.sealed, vec![Day::of(T0).label()]);
        assert_eq!(housekeep(&mut store, tomorrow).unwrap().sealed, Vec::<String>::new(), "sealed twice");
        let Reply::Audit { entries, .. } = run(&mut store, Command::AuditExport { after: 0, limit: 10 }, tomorrow) else { panic!() };
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].kind, "seal");
        let sealed: Seal = serde_json::from_str(&entries[0].detail).unwrap();
        assert_eq!((sealed.day_number, sealed.rows), (Day::of(T0).0, 1));
        let Reply::Verified(v) = run(&mut store, Command::AuditVerify { full: true }, tomorrow) else { panic!() };
        assert_eq!(v["ok"].as_bool(), Some(true), "{v}");
        // Someone lowers yesterday's forwarded count behind the guard's back.
        store.ledger.values_mut().next().unwrap()[0] = 1;
        let Reply::Verified(v) = run(&mut store, Command::AuditVerify { full: true }, tomorrow) else { panic!() };
        assert_eq!(v["first_break"]["reason"].as_str(), Some("the day's ledger rows do not match their seal"));
        assert_eq!(v["first_break"]["day"].as_str(), Some(Day::of(T0).label().as_str()));
    }

    #[test]
    fn housekeeping_prunes_by_retention_in_bounded_batches() {
        let mut store = MemoryStore::default();
        let old = T0;
        run(&mut store, delivered("a1", &["1", "2", "3"], 0), old);
        let mut c = charge("a1", 1, vec![]);
        c.fingerprint = Some(Fingerprint::new(Some("203.0.113.7"), None, None));
        verdict(&mut store, &c, old);
        for i in 0..(PRUNE_BATCH + 10) {
            store.seen.insert((Day::of(old).0, format!("x{i}")));
        }
        // Three days on: yesterday's and older ids go, fingerprints (7 days) stay.
        let later = old.plus_millis(3 * DAY);
        let first = housekeep(&mut store, later).unwrap();
        assert!(first.more, "a full batch leaves more to do");
        let second = housekeep(&mut store, later).unwrap();
        assert!(!second.more);
        assert!(store.seen.is_empty());
        assert_eq!(store.fingerprints.len(), 1);
        // Eight days on, the fingerprint goes; the ledger (two years) stays.
        housekeep(&mut store, old.plus_millis(8 * DAY)).unwrap();
        assert!(store.fingerprints.is_empty());
        assert_eq!(usage(&mut store, old).len(), 1);
        housekeep(&mut store, old.plus_millis((retention::LEDGER_DAYS + 1) * DAY)).unwrap();
        assert!(usage(&mut store, old).is_empty());
    }

    #[test]
    fn a_statement_reads_the_rows_the_seals_of_its_days_and_the_head() {
        let mut store = MemoryStore::default();
        let c = charge("a1", 1, vec![limit(Scope::App, 10)]);
        verdict(&mut store, &c, T0);
        run(&mut store, delivered("a1", &["1", "2"], 0), T0);
        let tomorrow = T0.plus_millis(DAY);
        verdict(&mut store, &c, tomorrow);
        housekeep(&mut store, tomorrow).unwrap();
        let (first, second) = (Day::of(T0), Day::of(tomorrow));
        let Reply::Statement(figures) = run(&mut store, Command::Statement { from: first, to: second }, tomorrow) else { panic!() };
        assert_eq!(figures.rows.len(), 2);
        assert_eq!(figures.seals.len(), 1, "the first day is sealed, the second not yet");
        assert_eq!(figures.head.as_ref().map(|e| e.seq), Some(1));
        assert_eq!(figures.sealed_through, Some(first));
        // Outside the range: no rows, no seals, the same head.
        let Reply::Statement(none) = run(&mut store, Command::Statement { from: second.minus(10), to: first.minus(1) }, tomorrow) else { panic!() };
        assert_eq!((none.rows.len(), none.seals.len(), none.head.map(|e| e.seq)), (0, 0, Some(1)));
    }

    #[test]
    fn own_usage_has_its_own_window_and_leaves_no_ledger_line() {
        use crate::domain::billing::own_usage::{self, Answer};
        let mut store = MemoryStore::default();
        run(&mut store, delivered("a1", &["1", "2", "3"], 0), T0);
        run(&mut store, delivered("a2", &["3", "4"], 0), T0);
        let ask = |store: &mut MemoryStore, query: &str| {
            let command = Command::OwnUsage { charge: own_usage::charge(id("a1"), hash(1)), account: id("acme"), query: Some(query.into()), cap: Some(9) };
            let Reply::OwnUsage(answer) = run(store, command, T0) else { panic!() };
            answer
        };
        assert_eq!(ask(&mut store, "days=200"), Answer::BadQuery);
        let Answer::Usage { quotas, body } = ask(&mut store, "usage.fields=daily_client_app_usage,project_usage,project_cap") else { panic!() };
        assert_eq!((quotas[0].limit, quotas[0].remaining), (own_usage::REQUESTS_PER_WINDOW, own_usage::REQUESTS_PER_WINDOW - 1));
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        // "3" went to a1 first: a2's delivery had one new item.
        assert_eq!((body["data"]["project_usage"].as_str(), body["data"]["project_cap"].as_str()), (Some("4"), Some("9")));
        assert_eq!(body["data"]["daily_client_app_usage"][1]["usage"][6]["usage"], "1");
        for _ in 1..own_usage::REQUESTS_PER_WINDOW {
            ask(&mut store, "");
        }
        assert!(matches!(ask(&mut store, ""), Answer::Refused(Verdict::RateLimited { .. })));
        let rows = usage(&mut store, T0);
        assert_eq!(rows.iter().map(|r| r.forwarded + r.refused.values().sum::<u64>()).sum::<u64>(), 0, "{rows:?}");
    }

    #[test]
    fn billing_events_cover_sealed_days_only_and_the_export_mark_moves_forward() {
        let mut store = MemoryStore::default();
        let c = charge("a1", 1, vec![limit(Scope::App, 10)]);
        verdict(&mut store, &c, T0);
        run(&mut store, delivered("a1", &["1", "2"], 0), T0);
        run(&mut store, delivered("a2", &["3"], 0), T0);
        let events = |store: &mut MemoryStore, command: Command, now: UnixMillis| match run(store, command, now) {
            Reply::UsageEvents { events, next, more } => (events, next, more),
            other => panic!("{other:?}"),
        };
        let acme = || id("acme");
        // Today is not sealed: nothing yet.
        let (none, _, _) = events(&mut store, Command::UsageEvents { account: acme(), after: None, limit: 10 }, T0);
        assert!(none.is_empty());
        let tomorrow = T0.plus_millis(DAY);
        housekeep(&mut store, tomorrow).unwrap();
        let (page, next, more) = events(&mut store, Command::UsageEvents { account: acme(), after: None, limit: 1 }, tomorrow);
        assert_eq!((page.len(), more), (1, true));
        assert_eq!((page[0].account.as_str(), page[0].app.as_str(), page[0].requests, page[0].distinct_items), ("acme", "a1", 1, 2));
        assert_eq!(page[0].seal_seq, Some(1), "each event names its day's seal");
        let (rest, _, more) = events(&mut store, Command::UsageEvents { account: acme(), after: next, limit: 10 }, tomorrow);
        assert_eq!((rest.len(), rest[0].app.as_str(), more), (1, "a2", false));
        // The export: all due, then marked, then none due; the mark never goes back.
        let (due, next, _) = events(&mut store, Command::ExportDue { account: acme(), limit: 10 }, tomorrow);
        assert_eq!(due.len(), 2);
        run(&mut store, Command::Exported { through: next.clone().unwrap() }, tomorrow);
        let (due, _, _) = events(&mut store, Command::ExportDue { account: acme(), limit: 10 }, tomorrow);
        assert!(due.is_empty());
        run(&mut store, Command::Exported { through: page[0].cursor() }, tomorrow);
        assert_eq!(store.exported_through, next);
    }

    #[test]
    fn the_rollup_sums_this_month_only() {
        let mut store = MemoryStore::default();
        let c = charge("a1", 1, vec![limit(Scope::App, 1)]);
        verdict(&mut store, &c, T0);
        verdict(&mut store, &c, T0); // refused: the app's 1 per window
        run(&mut store, delivered("a1", &["1", "2"], 0), T0);
        let next_month = Month::of(T0).next().start();
        run(&mut store, delivered("a1", &["9"], 0), next_month);
        let Reply::Rollup(f) = run(&mut store, Command::Rollup, T0) else { panic!() };
        assert_eq!((f.month.as_str(), f.requests, f.items, f.distinct_items, f.refused), (Month::of(T0).key().as_str(), 1, 2, 2, 1));
        assert_eq!(f.requests_by_group.get("search"), Some(&1));
        let Reply::Rollup(f) = run(&mut store, Command::Rollup, next_month) else { panic!() };
        assert_eq!((f.requests, f.distinct_items, f.refused), (0, 1, 0));
    }

    #[test]
    fn a_failing_store_is_a_typed_error() {
        let mut store = MemoryStore { failing: Some("disk full".into()), ..MemoryStore::default() };
        for command in [Command::Charge(charge("a1", 1, vec![limit(Scope::App, 2)])), delivered("a1", &["1"], 0), Command::Report] {
            assert_eq!(handle(&mut store, command, T0), Err(StoreError("disk full".into())));
        }
    }

    #[test]
    fn the_roles_record_and_admin_keys_are_kept_with_their_audit_entries() {
        use crate::domain::admin::role::Role;
        let mut store = MemoryStore::default();
        let ann = crate::domain::record::audit::Actor { id: "ann@example.com".into(), role: "owner".into(), via: "access".into() };
        assert_eq!(run(&mut store, Command::Roles, T0), Reply::Roles(RolesRecord::default()));
        let record: RolesRecord = decode(r#"{"v":1,"identities":[{"email":"bob@example.com","role":"auditor"}]}"#).unwrap();
        run(&mut store, Command::PutRoles { record: record.clone(), actor: ann.clone() }, T0);
        assert_eq!(run(&mut store, Command::Roles, T0), Reply::Roles(record));
        let key = KeyRecord {
            id: "k-1".into(), owner: "ci".into(), role: Role::Operator, expires_at: 2_000_000_000, created_at: 1_800_000_000,
            created_by: ann.id.clone(), revoked_at: None,
        };
        run(&mut store, Command::IssueKey { hash: "ab".repeat(32), key: key.clone(), actor: ann.clone() }, T0);
        assert_eq!(run(&mut store, Command::FindKey { hash: "ab".repeat(32) }, T0), Reply::Key(Some(key.clone())));
        assert_eq!(run(&mut store, Command::FindKey { hash: "cd".repeat(32) }, T0), Reply::Key(None));
        let revoke = |store: &mut MemoryStore, at| run(store, Command::RevokeKey { id: "k-1".into(), at, actor: ann.clone() }, T0);
        assert_eq!(revoke(&mut store, 1_800_000_100), Reply::Key(Some(KeyRecord { revoked_at: Some(1_800_000_100), ..key.clone() })));
        // Revoking again keeps the first time and adds no entry.
        assert_eq!(revoke(&mut store, 1_800_000_200), Reply::Key(Some(KeyRecord { revoked_at: Some(1_800_000_100), ..key })));
        assert_eq!(run(&mut store, Command::RevokeKey { id: "k-2".into(), at: 1, actor: ann.clone() }, T0), Reply::Key(None));
        let kinds: Vec<_> = store.audit.iter().map(|e| (e.kind.as_str(), e.actor.as_ref().map(|a| a.id.as_str()))).collect();
        assert_eq!(kinds, [
            ("admin:roles_written", Some("ann@example.com")),
            ("admin:key_issued", Some("ann@example.com")),
            ("admin:key_revoked", Some("ann@example.com")),
        ]);
        assert!(!store.audit.iter().any(|e| e.detail.contains(&"ab".repeat(32))), "a key's hash reached the trail");
        // A stored record that no longer decodes is an error, not an empty record.
        store.roles = Some("{\"v\":1,\"identities\":[{\"role\":\"owner\"}]}".into());
        assert!(handle(&mut store, Command::Roles, T0).is_err());
    }
}
