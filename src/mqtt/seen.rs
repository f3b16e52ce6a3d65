//! Which messages of each bridge were already delivered: QoS 1 may bring one twice (a
//! publisher that resends after a reconnect), and a gap in a bridge's numbers is a message
//! lost on the way (dropped by a full queue, or published while this bridge was away).

use std::collections::HashMap;

/// Numbers older than the newest by this much are taken as seen.
const WINDOW: u64 = 64;
/// Bridges remembered; the one heard from longest ago is forgotten first.
const ORIGINS: usize = 1024;

/// What [`Seen::check`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Not seen before: deliver it. `skipped` numbers before it never came (yet).
    Fresh { skipped: u64 },
    /// A number that came after others it was published before (a gap filled late).
    Late,
    /// Seen already, or too old to tell.
    Duplicate,
    /// More than [`MAX_JUMP`] ahead of the newest: forged (anyone may publish under the
    /// prefix), not lost messages. Not recorded, so it cannot silence the real bridge.
    Implausible,
}

/// The largest jump in a bridge's numbers taken as messages lost on the way: four billion, far
/// more than a bridge drops while another is away.
pub(crate) const MAX_JUMP: u64 = 1 << 32;

/// One bridge's numbers: the newest, and which of the 64 before it arrived.
#[derive(Debug, Clone, Copy)]
struct Window {
    newest: u64,
    /// Bit i: number `newest - 1 - i` arrived.
    before: u64,
    last_heard: u64,
}

/// The windows of every bridge heard from.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    origins: HashMap<u64, Window>,
    clock: u64,
}

impl Seen {
    /// Records number `seq` of bridge `origin`.
    pub(crate) fn check(&mut self, origin: u64, seq: u64) -> Verdict {
        self.clock += 1;
        let clock = self.clock;
        if !self.origins.contains_key(&origin) && self.origins.len() >= ORIGINS {
            if let Some(oldest) = self.origins.iter().min_by_key(|(_, w)| w.last_heard).map(|(o, _)| *o) {
                self.origins.remove(&oldest);
            }
        }
        let Some(w) = self.origins.get_mut(&origin) else {
            // The first heard from this bridge: what it sent before is not ours to count.
            self.origins.insert(origin, Window { newest: seq, before: u64::MAX, last_heard: clock });
            return Verdict::Fresh { skipped: 0 };
        };
        w.last_heard = clock;
        if seq > w.newest {
            let ahead = seq - w.newest;
            if ahead > MAX_JUMP {
                return Verdict::Implausible;
            }
            let skipped = ahead - 1;
            w.before = if ahead > WINDOW { 0 } else { (w.before << (ahead - 1) << 1) | (1 << (ahead - 1)) };
            w.newest = seq;
            return Verdict::Fresh { skipped };
        }
        if seq == w.newest {
            return Verdict::Duplicate;
        }
        let back = w.newest - seq - 1;
        if back >= WINDOW || w.before & (1 << back) != 0 {
            return Verdict::Duplicate;
        }
        w.before |= 1 << back;
        Verdict::Late
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_found_and_gaps_counted() {
        let mut seen = Seen::default();
        assert_eq!(seen.check(1, 10), Verdict::Fresh { skipped: 0 });
        assert_eq!(seen.check(1, 11), Verdict::Fresh { skipped: 0 });
        assert_eq!(seen.check(1, 11), Verdict::Duplicate);
        assert_eq!(seen.check(1, 10), Verdict::Duplicate);
        assert_eq!(seen.check(1, 9), Verdict::Duplicate, "before the first heard");
        assert_eq!(seen.check(1, 14), Verdict::Fresh { skipped: 2 });
        assert_eq!(seen.check(1, 13), Verdict::Late);
        assert_eq!(seen.check(1, 13), Verdict::Duplicate);
        assert_eq!(seen.check(1, 12), Verdict::Late);
        assert_eq!(seen.check(2, 1), Verdict::Fresh { skipped: 0 }, "another bridge");
        assert_eq!(seen.check(1, 14 + 200), Verdict::Fresh { skipped: 199 });
        assert_eq!(seen.check(1, 14 + 100), Verdict::Duplicate, "too old to tell");
        assert_eq!(seen.check(1, 14 + 199), Verdict::Late);
        // A forged number far ahead neither counts a gap nor hides what comes next.
        assert_eq!(seen.check(1, u64::MAX), Verdict::Implausible);
        assert_eq!(seen.check(1, 14 + 201), Verdict::Fresh { skipped: 0 });
        // Exactly a window ahead, then the one a window back.
        let mut seen = Seen::default();
        seen.check(3, 0);
        assert_eq!(seen.check(3, WINDOW), Verdict::Fresh { skipped: WINDOW - 1 });
        assert_eq!(seen.check(3, 0), Verdict::Duplicate);
        assert_eq!(seen.check(3, 1), Verdict::Late);
    }

    #[test]
    fn the_bridge_heard_from_longest_ago_is_forgotten_first() {
        let mut seen = Seen::default();
        for origin in 0..ORIGINS as u64 {
            seen.check(origin, 5);
        }
        seen.check(0, 6); // origin 0 heard again: origin 1 is now the oldest
        seen.check(u64::MAX, 1);
        assert_eq!(seen.origins.len(), ORIGINS);
        assert!(seen.origins.contains_key(&0) && !seen.origins.contains_key(&1));
        assert_eq!(seen.check(1, 5), Verdict::Fresh { skipped: 0 }, "forgotten, so new again");
    }
}
