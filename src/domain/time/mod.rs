//! Time as values from one clock: instants, UTC days and months, and fixed windows.

pub mod clock;
pub mod day;
pub mod month;
pub mod window;
