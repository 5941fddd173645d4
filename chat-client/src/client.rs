//! The app's handle: [`Client::connect`] opens the first socket (so a bad URL or a refused
//! credential fails at once) and starts the task that keeps it up; every call queues a command
//! for that task in call order and returns a [`Reply`] future the app may await or drop.

use crate::auth::Auth;
use crate::backoff::BackoffConfig;
use crate::driver::{Command, Driver};
use crate::error::ClientError;
use crate::events::{Events, HistoryPage, Joined};
use crate::outbox::{Ack, new_client_id};
use crate::socket::{DialError, dial};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Settings of a client.
#[derive(Debug, Clone)]
pub struct Config {
    /// Ask the server to batch frames (`batch=1`); the client splits them. Default on.
    pub batch: bool,
    /// Reconnect delays.
    pub backoff: BackoffConfig,
    /// A connection that lived this long resets the backoff.
    pub stable_after: Duration,
    /// Bound on one handshake plus its `hello`.
    pub connect_timeout: Duration,
    /// Send a `ping` when nothing arrived for this long.
    pub heartbeat: Duration,
    /// Drop the connection (and reconnect) when nothing arrived for this long.
    pub idle_timeout: Duration,
    /// Extra handshake headers, such as `Origin`.
    pub headers: Vec<(String, String)>,
    /// How often a `send` refused with `rate_limited` or `internal` is tried again.
    pub max_send_retries: u32,
    /// WebSocket URLs of other nodes of the same chat: after a lost connection or a failed
    /// reconnect the next URL in turn (the connect URL first) is tried.
    pub failover_urls: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            batch: true,
            backoff: BackoffConfig::default(),
            stable_after: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            heartbeat: Duration::from_secs(25),
            idle_timeout: Duration::from_secs(70),
            headers: Vec::new(),
            max_send_retries: 5,
            failover_urls: Vec::new(),
        }
    }
}

/// A connected chat client. Cheap to clone; the connection closes when [`Client::close`] is
/// called or every clone is dropped.
#[derive(Debug, Clone)]
pub struct Client {
    commands: mpsc::UnboundedSender<Command>,
}

/// The answer to a call, as a future. The command is queued when the call returns, so calls
/// reach the server in call order whether or not (and whenever) their replies are awaited.
#[derive(Debug)]
pub struct Reply<T> {
    rx: Option<oneshot::Receiver<Result<T, ClientError>>>,
}

impl<T> Reply<T> {
    fn closed() -> Reply<T> {
        Reply { rx: None }
    }
}

impl<T> Future for Reply<T> {
    type Output = Result<T, ClientError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.rx.as_mut() {
            None => Poll::Ready(Err(ClientError::Closed)),
            Some(rx) => Pin::new(rx)
                .poll(cx)
                .map(|r| r.unwrap_or(Err(ClientError::Closed))),
        }
    }
}

impl Client {
    /// Connects to the WebSocket endpoint `url` (such as `ws://host/ws`) with the default
    /// [`Config`]; returns the handle and the app's [`Events`].
    pub async fn connect(url: &str, auth: Auth) -> Result<(Client, Events), ClientError> {
        Client::connect_with(url, auth, Config::default()).await
    }

    /// Connects with `config`. The first connection is not retried: its failure is returned
    /// (HTTP 401 as [`ClientError::SessionEnded`]).
    pub async fn connect_with(
        url: &str,
        auth: Auth,
        config: Config,
    ) -> Result<(Client, Events), ClientError> {
        let credential = auth.credential().await?;
        let opened = dial(
            url,
            &credential,
            &config.headers,
            config.batch,
            config.connect_timeout,
        )
        .await
        .map_err(|e| match e {
            DialError::Refused(401, _) => ClientError::SessionEnded,
            DialError::Refused(status, body) => ClientError::Refused { status, body },
            DialError::Failed(e) => e,
        })?;
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let driver = Driver::new(url.to_owned(), auth, config, commands_rx, events_tx);
        tokio::spawn(driver.run(opened));
        Ok((Client { commands }, Events::new(events_rx)))
    }

    fn call<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, ClientError>>) -> Command,
    ) -> Reply<T> {
        let (tx, rx) = oneshot::channel();
        match self.commands.send(make(tx)) {
            Ok(()) => Reply { rx: Some(rx) },
            Err(_) => Reply::closed(),
        }
    }

    /// Joins `room` and keeps it joined across reconnects, resuming after the last seq
    /// delivered; only messages committed after the first join are delivered.
    pub fn join(&self, room: &str) -> Reply<Joined> {
        self.join_after_opt(room, None)
    }

    /// Joins `room` delivering every message with a seq above `after_seq` first.
    pub fn join_after(&self, room: &str, after_seq: i64) -> Reply<Joined> {
        self.join_after_opt(room, Some(after_seq))
    }

    fn join_after_opt(&self, room: &str, after_seq: Option<i64>) -> Reply<Joined> {
        self.call(|reply| Command::Join {
            room: room.to_owned(),
            after_seq,
            reply,
        })
    }

    /// Leaves `room` on this connection (membership is kept) and stops resuming it.
    pub fn leave(&self, room: &str) -> Reply<()> {
        self.call(|reply| Command::Leave {
            room: room.to_owned(),
            reply,
        })
    }

    /// Posts `body` to `room` with a fresh `client_id`; resolves with the [`Ack`] once durable.
    /// Kept in the outbox until acknowledged: sent again, with the same id, after a reconnect.
    pub fn send(&self, room: &str, body: &str) -> Reply<Ack> {
        self.send_with_id(room, body, &new_client_id())
    }

    /// Posts with the app's own `client_id` (at most 64 characters).
    pub fn send_with_id(&self, room: &str, body: &str, client_id: &str) -> Reply<Ack> {
        self.call(|reply| Command::Send {
            room: room.to_owned(),
            body: body.to_owned(),
            client_id: client_id.to_owned(),
            reply,
        })
    }

    /// Edits one's own message. Resolves when the server took it (no `error` came back).
    pub fn edit(&self, room: &str, seq: i64, body: &str) -> Reply<()> {
        self.call(|reply| Command::Edit {
            room: room.to_owned(),
            seq,
            body: body.to_owned(),
            reply,
        })
    }

    /// Deletes one's own message (admins: any).
    pub fn delete(&self, room: &str, seq: i64) -> Reply<()> {
        self.call(|reply| Command::Delete {
            room: room.to_owned(),
            seq,
            reply,
        })
    }

    /// Tells the room one is typing (the server forwards one per second).
    pub fn typing(&self, room: &str) -> Reply<()> {
        self.call(|reply| Command::Typing {
            room: room.to_owned(),
            reply,
        })
    }

    /// A page of messages before `before_seq` (the newest without it); `limit` defaults to 50.
    pub fn history(
        &self,
        room: &str,
        before_seq: Option<i64>,
        limit: Option<usize>,
    ) -> Reply<HistoryPage> {
        self.call(|reply| Command::History {
            room: room.to_owned(),
            before_seq,
            limit,
            reply,
        })
    }

    /// Round trip of a `ping` on the current connection.
    pub fn ping(&self) -> Reply<Duration> {
        self.call(|reply| Command::Ping { reply })
    }

    /// Sends still waiting for their ack.
    pub fn pending_sends(&self) -> Reply<usize> {
        self.call(|reply| Command::PendingSends { reply })
    }

    /// The highest seq of `room` delivered so far (`None` if unknown or not joined).
    pub fn last_seq(&self, room: &str) -> Reply<Option<i64>> {
        self.call(|reply| Command::LastSeq {
            room: room.to_owned(),
            reply,
        })
    }

    /// Closes the connection (code 1000) and stops the client; waiting calls fail with
    /// [`ClientError::Closed`].
    pub async fn close(&self) {
        let _ = self.call(|reply| Command::Close { reply }).await;
    }

    /// Drops the current socket without a close handshake, as a network failure would: the
    /// client reconnects and resumes. For tests of the reconnect path.
    pub fn drop_connection(&self) {
        let _ = self.commands.send(Command::DropConnection);
    }
}
