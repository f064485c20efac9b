//! The one clock. The edge reads `Date.now()` once per request; tests pass a fake.

/// Milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct UnixMillis(pub u64);

impl UnixMillis {
    #[must_use]
    pub fn from_secs(secs: u64) -> Self {
        Self(secs.saturating_mul(1000))
    }

    #[must_use]
    pub fn as_secs(self) -> u64 {
        self.0 / 1000
    }

    #[must_use]
    pub fn plus_millis(self, ms: u64) -> Self {
        Self(self.0.saturating_add(ms))
    }
}

/// Where time comes from. Only the edge implements it for real.
pub trait Clock {
    fn now(&self) -> UnixMillis;
}
