//! The connections of one server (or client set) that are alive now, for whoever must reach
//! them all: a shutdown closing every session.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::shared::Conn;

#[derive(Debug, Default)]
struct Members {
    conns: HashMap<u64, Arc<Conn>>,
    /// Set once by [`Registry::close`]: nobody joins after it.
    closed: bool,
}

/// Live connections by id.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    members: Mutex<Members>,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, Members> {
        self.members.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds `conn` until the returned guard drops; `None` once the registry is closed.
    pub(crate) fn register(self: &Arc<Self>, conn: &Arc<Conn>) -> Option<Registered> {
        let mut members = self.lock();
        if members.closed {
            return None;
        }
        members.conns.insert(conn.id, conn.clone());
        Some(Registered { registry: self.clone(), id: conn.id })
    }

    /// Closes the registry to newcomers and returns every connection in it now.
    pub(crate) fn close(&self) -> Vec<Arc<Conn>> {
        let mut members = self.lock();
        members.closed = true;
        members.conns.values().cloned().collect()
    }

    /// Every connection in it now.
    pub(crate) fn snapshot(&self) -> Vec<Arc<Conn>> {
        self.lock().conns.values().cloned().collect()
    }
}

/// Keeps a connection in its registry; removes it when dropped.
#[derive(Debug)]
pub(crate) struct Registered {
    registry: Arc<Registry>,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.registry.lock().conns.remove(&self.id);
    }
}
