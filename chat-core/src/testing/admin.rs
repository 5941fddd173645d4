//! Conformance cases: admin operations and their authorization.

use super::Harness;
use crate::{ChatError, Entity, Seq, Store, UserId};
use std::sync::Arc;

/// Checks that admin operations require admin.
pub async fn admin_operations_require_admin(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let ann = h.user("ann").await;
    let bob = h.user("bob").await;
    let room = h.room(&ann, "room").await;
    let forbidden = |r: Result<(), ChatError>| {
        assert!(matches!(r, Err(ChatError::Forbidden(_))), "{r:?}");
    };
    forbidden(
        h.service
            .admin_list_users(&ann, None, None, 10)
            .await
            .map(drop),
    );
    forbidden(h.service.admin_user(&ann, bob.id).await.map(drop));
    forbidden(
        h.service
            .admin_set_active(&ann, bob.id, false)
            .await
            .map(drop),
    );
    forbidden(
        h.service
            .admin_set_admin(&ann, ann.id, true)
            .await
            .map(drop),
    );
    forbidden(h.service.admin_delete_room(&ann, room.id).await);
    assert!(h.store.user(bob.id).await.unwrap().unwrap().is_active);
    assert!(!h.store.user(ann.id).await.unwrap().unwrap().is_admin);
    assert!(h.store.room(room.id).await.unwrap().is_some());
}

/// Checks that admins manage users rooms and messages.
pub async fn admins_manage_users_rooms_and_messages(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let root = h.admin("root").await;
    let ann = h.user("ann").await;
    let users = h
        .service
        .admin_list_users(&root, Some("AN"), None, 10)
        .await
        .unwrap();
    assert_eq!(
        users
            .iter()
            .map(|u| u.username.as_str())
            .collect::<Vec<_>>(),
        ["ann"]
    );
    let promoted = h
        .service
        .admin_set_admin(&root, ann.id, true)
        .await
        .unwrap();
    assert!(promoted.is_admin);
    assert!(h.store.user(ann.id).await.unwrap().unwrap().is_admin);
    let demoted = h
        .service
        .admin_set_admin(&root, ann.id, false)
        .await
        .unwrap();
    assert!(!demoted.is_admin);
    assert!(matches!(
        h.service
            .admin_set_active(&root, root.id, false)
            .await
            .unwrap_err(),
        ChatError::Forbidden(_)
    ));
    assert!(matches!(
        h.service
            .admin_set_admin(&root, root.id, false)
            .await
            .unwrap_err(),
        ChatError::Forbidden(_)
    ));
    let ghost = UserId(ann.id.0 + 1000);
    assert!(matches!(
        h.service
            .admin_set_active(&root, ghost, false)
            .await
            .unwrap_err(),
        ChatError::NotFound(Entity::User)
    ));
    assert!(matches!(
        h.service
            .admin_set_admin(&root, ghost, true)
            .await
            .unwrap_err(),
        ChatError::NotFound(Entity::User)
    ));
    let room = h.room(&ann, "room").await;
    h.service.post(&ann, room.id, "spam", None).await.unwrap();
    let removed = h.service.delete(&root, room.id, Seq(1)).await.unwrap();
    assert!(removed.deleted);
    h.service.admin_delete_room(&root, room.id).await.unwrap();
    assert!(matches!(
        h.service
            .admin_delete_room(&root, room.id)
            .await
            .unwrap_err(),
        ChatError::NotFound(Entity::Room)
    ));
}
