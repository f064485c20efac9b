//! What the guard keeps, as small storage ports. The Durable Object implements them on its
//! SQLite (`edge/guard/sql`); the host tests use `guard::memory`. Every port answers
//! [`StoreError`] when its storage fails.

use serde::{Deserialize, Serialize};

use crate::domain::access::entitlement::AppStatus;
use crate::domain::access::id::Id;
use crate::domain::access::token::TokenHash;
use crate::domain::admin::key::KeyRecord;
use crate::domain::record::audit::{Actor, AuditKind, Entry};
use crate::domain::billing::export::{Cursor, UsageEvent};
use crate::domain::billing::fleet::MonthFigures;
use crate::domain::billing::own_usage::AppDay;
use crate::domain::record::ledger::Row;
use crate::domain::record::retention::Kept;
use crate::domain::redistribution::fingerprint::Fingerprint;
use crate::domain::throttle::hold::Holds;
use crate::domain::throttle::lease::Deliveries;
pub use crate::domain::throttle::store::{CounterStore, StoreError};
use crate::domain::time::clock::UnixMillis;
use crate::domain::time::day::Day;

/// Where a ledger count goes: one day, app, endpoint group and recipient. `group` is `-` for a
/// request that matched no endpoint; `recipient` is empty when none was named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    pub day: Day,
    pub app: &'a str,
    pub group: &'a str,
    pub recipient: &'a str,
}

/// A token in the account's index, as the admin API lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppEntry {
    pub token_sha256: String,
    pub app: String,
    pub status: String,
    pub updated_at: i64,
}

/// A detection event: `pooling` or `resale`, with its evidence as JSON text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRow {
    pub id: i64,
    pub at: i64,
    pub kind: String,
    pub evidence: String,
}

/// The detection events the guard records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Pooling,
    Resale,
}

impl EventKind {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pooling => "pooling",
            Self::Resale => "resale",
        }
    }
}

/// A client seen using a token on a day (no full address is kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenClient {
    pub prefix: String,
    pub asn: Option<i64>,
    pub agent: String,
}

/// Revocations, the account's suspension, and the index of its tokens.
pub trait Tokens {
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn is_revoked(&self, token: &TokenHash) -> Result<bool, StoreError>;
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn is_suspended(&self) -> Result<bool, StoreError>;
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn revoke(&mut self, token: &TokenHash, now: UnixMillis) -> Result<(), StoreError>;
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn set_suspended(&mut self, suspended: bool) -> Result<(), StoreError>;
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn register_app(&mut self, token: &TokenHash, app: &Id, status: AppStatus, now: UnixMillis) -> Result<(), StoreError>;
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn apps(&self) -> Result<Vec<AppEntry>, StoreError>;
}

/// The usage ledger.
pub trait Ledger {
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn count_forwarded(&mut self, line: &Line<'_>, n: u64) -> Result<(), StoreError>;
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn count_refused(&mut self, line: &Line<'_>, reason: &str) -> Result<(), StoreError>;
    /// Records what was delivered; returns how many of its items are new to the account that
    /// day (ids not sent count as new: usage is never undercounted).
    ///
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn count_delivered(&mut self, line: &Line<'_>, delivered: &Deliveries) -> Result<u64, StoreError>;
    /// The rows of the days `from..=to`, in order of day, app, group and recipient.
    ///
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn usage(&self, from: Day, to: Day) -> Result<Vec<Row>, StoreError>;
    /// Up to `limit` days after `after` (all, for `None`) and before `before` that have ledger
    /// rows, in order.
    ///
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn days_with_rows(&self, after: Option<Day>, before: Day, limit: u64) -> Result<Vec<Day>, StoreError>;
    /// Each app's distinct items per day of `from..=to` (days and apps with none left out), in
    /// order of day and app.
    ///
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn distinct_by_app_and_day(&self, from: Day, to: Day) -> Result<Vec<AppDay>, StoreError>;
    /// Up to `limit` billable lines (requests forwarded or distinct items delivered) per day,
    /// app and group, summed over recipients, after `after` and through `through`, in order of
    /// day, app and group. `account` and the seal are left for the caller.
    ///
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn billable(&self, after: Option<&Cursor>, through: Day, limit: u64) -> Result<Vec<UsageEvent>, StoreError>;
    /// The sums of the days `from..=to`: requests (and per group), items, distinct items and
    /// refusals. `month`, `events` and `suspended` are left for the caller.
    ///
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn month_figures(&self, from: Day, to: Day) -> Result<MonthFigures, StoreError>;
}

/// The audit hash chain.
pub trait AuditLog {
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn append_audit(&mut self, now: UnixMillis, kind: AuditKind, detail: &str, actor: Option<&Actor>) -> Result<Entry, StoreError>;
    /// Up to `limit` entries after `seq` `after`, in order.
    ///
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn audit_page(&self, after: u64, limit: u64) -> Result<Vec<Entry>, StoreError>;
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn audit_len(&self) -> Result<u64, StoreError>;
    /// The seal entries of the days `from..=to`, in order.
    ///
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn seals(&self, from: Day, to: Day) -> Result<Vec<Entry>, StoreError>;
}

/// Detection events, each recorded once under its dedupe key.
pub trait Events {
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn record_event(&mut self, now: UnixMillis, kind: EventKind, dedupe: &str, evidence: &str) -> Result<(), StoreError>;
    /// The newest 100, newest first.
    ///
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn events(&self) -> Result<Vec<EventRow>, StoreError>;
}

/// The distinct clients of each token per day.
pub trait Fingerprints {
    /// Notes a client of an app on a day; the day's distinct clients when it is new, `None`
    /// when it was known.
    ///
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn record_fingerprint(&mut self, app: &Id, day: Day, fp: &Fingerprint) -> Result<Option<u64>, StoreError>;
    /// Up to 50 of the day's clients.
    ///
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn clients(&self, app: &Id, day: Day) -> Result<Vec<SeenClient>, StoreError>;
}

/// The guard's own bookkeeping: the last day sealed, and the last entry verified.
pub trait Marks {
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn sealed_through(&self) -> Result<Option<Day>, StoreError>;
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn set_sealed_through(&mut self, day: Day) -> Result<(), StoreError>;
    /// The `seq` and hash of the last entry a verification accepted.
    ///
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn verified(&self) -> Result<Option<(u64, String)>, StoreError>;
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn set_verified(&mut self, seq: u64, hash: &str) -> Result<(), StoreError>;
    /// Where the billing export has got to.
    ///
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn exported_through(&self) -> Result<Option<Cursor>, StoreError>;
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn set_exported_through(&mut self, cursor: &Cursor) -> Result<(), StoreError>;
}

/// The ids of the lease reports settled, so a report sent again is not counted twice.
pub trait Settlements {
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn is_settled(&self, id: &str) -> Result<bool, StoreError>;
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn mark_settled(&mut self, id: &str, now: UnixMillis) -> Result<(), StoreError>;
}

/// The streams open on the account: one row each, with its holds (`throttle::hold`) and the
/// time its heartbeat keeps it until. A stream's reports renew it; its last report, or its stop,
/// closes it; a row whose time ran out belongs to a stream that died without a word.
pub trait Streams {
    /// Notes a stream that opens; returns its number.
    ///
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn open_stream(&mut self, app: &Id, group: &Id, holds: Holds, until: UnixMillis) -> Result<u64, StoreError>;
    /// A stream's holds; `None` once it is closed or gone.
    ///
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn stream_holds(&self, stream: u64) -> Result<Option<Holds>, StoreError>;
    /// Writes a stream's holds and time (writing it again if it was gone).
    ///
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn keep_stream(&mut self, stream: u64, app: &Id, group: &Id, holds: Holds, until: UnixMillis) -> Result<(), StoreError>;
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn close_stream(&mut self, stream: u64) -> Result<(), StoreError>;
    /// Streams of an endpoint group open at `now` (their time not run out), of one app or of
    /// the whole account.
    ///
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn open_streams(&self, group: &Id, app: Option<&Id>, now: UnixMillis) -> Result<u64, StoreError>;
}

/// Deleting what has outlived its retention (`record::retention`), a bounded batch at a time.
pub trait Retention {
    /// Deletes up to `limit` rows of `what` from before `before`; returns how many went.
    ///
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn prune(&mut self, what: Kept, before: u64, limit: u64) -> Result<u64, StoreError>;
}

/// Who is an admin: the roles record and the admin keys. Only the admin guard (the one that
/// keeps the admin log) holds any; every other guard's are empty.
pub trait Directory {
    /// The roles record as stored (JSON), `None` before the first is written.
    ///
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn roles(&self) -> Result<Option<String>, StoreError>;
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn set_roles(&mut self, text: &str) -> Result<(), StoreError>;
    /// The key whose SHA-256 is `hash`.
    ///
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn admin_key(&self, hash: &str) -> Result<Option<KeyRecord>, StoreError>;
    /// Every key, revoked and expired ones included, oldest first.
    ///
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn admin_keys(&self) -> Result<Vec<KeyRecord>, StoreError>;
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn add_admin_key(&mut self, hash: &str, key: &KeyRecord) -> Result<(), StoreError>;
    /// Replaces the key with the same id.
    ///
    /// # Errors
    /// [`StoreError`] when the storage fails.
    fn update_admin_key(&mut self, key: &KeyRecord) -> Result<(), StoreError>;
}

/// Everything a guard keeps.
pub trait GuardStore: CounterStore + Tokens + Ledger + AuditLog + Events + Fingerprints + Marks + Settlements + Streams + Retention + Directory {}

impl<T: CounterStore + Tokens + Ledger + AuditLog + Events + Fingerprints + Marks + Settlements + Streams + Retention + Directory> GuardStore for T {}
