//! Housekeeping the service does by itself: expired sessions are deleted from the store every
//! [`Config::purge_sessions_every`](crate::Config::purge_sessions_every), by a task the service
//! starts the first time it opens a session (inside a tokio runtime), so an app never has to
//! schedule it. The task holds the service weakly and ends with its last clone.

use super::{ChatService, Inner};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::time::MissedTickBehavior;

impl ChatService {
    /// Starts the purge task, once; outside a tokio runtime, or with no period, nothing starts.
    pub(super) fn start_housekeeping(&self) {
        self.inner.housekeeping.call_once(|| {
            let Some(every) = self.config().purge_sessions_every else {
                return;
            };
            let Ok(runtime) = tokio::runtime::Handle::try_current() else {
                return;
            };
            runtime.spawn(purge_sessions(Arc::downgrade(&self.inner), every));
        });
    }
}

/// Purges expired sessions every `every` until the service is dropped.
async fn purge_sessions(service: Weak<Inner>, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(inner) = service.upgrade() else {
            return;
        };
        match (ChatService { inner }).purge_expired_sessions().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, "expired sessions removed"),
            Err(e) => tracing::warn!(error = %e, "purging expired sessions failed"),
        }
    }
}
