//! Counters of the broker, shared by its handle and its listener task, for metrics and tests.

use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};

/// A snapshot of a [`PostgresBroker`](super::PostgresBroker)'s counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BrokerStats {
    /// Notices sent by this node: one per event, but one per message for a run of posts
    /// (`MessagesPosted`).
    pub published: u64,
    /// Notifications received by this node's listener, its own included.
    pub notifications: u64,
    /// Times the listener connection was re-established after being lost.
    pub reconnects: u64,
    /// Times every locally subscribed room was resynchronized from the store.
    pub resyncs: u64,
    /// Backend process id of the listener connection while it is up.
    pub listener_pid: Option<i32>,
}

/// The live counters.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) published: AtomicU64,
    pub(crate) notifications: AtomicU64,
    pub(crate) reconnects: AtomicU64,
    pub(crate) resyncs: AtomicU64,
    /// 0 while the listener is down.
    pub(crate) listener_pid: AtomicI32,
}

impl Counters {
    /// Adds `n` to a counter.
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// A snapshot.
    pub(crate) fn snapshot(&self) -> BrokerStats {
        let pid = self.listener_pid.load(Ordering::Relaxed);
        BrokerStats {
            published: self.published.load(Ordering::Relaxed),
            notifications: self.notifications.load(Ordering::Relaxed),
            reconnects: self.reconnects.load(Ordering::Relaxed),
            resyncs: self.resyncs.load(Ordering::Relaxed),
            listener_pid: (pid != 0).then_some(pid),
        }
    }
}
