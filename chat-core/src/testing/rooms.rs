//! Conformance cases: rooms and memberships.

use super::Harness;
use crate::{
    ChatError, Conflict, Entity, HistoryPage, RoomId, RoomQuery, Seq, Store, StoreError, Timestamp,
    UserId,
};
use std::sync::Arc;

/// Checks that rooms are created and found case insensitively.
pub async fn rooms_are_created_and_found_case_insensitively(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let owner = h.user("olga").await;
    let room = h
        .service
        .create_room(&owner, "  Rust Lovers ", " all things rust ")
        .await
        .unwrap();
    assert_eq!(room.name, "Rust Lovers");
    assert_eq!(room.description, "all things rust");
    assert_eq!(room.created_by, owner.id);
    assert_eq!(room.last_seq, Seq::ZERO);
    for name in ["Rust Lovers", "rust lovers", "RUST LOVERS"] {
        assert_eq!(h.service.room(&owner, name).await.unwrap().id, room.id);
    }
    assert_eq!(h.store.room(room.id).await.unwrap().unwrap(), room);
    assert!(
        h.store.is_member(room.id, owner.id).await.unwrap(),
        "creator is a member"
    );
    let members = h.store.members(room.id).await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(
        (members[0].user_id, members[0].username.as_str()),
        (owner.id, "olga")
    );
}

/// Checks that duplicate room names conflict.
pub async fn duplicate_room_names_conflict(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let owner = h.user("olga").await;
    h.room(&owner, "General").await;
    for name in ["General", "general", " GENERAL "] {
        let err = h.service.create_room(&owner, name, "").await.unwrap_err();
        assert!(
            matches!(err, ChatError::Conflict(Conflict::RoomName)),
            "{err:?}"
        );
    }
}

/// Checks that duplicate name race creates one room.
pub async fn duplicate_name_race_creates_one_room(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let mut users = Vec::new();
    for i in 0..4 {
        users.push(h.user(&format!("racer{i}")).await);
    }
    let mut tasks = Vec::new();
    for i in 0..16 {
        let service = h.service.clone();
        let user = users[i % users.len()].clone();
        let name = if i % 2 == 0 { "Race" } else { "race" };
        tasks.push(tokio::spawn(async move {
            service.create_room(&user, name, "").await
        }));
    }
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => ok += 1,
            Err(ChatError::Conflict(Conflict::RoomName)) => {}
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }
    assert_eq!(ok, 1, "exactly one creator wins");
    let rooms = h
        .store
        .list_rooms(RoomQuery {
            limit: 10,
            ..RoomQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(rooms.len(), 1);
    assert_eq!(h.store.members(rooms[0].id).await.unwrap().len(), 1);
}

/// Checks that rooms are listed paged and searched.
pub async fn rooms_are_listed_paged_and_searched(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let owner = h.user("olga").await;
    for name in ["delta", "Alpha", "charlie", "Bravo", "alphabet"] {
        h.room(&owner, name).await;
    }
    let list = |search: Option<&str>, after: Option<&str>, limit: usize| {
        let service = h.service.clone();
        let owner = owner.clone();
        let (search, after) = (search.map(str::to_owned), after.map(str::to_owned));
        async move {
            service
                .list_rooms(&owner, search.as_deref(), after.as_deref(), limit)
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.name)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        list(None, None, 10).await,
        ["Alpha", "alphabet", "Bravo", "charlie", "delta"]
    );
    assert_eq!(list(None, None, 2).await, ["Alpha", "alphabet"]);
    assert_eq!(list(None, Some("alphabet"), 2).await, ["Bravo", "charlie"]);
    assert_eq!(list(None, Some("ALPHABET"), 2).await, ["Bravo", "charlie"]);
    assert_eq!(list(None, Some("delta"), 2).await, Vec::<String>::new());
    assert_eq!(list(Some("ALP"), None, 10).await, ["Alpha", "alphabet"]);
    assert_eq!(list(Some("ar"), None, 10).await, ["charlie"]);
    assert_eq!(
        list(Some("  "), None, 10).await.len(),
        5,
        "blank search lists all"
    );
    assert!(list(None, None, 0).await.is_empty());
    let max = h.service.config().limits.page_max;
    for i in 0..max + 5 {
        h.room(&owner, &format!("zz{i:04}")).await;
    }
    assert_eq!(
        list(None, None, usize::MAX).await.len(),
        max,
        "limit is clamped"
    );
}

/// Checks that members join and leave.
pub async fn members_join_and_leave(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let owner = h.user("olga").await;
    let pete = h.user("pete").await;
    let room = h.room(&owner, "lounge").await;
    let other = h.room(&owner, "attic").await;
    assert!(!h.store.is_member(room.id, pete.id).await.unwrap());
    assert!(h.service.join_room(&pete, room.id).await.unwrap());
    assert!(
        !h.service.join_room(&pete, room.id).await.unwrap(),
        "joining twice is a no-op"
    );
    assert!(h.store.is_member(room.id, pete.id).await.unwrap());
    let members = h.service.members(&pete, room.id).await.unwrap();
    let names: Vec<_> = members.iter().map(|m| m.username.as_str()).collect();
    assert_eq!(names, ["olga", "pete"], "join order");
    let mine: Vec<_> = h
        .service
        .my_rooms(&owner)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(mine, ["attic", "lounge"]);
    assert_eq!(h.service.my_rooms(&pete).await.unwrap().len(), 1);
    assert!(h.service.leave_room(&pete, room.id).await.unwrap());
    assert!(!h.service.leave_room(&pete, room.id).await.unwrap());
    assert!(!h.store.is_member(room.id, pete.id).await.unwrap());
    assert!(h.store.is_member(other.id, owner.id).await.unwrap());
    assert_eq!(h.store.members(room.id).await.unwrap().len(), 1);
}

/// Checks that unknown rooms are not found.
pub async fn unknown_rooms_are_not_found(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let owner = h.user("olga").await;
    let room = h.room(&owner, "real").await;
    let ghost = RoomId(room.id.0 + 1000);
    assert!(matches!(
        h.store
            .add_member(ghost, owner.id, Timestamp(1))
            .await
            .unwrap_err(),
        StoreError::NotFound(Entity::Room)
    ));
    assert!(matches!(
        h.store
            .add_member(room.id, UserId(owner.id.0 + 1000), Timestamp(1))
            .await
            .unwrap_err(),
        StoreError::NotFound(Entity::User)
    ));
    assert!(matches!(
        h.store.members(ghost).await.unwrap_err(),
        StoreError::NotFound(Entity::Room)
    ));
    assert!(h.store.room(ghost).await.unwrap().is_none());
    assert!(h.store.room_by_name("ghost").await.unwrap().is_none());
    let err = h.service.room(&owner, "ghost").await.unwrap_err();
    assert!(matches!(err, ChatError::NotFound(Entity::Room)));
    assert_eq!(err.code(), "unknown_room");
    let err = h.service.post(&owner, ghost, "hi", None).await.unwrap_err();
    assert!(matches!(err, ChatError::NotFound(Entity::Room)), "{err:?}");
    assert!(!h.store.remove_member(ghost, owner.id).await.unwrap());
    assert!(
        h.store
            .history(ghost, HistoryPage::Latest { limit: 10 })
            .await
            .unwrap()
            .is_empty()
    );
}

/// Checks that descriptions are edited and rooms deleted.
pub async fn descriptions_are_edited_and_rooms_deleted(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let owner = h.user("olga").await;
    let other = h.user("pete").await;
    let admin = h.admin("root").await;
    let room = h.room(&owner, "Garden").await;
    let edited = h
        .service
        .set_room_description(&owner, room.id, " flowers ")
        .await
        .unwrap();
    assert_eq!(edited.description, "flowers");
    assert_eq!(
        h.store.room(room.id).await.unwrap().unwrap().description,
        "flowers"
    );
    assert!(matches!(
        h.service
            .set_room_description(&other, room.id, "mine now")
            .await
            .unwrap_err(),
        ChatError::Forbidden(_)
    ));
    h.service
        .set_room_description(&admin, room.id, "admin was here")
        .await
        .unwrap();
    h.service.join_room(&other, room.id).await.unwrap();
    h.service
        .post(&other, room.id, "hello", Some("c1"))
        .await
        .unwrap();
    h.service.admin_delete_room(&admin, room.id).await.unwrap();
    assert!(h.store.room(room.id).await.unwrap().is_none());
    assert!(h.store.room_by_name("garden").await.unwrap().is_none());
    assert!(!h.store.is_member(room.id, other.id).await.unwrap());
    assert!(
        h.store
            .history(room.id, HistoryPage::Latest { limit: 10 })
            .await
            .unwrap()
            .is_empty()
    );
    assert!(h.service.my_rooms(&other).await.unwrap().is_empty());
    assert!(matches!(
        h.store.delete_room(room.id).await.unwrap_err(),
        StoreError::NotFound(Entity::Room)
    ));
    // The name is free again, and a fresh room starts at seq 1.
    let again = h.room(&owner, "garden").await;
    assert_ne!(again.id, room.id);
    h.service.join_room(&other, again.id).await.unwrap();
    let posted = h
        .service
        .post(&other, again.id, "again", Some("c1"))
        .await
        .unwrap();
    assert_eq!(posted.message.seq, Seq(1));
    assert!(
        !posted.duplicate,
        "client ids of a deleted room do not linger"
    );
}

/// Checks that invalid room input is rejected.
pub async fn invalid_room_input_is_rejected(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let owner = h.user("olga").await;
    for (name, description) in [
        ("", "x"),
        ("   ", "x"),
        ("bell\u{7}", "x"),
        (&"n".repeat(65) as &str, "x"),
        ("fine", &"d".repeat(501) as &str),
    ] {
        let err = h
            .service
            .create_room(&owner, name, description)
            .await
            .unwrap_err();
        assert!(matches!(err, ChatError::Validation(_)), "{name:?}: {err:?}");
    }
    assert!(
        h.service
            .create_room(&owner, &"n".repeat(64), &"d".repeat(500))
            .await
            .is_ok()
    );
    let rooms = h.service.list_rooms(&owner, None, None, 10).await.unwrap();
    assert_eq!(rooms.len(), 1);
}
