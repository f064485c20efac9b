//! The edge's clock: `Date.now()`, read through the core's one `Clock` trait.

use crate::domain::time::clock::{Clock, UnixMillis};

pub struct EdgeClock;

impl Clock for EdgeClock {
    fn now(&self) -> UnixMillis {
        UnixMillis(worker::Date::now().as_millis())
    }
}
