//! `ChatService::builder(store)`: the one call an app makes to get a service, with the
//! in-process broker, the default configuration and the system clock unless it says
//! otherwise. Several nodes on one database pass that database's broker instead.

use super::ChatService;
use crate::{Broker, Clock, Config, LocalBroker, Store, SystemClock};
use std::fmt;
use std::sync::Arc;

/// Builds a [`ChatService`]; see [`ChatService::builder`].
pub struct ChatServiceBuilder {
    store: Arc<dyn Store>,
    broker: Option<Arc<dyn Broker>>,
    config: Config,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for ChatServiceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChatServiceBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ChatService {
    /// A builder of a service over `store`:
    /// `ChatService::builder(SqliteStore::open(path).await?).build()`.
    pub fn builder(store: impl Store) -> ChatServiceBuilder {
        ChatService::builder_shared(Arc::new(store))
    }

    /// [`builder`](Self::builder) for a store already behind an `Arc`.
    pub fn builder_shared(store: Arc<dyn Store>) -> ChatServiceBuilder {
        ChatServiceBuilder {
            store,
            broker: None,
            config: Config::default(),
            clock: Arc::new(SystemClock),
        }
    }
}

impl ChatServiceBuilder {
    /// The broker that carries events between connections (and nodes). Default: a
    /// [`LocalBroker`] with its default ring, right for one process.
    pub fn broker(mut self, broker: impl Broker) -> ChatServiceBuilder {
        self.broker = Some(Arc::new(broker));
        self
    }

    /// The configuration. Default: [`Config::default`].
    pub fn config(mut self, config: Config) -> ChatServiceBuilder {
        self.config = config;
        self
    }

    /// The clock (tests use [`ManualClock`](crate::ManualClock)). Default: the system clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> ChatServiceBuilder {
        self.clock = clock;
        self
    }

    /// The service.
    pub fn build(self) -> ChatService {
        let broker = self
            .broker
            .unwrap_or_else(|| Arc::new(LocalBroker::default()));
        ChatService::with_clock(self.store, broker, self.config, self.clock)
    }
}
