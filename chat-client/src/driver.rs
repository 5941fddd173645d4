//! The task behind a [`Client`](crate::Client): it owns the socket, runs the app's commands,
//! matches the server's answers to the calls waiting for them, delivers events, and after a
//! lost connection reconnects (backoff with jitter, the close-code policy), joins every room
//! again after its cursor and resends the outbox.
//!
//! Matching answers: `ack` by `client_id`, `joined`/`left`/`history` by room (oldest call
//! first), `pong` by order, `error` by the `ref` every frame carries. `edit`, `delete` and
//! `typing` have no answer of their own: a `ping` follows each, and since the server answers
//! frames in order its `pong` says the frame was taken without an `error`.

use crate::auth::Auth;
use crate::backoff::Backoff;
use crate::client::Config;
use crate::close::{Action, after_close, after_refusal};
use crate::error::ClientError;
use crate::events::{Event, HistoryPage, Joined};
use crate::outbox::{Ack, Outbox};
use crate::rooms::{Rooms, key};
use crate::socket::{DialError, Opened, Ws, dial};
use chat_protocol::{ClientFrame, ServerFrame, split_batch};
use futures::{SinkExt, StreamExt};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

/// The first delay before a `send` refused with `rate_limited` or `internal` goes again;
/// doubled at each further refusal.
const RETRY_BASE: Duration = Duration::from_millis(250);

type Tx<T> = oneshot::Sender<Result<T, ClientError>>;

/// A call of the app.
#[derive(Debug)]
pub(crate) enum Command {
    Join {
        room: String,
        after_seq: Option<i64>,
        reply: Tx<Joined>,
    },
    Leave {
        room: String,
        reply: Tx<()>,
    },
    Send {
        room: String,
        body: String,
        client_id: String,
        reply: Tx<Ack>,
    },
    Edit {
        room: String,
        seq: i64,
        body: String,
        reply: Tx<()>,
    },
    Delete {
        room: String,
        seq: i64,
        reply: Tx<()>,
    },
    Typing {
        room: String,
        reply: Tx<()>,
    },
    History {
        room: String,
        before_seq: Option<i64>,
        limit: Option<usize>,
        reply: Tx<HistoryPage>,
    },
    Ping {
        reply: Tx<Duration>,
    },
    PendingSends {
        reply: Tx<usize>,
    },
    LastSeq {
        room: String,
        reply: Tx<Option<i64>>,
    },
    Close {
        reply: Tx<()>,
    },
    DropConnection,
}

/// A frame on the current connection waiting for its answer, by `ref`.
#[derive(Debug)]
enum Waiting {
    /// A `join` (the app's or a resume); its callers wait in `join_calls`.
    Join {
        key: String,
    },
    Leave {
        key: String,
        reply: Tx<()>,
    },
    History {
        key: String,
        reply: Tx<HistoryPage>,
    },
    /// A `ping`: the app's (`reply`), the heartbeat's (none), or the one that follows an
    /// answerless frame (`releases` that frame's ref).
    Ping {
        sent: Instant,
        reply: Option<Tx<Duration>>,
        releases: Option<u64>,
    },
    /// An `edit`, `delete` or `typing`: fine unless an `error` with its ref comes first.
    Answerless {
        reply: Tx<()>,
    },
}

/// What woke the task.
enum Step {
    Command(Option<Command>),
    Socket(Option<Result<Message, tokio_tungstenite::tungstenite::Error>>),
    Dial,
    Tick,
}

pub(crate) struct Driver {
    /// The connect URL, then the failover ones.
    urls: Vec<String>,
    /// The URL the next dial uses.
    current: usize,
    auth: Auth,
    config: Config,
    commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<Event>,
    socket: Option<Ws>,
    rooms: Rooms,
    outbox: Outbox,
    waiting: BTreeMap<u64, Waiting>,
    join_calls: Vec<(String, Tx<Joined>)>,
    next_ref: u64,
    backoff: Backoff,
    next_dial: Option<Instant>,
    last_received: Instant,
    connected_at: Instant,
    heartbeat_sent: bool,
}

impl Driver {
    pub(crate) fn new(
        url: String,
        auth: Auth,
        config: Config,
        commands: mpsc::UnboundedReceiver<Command>,
        events: mpsc::UnboundedSender<Event>,
    ) -> Driver {
        let mut urls = vec![url];
        urls.extend(config.failover_urls.iter().cloned());
        Driver {
            urls,
            current: 0,
            auth,
            backoff: Backoff::new(config.backoff),
            config,
            commands,
            events,
            socket: None,
            rooms: Rooms::default(),
            outbox: Outbox::default(),
            waiting: BTreeMap::new(),
            join_calls: Vec::new(),
            next_ref: 0,
            next_dial: None,
            last_received: Instant::now(),
            connected_at: Instant::now(),
            heartbeat_sent: false,
        }
    }

    /// Runs until the client is closed or stops for good.
    pub(crate) async fn run(mut self, first: Opened) {
        self.opened(first, false).await;
        let stopped = loop {
            let tick = self.next_tick();
            let step = tokio::select! {
                command = self.commands.recv() => Step::Command(command),
                message = next_message(&mut self.socket) => Step::Socket(message),
                () = sleep_until(self.next_dial) => Step::Dial,
                () = tokio::time::sleep_until(tick) => Step::Tick,
            };
            let result = match step {
                Step::Command(None) => Err(ClientError::Closed),
                Step::Command(Some(command)) => self.command(command).await,
                Step::Socket(message) => self.socket_message(message).await,
                Step::Dial => self.dial().await,
                Step::Tick => self.tick().await,
            };
            if let Err(error) = result {
                break error;
            }
        };
        self.stop(stopped).await;
    }

    /// When the heartbeat or a delayed resend is due.
    fn next_tick(&self) -> Instant {
        let heartbeat = if self.socket.is_some() {
            let after = if self.heartbeat_sent {
                self.config.idle_timeout
            } else {
                self.config.heartbeat
            };
            self.last_received + after
        } else {
            Instant::now() + Duration::from_secs(3600)
        };
        match self.outbox.next_retry() {
            Some(retry) if self.socket.is_some() => heartbeat.min(retry),
            _ => heartbeat,
        }
    }

    /// A socket is up: tell the app, join the rooms again, send the outbox.
    async fn opened(&mut self, opened: Opened, reconnect: bool) {
        self.socket = Some(opened.ws);
        self.last_received = Instant::now();
        self.connected_at = Instant::now();
        self.heartbeat_sent = false;
        self.next_dial = None;
        self.emit(Event::Connected {
            user: opened.user,
            reconnect,
        });
        for frame in opened.rest {
            self.frame(frame);
        }
        for (name, after_seq) in self.rooms.all() {
            self.send_join(name, after_seq).await;
        }
        self.flush_outbox().await;
    }

    async fn command(&mut self, command: Command) -> Result<(), ClientError> {
        match command {
            Command::Join {
                room,
                after_seq,
                reply,
            } => {
                let room_key = key(&room);
                let name = self.rooms.want(&room, after_seq).name.clone();
                let after_seq = self.rooms.last_seq(&name);
                self.join_calls.push((room_key.clone(), reply));
                if self.socket.is_some() {
                    self.send_join(name, after_seq).await;
                }
            }
            Command::Leave { room, reply } => {
                self.rooms.remove(&room);
                if self.socket.is_some() {
                    let waiting = Waiting::Leave {
                        key: key(&room),
                        reply,
                    };
                    self.write(&ClientFrame::Leave { room }, Some(waiting))
                        .await;
                } else {
                    let _ = reply.send(Ok(()));
                }
            }
            Command::Send {
                room,
                body,
                client_id,
                reply,
            } => {
                if self.outbox.add(room, body, client_id, reply) {
                    self.flush_outbox().await;
                }
            }
            Command::Edit {
                room,
                seq,
                body,
                reply,
            } => {
                self.answerless(&ClientFrame::Edit { room, seq, body }, reply)
                    .await;
            }
            Command::Delete { room, seq, reply } => {
                self.answerless(&ClientFrame::Delete { room, seq }, reply)
                    .await;
            }
            Command::Typing { room, reply } => {
                self.answerless(&ClientFrame::Typing { room }, reply).await;
            }
            Command::History {
                room,
                before_seq,
                limit,
                reply,
            } => {
                if self.socket.is_none() {
                    let _ = reply.send(Err(ClientError::Disconnected));
                } else {
                    let waiting = Waiting::History {
                        key: key(&room),
                        reply,
                    };
                    let frame = ClientFrame::History {
                        room,
                        before_seq,
                        limit,
                    };
                    self.write(&frame, Some(waiting)).await;
                }
            }
            Command::Ping { reply } => {
                if self.socket.is_none() {
                    let _ = reply.send(Err(ClientError::Disconnected));
                } else {
                    let waiting = Waiting::Ping {
                        sent: Instant::now(),
                        reply: Some(reply),
                        releases: None,
                    };
                    self.write(&ClientFrame::Ping {}, Some(waiting)).await;
                }
            }
            Command::PendingSends { reply } => {
                let _ = reply.send(Ok(self.outbox.len()));
            }
            Command::LastSeq { room, reply } => {
                let _ = reply.send(Ok(self.rooms.last_seq(&room)));
            }
            Command::Close { reply } => {
                if let Some(mut ws) = self.socket.take() {
                    let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
                }
                let _ = reply.send(Ok(()));
                return Err(ClientError::Closed);
            }
            Command::DropConnection => {
                if self.socket.take().is_some() {
                    self.lost(None, "dropped by the app".into()).await?;
                }
            }
        }
        Ok(())
    }

    /// Sends a `join` (messages of the room's current stream are skipped until it is answered).
    async fn send_join(&mut self, name: String, after_seq: Option<i64>) {
        let waiting = Waiting::Join { key: key(&name) };
        let frame = ClientFrame::Join {
            room: name.clone(),
            after_seq,
        };
        if self.write(&frame, Some(waiting)).await.is_some() {
            self.rooms.join_sent(&name);
        }
    }

    /// Sends a frame without an answer of its own, followed by the `ping` that confirms it.
    async fn answerless(&mut self, frame: &ClientFrame, reply: Tx<()>) {
        if self.socket.is_none() {
            let _ = reply.send(Err(ClientError::Disconnected));
            return;
        }
        let Some(reference) = self.write(frame, Some(Waiting::Answerless { reply })).await else {
            return;
        };
        let ping = Waiting::Ping {
            sent: Instant::now(),
            reply: None,
            releases: Some(reference),
        };
        self.write(&ClientFrame::Ping {}, Some(ping)).await;
    }

    /// Puts the due sends of the outbox on the wire.
    async fn flush_outbox(&mut self) {
        if self.socket.is_none() {
            return;
        }
        for (client_id, room, body) in self.outbox.due(Instant::now()) {
            let frame = ClientFrame::Send {
                room,
                body,
                client_id: Some(client_id),
            };
            if self.write(&frame, None).await.is_none() {
                return;
            }
        }
    }

    /// Writes a frame with a fresh `ref`, remembering what waits for its answer. On a write
    /// failure the connection is treated as lost (the waiter fails or is kept, as for any
    /// loss); returns the ref when written.
    async fn write(&mut self, frame: &ClientFrame, waiting: Option<Waiting>) -> Option<u64> {
        self.next_ref += 1;
        let reference = self.next_ref;
        let text = match frame.to_text_with_ref(reference) {
            Ok(text) => text,
            Err(e) => {
                if let Some(waiting) = waiting {
                    fail(waiting, &ClientError::BadRequest(e.to_string()));
                }
                return None;
            }
        };
        let Some(ws) = self.socket.as_mut() else {
            if let Some(waiting) = waiting {
                fail(waiting, &ClientError::Disconnected);
            }
            return None;
        };
        if let Some(waiting) = waiting {
            self.waiting.insert(reference, waiting);
        }
        match ws.send(Message::text(text)).await {
            Ok(()) => Some(reference),
            Err(e) => {
                self.socket = None;
                // A stop here surfaces at the next step: the socket is gone, a dial is due.
                let _ = self.lost(None, e.to_string()).await;
                None
            }
        }
    }

    async fn socket_message(
        &mut self,
        message: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
    ) -> Result<(), ClientError> {
        self.last_received = Instant::now();
        self.heartbeat_sent = false;
        match message {
            Some(Ok(Message::Text(text))) => {
                for line in split_batch(text.as_str()) {
                    match ServerFrame::parse(line) {
                        Ok(Some(frame)) => self.frame(frame),
                        Ok(None) => {}
                        Err(e) => tracing::warn!(error = %e, "unreadable server frame"),
                    }
                }
                Ok(())
            }
            Some(Ok(Message::Close(frame))) => {
                let (code, reason) = match frame {
                    Some(f) => (Some(u16::from(f.code)), f.reason.to_string()),
                    None => (None, String::new()),
                };
                // Answer the close frame (tungstenite queued the reply), bounded.
                if let Some(mut ws) = self.socket.take() {
                    let _ = tokio::time::timeout(Duration::from_secs(2), async {
                        while ws.next().await.is_some() {}
                    })
                    .await;
                }
                self.lost(code, reason).await
            }
            Some(Ok(_)) => Ok(()),
            Some(Err(e)) => {
                self.socket = None;
                self.lost(None, e.to_string()).await
            }
            None => {
                self.socket = None;
                self.lost(None, "connection closed".into()).await
            }
        }
    }

    /// One server frame.
    fn frame(&mut self, frame: ServerFrame<'static>) {
        match frame {
            ServerFrame::Message(message) => {
                if self.rooms.accept(&message.room, message.seq) {
                    self.emit(Event::Message(message));
                }
            }
            ServerFrame::Ack {
                room,
                client_id: Some(client_id),
                seq,
                id,
                duplicate,
            } => {
                let ack = Ack {
                    room: room.into_owned(),
                    seq,
                    id,
                    client_id: client_id.to_string(),
                    duplicate,
                };
                self.outbox.finish(&client_id, Ok(ack));
            }
            ServerFrame::Joined {
                room,
                last_seq,
                description,
                members,
                online,
            } => {
                let room_key = key(&room);
                self.take_waiting(|w| matches!(w, Waiting::Join { key } if *key == room_key));
                if !self.rooms.joined(&room, last_seq) {
                    return; // left meanwhile
                }
                let joined = Joined {
                    room: room.into_owned(),
                    last_seq,
                    description: description.into_owned(),
                    members: members.into_iter().map(|m| m.into_owned()).collect(),
                    online,
                };
                for (k, reply) in std::mem::take(&mut self.join_calls) {
                    if k == room_key {
                        let _ = reply.send(Ok(joined.clone()));
                    } else {
                        self.join_calls.push((k, reply));
                    }
                }
                self.emit(Event::Joined(joined));
            }
            ServerFrame::Left { room } => {
                let room_key = key(&room);
                match self
                    .take_waiting(|w| matches!(w, Waiting::Leave { key, .. } if *key == room_key))
                {
                    Some(Waiting::Leave { reply, .. }) => {
                        let _ = reply.send(Ok(()));
                    }
                    _ => {
                        self.rooms.remove(&room);
                        self.emit(Event::Frame(ServerFrame::Left { room }));
                    }
                }
            }
            ServerFrame::RoomDeleted { room } => {
                self.rooms.remove(&room);
                self.emit(Event::Frame(ServerFrame::RoomDeleted { room }));
            }
            ServerFrame::History {
                room,
                messages,
                has_more,
            } => {
                let room_key = key(&room);
                if let Some(Waiting::History { reply, .. }) = self
                    .take_waiting(|w| matches!(w, Waiting::History { key, .. } if *key == room_key))
                {
                    let _ = reply.send(Ok(HistoryPage {
                        room: room.into_owned(),
                        messages,
                        has_more,
                    }));
                }
            }
            ServerFrame::Pong {} => {
                if let Some(Waiting::Ping {
                    sent,
                    reply,
                    releases,
                }) = self.take_waiting(|w| matches!(w, Waiting::Ping { .. }))
                {
                    if let Some(reply) = reply {
                        let _ = reply.send(Ok(sent.elapsed()));
                    }
                    if let Some(Waiting::Answerless { reply }) =
                        releases.and_then(|r| self.waiting.remove(&r))
                    {
                        let _ = reply.send(Ok(()));
                    }
                }
            }
            ServerFrame::Error {
                code,
                message,
                reference,
                room,
                client_id,
            } => self.error(
                code.into_owned(),
                message.into_owned(),
                reference,
                room,
                client_id,
            ),
            ServerFrame::Hello { .. } => {}
            other => self.emit(Event::Frame(other)),
        }
    }

    /// An `error` frame: fails the call it answers, else goes to the app.
    fn error(
        &mut self,
        code: String,
        message: String,
        reference: Option<std::borrow::Cow<'static, serde_json::Value>>,
        room: Option<std::borrow::Cow<'static, str>>,
        client_id: Option<std::borrow::Cow<'static, str>>,
    ) {
        let error = ClientError::Server {
            code: code.clone(),
            message: message.clone(),
        };
        if let Some(client_id) = &client_id {
            let retry = matches!(code.as_str(), "rate_limited" | "internal");
            if retry {
                match self.outbox.retry(client_id, Instant::now(), RETRY_BASE) {
                    Some(n) if n <= self.config.max_send_retries => return,
                    Some(_) => {}
                    None => return,
                }
            }
            if self.outbox.finish(client_id, Err(error.clone())) {
                return;
            }
        }
        let waiting = reference
            .as_ref()
            .and_then(|r| r.as_u64())
            .and_then(|r| self.waiting.remove(&r));
        match waiting {
            Some(Waiting::Join { key: room_key }) => {
                self.rooms.join_refused(&room_key);
                self.rooms.forget_unconfirmed(&room_key);
                let mut handled = false;
                for (k, reply) in std::mem::take(&mut self.join_calls) {
                    if k == room_key {
                        handled = true;
                        let _ = reply.send(Err(error.clone()));
                    } else {
                        self.join_calls.push((k, reply));
                    }
                }
                if !handled {
                    self.emit_error(code, message, reference, room, client_id);
                }
            }
            Some(other) => fail(other, &error),
            None => self.emit_error(code, message, reference, room, client_id),
        }
    }

    fn emit_error(
        &self,
        code: String,
        message: String,
        reference: Option<std::borrow::Cow<'static, serde_json::Value>>,
        room: Option<std::borrow::Cow<'static, str>>,
        client_id: Option<std::borrow::Cow<'static, str>>,
    ) {
        self.emit(Event::Frame(ServerFrame::Error {
            code: code.into(),
            message: message.into(),
            reference,
            room,
            client_id,
        }));
    }

    /// Removes and returns the oldest waiting frame that `is` matches.
    fn take_waiting(&mut self, is: impl Fn(&Waiting) -> bool) -> Option<Waiting> {
        let reference = self.waiting.iter().find(|(_, w)| is(w)).map(|(r, _)| *r)?;
        self.waiting.remove(&reference)
    }

    /// The heartbeat, and delayed resends.
    async fn tick(&mut self) -> Result<(), ClientError> {
        if self.socket.is_none() {
            return Ok(());
        }
        let idle = self.last_received.elapsed();
        if idle >= self.config.idle_timeout {
            self.socket = None;
            return self.lost(None, "heartbeat timeout".into()).await;
        }
        if idle >= self.config.heartbeat && !self.heartbeat_sent {
            self.heartbeat_sent = true;
            let ping = Waiting::Ping {
                sent: Instant::now(),
                reply: None,
                releases: None,
            };
            self.write(&ClientFrame::Ping {}, Some(ping)).await;
        }
        self.flush_outbox().await;
        Ok(())
    }

    /// The socket is gone (`self.socket` already `None`): fail what cannot be repeated,
    /// requeue the sends, and decide from the close code whether and when to reconnect.
    async fn lost(&mut self, code: Option<u16>, reason: String) -> Result<(), ClientError> {
        self.socket = None;
        for (_, waiting) in std::mem::take(&mut self.waiting) {
            fail(waiting, &ClientError::Disconnected);
        }
        self.outbox.requeue_sent();
        self.rooms.disconnected();
        self.emit(Event::Disconnected {
            code,
            reason: reason.clone(),
        });
        if self.connected_at.elapsed() >= self.config.stable_after {
            self.backoff.reset();
        }
        let action = match code.map_or(Action::Resume, after_close) {
            // A token callback may have a fresh credential (a JWT closes with 4001 at its
            // expiry): ask it once more; a dead one is refused with 401 at the handshake.
            Action::SessionEnded if matches!(self.auth, Auth::Callback(_)) => Action::Resume,
            action => action,
        };
        self.after(action, ClientError::Connection(reason))
    }

    /// Schedules the next dial, or stops.
    fn after(&mut self, action: Action, refusal: ClientError) -> Result<(), ClientError> {
        let delay = match action {
            Action::SessionEnded => return Err(ClientError::SessionEnded),
            Action::Stop => return Err(refusal),
            Action::Penalty => self.backoff.next(true),
            Action::Resume => self.backoff.next(false),
        };
        self.next_dial = Some(Instant::now() + delay);
        self.current = (self.current + 1) % self.urls.len();
        self.emit(Event::Reconnecting {
            attempt: self.backoff.attempt(),
            delay,
        });
        Ok(())
    }

    /// A reconnect attempt.
    async fn dial(&mut self) -> Result<(), ClientError> {
        self.next_dial = None;
        let credential = match self.auth.credential().await {
            Ok(credential) => credential,
            Err(e) => {
                tracing::warn!(error = %e, "no credential for the reconnect");
                return self.after(Action::Penalty, e);
            }
        };
        let opened = dial(
            &self.urls[self.current],
            &credential,
            &self.config.headers,
            self.config.batch,
            self.config.connect_timeout,
        )
        .await;
        match opened {
            Ok(opened) => {
                self.opened(opened, true).await;
                Ok(())
            }
            Err(DialError::Refused(status, body)) => {
                let refusal = ClientError::Refused { status, body };
                self.after(after_refusal(status), refusal)
            }
            Err(DialError::Failed(e)) => {
                tracing::debug!(error = %e, "reconnect failed");
                self.after(Action::Resume, e)
            }
        }
    }

    /// The client stopped for good: every call waiting and every later one fails with `error`.
    async fn stop(mut self, error: ClientError) {
        if let Some(mut ws) = self.socket.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
        }
        for (_, waiting) in std::mem::take(&mut self.waiting) {
            fail(waiting, &error);
        }
        for (_, reply) in std::mem::take(&mut self.join_calls) {
            let _ = reply.send(Err(error.clone()));
        }
        self.outbox.fail_all(&error);
        self.emit(Event::Stopped(error.clone()));
        if error == ClientError::Closed {
            return;
        }
        // Keep answering calls until every handle is gone.
        while let Some(command) = self.commands.recv().await {
            refuse(command, &error);
        }
    }

    fn emit(&self, event: Event) {
        // The app may have dropped its Events: nothing to tell then.
        let _ = self.events.send(event);
    }
}

/// The next message of the socket; never, without one.
async fn next_message(
    socket: &mut Option<Ws>,
) -> Option<Result<Message, tokio_tungstenite::tungstenite::Error>> {
    match socket {
        Some(ws) => ws.next().await,
        None => std::future::pending().await,
    }
}

/// Resolves at `at`; never, without one.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Fails a waiting frame's call.
fn fail(waiting: Waiting, error: &ClientError) {
    match waiting {
        Waiting::Join { .. } => {}
        Waiting::Leave { reply, .. } | Waiting::Answerless { reply } => {
            let _ = reply.send(Err(error.clone()));
        }
        Waiting::History { reply, .. } => {
            let _ = reply.send(Err(error.clone()));
        }
        Waiting::Ping { reply, .. } => {
            if let Some(reply) = reply {
                let _ = reply.send(Err(error.clone()));
            }
        }
    }
}

/// Answers a command after the client stopped.
fn refuse(command: Command, error: &ClientError) {
    let e = error.clone();
    match command {
        Command::Join { reply, .. } => drop(reply.send(Err(e))),
        Command::Send { reply, .. } => drop(reply.send(Err(e))),
        Command::History { reply, .. } => drop(reply.send(Err(e))),
        Command::Ping { reply } => drop(reply.send(Err(e))),
        Command::PendingSends { reply } => drop(reply.send(Ok(0))),
        Command::LastSeq { reply, .. } => drop(reply.send(Err(e))),
        Command::Leave { reply, .. }
        | Command::Edit { reply, .. }
        | Command::Delete { reply, .. }
        | Command::Typing { reply, .. } => drop(reply.send(Err(e))),
        Command::Close { reply } => drop(reply.send(Ok(()))),
        Command::DropConnection => {}
    }
}
