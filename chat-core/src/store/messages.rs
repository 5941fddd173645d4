//! Storage of messages, with the per-room gap-free `seq`.

use crate::store::PostListener;
use crate::{
    HistoryPage, Message, NewMessage, Posted, RoomId, SearchQuery, Seq, StoreResult, Timestamp,
};
use async_trait::async_trait;
use std::sync::Arc;

/// Stores messages.
#[async_trait]
pub trait MessageStore: Send + Sync + 'static {
    /// Appends a message to its room with the room's next seq, assigned inside the committing
    /// transaction: seqs of one room are 1, 2, 3, ... with no gap and no repeat, whatever the
    /// concurrency. Answers only once the message is durable.
    ///
    /// `NotMember` when the room exists and the author is not a member of it (checked with the
    /// write, so a post never lands after its author left). Otherwise, if the author already
    /// posted a message with the same `client_id`, returns that one with `duplicate = true`
    /// and writes nothing. `NotFound(Room)` when the room does not exist (and the client id
    /// is not a repeat).
    async fn post_message(&self, message: NewMessage) -> StoreResult<Posted>;

    /// Posts several messages, each exactly as [`post_message`](Self::post_message) would, in
    /// the order given: one result per message, in that order; each succeeds or fails on its
    /// own; messages of one room get increasing seqs in that order. A connection that has
    /// several `send` frames waiting posts them with one call, so a store with a group-commit
    /// writer takes them in one round trip instead of one round trip each. The default posts
    /// them one after another.
    async fn post_messages(&self, messages: Vec<NewMessage>) -> Vec<StoreResult<Posted>> {
        let mut results = Vec::with_capacity(messages.len());
        for message in messages {
            results.push(self.post_message(message).await);
        }
        results
    }

    /// Replaces the body of a message that is not deleted. `NotFound(Message)` otherwise.
    async fn edit_message(
        &self,
        room: RoomId,
        seq: Seq,
        body: String,
        at: Timestamp,
    ) -> StoreResult<Message>;

    /// Soft-deletes a message: body emptied, `deleted` set, seq kept. Deleting an already
    /// deleted message returns it unchanged. `NotFound(Message)` when absent.
    async fn delete_message(&self, room: RoomId, seq: Seq) -> StoreResult<Message>;

    /// One message by its position.
    async fn message(&self, room: RoomId, seq: Seq) -> StoreResult<Option<Message>>;

    /// A page of history, ascending by seq, at most `page.limit()` long (deleted messages
    /// included, flagged). An unknown room gives an empty page.
    async fn history(&self, room: RoomId, page: HistoryPage) -> StoreResult<Vec<Message>>;

    /// Messages (not deleted) of a room in which every word of the query occurs as a word or as
    /// the prefix of a word, case-insensitively; newest first, at most `query.limit`.
    async fn search(&self, query: SearchQuery) -> StoreResult<Vec<Message>>;

    /// Asks the store to hand every message it newly posts to `listener` (see
    /// [`PostListener`]). Returns whether it will: a store may decline (the default), and one
    /// that already has a listener declines any other. [`ChatService`](crate::ChatService)
    /// uses this to publish posts in commit order; when declined, it publishes each post after
    /// `post_message` returns.
    fn announce_posts(&self, listener: Arc<dyn PostListener>) -> bool {
        drop(listener);
        false
    }
}
