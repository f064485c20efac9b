//! The edge's clock: `Date.now()`, read through the core's one `Clock` trait.

use crate::domain::time::clock::{Clock, UnixMillis};

pub struct EdgeClock;

impl Clock for EdgeClock {
    fn now(&self) -> UnixMillis {
        // `Date.now()` itself: no `Date` object made for each reading.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        UnixMillis(worker::js_sys::Date::now() as u64)
    }
}
