//! The reconnect policy: exponential backoff with jitter and a cap.

use std::time::Duration;

use crate::error::Error;
use crate::protocol::random;

/// When and how often a client reconnects ([`ClientConfig::reconnect`](crate::ClientConfig::reconnect)).
///
/// After a connection ends (unless the client closed it, or its handler panicked) or an
/// attempt fails, the client waits and dials again. The k-th retry in a row waits a random
/// time between half and all of `min(max_delay, initial_delay × 2^(k−1))` ("equal jitter":
/// many boards that lost the same server do not all come back at once, and none waits less
/// than half the step). A connection that stayed open for at least `max_delay` starts the
/// steps again; one that ended sooner goes on with them, so a server that accepts and closes
/// at once is not hammered. After `max_attempts` failed attempts in a row (attempts that open
/// a session reset the count) the client gives up (`None`: it never does).
///
/// Messages sent while disconnected are refused, never buffered and never dropped silently:
/// [`ClientHandle::send`](crate::ClientHandle::send) hands them back in a
/// [`SendError`](crate::SendError). Messages a session accepted but that were still queued
/// when its connection broke are lost with it, as with any TCP connection: `on_close`
/// reports the drop; acknowledge at the application level where that matters.
///
/// ```
/// use std::time::Duration;
/// use syncws::Reconnect;
/// // 0.5 s, 1 s, 2 s ... up to 30 s between tries, for ever (the defaults):
/// let forever = Reconnect::default();
/// // Quick retries, then give up after 5 failures in a row:
/// let bounded = Reconnect::default().initial_delay(Duration::from_millis(100)).max_attempts(Some(5));
/// assert_eq!(bounded.get_max_attempts(), Some(5));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconnect {
    initial_delay: Duration,
    max_delay: Duration,
    max_attempts: Option<u32>,
}

impl Default for Reconnect {
    fn default() -> Self {
        Reconnect {
            initial_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_attempts: None,
        }
    }
}

impl Reconnect {
    /// The step of the first retry. Defaults to 0.5 s.
    pub fn initial_delay(mut self, delay: Duration) -> Self {
        self.initial_delay = delay;
        self
    }

    /// The largest step (the cap), and how long a connection must last to reset the
    /// backoff. Defaults to 30 s.
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// Failed attempts in a row after which the client gives up; `None`, the default, never
    /// gives up.
    pub fn max_attempts(mut self, attempts: Option<u32>) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// The first step.
    pub fn get_initial_delay(&self) -> Duration {
        self.initial_delay
    }

    /// The cap.
    pub fn get_max_delay(&self) -> Duration {
        self.max_delay
    }

    /// The limit of failed tries in a row.
    pub fn get_max_attempts(&self) -> Option<u32> {
        self.max_attempts
    }

    pub(crate) fn check(&self) -> Result<(), Error> {
        if self.initial_delay.is_zero() || self.max_delay < self.initial_delay {
            return Err(Error::InvalidConfig {
                option: "reconnect",
                why: format!(
                    "needs 0 < initial_delay <= max_delay (were {:?} and {:?})",
                    self.initial_delay, self.max_delay
                ),
            });
        }
        if self.max_attempts == Some(0) {
            return Err(Error::InvalidConfig {
                option: "reconnect",
                why: "max_attempts must be at least 1".to_owned(),
            });
        }
        Ok(())
    }

    /// The step before the `retry`-th retry in a row (from 1): the cap of the jittered wait.
    pub(crate) fn step(&self, retry: u32) -> Duration {
        let doublings = retry.saturating_sub(1).min(31);
        self.initial_delay.saturating_mul(1 << doublings).min(self.max_delay)
    }

    /// The wait before the `retry`-th retry in a row: between half and all of its step.
    pub(crate) fn delay(&self, retry: u32) -> Duration {
        let half = self.step(retry) / 2;
        let mut r = [0xff; 4];
        // Without randomness the wait is the whole step: still bounded, just not spread.
        let _ = random::fill(&mut r);
        let spread = (half.as_nanos() * u128::from(u32::from_ne_bytes(r))) >> 32;
        half + Duration::from_nanos(spread as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_double_up_to_the_cap_and_waits_stay_within_them() {
        let r =
            Reconnect::default().initial_delay(Duration::from_millis(100)).max_delay(Duration::from_secs(1));
        let steps: Vec<u128> = (1..=6).map(|k| r.step(k).as_millis()).collect();
        assert_eq!(steps, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(r.step(1000), Duration::from_secs(1), "no overflow far out");
        let waits: Vec<Duration> = (0..200).map(|_| r.delay(3)).collect();
        assert!(waits.iter().all(|w| *w >= Duration::from_millis(200) && *w <= Duration::from_millis(400)));
        let distinct: std::collections::HashSet<_> = waits.iter().collect();
        assert!(distinct.len() > 100, "jitter spreads the waits: {} distinct", distinct.len());
    }

    #[test]
    fn bad_policies_are_refused() {
        assert!(Reconnect::default().check().is_ok());
        assert!(Reconnect::default().initial_delay(Duration::ZERO).check().is_err());
        assert!(Reconnect::default().max_delay(Duration::from_millis(1)).check().is_err());
        assert!(Reconnect::default().max_attempts(Some(0)).check().is_err());
    }
}
