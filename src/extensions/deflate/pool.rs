//! Reset compression states kept for reuse across a server's connections.

use std::fmt;
use std::sync::Mutex;

/// Idle states, each with the settings it was built with (`K`): a state is reused only by a
/// connection that negotiated the same settings.
pub(super) struct Pool<K, T> {
    idle: Mutex<Vec<(K, T)>>,
    max: usize,
}

impl<K, T> fmt::Debug for Pool<K, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let idle = self.idle.lock().map_or(0, |idle| idle.len());
        f.debug_struct("Pool").field("idle", &idle).field("max", &self.max).finish()
    }
}

impl<K: PartialEq, T> Pool<K, T> {
    /// A pool that keeps at most `max` idle states.
    pub(super) fn new(max: usize) -> Self {
        Pool { idle: Mutex::new(Vec::new()), max }
    }

    /// An idle state built with `key`, or a new one from `build`.
    pub(super) fn take<E>(&self, key: &K, build: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        match idle.iter().rposition(|(k, _)| k == key) {
            Some(i) => Ok(idle.swap_remove(i).1),
            None => {
                drop(idle);
                build()
            }
        }
    }

    /// Keeps a state that the caller has reset, unless the pool is full.
    pub(super) fn give(&self, key: K, state: T) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < self.max {
            idle.push((key, state));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Pool;

    #[test]
    fn a_state_is_reused_only_with_its_own_settings_and_the_pool_is_bounded() {
        let pool = Pool::new(2);
        pool.give(9, "nine");
        pool.give(15, "fifteen");
        pool.give(15, "dropped: the pool is full");
        let new = || Ok::<_, ()>("new");
        assert_eq!(pool.take(&15, new), Ok("fifteen"));
        assert_eq!(pool.take(&15, new), Ok("new"));
        assert_eq!(pool.take(&9, new), Ok("nine"));
        assert_eq!(pool.take(&9, || Err("no memory")), Err("no memory"));
    }
}
