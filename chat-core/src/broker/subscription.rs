//! A subscription to one room's events, with explicit lag reporting.

use crate::Envelope;
use std::sync::Arc;
use tokio::sync::broadcast;

/// What a subscription yields.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// The next event.
    Event(Arc<Envelope>),
    /// The subscriber fell behind and `skipped` events were dropped for it. It must re-read the
    /// store from the last seq it saw.
    Lagged {
        /// How many events it missed.
        skipped: u64,
    },
    /// The broker shut down or the room's channel was closed.
    Closed,
}

/// A live subscription to one room. Dropping it unsubscribes.
#[derive(Debug)]
pub struct Subscription {
    rx: broadcast::Receiver<Arc<Envelope>>,
    guard: Option<Box<dyn SubscriptionGuard>>,
}

/// Lives as long as a [`Subscription`], so a broker can release per-room resources when it is
/// dropped and count lags.
pub trait SubscriptionGuard: Send + Sync + std::fmt::Debug + 'static {
    /// The subscription lagged. The default does nothing.
    fn lagged(&self) {}
}

impl Subscription {
    /// A subscription reading from a broadcast receiver. `guard` is dropped with it and is told
    /// when the subscription lags.
    pub fn new(
        rx: broadcast::Receiver<Arc<Envelope>>,
        guard: Option<Box<dyn SubscriptionGuard>>,
    ) -> Subscription {
        Subscription { rx, guard }
    }

    /// Waits for the next delivery.
    pub async fn recv(&mut self) -> Delivery {
        match self.rx.recv().await {
            Ok(env) => Delivery::Event(env),
            Err(broadcast::error::RecvError::Lagged(skipped)) => self.lagged(skipped),
            Err(broadcast::error::RecvError::Closed) => Delivery::Closed,
        }
    }

    /// The next delivery if one is ready, without waiting.
    pub fn try_recv(&mut self) -> Option<Delivery> {
        match self.rx.try_recv() {
            Ok(env) => Some(Delivery::Event(env)),
            Err(broadcast::error::TryRecvError::Lagged(skipped)) => Some(self.lagged(skipped)),
            Err(broadcast::error::TryRecvError::Closed) => Some(Delivery::Closed),
            Err(broadcast::error::TryRecvError::Empty) => None,
        }
    }

    fn lagged(&mut self, skipped: u64) -> Delivery {
        if let Some(guard) = &self.guard {
            guard.lagged();
        }
        Delivery::Lagged { skipped }
    }
}
