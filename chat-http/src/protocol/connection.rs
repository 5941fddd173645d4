//! The state of one WebSocket connection and what each client frame does: the user, the rooms
//! joined with their presence guards, the rate-limit strikes. Every refusal becomes an `error`
//! frame; the connection stays usable unless an abuse limit closes it.
//!
//! Joining hands the room's feed to the connection's writer through the outbound queue, right
//! after the `joined` frame; leaving takes it back before the `left` frame (see
//! [`super::feeds`]). A feed that ends because its room was deleted drops its share of the
//! room's name, which tells the connection it left the room.

use super::frames::{self, ClientFrame, FrameError, ServerFrame};
use super::outbound::{Outbound, close_code};
use crate::ChatHttp;
use crate::error::public_message;
use crate::views;
use bytes::Bytes;
use chat_core::{
    ChatError, ChatRoom, ChatService, HistoryPage, PostRequest, Posted, PresenceGuard, RoomId, Seq,
    TokenHash, User,
};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::time::Instant;

/// Default page size of a `history` frame without `limit`.
pub const DEFAULT_HISTORY_LIMIT: usize = 50;

/// `typing` frames for one room closer together than this are ignored.
pub const TYPING_INTERVAL: Duration = Duration::from_millis(1000);

impl From<ChatError> for FrameError {
    fn from(e: ChatError) -> Self {
        FrameError {
            code: e.code(),
            message: public_message(&e),
        }
    }
}

/// A `send` frame waiting to be posted with the others that arrived with it.
struct PendingSend {
    text: Bytes,
    room: String,
    body: String,
    client_id: Option<String>,
}

/// A room this connection has joined.
struct Joined {
    room: Arc<ChatRoom>,
    key: String,
    presence: PresenceGuard,
    /// The name written in the room's frames, shared with its feed until the feed ends.
    name: Arc<str>,
}

/// Per-connection state.
pub(crate) struct Connection {
    chat: ChatHttp,
    user: User,
    /// The hash of the session the socket was opened with, as bytes (none for sockets served
    /// without a handshake).
    token: Option<[u8; 32]>,
    out: Outbound,
    rooms: HashMap<RoomId, Joined>,
    last_typing: HashMap<RoomId, Instant>,
    strikes: u32,
}

/// The user without their password hash, which a socket never needs.
fn without_hash(user: User) -> User {
    User {
        password_hash: String::new(),
        ..user
    }
}

/// The lookup key of a room name (names are unique case-insensitively).
fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

impl Connection {
    pub(crate) fn new(
        chat: ChatHttp,
        user: User,
        token: Option<TokenHash>,
        out: Outbound,
    ) -> Connection {
        Connection {
            chat,
            user: without_hash(user),
            token: token.as_ref().and_then(TokenHash::to_bytes),
            out,
            rooms: HashMap::new(),
            last_typing: HashMap::new(),
            strikes: 0,
        }
    }

    fn service(&self) -> &ChatService {
        self.chat.service()
    }

    async fn push(&self, frame: &ServerFrame<'_>) {
        self.out.push(frames::encode(frame)).await;
    }

    /// Sends the `hello` frame.
    pub(crate) async fn hello(&self) {
        let config = self.chat.config();
        self.push(&ServerFrame::Hello {
            user: views::user(&self.user),
            protocol: frames::PROTOCOL_VERSION,
            max_frame_bytes: config.max_frame_bytes,
            max_rooms: config.max_rooms_per_connection,
        })
        .await;
    }

    /// Sends an `error` frame for a refused client frame.
    pub(crate) async fn refuse(&self, e: &FrameError, raw: Option<&[u8]>) {
        self.refuse_in(e, raw, None, None).await;
    }

    async fn refuse_in(
        &self,
        e: &FrameError,
        raw: Option<&[u8]>,
        room: Option<&str>,
        client_id: Option<&str>,
    ) {
        self.chat
            .metrics()
            .error_frames
            .fetch_add(1, Ordering::Relaxed);
        let reference = raw.and_then(frames::client_ref);
        self.push(&ServerFrame::Error {
            code: Cow::Borrowed(e.code),
            message: Cow::Borrowed(&e.message),
            reference: reference.as_ref().map(Cow::Borrowed),
            room: room.map(Cow::Borrowed),
            client_id: client_id.map(Cow::Borrowed),
        })
        .await;
    }

    /// Handles one text frame.
    pub(crate) async fn on_text(&mut self, text: Bytes) {
        self.forget_deleted_rooms();
        match self.accept(&text) {
            Ok(frame) => self.dispatch(frame, &text).await,
            Err((e, raw)) => self.refuse(&e, raw.then_some(&text[..])).await,
        }
    }

    /// Handles text frames that arrived together, in order. Runs of `send` frames are posted
    /// with one store call ([`ChatService::post_many`]): a client that sends faster than one
    /// store round trip per message is not held to one round trip per message. Each frame
    /// still gets its own answer, in order.
    pub(crate) async fn on_texts(&mut self, texts: Vec<Bytes>) {
        self.forget_deleted_rooms();
        let mut sends: Vec<PendingSend> = Vec::new();
        for text in texts {
            if self.out.close_signal().is_closed() {
                // An abuse limit closed the connection: the rest is not handled.
                break;
            }
            match self.accept(&text) {
                Ok(ClientFrame::Send {
                    room,
                    body,
                    client_id,
                }) => sends.push(PendingSend {
                    text,
                    room,
                    body,
                    client_id,
                }),
                Ok(frame) => {
                    self.send_all(std::mem::take(&mut sends)).await;
                    self.dispatch(frame, &text).await;
                }
                Err((e, raw)) => {
                    self.send_all(std::mem::take(&mut sends)).await;
                    self.refuse(&e, raw.then_some(&text[..])).await;
                }
            }
        }
        self.send_all(sends).await;
    }

    /// Counts a text frame and parses it; on refusal, the error and whether to quote the frame.
    fn accept(&self, text: &[u8]) -> Result<ClientFrame, (FrameError, bool)> {
        self.chat
            .metrics()
            .frames_received
            .fetch_add(1, Ordering::Relaxed);
        let max = self.chat.config().max_frame_bytes;
        if text.len() > max {
            let e = FrameError::new(
                "frame_too_large",
                format!("frame of {} bytes exceeds the limit of {max}", text.len()),
            );
            return Err((e, false));
        }
        frames::parse(text).map_err(|e| (e, true))
    }

    /// Handles a parsed frame; a refusal names its room and client id.
    async fn dispatch(&mut self, frame: ClientFrame, text: &[u8]) {
        let Err(e) = self.handle(&frame).await else {
            return;
        };
        let (room, client_id) = match &frame {
            ClientFrame::Send {
                room, client_id, ..
            } => (Some(room), client_id.as_deref()),
            ClientFrame::Join { room, .. }
            | ClientFrame::Leave { room }
            | ClientFrame::Edit { room, .. }
            | ClientFrame::Delete { room, .. }
            | ClientFrame::Typing { room }
            | ClientFrame::History { room, .. } => (Some(room), None),
            ClientFrame::Ping {} => (None, None),
        };
        self.refuse_in(&e, Some(text), room.map(String::as_str), client_id)
            .await;
    }

    /// Posts a run of `send` frames with one store call and answers each, in order.
    async fn send_all(&mut self, sends: Vec<PendingSend>) {
        if sends.len() <= 1 {
            for send in sends {
                let frame = ClientFrame::Send {
                    room: send.room,
                    body: send.body,
                    client_id: send.client_id,
                };
                self.dispatch(frame, &send.text).await;
            }
            return;
        }
        self.chat
            .metrics()
            .sends_batched
            .fetch_add(sends.len() as u64, Ordering::Relaxed);
        // Rate limit and room first, per frame; what passes is posted in one call.
        let mut rooms: Vec<Result<Arc<ChatRoom>, FrameError>> = Vec::with_capacity(sends.len());
        for send in &sends {
            let room = match self.check_rate() {
                Ok(()) => self.resolve(&send.room).await,
                Err(e) => Err(e),
            };
            rooms.push(room);
        }
        let requests: Vec<PostRequest<'_>> = sends
            .iter()
            .zip(&rooms)
            .filter_map(|(send, room)| {
                let room = room.as_ref().ok()?;
                Some(PostRequest {
                    room: room.id,
                    body: &send.body,
                    client_id: send.client_id.as_deref(),
                })
            })
            .collect();
        let mut posted = self
            .service()
            .post_many(&self.user, &requests)
            .await
            .into_iter();
        drop(requests);
        for (send, room) in sends.iter().zip(rooms) {
            let result = room.and_then(|room| match posted.next() {
                Some(Ok(p)) => Ok((room, p)),
                Some(Err(e)) => Err(e.into()),
                None => Err(FrameError::new("internal", "the post was not answered")),
            });
            match result {
                Ok((room, p)) => self.acknowledge(&room, send.client_id.as_deref(), &p).await,
                Err(e) => {
                    self.refuse_in(
                        &e,
                        Some(&send.text),
                        Some(&send.room),
                        send.client_id.as_deref(),
                    )
                    .await;
                }
            }
        }
    }

    async fn handle(&mut self, frame: &ClientFrame) -> Result<(), FrameError> {
        match frame {
            ClientFrame::Join { room, after_seq } => self.join(room, *after_seq).await,
            ClientFrame::Leave { room } => self.leave(room).await,
            ClientFrame::Send {
                room,
                body,
                client_id,
            } => self.send(room, body, client_id.as_deref()).await,
            ClientFrame::Edit { room, seq, body } => {
                self.check_rate()?;
                let room = self.resolve(room).await?;
                self.service()
                    .edit(&self.user, room.id, Seq(*seq), body)
                    .await?;
                Ok(())
            }
            ClientFrame::Delete { room, seq } => {
                self.check_rate()?;
                let room = self.resolve(room).await?;
                self.service()
                    .delete(&self.user, room.id, Seq(*seq))
                    .await?;
                Ok(())
            }
            ClientFrame::Typing { room } => self.typing(room).await,
            ClientFrame::History {
                room,
                before_seq,
                limit,
            } => self.history(room, *before_seq, *limit).await,
            ClientFrame::Ping {} => {
                self.push(&ServerFrame::Pong {}).await;
                Ok(())
            }
        }
    }

    /// The room called `name`: from the joined rooms, else from the store.
    async fn resolve(&self, name: &str) -> Result<Arc<ChatRoom>, FrameError> {
        let key = name_key(name);
        if let Some(j) = self.rooms.values().find(|j| j.key == key) {
            return Ok(Arc::clone(&j.room));
        }
        Ok(Arc::new(self.service().room(&self.user, name).await?))
    }

    fn check_rate(&mut self) -> Result<(), FrameError> {
        if self.chat.limits().actions.try_acquire(self.user.id) {
            self.strikes = 0;
            return Ok(());
        }
        self.chat
            .metrics()
            .rate_limited
            .fetch_add(1, Ordering::Relaxed);
        self.strikes = self.strikes.saturating_add(1);
        if self.strikes >= self.chat.config().abuse_threshold.max(1) {
            self.out
                .close_signal()
                .close(close_code::RATE_ABUSE, "rate limit abuse", true);
        }
        Err(FrameError::new(
            "rate_limited",
            "too many actions; wait a moment and retry (a send with the same client_id)",
        ))
    }

    async fn join(&mut self, name: &str, after_seq: Option<i64>) -> Result<(), FrameError> {
        let room = Arc::new(self.service().room(&self.user, name).await?);
        let previous = self.rooms.remove(&room.id);
        if previous.is_none() && self.rooms.len() >= self.chat.config().max_rooms_per_connection {
            return Err(FrameError::new(
                "too_many_rooms",
                format!(
                    "a connection may join at most {} rooms",
                    self.chat.config().max_rooms_per_connection
                ),
            ));
        }
        let presence = match previous {
            Some(old) => {
                // Re-join: the old feed stops before the new `joined` frame.
                self.out.unwatch(room.id).await;
                old.presence
            }
            None => {
                self.service().join_room(&self.user, room.id).await?;
                self.service().enter_presence(&self.user, room.id).await
            }
        };
        let feed = match self
            .service()
            .subscribe(&self.user, room.id, after_seq.map(Seq))
            .await
        {
            Ok(feed) => feed,
            Err(e) => {
                presence.leave().await;
                return Err(e.into());
            }
        };
        let members = self.service().members(&self.user, room.id).await?;
        let online = self.service().online(room.id);
        let last_seq = match after_seq {
            Some(_) => room.last_seq.max(feed.last_seq()),
            None => feed.last_seq(),
        };
        self.push(&ServerFrame::Joined {
            room: Cow::Borrowed(&room.name),
            last_seq: last_seq.0,
            description: Cow::Borrowed(&room.description),
            members: members
                .iter()
                .map(|m| Cow::Borrowed(m.username.as_str()))
                .collect(),
            online,
        })
        .await;
        let name = Arc::<str>::from(room.name.as_str());
        self.out.watch(feed, Arc::clone(&name)).await;
        let key = name_key(&room.name);
        self.rooms.insert(
            room.id,
            Joined {
                room,
                key,
                presence,
                name,
            },
        );
        Ok(())
    }

    async fn leave(&mut self, name: &str) -> Result<(), FrameError> {
        let key = name_key(name);
        let id = self
            .rooms
            .iter()
            .find(|(_, j)| j.key == key)
            .map(|(id, _)| *id);
        let Some(joined) = id.and_then(|id| self.rooms.remove(&id)) else {
            return Err(FrameError::new(
                "not_joined",
                "this connection has not joined that room",
            ));
        };
        self.out.unwatch(joined.room.id).await;
        joined.presence.leave().await;
        self.push(&ServerFrame::Left {
            room: Cow::Borrowed(&joined.room.name),
        })
        .await;
        Ok(())
    }

    async fn send(
        &mut self,
        name: &str,
        body: &str,
        client_id: Option<&str>,
    ) -> Result<(), FrameError> {
        self.check_rate()?;
        let room = self.resolve(name).await?;
        let posted = self
            .service()
            .post(&self.user, room.id, body, client_id)
            .await?;
        self.acknowledge(&room, client_id, &posted).await;
        Ok(())
    }

    /// Counts a post and sends its `ack`.
    async fn acknowledge(&self, room: &ChatRoom, client_id: Option<&str>, posted: &Posted) {
        if !posted.duplicate {
            self.chat
                .metrics()
                .messages_posted
                .fetch_add(1, Ordering::Relaxed);
        }
        self.push(&ServerFrame::Ack {
            room: Cow::Borrowed(&room.name),
            client_id: client_id.map(Cow::Borrowed),
            seq: posted.message.seq.0,
            id: posted.message.id.0,
            duplicate: posted.duplicate,
        })
        .await;
    }

    async fn typing(&mut self, name: &str) -> Result<(), FrameError> {
        let room = self.resolve(name).await?;
        let now = Instant::now();
        if let Some(last) = self.last_typing.get(&room.id)
            && now.saturating_duration_since(*last) < TYPING_INTERVAL
        {
            return Ok(());
        }
        if self.last_typing.len() > 256 {
            self.last_typing.clear();
        }
        self.last_typing.insert(room.id, now);
        self.service().typing(&self.user, room.id).await?;
        Ok(())
    }

    async fn history(
        &mut self,
        name: &str,
        before_seq: Option<i64>,
        limit: Option<usize>,
    ) -> Result<(), FrameError> {
        self.check_rate()?;
        let room = self.resolve(name).await?;
        let limit = limit.unwrap_or(DEFAULT_HISTORY_LIMIT);
        let page = match before_seq {
            Some(seq) => HistoryPage::Before {
                seq: Seq(seq),
                limit,
            },
            None => HistoryPage::Latest { limit },
        };
        let slice = self.service().history(&self.user, room.id, page).await?;
        self.push(&ServerFrame::History {
            room: Cow::Borrowed(&room.name),
            messages: views::messages(&room.name, &slice.messages),
            has_more: slice.has_more,
        })
        .await;
        Ok(())
    }

    /// Re-reads the session and its user (or only the user, without a session). Returns
    /// `false` when the session ended or the user was deactivated or deleted; store errors keep
    /// the connection (the next check retries).
    pub(crate) async fn refresh_user(&mut self) -> bool {
        let found = match &self.token {
            Some(token) => self
                .service()
                .session_of(&TokenHash::from_bytes(token))
                .await
                .map(|found| found.map(|(_, user)| user)),
            None => self
                .service()
                .store()
                .user(self.user.id)
                .await
                .map_err(ChatError::from),
        };
        match found {
            Ok(Some(user)) if user.is_active && user.id == self.user.id => {
                self.user = without_hash(user);
                true
            }
            Ok(_) => false,
            Err(e) => {
                tracing::warn!(error = %e, "re-reading a connected user failed");
                true
            }
        }
    }

    /// Forgets the rooms whose feeds ended because the room was deleted: the feed held the
    /// other share of the room's name. (A feed that fails closes the connection.)
    fn forget_deleted_rooms(&mut self) {
        self.rooms
            .retain(|_, joined| Arc::strong_count(&joined.name) > 1);
    }

    /// Counts the connection out of every room's presence (the writer drops the feeds).
    pub(crate) async fn finish(&mut self) {
        for (_, joined) in self.rooms.drain() {
            joined.presence.leave().await;
        }
    }
}
