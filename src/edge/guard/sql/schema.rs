//! Every table of the guard, created if missing when the object starts.
//!
//! `seen_ids`, the day's de-dup set, is the one table that grows with traffic: it has no rowid
//! (one B-tree, keyed by day and id) and keeps two days. It must stay without another index: a
//! delivery counts its new ids as the rows its insert wrote. It replaced `seen_items` (a rowid
//! table with a second index, about twice the bytes per id); an object that still has the old table
//! drops it, losing at most the current day's set, so that day's repeats count as distinct once
//! more (usage errs high, never low).
//!
//! The audit chain's actor columns came later: an object whose `audit` table lacks them gets them
//! added ([`AUDIT_ACTOR_COLUMNS`]), empty for the entries it already has, which hash as before.

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, window_start INTEGER NOT NULL, count INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS months (month TEXT PRIMARY KEY, items INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS revoked (token_hash TEXT PRIMARY KEY, at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS standing (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS entity_days (entity TEXT NOT NULL, day INTEGER NOT NULL, ids INTEGER NOT NULL, PRIMARY KEY (entity, day));
CREATE TABLE IF NOT EXISTS fingerprints (app TEXT NOT NULL, day INTEGER NOT NULL, key TEXT NOT NULL, prefix TEXT NOT NULL, asn INTEGER, agent TEXT NOT NULL, PRIMARY KEY (app, day, key));
CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, kind TEXT NOT NULL, dedupe TEXT NOT NULL UNIQUE, evidence TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ledger (day INTEGER NOT NULL, app TEXT NOT NULL, grp TEXT NOT NULL, recipient TEXT NOT NULL,
  forwarded INTEGER NOT NULL DEFAULT 0, items INTEGER NOT NULL DEFAULT 0, distinct_items INTEGER NOT NULL DEFAULT 0,
  bytes INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (day, app, grp, recipient));
CREATE TABLE IF NOT EXISTS refusals (day INTEGER NOT NULL, app TEXT NOT NULL, grp TEXT NOT NULL, recipient TEXT NOT NULL,
  reason TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (day, app, grp, recipient, reason));
CREATE TABLE IF NOT EXISTS seen_ids (day INTEGER NOT NULL, id TEXT NOT NULL, PRIMARY KEY (day, id)) WITHOUT ROWID;
DROP TABLE IF EXISTS seen_items;
CREATE TABLE IF NOT EXISTS audit (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL,
  prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS apps (token_hash TEXT PRIMARY KEY, app TEXT NOT NULL, status TEXT NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS marks (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS settled (id TEXT PRIMARY KEY, at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS settled_by_time ON settled (at);
CREATE TABLE IF NOT EXISTS streams (id INTEGER PRIMARY KEY AUTOINCREMENT, app TEXT NOT NULL, grp TEXT NOT NULL, until_ms INTEGER NOT NULL,
  month_day INTEGER NOT NULL, month INTEGER NOT NULL, ids_day INTEGER NOT NULL, ids INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS streams_by_time ON streams (until_ms);
CREATE INDEX IF NOT EXISTS streams_by_group ON streams (grp, app);
CREATE INDEX IF NOT EXISTS fingerprints_by_day ON fingerprints (day);
CREATE INDEX IF NOT EXISTS entity_days_by_day ON entity_days (day);
CREATE INDEX IF NOT EXISTS events_by_time ON events (at);
CREATE INDEX IF NOT EXISTS counters_by_window ON counters (window_start);
CREATE TABLE IF NOT EXISTS admin_roles (k INTEGER PRIMARY KEY CHECK (k = 1), record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS admin_keys (hash TEXT PRIMARY KEY, id TEXT NOT NULL UNIQUE, record TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_by_kind ON audit (kind, seq);
";

/// Who caused an audit entry (`record::audit::Actor`); NULL for the guard's own entries.
pub const AUDIT_ACTOR_COLUMNS: &str = "
ALTER TABLE audit ADD COLUMN actor_id TEXT;
ALTER TABLE audit ADD COLUMN actor_role TEXT;
ALTER TABLE audit ADD COLUMN actor_via TEXT;
";
