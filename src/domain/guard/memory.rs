//! The guard's storage in memory: the double the host tests (and the fuzz targets, through the
//! `test-doubles` feature) run the guard against. It can be told to fail, to show that a storage
//! failure reaches the caller as a typed error.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::domain::access::entitlement::AppStatus;
use crate::domain::access::id::Id;
use crate::domain::access::token::TokenHash;
use crate::domain::billing::export::{Cursor, UsageEvent};
use crate::domain::billing::fleet::MonthFigures;
use crate::domain::billing::own_usage::AppDay;
use crate::domain::guard::ports::{
    AppEntry, AuditLog, Directory, EventKind, EventRow, Events, Fingerprints, Ledger, Line, Marks, Retention, SeenClient, Settlements, Streams, Tokens,
};
use crate::domain::record::retention::Kept;
use crate::domain::admin::key::KeyRecord;
use crate::domain::record::audit::{self, Actor, AuditKind, Entry};
use crate::domain::record::ledger::Row;
use crate::domain::redistribution::fingerprint::Fingerprint;
use crate::domain::throttle::counter_key::CounterKey;
use crate::domain::throttle::hold::Holds;
use crate::domain::throttle::lease::Deliveries;
use crate::domain::throttle::store::{CounterStore, StoreError};
use crate::domain::time::clock::UnixMillis;
use crate::domain::time::day::Day;
use crate::domain::time::month::Month;

type LineKey = (u64, String, String, String);

#[derive(Debug, Default)]
pub struct MemoryStore {
    /// Counter text → (window start, count).
    pub windows: HashMap<String, (u64, u64)>,
    /// `YYYY-MM` → distinct items.
    pub months: HashMap<String, u64>,
    /// (entity, day) → ids.
    pub entity_days: HashMap<(String, u64), i64>,
    pub revoked: BTreeSet<String>,
    pub suspended: bool,
    pub apps: BTreeMap<String, AppEntry>,
    /// Ledger lines: forwarded, items, distinct items, bytes.
    pub ledger: BTreeMap<LineKey, [u64; 4]>,
    pub refusals: BTreeMap<(LineKey, String), u64>,
    pub seen: HashSet<(u64, String)>,
    pub audit: Vec<Entry>,
    pub events: Vec<EventRow>,
    pub event_keys: HashSet<String>,
    pub fingerprints: BTreeMap<(String, u64, String), SeenClient>,
    pub sealed_through: Option<Day>,
    /// Settled report id → when (Unix ms).
    pub settled: HashMap<String, u64>,
    pub verified: Option<(u64, String)>,
    /// Open streams by number.
    pub streams: BTreeMap<u64, OpenStream>,
    pub roles: Option<String>,
    /// Admin keys: (hash, record), oldest first.
    pub admin_keys: Vec<(String, KeyRecord)>,
    pub exported_through: Option<Cursor>,
    /// When set, every call fails with this message.
    pub failing: Option<String>,
}

/// A stream's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenStream {
    pub app: String,
    pub group: String,
    pub holds: Holds,
    /// Unix ms.
    pub until: u64,
}

impl MemoryStore {
    fn check(&self) -> Result<(), StoreError> {
        match &self.failing {
            Some(why) => Err(StoreError(why.clone())),
            None => Ok(()),
        }
    }
}

fn line_key(line: &Line<'_>) -> LineKey {
    (line.day.0, line.app.to_owned(), line.group.to_owned(), line.recipient.to_owned())
}

impl CounterStore for MemoryStore {
    fn count(&self, key: &CounterKey, window_start: u64) -> Result<u64, StoreError> {
        self.check()?;
        Ok(match self.windows.get(&key.text()) {
            Some(&(start, n)) if start == window_start => n,
            _ => 0,
        })
    }

    fn add(&mut self, key: &CounterKey, window_start: u64, n: u64) -> Result<(), StoreError> {
        self.check()?;
        let entry = self.windows.entry(key.text()).or_insert((window_start, 0));
        if entry.0 != window_start {
            *entry = (window_start, 0);
        }
        entry.1 += n;
        Ok(())
    }

    fn take_back(&mut self, key: &CounterKey, window_start: u64, n: u64) -> Result<(), StoreError> {
        self.check()?;
        if let Some(entry) = self.windows.get_mut(&key.text()) {
            if entry.0 == window_start {
                entry.1 = entry.1.saturating_sub(n);
            }
        }
        Ok(())
    }

    fn family_counts(&self, key: &CounterKey, window_start: u64) -> Result<Vec<(String, u64)>, StoreError> {
        self.check()?;
        let family = key.family();
        let mut out: Vec<_> = self
            .windows
            .iter()
            .filter(|(k, (start, _))| k.starts_with(&family) && *start == window_start)
            .map(|(k, (_, n))| (k[family.len()..].to_owned(), *n))
            .collect();
        out.sort();
        Ok(out)
    }

    fn month_items(&self, month: Month) -> Result<u64, StoreError> {
        self.check()?;
        Ok(self.months.get(&month.key()).copied().unwrap_or(0))
    }

    fn add_month_items(&mut self, month: Month, delta: i64) -> Result<(), StoreError> {
        self.check()?;
        let total = self.months.entry(month.key()).or_insert(0);
        *total = total.saturating_add_signed(delta);
        Ok(())
    }

    fn entity_ids(&self, entity: &Id, from: Day, to: Day) -> Result<u64, StoreError> {
        self.check()?;
        let sum: i64 = (from.0..=to.0).map(|d| self.entity_days.get(&(entity.to_string(), d)).copied().unwrap_or(0)).sum();
        Ok(u64::try_from(sum).unwrap_or(0))
    }

    fn add_entity_ids(&mut self, entity: &Id, day: Day, delta: i64) -> Result<(), StoreError> {
        self.check()?;
        *self.entity_days.entry((entity.to_string(), day.0)).or_insert(0) += delta;
        Ok(())
    }
}

impl Tokens for MemoryStore {
    fn is_revoked(&self, token: &TokenHash) -> Result<bool, StoreError> {
        self.check()?;
        Ok(self.revoked.contains(token.as_str()))
    }

    fn is_suspended(&self) -> Result<bool, StoreError> {
        self.check()?;
        Ok(self.suspended)
    }

    fn revoke(&mut self, token: &TokenHash, _now: UnixMillis) -> Result<(), StoreError> {
        self.check()?;
        self.revoked.insert(token.as_str().to_owned());
        Ok(())
    }

    fn set_suspended(&mut self, suspended: bool) -> Result<(), StoreError> {
        self.check()?;
        self.suspended = suspended;
        Ok(())
    }

    fn register_app(&mut self, token: &TokenHash, app: &Id, status: AppStatus, now: UnixMillis) -> Result<(), StoreError> {
        self.check()?;
        let entry = AppEntry { token_sha256: token.as_str().to_owned(), app: app.to_string(), status: status.as_str().to_owned(), updated_at: i64::try_from(now.0).unwrap_or(i64::MAX) };
        self.apps.insert(token.as_str().to_owned(), entry);
        Ok(())
    }

    fn apps(&self) -> Result<Vec<AppEntry>, StoreError> {
        self.check()?;
        let mut out: Vec<AppEntry> = self.apps.values().cloned().collect();
        out.sort_by(|a, b| (&a.app, a.updated_at).cmp(&(&b.app, b.updated_at)));
        Ok(out)
    }
}

impl Ledger for MemoryStore {
    fn count_forwarded(&mut self, line: &Line<'_>, n: u64) -> Result<(), StoreError> {
        self.check()?;
        if n > 0 {
            self.ledger.entry(line_key(line)).or_default()[0] += n;
        }
        Ok(())
    }

    fn count_refused(&mut self, line: &Line<'_>, reason: &str) -> Result<(), StoreError> {
        self.check()?;
        *self.refusals.entry((line_key(line), reason.to_owned())).or_insert(0) += 1;
        Ok(())
    }

    fn count_delivered(&mut self, line: &Line<'_>, delivered: &Deliveries) -> Result<u64, StoreError> {
        self.check()?;
        // Only today and yesterday are kept, as in the Durable Object.
        let keep_from = line.day.0.saturating_sub(1);
        self.seen.retain(|(day, _)| *day >= keep_from);
        let new = delivered.ids.iter().filter(|id| self.seen.insert((line.day.0, (*id).clone()))).count() as u64;
        let distinct = new + delivered.untracked;
        let row = self.ledger.entry(line_key(line)).or_default();
        row[1] += delivered.items;
        row[2] += distinct;
        row[3] += delivered.bytes;
        Ok(distinct)
    }

    fn days_with_rows(&self, after: Option<Day>, before: Day, limit: u64) -> Result<Vec<Day>, StoreError> {
        self.check()?;
        let after = after.map_or(0, |d| d.0 + 1);
        let days: BTreeSet<u64> =
            self.ledger.keys().map(|k| k.0).chain(self.refusals.keys().map(|(k, _)| k.0)).filter(|d| (after..before.0).contains(d)).collect();
        Ok(days.into_iter().take(usize::try_from(limit).unwrap_or(usize::MAX)).map(Day).collect())
    }

    fn usage(&self, from: Day, to: Day) -> Result<Vec<Row>, StoreError> {
        self.check()?;
        let mut out: BTreeMap<LineKey, Row> = BTreeMap::new();
        let blank = |k: &LineKey| Row {
            day: Day(k.0).label(),
            app: k.1.clone(),
            group: k.2.clone(),
            recipient: k.3.clone(),
            forwarded: 0,
            refused: BTreeMap::new(),
            items: 0,
            distinct_items: 0,
            bytes: 0,
        };
        for (k, [forwarded, items, distinct, bytes]) in self.ledger.range((from.0, String::new(), String::new(), String::new())..) {
            if k.0 > to.0 {
                break;
            }
            let row = out.entry(k.clone()).or_insert_with(|| blank(k));
            row.forwarded = *forwarded;
            row.items = *items;
            row.distinct_items = *distinct;
            row.bytes = *bytes;
        }
        for ((k, reason), n) in &self.refusals {
            if (from.0..=to.0).contains(&k.0) {
                out.entry(k.clone()).or_insert_with(|| blank(k)).refused.insert(reason.clone(), *n);
            }
        }
        Ok(out.into_values().collect())
    }

    fn billable(&self, after: Option<&Cursor>, through: Day, limit: u64) -> Result<Vec<UsageEvent>, StoreError> {
        self.check()?;
        let mut sums: BTreeMap<Cursor, [u64; 3]> = BTreeMap::new();
        for ((day, app, group, _), counts) in &self.ledger {
            let at = Cursor { day: Day(*day), app: app.clone(), group: group.clone() };
            if *day <= through.0 && after.is_none_or(|a| at > *a) {
                let sum = sums.entry(at).or_default();
                sum[0] += counts[0];
                sum[1] += counts[1];
                sum[2] += counts[2];
            }
        }
        Ok(sums
            .into_iter()
            .filter(|(_, [requests, _, distinct])| *requests > 0 || *distinct > 0)
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .map(|(c, [requests, items, distinct_items])| UsageEvent {
                account: String::new(),
                app: c.app,
                group: c.group,
                day: c.day,
                requests,
                items,
                distinct_items,
                seal_seq: None,
                ledger_sha256: None,
                stripe_customer_id: None,
            })
            .collect())
    }

    fn month_figures(&self, from: Day, to: Day) -> Result<MonthFigures, StoreError> {
        self.check()?;
        let mut out = MonthFigures::default();
        for ((day, _, group, _), [forwarded, items, distinct, _]) in &self.ledger {
            if (from.0..=to.0).contains(day) {
                out.requests += forwarded;
                out.items += items;
                out.distinct_items += distinct;
                if *forwarded > 0 {
                    *out.requests_by_group.entry(group.clone()).or_insert(0) += forwarded;
                }
            }
        }
        out.refused = self.refusals.iter().filter(|(((day, ..), _), _)| (from.0..=to.0).contains(day)).map(|(_, n)| n).sum();
        Ok(out)
    }

    fn distinct_by_app_and_day(&self, from: Day, to: Day) -> Result<Vec<AppDay>, StoreError> {
        self.check()?;
        let mut sums: BTreeMap<(u64, String), u64> = BTreeMap::new();
        for ((day, app, _, _), counts) in self.ledger.range((from.0, String::new(), String::new(), String::new())..) {
            if *day <= to.0 && counts[2] > 0 {
                *sums.entry((*day, app.clone())).or_insert(0) += counts[2];
            }
        }
        Ok(sums.into_iter().map(|((day, app), distinct)| AppDay { day: Day(day), app, distinct }).collect())
    }
}

impl Marks for MemoryStore {
    fn sealed_through(&self) -> Result<Option<Day>, StoreError> {
        self.check()?;
        Ok(self.sealed_through)
    }

    fn set_sealed_through(&mut self, day: Day) -> Result<(), StoreError> {
        self.check()?;
        self.sealed_through = Some(day);
        Ok(())
    }

    fn verified(&self) -> Result<Option<(u64, String)>, StoreError> {
        self.check()?;
        Ok(self.verified.clone())
    }

    fn set_verified(&mut self, seq: u64, hash: &str) -> Result<(), StoreError> {
        self.check()?;
        self.verified = Some((seq, hash.to_owned()));
        Ok(())
    }

    fn exported_through(&self) -> Result<Option<Cursor>, StoreError> {
        self.check()?;
        Ok(self.exported_through.clone())
    }

    fn set_exported_through(&mut self, cursor: &Cursor) -> Result<(), StoreError> {
        self.check()?;
        self.exported_through = Some(cursor.clone());
        Ok(())
    }
}

impl Settlements for MemoryStore {
    fn is_settled(&self, id: &str) -> Result<bool, StoreError> {
        self.check()?;
        Ok(self.settled.contains_key(id))
    }

    fn mark_settled(&mut self, id: &str, now: UnixMillis) -> Result<(), StoreError> {
        self.check()?;
        self.settled.insert(id.to_owned(), now.0);
        Ok(())
    }
}

impl Streams for MemoryStore {
    fn open_stream(&mut self, app: &Id, group: &Id, holds: Holds, until: UnixMillis) -> Result<u64, StoreError> {
        self.check()?;
        let id = self.streams.keys().next_back().map_or(1, |n| n + 1);
        self.streams.insert(id, OpenStream { app: app.to_string(), group: group.to_string(), holds, until: until.0 });
        Ok(id)
    }

    fn stream_holds(&self, stream: u64) -> Result<Option<Holds>, StoreError> {
        self.check()?;
        Ok(self.streams.get(&stream).map(|s| s.holds))
    }

    fn keep_stream(&mut self, stream: u64, app: &Id, group: &Id, holds: Holds, until: UnixMillis) -> Result<(), StoreError> {
        self.check()?;
        self.streams.insert(stream, OpenStream { app: app.to_string(), group: group.to_string(), holds, until: until.0 });
        Ok(())
    }

    fn close_stream(&mut self, stream: u64) -> Result<(), StoreError> {
        self.check()?;
        self.streams.remove(&stream);
        Ok(())
    }

    fn open_streams(&self, group: &Id, app: Option<&Id>, now: UnixMillis) -> Result<u64, StoreError> {
        self.check()?;
        let open = self.streams.values().filter(|s| s.group == group.as_str() && app.is_none_or(|a| s.app == a.as_str()) && s.until > now.0);
        Ok(open.count() as u64)
    }
}

impl Retention for MemoryStore {
    fn prune(&mut self, what: Kept, before: u64, limit: u64) -> Result<u64, StoreError> {
        self.check()?;
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let n = match what {
            Kept::SeenItems => {
                let gone: Vec<_> = self.seen.iter().filter(|(d, _)| *d < before).take(limit).cloned().collect();
                gone.iter().for_each(|k| {
                    self.seen.remove(k);
                });
                gone.len()
            }
            Kept::Fingerprints => {
                let gone: Vec<_> = self.fingerprints.keys().filter(|(_, d, _)| *d < before).take(limit).cloned().collect();
                gone.iter().for_each(|k| {
                    self.fingerprints.remove(k);
                });
                gone.len()
            }
            Kept::EntityDays => {
                let gone: Vec<_> = self.entity_days.keys().filter(|(_, d)| *d < before).take(limit).cloned().collect();
                gone.iter().for_each(|k| {
                    self.entity_days.remove(k);
                });
                gone.len()
            }
            Kept::Ledger => {
                let gone: Vec<_> = self.ledger.keys().filter(|k| k.0 < before).take(limit).cloned().collect();
                gone.iter().for_each(|k| {
                    self.ledger.remove(k);
                });
                let refusals: Vec<_> = self.refusals.keys().filter(|(k, _)| k.0 < before).take(limit - gone.len()).cloned().collect();
                refusals.iter().for_each(|k| {
                    self.refusals.remove(k);
                });
                gone.len() + refusals.len()
            }
            Kept::Events => {
                let before = i64::try_from(before).unwrap_or(i64::MAX);
                let old = self.events.iter().filter(|e| e.at < before).take(limit).count();
                self.events.retain(|e| e.at >= before);
                old
            }
            Kept::Settlements => {
                let gone: Vec<_> = self.settled.iter().filter(|(_, d)| **d < before).map(|(k, _)| k.clone()).take(limit).collect();
                gone.iter().for_each(|k| {
                    self.settled.remove(k);
                });
                gone.len()
            }
            Kept::Streams => {
                let gone: Vec<u64> = self.streams.iter().filter(|(_, s)| s.until < before).map(|(k, _)| *k).take(limit).collect();
                gone.iter().for_each(|k| {
                    self.streams.remove(k);
                });
                gone.len()
            }
            Kept::Counters => {
                // The double keeps no write time: a counter whose window started before the
                // cutoff is old enough.
                let gone: Vec<_> = self.windows.iter().filter(|(_, (start, _))| *start < before).map(|(k, _)| k.clone()).take(limit).collect();
                gone.iter().for_each(|k| {
                    self.windows.remove(k);
                });
                gone.len()
            }
        };
        Ok(n as u64)
    }
}

impl AuditLog for MemoryStore {
    fn append_audit(&mut self, now: UnixMillis, kind: AuditKind, detail: &str, actor: Option<&Actor>) -> Result<Entry, StoreError> {
        self.check()?;
        let entry = audit::next(self.audit.last(), now.0, &kind.text(), detail.to_owned(), actor.cloned());
        self.audit.push(entry.clone());
        Ok(entry)
    }

    fn audit_page(&self, after: u64, limit: u64) -> Result<Vec<Entry>, StoreError> {
        self.check()?;
        Ok(self.audit.iter().filter(|e| e.seq > after).take(usize::try_from(limit).unwrap_or(usize::MAX)).cloned().collect())
    }

    fn audit_len(&self) -> Result<u64, StoreError> {
        self.check()?;
        Ok(self.audit.len() as u64)
    }

    fn seals(&self, from: Day, to: Day) -> Result<Vec<Entry>, StoreError> {
        self.check()?;
        let day_of = |e: &Entry| serde_json::from_str::<crate::domain::record::seal::Seal>(&e.detail).map(|s| s.day_number).ok();
        Ok(self.audit.iter().filter(|e| e.kind == "seal" && day_of(e).is_some_and(|d| (from.0..=to.0).contains(&d))).cloned().collect())
    }
}

impl Directory for MemoryStore {
    fn roles(&self) -> Result<Option<String>, StoreError> {
        self.check()?;
        Ok(self.roles.clone())
    }

    fn set_roles(&mut self, text: &str) -> Result<(), StoreError> {
        self.check()?;
        self.roles = Some(text.to_owned());
        Ok(())
    }

    fn admin_key(&self, hash: &str) -> Result<Option<KeyRecord>, StoreError> {
        self.check()?;
        Ok(self.admin_keys.iter().find(|(h, _)| h == hash).map(|(_, k)| k.clone()))
    }

    fn admin_keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        self.check()?;
        Ok(self.admin_keys.iter().map(|(_, k)| k.clone()).collect())
    }

    fn add_admin_key(&mut self, hash: &str, key: &KeyRecord) -> Result<(), StoreError> {
        self.check()?;
        if self.admin_keys.iter().any(|(h, k)| h == hash || k.id == key.id) {
            return Err(StoreError("an admin key with this hash or id exists".into()));
        }
        self.admin_keys.push((hash.to_owned(), key.clone()));
        Ok(())
    }

    fn update_admin_key(&mut self, key: &KeyRecord) -> Result<(), StoreError> {
        self.check()?;
        if let Some((_, k)) = self.admin_keys.iter_mut().find(|(_, k)| k.id == key.id) {
            *k = key.clone();
        }
        Ok(())
    }
}

impl Events for MemoryStore {
    fn record_event(&mut self, now: UnixMillis, kind: EventKind, dedupe: &str, evidence: &str) -> Result<(), StoreError> {
        self.check()?;
        if self.event_keys.insert(dedupe.to_owned()) {
            let id = self.events.len() as i64 + 1;
            let at = i64::try_from(now.0).unwrap_or(i64::MAX);
            self.events.push(EventRow { id, at, kind: kind.as_str().to_owned(), evidence: evidence.to_owned() });
        }
        Ok(())
    }

    fn events(&self) -> Result<Vec<EventRow>, StoreError> {
        self.check()?;
        Ok(self.events.iter().rev().take(100).cloned().collect())
    }
}

impl Fingerprints for MemoryStore {
    fn record_fingerprint(&mut self, app: &Id, day: Day, fp: &Fingerprint) -> Result<Option<u64>, StoreError> {
        self.check()?;
        let key = (app.to_string(), day.0, fp.key.clone());
        if self.fingerprints.contains_key(&key) {
            return Ok(None);
        }
        let client = SeenClient { prefix: fp.prefix.clone(), asn: fp.asn.map(i64::from), agent: fp.agent.clone() };
        self.fingerprints.insert(key, client);
        Ok(Some(self.fingerprints.keys().filter(|(a, d, _)| a == app.as_str() && *d == day.0).count() as u64))
    }

    fn clients(&self, app: &Id, day: Day) -> Result<Vec<SeenClient>, StoreError> {
        self.check()?;
        Ok(self
            .fingerprints
            .iter()
            .filter(|((a, d, _), _)| a == app.as_str() && *d == day.0)
            .take(50)
            .map(|(_, c)| c.clone())
            .collect())
    }
}
