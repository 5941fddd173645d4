//! The live side: subscribing to a room's feed, typing notices, presence, publishing.

use super::ChatService;
use crate::{ChatError, ChatResult, Entity, RoomEvent, RoomFeed, RoomId, Seq, User, UserId};

impl ChatService {
    /// Subscribes `actor` to `room`'s events.
    ///
    /// With `after = Some(n)` the feed first yields every message with seq > n from the store,
    /// then live ones, with no gap and no duplicate at the seam. With `None` it yields only
    /// messages committed after the call.
    pub async fn subscribe(
        &self,
        actor: &User,
        room: RoomId,
        after: Option<Seq>,
    ) -> ChatResult<RoomFeed> {
        // Fail fast on an unknown room.
        self.room_by_id(actor, room).await?;
        // Subscribe before reading the room's position, so nothing committed between the two
        // is missed: it is either read from the store or delivered live (duplicates are
        // dropped by seq).
        let subscription = self.broker().subscribe(room).await?;
        let (start, catch_up) = match after {
            Some(n) => (n.max(Seq::ZERO), true),
            None => {
                let now = self
                    .store()
                    .room(room)
                    .await?
                    .ok_or(ChatError::NotFound(Entity::Room))?;
                (now.last_seq, false)
            }
        };
        Ok(RoomFeed::new(
            room,
            subscription,
            self.store().clone(),
            start,
            catch_up,
        ))
    }

    /// Tells the room that `actor` is typing. `actor` must be a member.
    pub async fn typing(&self, actor: &User, room: RoomId) -> ChatResult<()> {
        self.require_member(actor, room).await?;
        let event = RoomEvent::Typing {
            user: actor.id,
            username: actor.username.clone(),
        };
        self.publish(room, event).await;
        Ok(())
    }

    /// Marks one connection of `actor` as present in `room` until the guard is dropped.
    pub async fn enter_presence(&self, actor: &User, room: RoomId) -> PresenceGuard {
        if self.inner.presence.enter(room, actor.id, &actor.username) {
            self.publish(room, presence_event(actor.id, &actor.username, true))
                .await;
        }
        PresenceGuard {
            service: self.clone(),
            room,
            user: actor.id,
            username: actor.username.clone(),
            active: true,
        }
    }

    /// Usernames online in `room` on this node.
    pub fn online(&self, room: RoomId) -> Vec<String> {
        self.inner.presence.online(room)
    }

    /// Publishes an event. A broker failure is logged, not returned: the write it announces is
    /// already durable, and subscribers recover it from the store by seq on the next wake-up.
    pub(crate) async fn publish(&self, room: RoomId, event: RoomEvent) {
        if let Err(e) = self.broker().publish(room, event).await {
            tracing::warn!(%room, error = %e, "publishing a room event failed");
        }
    }
}

fn presence_event(user: UserId, username: &str, online: bool) -> RoomEvent {
    RoomEvent::PresenceChanged {
        user,
        username: username.to_owned(),
        online,
    }
}

/// Keeps one connection of a user present in a room. Dropping it (or calling
/// [`leave`](PresenceGuard::leave)) counts the connection out.
#[derive(Debug)]
pub struct PresenceGuard {
    service: ChatService,
    room: RoomId,
    user: UserId,
    username: String,
    active: bool,
}

impl PresenceGuard {
    /// The room.
    pub fn room(&self) -> RoomId {
        self.room
    }

    /// Counts the connection out now and publishes the change, awaiting the broker.
    pub async fn leave(mut self) {
        self.active = false;
        if self.service.inner.presence.leave(self.room, self.user) {
            let event = presence_event(self.user, &self.username, false);
            self.service.publish(self.room, event).await;
        }
    }
}

impl Drop for PresenceGuard {
    fn drop(&mut self) {
        if !self.active {
            return;
        }
        if self.service.inner.presence.leave(self.room, self.user) {
            let event = presence_event(self.user, &self.username, false);
            let (service, room) = (self.service.clone(), self.room);
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                handle.spawn(async move { service.publish(room, event).await });
            }
        }
    }
}
