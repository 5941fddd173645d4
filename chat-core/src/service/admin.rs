//! Admin operations. Every method checks that the actor is an active admin.

use super::ChatService;
use crate::{
    ChatError, ChatResult, Entity, RoomEvent, RoomId, User, UserId, UserQuery, validation,
};

impl ChatService {
    fn require_admin(actor: &User) -> ChatResult<()> {
        if actor.is_admin && actor.is_active {
            Ok(())
        } else {
            Err(ChatError::Forbidden("admins only"))
        }
    }

    /// A page of users in id order, optionally filtered by a substring of the name.
    pub async fn admin_list_users(
        &self,
        actor: &User,
        search: Option<&str>,
        after: Option<UserId>,
        limit: usize,
    ) -> ChatResult<Vec<User>> {
        Self::require_admin(actor)?;
        let search = match search.map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) => Some(validation::search_query(&self.config().limits, s)?.to_owned()),
            None => None,
        };
        Ok(self
            .store()
            .list_users(UserQuery {
                search,
                after,
                limit: self.clamp(limit),
            })
            .await?)
    }

    /// One user by id.
    pub async fn admin_user(&self, actor: &User, id: UserId) -> ChatResult<User> {
        Self::require_admin(actor)?;
        self.store()
            .user(id)
            .await?
            .ok_or(ChatError::NotFound(Entity::User))
    }

    /// Deactivates (ending all their sessions, and closing their sockets on this node) or
    /// reactivates a user. Admins cannot deactivate
    /// themselves.
    pub async fn admin_set_active(
        &self,
        actor: &User,
        id: UserId,
        active: bool,
    ) -> ChatResult<User> {
        Self::require_admin(actor)?;
        if id == actor.id && !active {
            return Err(ChatError::Forbidden("admins cannot deactivate themselves"));
        }
        let user = self.store().set_user_active(id, active).await?;
        if !active {
            self.end_live_sessions(id).await;
        }
        Ok(user)
    }

    /// Grants or revokes admin rights. Admins cannot revoke their own.
    pub async fn admin_set_admin(&self, actor: &User, id: UserId, admin: bool) -> ChatResult<User> {
        Self::require_admin(actor)?;
        if id == actor.id && !admin {
            return Err(ChatError::Forbidden(
                "admins cannot revoke their own rights",
            ));
        }
        Ok(self.store().set_user_admin(id, admin).await?)
    }

    /// Deletes a room with all its messages; subscribers are told.
    pub async fn admin_delete_room(&self, actor: &User, room: RoomId) -> ChatResult<()> {
        Self::require_admin(actor)?;
        self.store().delete_room(room).await?;
        self.inner.presence.forget_room(room);
        self.publish(room, RoomEvent::RoomDeleted).await;
        Ok(())
    }
}
