//! Posting, editing, deleting, reading and searching messages.

use super::ChatService;
use crate::{
    ChatError, ChatResult, Entity, HistoryPage, Message, NewMessage, Posted, RoomEvent, RoomId,
    SearchQuery, Seq, StoreError, Timestamp, User, validation,
};

/// One message to post with [`ChatService::post_many`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostRequest<'a> {
    /// The room to post in.
    pub room: RoomId,
    /// The body, validated as by [`ChatService::post`].
    pub body: &'a str,
    /// The client's idempotency key, if any.
    pub client_id: Option<&'a str>,
}

/// A page of history with whether more lies beyond it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistorySlice {
    /// Messages, ascending by seq.
    pub messages: Vec<Message>,
    /// For `Latest`/`Before` pages: older messages exist. For `After` pages: newer ones exist.
    pub has_more: bool,
}

impl ChatService {
    /// Posts a message as `actor`, who must be a member of `room`. The message is durable when
    /// this returns; then it is published (by the store itself, in commit order, when it
    /// announces posts; see [`PostListener`](crate::PostListener)). With a `client_id` the
    /// author has used before, the original message comes back (`duplicate = true`) and
    /// nothing is written or published.
    pub async fn post(
        &self,
        actor: &User,
        room: RoomId,
        body: &str,
        client_id: Option<&str>,
    ) -> ChatResult<Posted> {
        let request = PostRequest {
            room,
            body,
            client_id,
        };
        let new = self.new_message(actor, &request, self.clock().now())?;
        // The store checks membership with its write: one round trip, atomic with it.
        let posted = self.store().post_message(new).await?;
        self.publish_posted(&posted).await;
        Ok(posted)
    }

    /// Checks a post's body and client id and makes what the store writes.
    fn new_message(
        &self,
        actor: &User,
        request: &PostRequest<'_>,
        now: Timestamp,
    ) -> ChatResult<NewMessage> {
        let limits = &self.config().limits;
        let body = validation::body(limits, request.body)?;
        if let Some(id) = request.client_id {
            validation::client_id(limits, id)?;
        }
        Ok(NewMessage {
            room: request.room,
            author: actor.id,
            body: body.to_owned(),
            client_id: request.client_id.map(str::to_owned),
            created_at: now,
        })
    }

    /// Publishes a stored post, unless it repeats an earlier one or the store announces its
    /// posts itself.
    async fn publish_posted(&self, posted: &Posted) {
        if !posted.duplicate && !self.store_publishes_posts() {
            let event = RoomEvent::MessagePosted {
                message: posted.message.clone(),
            };
            self.publish(posted.message.room, event).await;
        }
    }

    /// Posts several messages as `actor`, each exactly as [`post`](Self::post) would, in the
    /// order given, with one store call ([`MessageStore::post_messages`]): one result per
    /// request, in that order, each succeeding or failing on its own. Messages of one room get
    /// increasing seqs in request order.
    ///
    /// [`MessageStore::post_messages`]: crate::MessageStore::post_messages
    pub async fn post_many(
        &self,
        actor: &User,
        requests: &[PostRequest<'_>],
    ) -> Vec<ChatResult<Posted>> {
        let now = self.clock().now();
        // `None`: valid, its answer comes from the store (in order).
        let mut refused: Vec<Option<ChatError>> = Vec::with_capacity(requests.len());
        let mut valid = Vec::with_capacity(requests.len());
        for request in requests {
            match self.new_message(actor, request, now) {
                Ok(new) => {
                    valid.push(new);
                    refused.push(None);
                }
                Err(e) => refused.push(Some(e)),
            }
        }
        let mut stored = if valid.is_empty() {
            Vec::new()
        } else {
            self.store().post_messages(valid).await
        }
        .into_iter();
        let mut results = Vec::with_capacity(requests.len());
        for refusal in refused {
            let result = match refusal {
                Some(e) => Err(e),
                None => match stored.next() {
                    Some(Ok(posted)) => {
                        self.publish_posted(&posted).await;
                        Ok(posted)
                    }
                    Some(Err(e)) => Err(e.into()),
                    None => Err(StoreError::backend(std::io::Error::other(
                        "the store answered fewer posts than it was given",
                    ))
                    .into()),
                },
            };
            results.push(result);
        }
        results
    }

    /// Replaces the body of one of `actor`'s own messages.
    pub async fn edit(
        &self,
        actor: &User,
        room: RoomId,
        seq: Seq,
        body: &str,
    ) -> ChatResult<Message> {
        let body = validation::body(&self.config().limits, body)?;
        let message = self.live_message(room, seq).await?;
        if message.author != actor.id {
            return Err(ChatError::Forbidden("only the author may edit a message"));
        }
        let edited = self
            .store()
            .edit_message(room, seq, body.to_owned(), self.clock().now())
            .await?;
        let event = RoomEvent::MessageEdited {
            message: edited.clone(),
        };
        self.publish(room, event).await;
        Ok(edited)
    }

    /// Soft-deletes a message: the author's own, or any message for an admin.
    pub async fn delete(&self, actor: &User, room: RoomId, seq: Seq) -> ChatResult<Message> {
        let message = self.live_message(room, seq).await?;
        if message.author != actor.id && !actor.is_admin {
            return Err(ChatError::Forbidden(
                "only the author or an admin may delete a message",
            ));
        }
        let deleted = self.store().delete_message(room, seq).await?;
        let event = RoomEvent::MessageDeleted {
            id: deleted.id,
            seq: deleted.seq,
        };
        self.publish(room, event).await;
        Ok(deleted)
    }

    /// A page of a room's history. The limit is clamped to `Limits::page_max`.
    pub async fn history(
        &self,
        _actor: &User,
        room: RoomId,
        page: HistoryPage,
    ) -> ChatResult<HistorySlice> {
        let limit = self.clamp(page.limit());
        if limit == 0 {
            return Ok(HistorySlice {
                messages: Vec::new(),
                has_more: false,
            });
        }
        match page {
            HistoryPage::After { .. } => {
                let mut messages = self
                    .store()
                    .history(room, page.with_limit(limit + 1))
                    .await?;
                let mut has_more = messages.len() > limit;
                messages.truncate(limit);
                let keep = self.within_page_bytes(messages.iter());
                has_more |= keep < messages.len();
                messages.truncate(keep);
                Ok(HistorySlice { messages, has_more })
            }
            HistoryPage::Latest { .. } | HistoryPage::Before { .. } => {
                let mut messages = self.store().history(room, page.with_limit(limit)).await?;
                // The newest messages of the page are kept; the client pages back for the rest.
                let keep = self.within_page_bytes(messages.iter().rev());
                messages.drain(..messages.len() - keep);
                // Seqs have no gaps and deleted messages keep theirs: older ones exist exactly
                // when the page does not start at seq 1.
                let has_more = messages.first().is_some_and(|m| m.seq > Seq(1));
                Ok(HistorySlice { messages, has_more })
            }
        }
    }

    /// How many of `messages`, in the order given, fit in `Limits::page_bytes_max` of bodies
    /// (at least one).
    fn within_page_bytes<'a>(&self, messages: impl Iterator<Item = &'a Message>) -> usize {
        let max = self.config().limits.page_bytes_max;
        let mut bytes = 0usize;
        let mut n = 0;
        for message in messages {
            bytes = bytes.saturating_add(message.body.len());
            if n > 0 && bytes > max {
                break;
            }
            n += 1;
        }
        n
    }

    /// Messages of `room` matching every word of `text`, newest first.
    pub async fn search(
        &self,
        _actor: &User,
        room: RoomId,
        text: &str,
        before: Option<Seq>,
        limit: usize,
    ) -> ChatResult<Vec<Message>> {
        let text = validation::search_query(&self.config().limits, text)?;
        let limit = self.clamp(limit);
        if limit == 0 {
            return Ok(Vec::new());
        }
        Ok(self
            .store()
            .search(SearchQuery {
                room,
                text: text.to_owned(),
                before,
                limit,
            })
            .await?)
    }

    async fn live_message(&self, room: RoomId, seq: Seq) -> ChatResult<Message> {
        match self.store().message(room, seq).await? {
            Some(m) if !m.deleted => Ok(m),
            _ => Err(ChatError::NotFound(Entity::Message)),
        }
    }

    pub(super) async fn require_member(&self, actor: &User, room: RoomId) -> ChatResult<()> {
        if self.store().is_member(room, actor.id).await? {
            Ok(())
        } else if self.store().room(room).await?.is_none() {
            Err(ChatError::NotFound(Entity::Room))
        } else {
            Err(ChatError::NotMember)
        }
    }
}
