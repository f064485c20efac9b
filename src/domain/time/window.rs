//! Fixed request windows aligned to the epoch, the way the API's own 15-minute windows work:
//! every client sees the same window boundaries, so `x-rate-limit-reset` means one instant.

use crate::domain::time::clock::UnixMillis;

/// One window: `[start, start + len)`, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: u64,
    pub len: u64,
}

impl Window {
    /// The window of length `len_ms` that contains `now`.
    #[must_use]
    pub fn containing(now: UnixMillis, len_ms: u64) -> Self {
        let len = len_ms.max(1);
        Self { start: now.0 - now.0 % len, len }
    }

    #[must_use]
    pub fn end(self) -> UnixMillis {
        UnixMillis(self.start.saturating_add(self.len))
    }

    /// Whole seconds from `now` until the window ends, rounded up (never 0 inside a window).
    #[must_use]
    pub fn seconds_left(self, now: UnixMillis) -> u64 {
        self.end().0.saturating_sub(now.0).div_ceil(1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIFTEEN_MIN: u64 = 900_000;

    #[test]
    fn windows_align_to_the_epoch() {
        let w = Window::containing(UnixMillis(FIFTEEN_MIN * 10 + 1), FIFTEEN_MIN);
        assert_eq!(w.start, FIFTEEN_MIN * 10);
        assert_eq!(w.end(), UnixMillis(FIFTEEN_MIN * 11));
    }

    #[test]
    fn an_edge_belongs_to_the_window_it_starts() {
        let at_edge = UnixMillis(FIFTEEN_MIN * 3);
        assert_eq!(Window::containing(at_edge, FIFTEEN_MIN).start, FIFTEEN_MIN * 3);
        let just_before = UnixMillis(FIFTEEN_MIN * 3 - 1);
        assert_eq!(Window::containing(just_before, FIFTEEN_MIN).start, FIFTEEN_MIN * 2);
    }

    #[test]
    fn seconds_left_rounds_up() {
        let w = Window::containing(UnixMillis(0), 10_000);
        assert_eq!(w.seconds_left(UnixMillis(0)), 10);
        assert_eq!(w.seconds_left(UnixMillis(9_001)), 1);
        assert_eq!(w.seconds_left(UnixMillis(9_999)), 1);
    }
}
