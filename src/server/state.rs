//! What every thread of one server shares.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

use super::config::Config;
use super::route::Router;
use crate::connection::registry::Registry;
use crate::connection::settings::Settings;
use crate::connection::timer::TimerQueue;

/// One server's configuration, routes, and the connections it serves.
#[derive(Debug)]
pub(crate) struct ServerState {
    pub(crate) config: Config,
    pub(crate) router: Router,
    /// What each connection needs of the config.
    pub(crate) settings: Arc<Settings>,
    pub(crate) timer: Arc<TimerQueue>,
    pub(crate) registry: Arc<Registry>,
    /// TLS on every connection, if set.
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<crate::transport::tls::ServerTls>,
    /// Connection threads running now, handshakes included.
    live: Mutex<usize>,
    live_changed: Condvar,
}

impl ServerState {
    pub(crate) fn new(config: Config, router: Router, timer: Arc<TimerQueue>) -> Self {
        ServerState {
            #[cfg(feature = "tls")]
            tls: None,
            settings: Arc::new(config.settings()),
            config,
            router,
            timer,
            registry: Arc::default(),
            live: Mutex::new(0),
            live_changed: Condvar::new(),
        }
    }

    /// A connection id unique in the process, not only in this server: a `Broadcast` hub may
    /// hold sessions of several servers.
    pub(crate) fn next_id(&self) -> u64 {
        crate::connection::shared::next_id()
    }

    fn lock_live(&self) -> MutexGuard<'_, usize> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Connection threads running now.
    pub(crate) fn live(&self) -> usize {
        *self.lock_live()
    }

    /// Waits until no connection thread is left or `deadline` passes; returns how many are left.
    pub(crate) fn wait_idle(&self, deadline: Instant) -> usize {
        let mut live = self.lock_live();
        while *live > 0 {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            live = self.live_changed.wait_timeout(live, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
        *live
    }
}

/// Counts a connection thread from before it starts until it has finished.
pub(crate) struct Live(Arc<ServerState>);

impl Live {
    pub(crate) fn new(state: &Arc<ServerState>) -> Live {
        *state.lock_live() += 1;
        Live(state.clone())
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        *self.0.lock_live() -= 1;
        self.0.live_changed.notify_all();
    }
}
