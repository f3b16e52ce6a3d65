//! The clock of a set of connections: milliseconds, cheap to copy and compare.

use std::time::Instant;

/// Milliseconds since the timer started.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock(Instant);

impl Clock {
    /// A clock that starts now.
    pub(crate) fn new() -> Self {
        Clock(Instant::now())
    }

    /// Never 0, so 0 can mean "not set".
    pub(crate) fn now_ms(&self) -> u64 {
        self.0.elapsed().as_millis() as u64 + 1
    }
}
