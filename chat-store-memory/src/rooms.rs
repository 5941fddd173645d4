//! `RoomStore` for the memory store.

use crate::MemoryStore;
use crate::state::fold;
use async_trait::async_trait;
use chat_core::{
    ChatRoom, Conflict, Entity, Member, NewRoom, RoomId, RoomQuery, RoomStore, Seq, StoreError,
    StoreResult, Timestamp, UserId,
};
use std::ops::Bound;

#[async_trait]
impl RoomStore for MemoryStore {
    async fn create_room(&self, new: NewRoom) -> StoreResult<ChatRoom> {
        let mut s = self.lock();
        let key = fold(&new.name);
        if s.room_names.contains_key(&key) {
            return Err(StoreError::Conflict(Conflict::RoomName));
        }
        if !s.users.contains_key(&new.created_by) {
            return Err(StoreError::NotFound(Entity::User));
        }
        s.next_room += 1;
        let room = ChatRoom {
            id: RoomId(s.next_room),
            name: new.name,
            description: new.description,
            created_by: new.created_by,
            created_at: new.created_at,
            last_seq: Seq::ZERO,
        };
        s.room_names.insert(key, room.id);
        s.rooms.insert(room.id, room.clone());
        s.members.insert(
            room.id,
            vec![Member {
                user_id: new.created_by,
                username: String::new(),
                joined_at: new.created_at,
            }],
        );
        s.membership.insert((room.id, new.created_by));
        Ok(room)
    }

    async fn room(&self, id: RoomId) -> StoreResult<Option<ChatRoom>> {
        Ok(self.lock().rooms.get(&id).cloned())
    }

    async fn room_by_name(&self, name: &str) -> StoreResult<Option<ChatRoom>> {
        let s = self.lock();
        Ok(s.room_names
            .get(&fold(name))
            .and_then(|id| s.rooms.get(id))
            .cloned())
    }

    async fn list_rooms(&self, query: RoomQuery) -> StoreResult<Vec<ChatRoom>> {
        let s = self.lock();
        let needle = query.search.as_deref().map(fold);
        let start = match &query.after_name {
            Some(after) => Bound::Excluded(fold(after)),
            None => Bound::Unbounded,
        };
        Ok(s.room_names
            .range((start, Bound::Unbounded))
            .filter(|(key, _)| needle.as_ref().is_none_or(|n| key.contains(n.as_str())))
            .filter_map(|(_, id)| s.rooms.get(id))
            .take(query.limit)
            .cloned()
            .collect())
    }

    async fn set_room_description(&self, id: RoomId, description: String) -> StoreResult<ChatRoom> {
        let mut s = self.lock();
        let room = s
            .rooms
            .get_mut(&id)
            .ok_or(StoreError::NotFound(Entity::Room))?;
        room.description = description;
        Ok(room.clone())
    }

    async fn delete_room(&self, id: RoomId) -> StoreResult<()> {
        let mut s = self.lock();
        let room = s
            .rooms
            .remove(&id)
            .ok_or(StoreError::NotFound(Entity::Room))?;
        s.room_names.remove(&fold(&room.name));
        s.members.remove(&id);
        s.membership.retain(|(r, _)| *r != id);
        s.messages.remove(&id);
        for ids in s.client_ids.values_mut() {
            ids.retain(|_, (r, _)| *r != id);
        }
        Ok(())
    }

    async fn add_member(&self, room: RoomId, user: UserId, at: Timestamp) -> StoreResult<bool> {
        let mut s = self.lock();
        if !s.rooms.contains_key(&room) {
            return Err(StoreError::NotFound(Entity::Room));
        }
        if !s.users.contains_key(&user) {
            return Err(StoreError::NotFound(Entity::User));
        }
        if !s.membership.insert((room, user)) {
            return Ok(false);
        }
        s.members.entry(room).or_default().push(Member {
            user_id: user,
            username: String::new(),
            joined_at: at,
        });
        Ok(true)
    }

    async fn remove_member(&self, room: RoomId, user: UserId) -> StoreResult<bool> {
        let mut s = self.lock();
        if !s.membership.remove(&(room, user)) {
            return Ok(false);
        }
        if let Some(members) = s.members.get_mut(&room) {
            members.retain(|m| m.user_id != user);
        }
        Ok(true)
    }

    async fn is_member(&self, room: RoomId, user: UserId) -> StoreResult<bool> {
        Ok(self.lock().membership.contains(&(room, user)))
    }

    async fn members(&self, room: RoomId) -> StoreResult<Vec<Member>> {
        let s = self.lock();
        if !s.rooms.contains_key(&room) {
            return Err(StoreError::NotFound(Entity::Room));
        }
        Ok(s.members.get(&room).map_or_else(Vec::new, |members| {
            members.iter().map(|m| s.named_member(m.clone())).collect()
        }))
    }

    async fn rooms_of(&self, user: UserId) -> StoreResult<Vec<ChatRoom>> {
        let s = self.lock();
        Ok(s.room_names
            .values()
            .filter(|id| s.membership.contains(&(**id, user)))
            .filter_map(|id| s.rooms.get(id))
            .cloned()
            .collect())
    }
}
