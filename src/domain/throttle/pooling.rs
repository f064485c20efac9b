//! Token pooling: an account spreading its traffic over several tokens so that per-token
//! throttles never bind. The account-wide limit already stops the traffic; this makes the
//! pattern visible, with evidence, for the provider and the audit trail.
//!
//! The rule: within one window of one endpoint group, two or more of the account's tokens each
//! reached their own per-token limit. One token at its limit is a busy app; two or more means
//! the account needed more than one token's allowance and split its load to get it.

use serde::{Deserialize, Serialize};

use crate::domain::access::id::Id;
use crate::domain::time::window::Window;

/// Tokens an account must have at their limit in one window before pooling is reported.
pub const TOKENS_AT_LIMIT: usize = 2;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolingEvidence {
    pub group: Id,
    /// Unix seconds of the window's start.
    pub window_start: u64,
    pub window_seconds: u64,
    pub per_token_limit: u64,
    pub active_tokens: usize,
    pub tokens_at_limit: usize,
    pub total_requests: u64,
    /// Smallest over largest per-token count among active tokens: 1.0 is a perfectly even split.
    pub evenness: f64,
    /// Requests per app id in the window, busiest first (at most 20).
    pub by_app: Vec<(String, u64)>,
}

impl Eq for PoolingEvidence {}

/// `counts` are `(counter key, requests)` of every app-scope counter of the group and window.
#[must_use]
pub fn assess(group: &Id, window: Window, per_token_limit: u64, counts: &[(String, u64)]) -> Option<PoolingEvidence> {
    let mut by_app: Vec<(String, u64)> = counts
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(key, n)| (key.rsplit(':').next().unwrap_or_default().to_owned(), *n))
        .collect();
    let tokens_at_limit = by_app.iter().filter(|(_, n)| *n >= per_token_limit).count();
    if tokens_at_limit < TOKENS_AT_LIMIT {
        return None;
    }
    by_app.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let max = by_app.first().map_or(0, |(_, n)| *n);
    let min = by_app.last().map_or(0, |(_, n)| *n);
    #[allow(clippy::cast_precision_loss)]
    let evenness = if max == 0 { 0.0 } else { min as f64 / max as f64 };
    let active_tokens = by_app.len();
    let total_requests = by_app.iter().map(|(_, n)| n).sum();
    by_app.truncate(20);
    Some(PoolingEvidence {
        group: group.clone(),
        window_start: window.start / 1000,
        window_seconds: window.len / 1000,
        per_token_limit,
        active_tokens,
        tokens_at_limit,
        total_requests,
        evenness,
        by_app,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(pairs: &[(&str, u64)]) -> Vec<(String, u64)> {
        pairs.iter().map(|(a, n)| (format!("app:search:900:{a}"), *n)).collect()
    }

    const W: Window = Window { start: 1_800_000_000_000, len: 900_000 };

    #[test]
    fn one_busy_token_is_not_pooling() {
        let g = Id::new("search").unwrap();
        assert_eq!(assess(&g, W, 10, &counts(&[("a", 10), ("b", 3)])), None);
    }

    #[test]
    fn two_tokens_at_their_limit_are_pooling_with_evidence() {
        let g = Id::new("search").unwrap();
        let e = assess(&g, W, 10, &counts(&[("a", 10), ("b", 10), ("c", 5), ("idle", 0)])).unwrap();
        assert_eq!(e.active_tokens, 3);
        assert_eq!(e.tokens_at_limit, 2);
        assert_eq!(e.total_requests, 25);
        assert!((e.evenness - 0.5).abs() < 1e-9);
        assert_eq!(e.by_app[0], ("a".to_owned(), 10));
        assert_eq!(e.window_start, 1_800_000_000);
    }
}
