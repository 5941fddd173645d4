//! `MessageStore` for the memory store: seqs are assigned under the store's lock, so they are
//! gap-free by construction.

use crate::MemoryStore;
use async_trait::async_trait;
use chat_core::{
    Entity, HistoryPage, Message, MessageId, MessageStore, NewMessage, PostListener, Posted,
    RoomId, SearchQuery, Seq, StoreError, StoreResult, Timestamp, search,
};
use std::sync::Arc;

#[async_trait]
impl MessageStore for MemoryStore {
    async fn post_message(&self, new: NewMessage) -> StoreResult<Posted> {
        let mut s = self.lock();
        if s.rooms.contains_key(&new.room) && !s.membership.contains(&(new.room, new.author)) {
            return Err(StoreError::NotMember);
        }
        if let Some(client_id) = &new.client_id
            && let Some((room, seq)) = s
                .client_ids
                .get(&new.author)
                .and_then(|ids| ids.get(client_id))
                .copied()
            && let Some(original) = s.message(room, seq)
        {
            return Ok(Posted {
                message: s.named(original.clone()),
                duplicate: true,
            });
        }
        let author_name = s
            .users
            .get(&new.author)
            .ok_or(StoreError::NotFound(Entity::User))?
            .username
            .clone();
        let room = s
            .rooms
            .get_mut(&new.room)
            .ok_or(StoreError::NotFound(Entity::Room))?;
        room.last_seq = room.last_seq.next();
        let seq = room.last_seq;
        s.next_message += 1;
        let stored = Message {
            id: MessageId(s.next_message),
            room: new.room,
            seq,
            author: new.author,
            author_name: String::new(),
            body: new.body,
            client_id: new.client_id,
            created_at: new.created_at,
            edited_at: None,
            deleted: false,
        };
        if let Some(client_id) = &stored.client_id {
            s.client_ids
                .entry(stored.author)
                .or_default()
                .insert(client_id.clone(), (stored.room, seq));
        }
        let message = Message {
            author_name,
            ..stored.clone()
        };
        s.messages.entry(new.room).or_default().push(stored);
        if let Some(listener) = self.listener.get() {
            // Still under the lock: the room's messages are announced in seq order.
            listener.posted(vec![message.clone()]);
        }
        drop(s);
        Ok(Posted {
            message,
            duplicate: false,
        })
    }

    async fn edit_message(
        &self,
        room: RoomId,
        seq: Seq,
        body: String,
        at: Timestamp,
    ) -> StoreResult<Message> {
        let mut s = self.lock();
        let edited = match s.message_mut(room, seq) {
            Some(m) if !m.deleted => {
                m.body = body;
                m.edited_at = Some(at);
                m.clone()
            }
            _ => return Err(StoreError::NotFound(Entity::Message)),
        };
        Ok(s.named(edited))
    }

    async fn delete_message(&self, room: RoomId, seq: Seq) -> StoreResult<Message> {
        let mut s = self.lock();
        let m = s
            .message_mut(room, seq)
            .ok_or(StoreError::NotFound(Entity::Message))?;
        m.deleted = true;
        m.body.clear();
        let deleted = m.clone();
        Ok(s.named(deleted))
    }

    async fn message(&self, room: RoomId, seq: Seq) -> StoreResult<Option<Message>> {
        let s = self.lock();
        Ok(s.message(room, seq).map(|m| s.named(m.clone())))
    }

    async fn history(&self, room: RoomId, page: HistoryPage) -> StoreResult<Vec<Message>> {
        let s = self.lock();
        let Some(all) = s.messages.get(&room) else {
            return Ok(Vec::new());
        };
        let len = all.len();
        let clamp = |n: i64| usize::try_from(n.max(0)).unwrap_or(usize::MAX).min(len);
        let (start, end) = match page {
            HistoryPage::Latest { limit } => (len.saturating_sub(limit), len),
            HistoryPage::Before { seq, limit } => {
                let end = clamp(seq.0.saturating_sub(1));
                (end.saturating_sub(limit), end)
            }
            HistoryPage::After { seq, limit } => {
                let start = clamp(seq.0);
                (start, start.saturating_add(limit).min(len))
            }
        };
        Ok(all.range(start, end).map(|m| s.named(m.clone())).collect())
    }

    fn announce_posts(&self, listener: Arc<dyn PostListener>) -> bool {
        self.listener.set(listener).is_ok()
    }

    async fn search(&self, query: SearchQuery) -> StoreResult<Vec<Message>> {
        let words = search::words(&query.text);
        let s = self.lock();
        let Some(all) = s.messages.get(&query.room) else {
            return Ok(Vec::new());
        };
        let end = query.before.map_or(all.len(), |b| {
            usize::try_from(b.0.saturating_sub(1).max(0))
                .unwrap_or(0)
                .min(all.len())
        });
        Ok(all
            .range(0, end)
            .rev()
            .filter(|m| !m.deleted && search::matches(&words, &m.body))
            .take(query.limit)
            .map(|m| s.named(m.clone()))
            .collect())
    }
}
