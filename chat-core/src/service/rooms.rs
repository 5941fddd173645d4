//! Creating, listing, joining and leaving rooms.

use super::ChatService;
use crate::{
    ChatError, ChatResult, ChatRoom, Entity, Member, NewRoom, RoomEvent, RoomId, RoomQuery, User,
    validation,
};

impl ChatService {
    /// Creates a room; its creator becomes its first member.
    pub async fn create_room(
        &self,
        actor: &User,
        name: &str,
        description: &str,
    ) -> ChatResult<ChatRoom> {
        let limits = &self.config().limits;
        let name = validation::room_name(limits, name)?;
        let description = validation::description(limits, description)?;
        let room = self
            .store()
            .create_room(NewRoom {
                name: name.to_owned(),
                description: description.to_owned(),
                created_by: actor.id,
                created_at: self.clock().now(),
            })
            .await?;
        Ok(room)
    }

    /// A page of rooms ordered by name; `search` filters by a case-insensitive substring.
    pub async fn list_rooms(
        &self,
        _actor: &User,
        search: Option<&str>,
        after_name: Option<&str>,
        limit: usize,
    ) -> ChatResult<Vec<ChatRoom>> {
        let search = match search.map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) => Some(validation::search_query(&self.config().limits, s)?.to_owned()),
            None => None,
        };
        let rooms = self
            .store()
            .list_rooms(RoomQuery {
                search,
                after_name: after_name.map(str::to_owned),
                limit: self.clamp(limit),
            })
            .await?;
        Ok(rooms)
    }

    /// The room called `name` (case-insensitive).
    pub async fn room(&self, _actor: &User, name: &str) -> ChatResult<ChatRoom> {
        if name.chars().count() > self.config().limits.room_name_max * 4 {
            return Err(ChatError::NotFound(Entity::Room));
        }
        self.store()
            .room_by_name(name.trim())
            .await?
            .ok_or(ChatError::NotFound(Entity::Room))
    }

    /// The room with this id.
    pub async fn room_by_id(&self, _actor: &User, id: RoomId) -> ChatResult<ChatRoom> {
        self.store()
            .room(id)
            .await?
            .ok_or(ChatError::NotFound(Entity::Room))
    }

    /// Makes `actor` a member of `room`. Returns `true` if they were not one yet.
    pub async fn join_room(&self, actor: &User, room: RoomId) -> ChatResult<bool> {
        let added = self
            .store()
            .add_member(room, actor.id, self.clock().now())
            .await?;
        if added {
            let event = RoomEvent::MemberJoined {
                user: actor.id,
                username: actor.username.clone(),
            };
            self.publish(room, event).await;
        }
        Ok(added)
    }

    /// Ends `actor`'s membership of `room`. Returns `true` if they were a member.
    pub async fn leave_room(&self, actor: &User, room: RoomId) -> ChatResult<bool> {
        let removed = self.store().remove_member(room, actor.id).await?;
        if removed {
            let event = RoomEvent::MemberLeft {
                user: actor.id,
                username: actor.username.clone(),
            };
            self.publish(room, event).await;
        }
        Ok(removed)
    }

    /// Members of a room.
    pub async fn members(&self, _actor: &User, room: RoomId) -> ChatResult<Vec<Member>> {
        Ok(self.store().members(room).await?)
    }

    /// Rooms `actor` is a member of.
    pub async fn my_rooms(&self, actor: &User) -> ChatResult<Vec<ChatRoom>> {
        Ok(self.store().rooms_of(actor.id).await?)
    }

    /// Whether `actor` is a member of `room`.
    pub async fn is_member(&self, actor: &User, room: RoomId) -> ChatResult<bool> {
        Ok(self.store().is_member(room, actor.id).await?)
    }

    /// Changes a room's description: its creator or an admin.
    pub async fn set_room_description(
        &self,
        actor: &User,
        room: RoomId,
        description: &str,
    ) -> ChatResult<ChatRoom> {
        let description = validation::description(&self.config().limits, description)?;
        let current = self.room_by_id(actor, room).await?;
        if current.created_by != actor.id && !actor.is_admin {
            return Err(ChatError::Forbidden(
                "only the creator or an admin may edit a room",
            ));
        }
        Ok(self
            .store()
            .set_room_description(room, description.to_owned())
            .await?)
    }
}
