//! The audit trail: an append-only log in which every entry commits to the one before it, so a
//! change to any past entry breaks the chain from that entry on and is found by [`verify`].
//!
//! `hash = SHA-256(prev_hash "\n" seq "\n" at "\n" kind "\n" detail)`, hex; the first entry's
//! `prev_hash` is 64 zeros. An entry an admin caused also names its actor, and then the actor
//! is hashed too: `… "\n" detail "\n" actor_id "\n" actor_role "\n" actor_via`. Entries
//! without an actor (the guard's own seals and detection events, and every entry written before
//! actors were recorded) hash as they always did, so existing chains still verify.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::hex;

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub seq: u64,
    /// Unix milliseconds.
    pub at: u64,
    /// `admin:<action>`, `refusal`, `pooling`, `resale`, …
    pub kind: String,
    /// JSON text of what happened; never a token or secret.
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
    /// Who made the change, for an entry an admin caused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<Actor>,
}

/// Who caused an entry: an email, an Access service token's Client ID, an admin key's id or
/// `break-glass`; the role they acted in; and how they signed in (`access`, `key`,
/// `break_glass`). Kept as the text written, so an entry reads back as it was hashed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub id: String,
    pub role: String,
    pub via: String,
}

#[must_use]
pub fn entry_hash(prev_hash: &str, seq: u64, at: u64, kind: &str, detail: &str, actor: Option<&Actor>) -> String {
    let mut text = format!("{prev_hash}\n{seq}\n{at}\n{kind}\n{detail}");
    if let Some(a) = actor {
        text = format!("{text}\n{}\n{}\n{}", a.id, a.role, a.via);
    }
    hex::encode(&Sha256::digest(text.as_bytes()))
}

/// The entry that follows `last` (or starts the chain).
#[must_use]
pub fn next(last: Option<&Entry>, at: u64, kind: &str, detail: String, actor: Option<Actor>) -> Entry {
    let (seq, prev_hash) = last.map_or((1, GENESIS.to_owned()), |e| (e.seq + 1, e.hash.clone()));
    let hash = entry_hash(&prev_hash, seq, at, kind, &detail, actor.as_ref());
    Entry { seq, at, kind: kind.to_owned(), detail, prev_hash, hash, actor }
}

/// What an entry records. Stored as its text (`refusal`, `admin:plan_written`, …); entries read
/// back keep whatever text they were written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditKind {
    /// A request refused, by the edge or the guard.
    Refusal,
    /// A pooling event, with its evidence.
    Pooling,
    /// The seal of one UTC day's ledger rows (`record::seal`).
    Seal,
    /// A resale event, with its evidence.
    Resale,
    /// A change an admin made.
    Admin(AdminChange),
}

/// The admin changes the audit trail names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminChange {
    PlanWritten,
    AccountWritten,
    AccountSuspended,
    AccountReinstated,
    UseCaseWritten,
    RecipientWritten,
    TokenIssued,
    TokenRotated,
    TokenActive,
    TokenSuspended,
    TokenRevoked,
    /// The roles record was written.
    RolesWritten,
    KeyIssued,
    KeyRevoked,
    /// A request signed in with the break-glass secret: every one is an entry of the admin log.
    BreakGlassUsed,
}

impl AdminChange {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PlanWritten => "plan_written",
            Self::AccountWritten => "account_written",
            Self::AccountSuspended => "account_suspended",
            Self::AccountReinstated => "account_reinstated",
            Self::UseCaseWritten => "use_case_written",
            Self::RecipientWritten => "recipient_written",
            Self::TokenIssued => "token_issued",
            Self::TokenRotated => "token_rotated",
            Self::TokenActive => "token_active",
            Self::TokenSuspended => "token_suspended",
            Self::TokenRevoked => "token_revoked",
            Self::RolesWritten => "roles_written",
            Self::KeyIssued => "key_issued",
            Self::KeyRevoked => "key_revoked",
            Self::BreakGlassUsed => "break_glass_used",
        }
    }
}

impl AuditKind {
    /// The text the chain stores and hashes.
    #[must_use]
    pub fn text(self) -> String {
        match self {
            Self::Refusal => "refusal".to_owned(),
            Self::Pooling => "pooling".to_owned(),
            Self::Seal => "seal".to_owned(),
            Self::Resale => "resale".to_owned(),
            Self::Admin(change) => format!("admin:{}", change.as_str()),
        }
    }
}

/// Where the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Break {
    pub seq: u64,
    pub reason: &'static str,
}

/// The outcome of a verification, as the admin API reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    pub entries: u64,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_break: Option<Break>,
    /// Hash of the last entry: publishing it pins the whole history.
    pub head: String,
}

/// A walk along the chain that can start from a checkpoint: the `seq` and hash of an entry
/// verified before. Fed entries in `seq` order, it stops at the first that does not belong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verifier {
    /// The last entry accepted: its `seq` (0 before the first) and hash.
    seq: u64,
    head: String,
}

impl Default for Verifier {
    fn default() -> Self {
        Self { seq: 0, head: GENESIS.to_owned() }
    }
}

impl Verifier {
    /// Continues from an entry verified before.
    #[must_use]
    pub fn from_checkpoint(seq: u64, hash: String) -> Self {
        Self { seq, head: hash }
    }

    /// Checks the next entry.
    ///
    /// # Errors
    /// The [`Break`] at this entry.
    pub fn feed(&mut self, e: &Entry) -> Result<(), Break> {
        let expected_seq = self.seq + 1;
        let reason = if e.seq != expected_seq {
            Some("sequence gap")
        } else if e.prev_hash != self.head {
            Some("does not follow the previous entry")
        } else if entry_hash(&e.prev_hash, e.seq, e.at, &e.kind, &e.detail, e.actor.as_ref()) != e.hash {
            Some("content does not match its hash")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(Break { seq: expected_seq, reason });
        }
        self.seq = e.seq;
        self.head.clone_from(&e.hash);
        Ok(())
    }

    /// The last entry accepted: `seq` and hash.
    #[must_use]
    pub fn checkpoint(&self) -> (u64, &str) {
        (self.seq, &self.head)
    }
}

/// Checks a whole chain given in `seq` order.
#[must_use]
pub fn verify(entries: &[Entry]) -> Verification {
    let mut walk = Verifier::default();
    for e in entries {
        if let Err(b) = walk.feed(e) {
            return Verification { entries: entries.len() as u64, ok: false, first_break: Some(b), head: walk.head };
        }
    }
    Verification { entries: entries.len() as u64, ok: true, first_break: None, head: walk.head }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: u64) -> Vec<Entry> {
        let mut out: Vec<Entry> = Vec::new();
        for i in 0..n {
            let e = next(out.last(), 1000 + i, "refusal", format!("{{\"n\":{i}}}"), None);
            out.push(e);
        }
        out
    }

    #[test]
    fn an_untouched_chain_verifies() {
        let c = chain(5);
        let v = verify(&c);
        assert!(v.ok);
        assert_eq!(v.entries, 5);
        assert_eq!(v.head, c[4].hash);
        assert_eq!(c[0].prev_hash, GENESIS);
    }

    #[test]
    fn an_altered_entry_is_reported_where_it_is() {
        let mut c = chain(5);
        c[2].detail = "{\"n\":99}".into();
        assert_eq!(verify(&c).first_break, Some(Break { seq: 3, reason: "content does not match its hash" }));
        // Rehashing the altered entry moves the break to the next one, which no longer follows it.
        c[2].hash = entry_hash(&c[2].prev_hash, 3, c[2].at, &c[2].kind, &c[2].detail, None);
        assert_eq!(verify(&c).first_break, Some(Break { seq: 4, reason: "does not follow the previous entry" }));
    }

    #[test]
    fn a_walk_continues_from_a_checkpoint() {
        let c = chain(6);
        let mut first = Verifier::default();
        for e in &c[..4] {
            first.feed(e).unwrap();
        }
        let (seq, head) = first.checkpoint();
        assert_eq!((seq, head), (4, c[3].hash.as_str()));
        let mut rest = Verifier::from_checkpoint(seq, head.to_owned());
        for e in &c[4..] {
            rest.feed(e).unwrap();
        }
        assert_eq!(rest.checkpoint(), (6, c[5].hash.as_str()));
        // A chain rewritten from the checkpoint on does not follow it.
        let mut other = chain(6);
        other[4].prev_hash = "f".repeat(64);
        let mut again = Verifier::from_checkpoint(4, c[3].hash.clone());
        assert_eq!(again.feed(&other[4]), Err(Break { seq: 5, reason: "does not follow the previous entry" }));
    }

    #[test]
    fn kinds_are_stored_as_their_text() {
        assert_eq!(AuditKind::Refusal.text(), "refusal");
        assert_eq!(AuditKind::Admin(AdminChange::PlanWritten).text(), "admin:plan_written");
        assert_eq!(AuditKind::Admin(AdminChange::TokenRevoked).text(), "admin:token_revoked");
        let change: AdminChange = serde_json::from_str("\"use_case_written\"").unwrap();
        assert_eq!(AuditKind::Admin(change).text(), "admin:use_case_written");
    }

    #[test]
    fn an_actor_is_hashed_with_its_entry_and_entries_without_one_hash_as_before() {
        // An entry written before actors were recorded: its hash is the old formula's.
        let old = next(None, 1000, "admin:plan_written", "{}".into(), None);
        let digest = Sha256::digest(format!("{GENESIS}\n1\n1000\nadmin:plan_written\n{{}}").as_bytes());
        assert_eq!(old.hash, hex::encode(&digest));
        let ann = Actor { id: "ann@example.com".into(), role: "operator".into(), via: "access".into() };
        let mut c = vec![old];
        c.push(next(c.last(), 1001, "admin:account_suspended", "{}".into(), Some(ann.clone())));
        c.push(next(c.last(), 1002, "seal", "{}".into(), None));
        assert!(verify(&c).ok);
        assert_ne!(c[1].hash, entry_hash(&c[1].prev_hash, 2, 1001, &c[1].kind, "{}", None));
        // Changing who did it, or dropping the name, breaks the chain there.
        let mut forged = c.clone();
        forged[1].actor = Some(Actor { role: "owner".into(), ..ann });
        assert_eq!(verify(&forged).first_break, Some(Break { seq: 2, reason: "content does not match its hash" }));
        forged[1].actor = None;
        assert_eq!(verify(&forged).first_break.map(|b| b.seq), Some(2));
        let json = serde_json::to_value(&c[1]).unwrap();
        assert_eq!(json["actor"]["id"], "ann@example.com");
        assert!(serde_json::to_value(&c[0]).unwrap().get("actor").is_none());
    }

    #[test]
    fn a_removed_entry_is_a_gap() {
        let mut c = chain(4);
        c.remove(1);
        assert_eq!(verify(&c).first_break.unwrap().seq, 2);
    }
}
