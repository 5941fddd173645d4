//! `UserStore` for the memory store.

use crate::MemoryStore;
use crate::state::{State, fold};
use async_trait::async_trait;
use chat_core::{
    Conflict, Entity, NewUser, StoreError, StoreResult, TokenHash, User, UserId, UserQuery,
    UserStore,
};

#[async_trait]
impl UserStore for MemoryStore {
    async fn create_user(&self, new: NewUser) -> StoreResult<User> {
        insert_user(&mut self.lock(), new)
    }

    async fn user(&self, id: UserId) -> StoreResult<Option<User>> {
        Ok(self.lock().users.get(&id).cloned())
    }

    async fn user_by_name(&self, username: &str) -> StoreResult<Option<User>> {
        let s = self.lock();
        Ok(s.user_names
            .get(&fold(username))
            .and_then(|id| s.users.get(id))
            .cloned())
    }

    async fn list_users(&self, query: UserQuery) -> StoreResult<Vec<User>> {
        let s = self.lock();
        let needle = query.search.as_deref().map(fold);
        let start = query.after.map_or(i64::MIN, |id| id.0.saturating_add(1));
        Ok(s.users
            .range(UserId(start)..)
            .map(|(_, u)| u)
            .filter(|u| {
                needle
                    .as_ref()
                    .is_none_or(|n| fold(&u.username).contains(n.as_str()))
            })
            .take(query.limit)
            .cloned()
            .collect())
    }

    async fn set_user_active(&self, id: UserId, active: bool) -> StoreResult<User> {
        let mut s = self.lock();
        let user = s
            .users
            .get_mut(&id)
            .ok_or(StoreError::NotFound(Entity::User))?;
        user.is_active = active;
        let user = user.clone();
        if !active {
            s.sessions.retain(|_, session| session.user_id != id);
        }
        Ok(user)
    }

    async fn set_password(
        &self,
        id: UserId,
        password_hash: String,
        keep: Option<TokenHash>,
    ) -> StoreResult<()> {
        let mut s = self.lock();
        let user = s
            .users
            .get_mut(&id)
            .ok_or(StoreError::NotFound(Entity::User))?;
        user.password_hash = password_hash;
        s.sessions
            .retain(|token, session| session.user_id != id || Some(token) == keep.as_ref());
        Ok(())
    }

    async fn set_user_admin(&self, id: UserId, admin: bool) -> StoreResult<User> {
        let mut s = self.lock();
        let user = s
            .users
            .get_mut(&id)
            .ok_or(StoreError::NotFound(Entity::User))?;
        user.is_admin = admin;
        Ok(user.clone())
    }

    async fn user_by_external_id(&self, external_id: &str) -> StoreResult<Option<User>> {
        let s = self.lock();
        Ok(s.external_ids
            .get(external_id)
            .and_then(|id| s.users.get(id))
            .cloned())
    }

    async fn create_external_user(&self, external_id: &str, new: NewUser) -> StoreResult<User> {
        let mut s = self.lock();
        if s.external_ids.contains_key(external_id) {
            return Err(StoreError::Conflict(Conflict::ExternalId));
        }
        let user = insert_user(&mut s, new)?;
        s.external_ids.insert(external_id.to_owned(), user.id);
        Ok(user)
    }

    async fn rename_user(&self, id: UserId, username: &str) -> StoreResult<User> {
        let mut s = self.lock();
        if !s.users.contains_key(&id) {
            return Err(StoreError::NotFound(Entity::User));
        }
        let key = fold(username);
        if s.user_names.get(&key).is_some_and(|owner| *owner != id) {
            return Err(StoreError::Conflict(Conflict::Username));
        }
        let user = s
            .users
            .get_mut(&id)
            .ok_or(StoreError::NotFound(Entity::User))?;
        let old = fold(&user.username);
        user.username = username.to_owned();
        let user = user.clone();
        s.user_names.remove(&old);
        s.user_names.insert(key, id);
        Ok(user)
    }
}

/// Adds a user: `Conflict(Username)` when the name is taken in any letter case.
fn insert_user(s: &mut State, new: NewUser) -> StoreResult<User> {
    let key = fold(&new.username);
    if s.user_names.contains_key(&key) {
        return Err(StoreError::Conflict(Conflict::Username));
    }
    s.next_user += 1;
    let user = User {
        id: UserId(s.next_user),
        username: new.username,
        password_hash: new.password_hash,
        is_admin: new.is_admin,
        is_active: true,
        created_at: new.created_at,
    };
    s.user_names.insert(key, user.id);
    s.users.insert(user.id, user.clone());
    Ok(user)
}
