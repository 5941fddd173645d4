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
    /// The subscription's channel was replaced and it could only join the new one at its end
    /// (see [`Resubscribed::gapless`]): events published in between may be missing, so it must
    /// re-read the store from the last seq it saw, now.
    Resumed,
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
/// dropped, and can give a subscription that lagged or whose channel closed a deeper ring.
pub trait SubscriptionGuard: Send + Sync + std::fmt::Debug + 'static {
    /// The subscription lagged. The default does nothing.
    fn lagged(&self) {}

    /// The subscription's channel closed: where it goes on reading, or `None` when the room
    /// itself is closed (the default).
    fn resubscribe(&self) -> Option<Resubscribed> {
        None
    }
}

/// Where a subscription whose channel closed goes on reading (see
/// [`SubscriptionGuard::resubscribe`]).
#[derive(Debug)]
pub struct Resubscribed {
    /// The receiver to read from now on.
    pub rx: broadcast::Receiver<Arc<Envelope>>,
    /// Whether `rx` starts right after the last event of the closed channel, so nothing is
    /// missed; otherwise the subscriber is told [`Delivery::Resumed`].
    pub gapless: bool,
}

impl Subscription {
    /// A subscription reading from a broadcast receiver. `guard` is dropped with it, is told
    /// when the subscription lags, and is asked where to read on when the channel closes
    /// (without a guard, a closed channel ends the subscription).
    pub fn new(
        rx: broadcast::Receiver<Arc<Envelope>>,
        guard: Option<Box<dyn SubscriptionGuard>>,
    ) -> Subscription {
        Subscription { rx, guard }
    }

    /// Waits for the next delivery.
    pub async fn recv(&mut self) -> Delivery {
        loop {
            let received = self.rx.recv().await;
            return match received {
                Ok(env) => Delivery::Event(env),
                Err(broadcast::error::RecvError::Lagged(skipped)) => self.lagged(skipped),
                Err(broadcast::error::RecvError::Closed) => match self.closed() {
                    Some(delivery) => delivery,
                    None => continue,
                },
            };
        }
    }

    /// The next delivery if one is ready, without waiting.
    pub fn try_recv(&mut self) -> Option<Delivery> {
        loop {
            return match self.rx.try_recv() {
                Ok(env) => Some(Delivery::Event(env)),
                Err(broadcast::error::TryRecvError::Lagged(skipped)) => Some(self.lagged(skipped)),
                Err(broadcast::error::TryRecvError::Closed) => match self.closed() {
                    Some(delivery) => Some(delivery),
                    None => continue,
                },
                Err(broadcast::error::TryRecvError::Empty) => None,
            };
        }
    }

    fn lagged(&mut self, skipped: u64) -> Delivery {
        if let Some(guard) = &self.guard {
            guard.lagged();
        }
        Delivery::Lagged { skipped }
    }

    /// The channel closed: moves on to where the guard says. `None`: moved without a gap,
    /// read on.
    fn closed(&mut self) -> Option<Delivery> {
        match self.guard.as_ref().and_then(|g| g.resubscribe()) {
            Some(moved) => {
                self.rx = moved.rx;
                (!moved.gapless).then_some(Delivery::Resumed)
            }
            None => Some(Delivery::Closed),
        }
    }
}
