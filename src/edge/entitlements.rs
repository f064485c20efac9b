//! The entitlement table: KV behind an in-isolate cache.
//!
//! Every outcome of a read is cached for the configured TTL (a record, a missing key, an invalid
//! record), except a KV failure, which is retried on the next request.

use std::cell::RefCell;
use std::rc::Rc;

use serde_json::json;

use worker::Env;

use super::log;

use crate::domain::access::cache::TtlCache;
use crate::domain::time::clock::UnixMillis;
use crate::domain::access::entitlement::{decode, AccountRecord, AppRecord, Plan, PlanRecord, Record, RecordError};
use crate::domain::access::id::Id;
use crate::domain::access::kv_layout::{self, BINDING};
use crate::domain::access::token::TokenHash;

const CAPACITY: usize = 10_000;

/// Why a record could not be had.
#[derive(Debug, Clone)]
pub enum LoadError {
    /// KV itself failed (transient).
    Kv(String),
    /// The stored record is invalid.
    Record(RecordError),
}

type Cached<T> = Result<Option<Rc<T>>, RecordError>;

struct Caches {
    apps: TtlCache<Cached<AppRecord>>,
    accounts: TtlCache<Cached<AccountRecord>>,
    plans: TtlCache<Cached<Plan>>,
}

thread_local! {
    static CACHES: RefCell<Option<Caches>> = const { RefCell::new(None) };
}

fn with_caches<R>(ttl_ms: u64, f: impl FnOnce(&mut Caches) -> R) -> R {
    CACHES.with(|cell| {
        let mut slot = cell.borrow_mut();
        let caches = slot.get_or_insert_with(|| Caches {
            apps: TtlCache::new(ttl_ms, CAPACITY),
            accounts: TtlCache::new(ttl_ms, CAPACITY),
            plans: TtlCache::new(ttl_ms, CAPACITY),
        });
        f(caches)
    })
}

pub struct Entitlements<'a> {
    /// The KV binding is looked up only on a cache miss.
    env: &'a Env,
    ttl_ms: u64,
    now: UnixMillis,
}

impl<'a> Entitlements<'a> {
    pub fn new(env: &'a Env, ttl_ms: u64, now: UnixMillis) -> Self {
        Self { env, ttl_ms, now }
    }

    pub async fn app(&self, hash: &TokenHash) -> Result<Option<Rc<AppRecord>>, LoadError> {
        let key = kv_layout::token_key(hash);
        if let Some(hit) = with_caches(self.ttl_ms, |c| c.apps.get(&key, self.now)) {
            return hit.map_err(LoadError::Record);
        }
        let loaded = self.read::<AppRecord>(&key).await?;
        with_caches(self.ttl_ms, |c| c.apps.put(key, loaded.clone(), self.now));
        loaded.map_err(LoadError::Record)
    }

    pub async fn account(&self, id: &Id) -> Result<Option<Rc<AccountRecord>>, LoadError> {
        let key = kv_layout::account_key(id);
        if let Some(hit) = with_caches(self.ttl_ms, |c| c.accounts.get(&key, self.now)) {
            return hit.map_err(LoadError::Record);
        }
        let loaded = self.read::<AccountRecord>(&key).await?.and_then(|found| match found {
            Some(a) if a.id != *id => Err(mismatch(id, &a.id)),
            other => Ok(other),
        });
        with_caches(self.ttl_ms, |c| c.accounts.put(key, loaded.clone(), self.now));
        loaded.map_err(LoadError::Record)
    }

    pub async fn plan(&self, id: &Id) -> Result<Option<Rc<Plan>>, LoadError> {
        let key = kv_layout::plan_key(id);
        if let Some(hit) = with_caches(self.ttl_ms, |c| c.plans.get(&key, self.now)) {
            return hit.map_err(LoadError::Record);
        }
        let record = self.read::<PlanRecord>(&key).await?;
        let loaded: Cached<Plan> = record.and_then(|found| match found {
            None => Ok(None),
            Some(p) if p.id != *id => Err(mismatch(id, &p.id)),
            Some(p) => Plan::compile((*p).clone()).map(|plan| Some(Rc::new(plan))),
        });
        with_caches(self.ttl_ms, |c| c.plans.put(key, loaded.clone(), self.now));
        loaded.map_err(LoadError::Record)
    }

    /// One KV read. `Err` is a KV failure; `Ok(Err)` an invalid record, which is cached.
    async fn read<R: Record>(&self, key: &str) -> Result<Cached<R>, LoadError> {
        let kv = self.env.kv(BINDING).map_err(|e| {
            log::event("error", "kv_binding_missing", json!({ "error": e.to_string() }));
            LoadError::Kv("the KV binding is missing".into())
        })?;
        super::metrics::kv_read();
        let text = kv.get(key).text().await.map_err(|e| LoadError::Kv(e.to_string()))?;
        Ok(match text {
            None => Ok(None),
            Some(text) => decode::<R>(&text).map(|r| Some(Rc::new(r))),
        })
    }
}

fn mismatch(expected: &Id, found: &Id) -> RecordError {
    RecordError::Mismatch { expected: expected.to_string(), found: found.to_string() }
}

/// Drops a record from this isolate's cache, so an admin change made here is seen here at once.
/// Forgets every record this isolate holds: after an admin change passed through it, so its
/// next request reads KV again.
pub fn forget_all() {
    CACHES.with(|cell| *cell.borrow_mut() = None);
}
