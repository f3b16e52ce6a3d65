//! A session's broadcast lane: the bounded queue that every hub the session joined pushes
//! into, and that the write loop drains beside the session's own outgoing queue.
//!
//! One lane per session keeps one order for everything published to it, across hubs. Each
//! message remembers its hub, so that a hub dropping its oldest message for a slow member
//! drops one of its own and never another hub's.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use crossbeam_channel::{Receiver, Sender};

use crate::protocol::Message;

/// What became of a message pushed into a lane.
#[derive(Debug)]
pub(crate) enum Pushed {
    /// Queued.
    Queued,
    /// Queued after dropping the oldest message of the same hub.
    QueuedDroppingOldest,
    /// Not queued: the lane is full (of other hubs' messages, when the oldest was to go).
    Full,
    /// Not queued: the connection's write loop has ended.
    Closed,
}

#[derive(Debug, Default)]
struct Queue {
    items: VecDeque<(u64, Arc<Message>)>,
    closed: bool,
}

/// One session's broadcast lane.
#[derive(Debug)]
pub(crate) struct BroadcastLane {
    queue: Mutex<Queue>,
    capacity: usize,
    /// Rung (never blocking) when a message arrives; the write loop selects on it.
    bell_tx: Sender<()>,
    bell_rx: Receiver<()>,
}

impl BroadcastLane {
    /// An empty lane of `capacity` messages; its memory grows only as messages wait.
    pub(crate) fn new(capacity: usize) -> Self {
        let (bell_tx, bell_rx) = crossbeam_channel::bounded(1);
        BroadcastLane { queue: Mutex::new(Queue::default()), capacity: capacity.max(1), bell_tx, bell_rx }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `message` from hub `hub`; when the lane is full and `drop_oldest` is set, the
    /// oldest waiting message of the same hub makes room.
    pub(crate) fn push(&self, hub: u64, message: &Arc<Message>, drop_oldest: bool) -> Pushed {
        let pushed = {
            let mut q = self.lock();
            if q.closed {
                return Pushed::Closed;
            }
            if q.items.len() < self.capacity {
                q.items.push_back((hub, message.clone()));
                Pushed::Queued
            } else if let Some(i) = drop_oldest.then(|| q.items.iter().position(|(h, _)| *h == hub)).flatten()
            {
                q.items.remove(i);
                q.items.push_back((hub, message.clone()));
                Pushed::QueuedDroppingOldest
            } else {
                return Pushed::Full;
            }
        };
        let _ = self.bell_tx.try_send(());
        pushed
    }

    /// The next message, if any.
    pub(crate) fn pop(&self) -> Option<Arc<Message>> {
        self.lock().items.pop_front().map(|(_, m)| m)
    }

    /// Whether no message waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.lock().items.is_empty()
    }

    /// Rings the bell again if messages still wait (the write loop stopped before the end).
    pub(crate) fn ring_if_waiting(&self) {
        if !self.lock().items.is_empty() {
            let _ = self.bell_tx.try_send(());
        }
    }

    /// The bell the write loop waits on.
    pub(crate) fn bell(&self) -> &Receiver<()> {
        &self.bell_rx
    }

    /// Refuses every later message and drops the waiting ones (the write loop has ended).
    pub(crate) fn close(&self) {
        let mut q = self.lock();
        q.closed = true;
        q.items.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropping_the_oldest_only_drops_the_same_hubs_message() {
        let lane = BroadcastLane::new(2);
        let a = Arc::new(Message::from("a1"));
        let b = Arc::new(Message::from("b1"));
        assert!(matches!(lane.push(1, &a, true), Pushed::Queued));
        assert!(matches!(lane.push(2, &b, true), Pushed::Queued));
        let b2 = Arc::new(Message::from("b2"));
        assert!(matches!(lane.push(2, &b2, true), Pushed::QueuedDroppingOldest));
        // Hub 3 has nothing waiting: it cannot make room with another hub's message.
        let c = Arc::new(Message::from("c1"));
        assert!(matches!(lane.push(3, &c, true), Pushed::Full));
        assert!(matches!(lane.push(3, &c, false), Pushed::Full));
        assert_eq!(lane.pop().as_deref(), Some(&Message::from("a1")), "hub 1's message survived");
        assert_eq!(lane.pop().as_deref(), Some(&Message::from("b2")));
        assert_eq!(lane.pop(), None);
        lane.close();
        assert!(matches!(lane.push(1, &a, false), Pushed::Closed));
    }
}
