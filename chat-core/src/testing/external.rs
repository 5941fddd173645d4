//! Conformance cases: users vouched for by the host application, through
//! [`ChatService::external_user`](crate::ChatService::external_user) and the store methods
//! behind it. Such users are found by their external id, get usernames made from the host's
//! name (numbered when taken), follow the host's renames and admin flag, cannot use the chat's
//! own log-in, and a rename shows in everything read afterwards, past messages included.

use super::Harness;
use crate::service::EXTERNAL_ID_MAX;
use crate::{
    ChatError, Conflict, Entity, ExternalUser, HistoryPage, NewUser, Seq, Store, StoreError,
    Timestamp, User, UserId, UserQuery,
};
use std::sync::Arc;

/// The host's view of a user.
fn identity(external_id: &str, name: &str, admin: Option<bool>) -> ExternalUser {
    ExternalUser {
        external_id: external_id.into(),
        name: name.into(),
        admin,
    }
}

/// The chat user for `external_id` named `name`, leaving the admin flag alone.
async fn external(h: &Harness, external_id: &str, name: &str) -> User {
    h.service
        .external_user(&identity(external_id, name, None))
        .await
        .unwrap()
}

/// A user as a store creates it, with no password (as the service creates external users).
fn new_user(username: &str) -> NewUser {
    NewUser {
        username: username.into(),
        password_hash: String::new(),
        is_admin: false,
        created_at: Timestamp(1),
    }
}

/// Every user of the store, in id order.
async fn all_users(h: &Harness) -> Vec<User> {
    h.store
        .list_users(UserQuery {
            limit: 1000,
            ..UserQuery::default()
        })
        .await
        .unwrap()
}

/// Checks that the first sight of an external user creates it, and later sights find it.
pub async fn first_sight_creates_the_user_and_finds_it_again(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    assert_eq!(h.store.user_by_external_id("host-1").await.unwrap(), None);
    let jane = external(&h, "host-1", " Jane Doe ").await;
    assert_eq!(jane.username, "Jane_Doe");
    assert!(jane.is_active && !jane.is_admin);
    assert!(jane.password_hash.is_empty(), "no password here");
    assert_eq!(jane.created_at, crate::Clock::now(h.clock.as_ref()));
    let again = external(&h, "host-1", " Jane Doe ").await;
    assert_eq!(again, jane);
    let linked = h.store.user_by_external_id("host-1").await.unwrap();
    assert_eq!(linked, Some(jane.clone()));
    assert_eq!(h.store.user_by_name("jane_doe").await.unwrap(), Some(jane));
    assert_eq!(h.store.user_by_external_id("host-2").await.unwrap(), None);
    assert_eq!(
        h.store.user_by_external_id("HOST-1").await.unwrap(),
        None,
        "external ids are compared exactly"
    );
    assert_eq!(all_users(&h).await.len(), 1);
}

/// Checks that a new name from the host renames the user, which keeps its id.
pub async fn a_new_name_renames_the_user(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let jane = external(&h, "host-1", "Jane").await;
    let janet = external(&h, "host-1", "Janet").await;
    assert_eq!((janet.id, janet.username.as_str()), (jane.id, "Janet"));
    assert_eq!(h.store.user_by_name("jane").await.unwrap(), None);
    let found = h.store.user_by_name("JANET").await.unwrap();
    assert_eq!(found.map(|u| u.id), Some(jane.id));
    // Another letter case of its own name is no conflict.
    let upper = external(&h, "host-1", "JANET").await;
    assert_eq!((upper.id, upper.username.as_str()), (jane.id, "JANET"));
    // The old name is free again.
    let other = external(&h, "host-2", "Jane").await;
    assert_eq!(other.username, "Jane");
    assert_ne!(other.id, jane.id);
}

/// Checks that names taken by local or other external users get numbered usernames.
pub async fn taken_names_get_numbered_usernames(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let local = h.user("jane").await;
    let jane = external(&h, "host-1", "Jane").await;
    assert_eq!(jane.username, "Jane-2");
    assert_ne!(jane.id, local.id);
    let sams: Vec<String> = [
        external(&h, "host-2", "Sam").await,
        external(&h, "host-3", "Sam").await,
        external(&h, "host-4", "sam").await,
    ]
    .into_iter()
    .map(|u| u.username)
    .collect();
    assert_eq!(sams, ["Sam", "Sam-2", "sam-3"]);
    // Seen again, each keeps its own numbered name.
    assert_eq!(external(&h, "host-3", "Sam").await.username, "Sam-2");
    assert_eq!(external(&h, "host-1", "Jane").await.username, "Jane-2");
    // A rename to a taken name is numbered too.
    let renamed = external(&h, "host-4", "Jane").await;
    assert_eq!(renamed.username, "Jane-3");
    assert_eq!(all_users(&h).await.len(), 5);
}

/// Checks that concurrent first sights of one external user create a single user, and that
/// concurrent first sights of two users with one name give them distinct usernames.
pub async fn concurrent_first_sights_create_one_user(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    for n in 0..5 {
        let id = format!("host-{n}");
        let who = identity(&id, "Racer", Some(n % 2 == 0));
        let (a, b) = tokio::join!(h.service.external_user(&who), h.service.external_user(&who));
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.id, b.id, "one user for {id}");
        assert_eq!(a.username, b.username);
        let linked = h.store.user_by_external_id(&id).await.unwrap();
        assert_eq!(linked.map(|u| u.id), Some(a.id));
    }
    let users = all_users(&h).await;
    assert_eq!(users.len(), 5, "{users:?}");
    let (twin_a, twin_b) = (
        identity("twin-a", "Twin", None),
        identity("twin-b", "Twin", None),
    );
    let (x, y) = tokio::join!(
        h.service.external_user(&twin_a),
        h.service.external_user(&twin_b),
    );
    let (x, y) = (x.unwrap(), y.unwrap());
    assert_ne!(x.id, y.id);
    let mut names = [x.username, y.username];
    names.sort();
    assert_eq!(names, ["Twin", "Twin-2"]);
}

/// Checks that the host's admin flag is applied when given and left alone when not.
pub async fn the_hosts_admin_flag_is_followed(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let boss = h
        .service
        .external_user(&identity("host-1", "Boss", Some(true)))
        .await
        .unwrap();
    assert!(boss.is_admin, "created as an admin");
    let check = |admin: Option<bool>, expected: bool| {
        let service = h.service.clone();
        let store = Arc::clone(&h.store);
        async move {
            let user = service
                .external_user(&identity("host-1", "Boss", admin))
                .await
                .unwrap();
            assert_eq!(user.is_admin, expected, "{admin:?}");
            let stored = store.user(user.id).await.unwrap().unwrap();
            assert_eq!(stored.is_admin, expected, "{admin:?} stored");
        }
    };
    check(None, true).await;
    check(Some(false), false).await;
    check(None, false).await;
    check(Some(true), true).await;
    let plain = h
        .service
        .external_user(&identity("host-2", "Plain", Some(false)))
        .await
        .unwrap();
    assert!(!plain.is_admin);
    // An admin made by the chat's own admin stays one while the host says nothing.
    h.store.set_user_admin(plain.id, true).await.unwrap();
    assert!(external(&h, "host-2", "Plain").await.is_admin);
}

/// Checks that a user deactivated in the chat is refused whatever the host says, and is not
/// renamed meanwhile.
pub async fn deactivated_external_users_are_forbidden(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let root = h.admin("root").await;
    let jane = external(&h, "host-1", "Jane").await;
    h.service
        .admin_set_active(&root, jane.id, false)
        .await
        .unwrap();
    for who in [
        identity("host-1", "Jane", None),
        identity("host-1", "Janet", Some(true)),
    ] {
        let err = h.service.external_user(&who).await.unwrap_err();
        assert!(matches!(err, ChatError::Forbidden(_)), "{err:?}");
        assert_eq!(err.code(), "forbidden");
    }
    let stored = h.store.user(jane.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.username.as_str(), stored.is_admin, stored.is_active),
        ("Jane", false, false)
    );
    h.store.set_user_active(jane.id, true).await.unwrap();
    let back = external(&h, "host-1", "Janet").await;
    assert_eq!((back.id, back.username.as_str()), (jane.id, "Janet"));
    assert!(back.is_active);
}

/// Checks that empty and overlong external ids are refused without creating anyone.
pub async fn bad_external_ids_are_unauthenticated(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let too_long = "x".repeat(EXTERNAL_ID_MAX + 1);
    assert_eq!(too_long.len(), 256);
    for id in ["", too_long.as_str()] {
        let err = h
            .service
            .external_user(&identity(id, "Jane", None))
            .await
            .unwrap_err();
        assert!(matches!(err, ChatError::Unauthenticated), "{err:?}");
    }
    assert!(all_users(&h).await.is_empty());
    let longest = "x".repeat(EXTERNAL_ID_MAX);
    let jane = external(&h, &longest, "Jane").await;
    let found = h.store.user_by_external_id(&longest).await.unwrap();
    assert_eq!(found.map(|u| u.id), Some(jane.id));
}

/// Checks that external users cannot log in with the chat's own accounts nor set a password.
pub async fn external_users_have_no_password(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let jane = external(&h, "host-1", "Jane").await;
    for password in ["", "password123", "Jane"] {
        let err = h.service.login("Jane", password).await.unwrap_err();
        assert!(matches!(err, ChatError::InvalidCredentials), "{err:?}");
    }
    for old in ["", "password123"] {
        let err = h
            .service
            .change_password(&jane, None, old, "newpassword456")
            .await
            .unwrap_err();
        assert!(matches!(err, ChatError::Forbidden(_)), "{err:?}");
    }
    let stored = h.store.user(jane.id).await.unwrap().unwrap();
    assert!(stored.password_hash.is_empty(), "still no password");
    let err = h.service.login("Jane", "newpassword456").await.unwrap_err();
    assert!(matches!(err, ChatError::InvalidCredentials), "{err:?}");
}

/// Checks the store methods' conflicts: one user per external id, usernames unique in any
/// letter case across local and external users, renames of unknown users not found.
pub async fn external_ids_and_renames_conflict_at_the_store(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let ann = h.user("ann").await;
    let bob = h
        .store
        .create_external_user("host-1", new_user("bob"))
        .await
        .unwrap();
    assert_eq!(bob.username, "bob");
    let conflict = |result: Result<User, StoreError>| match result {
        Err(StoreError::Conflict(c)) => c,
        other => panic!("expected a conflict, got {other:?}"),
    };
    let create = |external_id: &'static str, username: &'static str| {
        let store = Arc::clone(&h.store);
        async move {
            store
                .create_external_user(external_id, new_user(username))
                .await
        }
    };
    assert_eq!(
        conflict(create("host-1", "carl").await),
        Conflict::ExternalId
    );
    assert_eq!(conflict(create("host-2", "ANN").await), Conflict::Username);
    assert_eq!(h.store.user_by_external_id("host-2").await.unwrap(), None);
    assert_eq!(h.store.user_by_name("carl").await.unwrap(), None);

    let taken = h.store.rename_user(bob.id, "Ann").await;
    assert_eq!(conflict(taken), Conflict::Username);
    let ann_case = h.store.rename_user(ann.id, "ANN").await.unwrap();
    assert_eq!((ann_case.id, ann_case.username.as_str()), (ann.id, "ANN"));
    let bobby = h.store.rename_user(bob.id, "Bobby").await.unwrap();
    assert_eq!((bobby.id, bobby.username.as_str()), (bob.id, "Bobby"));
    assert_eq!(h.store.user(bob.id).await.unwrap(), Some(bobby.clone()));
    assert_eq!(h.store.user_by_name("bob").await.unwrap(), None);
    assert_eq!(h.store.user_by_name("BOBBY").await.unwrap(), Some(bobby));
    let linked = h.store.user_by_external_id("host-1").await.unwrap();
    assert_eq!(linked.map(|u| u.username), Some("Bobby".to_owned()));
    // The old name is free: a local account may take it.
    let local = h.store.create_user(new_user("Bob")).await.unwrap();
    assert_ne!(local.id, bob.id);

    // An unknown user is not found, whether or not the name is free.
    for name in ["nobody", "ann"] {
        let err = h.store.rename_user(UserId(i64::MAX), name).await;
        assert!(
            matches!(err, Err(StoreError::NotFound(Entity::User))),
            "{name}: {err:?}"
        );
    }
}

/// Checks that after a rename, everything read shows the new name: history, single messages,
/// search, edits, deletes, repeated posts, new posts and the member list.
pub async fn a_rename_shows_in_past_messages(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let owner = h.user("owner").await;
    let room = h.room(&owner, "lobby").await;
    let jane = external(&h, "host-1", "Jane").await;
    h.service.join_room(&jane, room.id).await.unwrap();
    for (body, key) in [
        ("first words", "k1"),
        ("second words", "k2"),
        ("third", "k3"),
    ] {
        let posted = h
            .service
            .post(&jane, room.id, body, Some(key))
            .await
            .unwrap();
        assert_eq!(posted.message.author_name, "Jane");
    }
    let janet = external(&h, "host-1", "Janet").await;
    assert_eq!(janet.username, "Janet");
    let page = h
        .service
        .history(&janet, room.id, HistoryPage::Latest { limit: 10 })
        .await
        .unwrap();
    let names: Vec<&str> = page
        .messages
        .iter()
        .map(|m| m.author_name.as_str())
        .collect();
    assert_eq!(names, ["Janet"; 3], "history");
    let first = h.store.message(room.id, Seq(1)).await.unwrap();
    assert_eq!(first.map(|m| m.author_name), Some("Janet".to_owned()));
    let found = h
        .service
        .search(&janet, room.id, "words", None, 10)
        .await
        .unwrap();
    assert_eq!(found.len(), 2);
    assert!(found.iter().all(|m| m.author_name == "Janet"), "{found:?}");
    let repeat = h
        .service
        .post(&janet, room.id, "first words", Some("k1"))
        .await
        .unwrap();
    assert!(repeat.duplicate);
    assert_eq!(repeat.message.author_name, "Janet", "repeated post");
    let edited = h
        .service
        .edit(&janet, room.id, Seq(2), "second, edited")
        .await
        .unwrap();
    assert_eq!(edited.author_name, "Janet", "edit");
    let deleted = h.service.delete(&janet, room.id, Seq(3)).await.unwrap();
    assert_eq!(deleted.author_name, "Janet", "delete");
    let fresh = h
        .service
        .post(&janet, room.id, "new name here", None)
        .await
        .unwrap();
    assert_eq!(fresh.message.author_name, "Janet", "new post");
    let members = h.service.members(&janet, room.id).await.unwrap();
    let member = members.iter().find(|m| m.user_id == jane.id);
    assert_eq!(member.map(|m| m.username.as_str()), Some("Janet"));
    let owner_entry = members.iter().find(|m| m.user_id == owner.id);
    assert_eq!(owner_entry.map(|m| m.username.as_str()), Some("owner"));
}
