//! Conformance cases: sign up, log in, log out, sessions, user lookup.

use super::Harness;
use crate::{
    ChatError, Conflict, Session, SessionToken, Store, Timestamp, UserId, UserQuery,
    ValidationError,
};
use std::sync::Arc;
use std::time::Duration;

/// Checks that signup creates user and session.
pub async fn signup_creates_user_and_session(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let (user, token) = h.service.signup("alice", "password123").await.unwrap();
    assert_eq!(user.username, "alice");
    assert!(user.is_active && !user.is_admin);
    assert!(
        user.password_hash.starts_with("$argon2id$"),
        "{}",
        user.password_hash
    );
    assert!(!user.password_hash.contains("password123"));
    let me = h.service.authenticate(&token).await.unwrap();
    assert_eq!(me.id, user.id);
    let stored = h.store.user(user.id).await.unwrap().unwrap();
    assert_eq!(stored, user);
    // Only the hash of the token is stored.
    let found = h
        .store
        .session_user(&token.hash(), h.clock.now_ts())
        .await
        .unwrap();
    assert_eq!(
        found.map(|(s, u)| (s.user_id, u.id)),
        Some((user.id, user.id))
    );
    let raw = crate::TokenHash(token.as_str().to_owned());
    assert!(
        h.store
            .session_user(&raw, h.clock.now_ts())
            .await
            .unwrap()
            .is_none()
    );
}

/// Checks that usernames are unique case insensitively.
pub async fn usernames_are_unique_case_insensitively(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    h.user("Alice").await;
    for name in ["Alice", "alice", "ALICE"] {
        let err = h.service.signup(name, "password123").await.unwrap_err();
        assert!(
            matches!(err, ChatError::Conflict(Conflict::Username)),
            "{err:?}"
        );
        assert_eq!(err.code(), "conflict");
    }
    let found = h.store.user_by_name("aLiCe").await.unwrap().unwrap();
    assert_eq!(found.username, "Alice");
}

/// Checks that login failures do not reveal usernames.
pub async fn login_failures_do_not_reveal_usernames(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let bob = h.user("bob").await;
    let (user, token) = h.service.login("bob", "password123").await.unwrap();
    assert_eq!(user.id, bob.id);
    assert_eq!(h.service.authenticate(&token).await.unwrap().id, bob.id);
    let wrong = h.service.login("bob", "wrong-password").await.unwrap_err();
    let unknown = h.service.login("nobody", "password123").await.unwrap_err();
    assert!(matches!(wrong, ChatError::InvalidCredentials));
    assert!(matches!(unknown, ChatError::InvalidCredentials));
    assert_eq!(wrong.to_string(), unknown.to_string());
    assert_eq!(wrong.code(), unknown.code());
    let huge = "x".repeat(5000);
    assert!(matches!(
        h.service.login("bob", &huge).await.unwrap_err(),
        ChatError::InvalidCredentials
    ));
}

/// Checks that logout revokes the session.
pub async fn logout_revokes_the_session(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    h.user("carol").await;
    let (_, first) = h.service.login("carol", "password123").await.unwrap();
    let (_, second) = h.service.login("carol", "password123").await.unwrap();
    assert_ne!(first, second);
    h.service.logout(&first).await.unwrap();
    assert!(matches!(
        h.service.authenticate(&first).await.unwrap_err(),
        ChatError::Unauthenticated
    ));
    assert!(
        h.service.authenticate(&second).await.is_ok(),
        "other sessions live on"
    );
    h.service.logout(&first).await.unwrap();
    let bogus = SessionToken::from_client("not-a-token");
    assert!(matches!(
        h.service.authenticate(&bogus).await.unwrap_err(),
        ChatError::Unauthenticated
    ));
}

/// Checks that sessions expire.
pub async fn sessions_expire(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let (_, token) = h.service.signup("dave", "password123").await.unwrap();
    let ttl = h.service.config().session_ttl;
    h.clock.advance(ttl - Duration::from_secs(1));
    assert!(h.service.authenticate(&token).await.is_ok());
    h.clock.advance(Duration::from_secs(2));
    assert!(matches!(
        h.service.authenticate(&token).await.unwrap_err(),
        ChatError::Unauthenticated
    ));
    assert_eq!(
        h.store
            .purge_expired_sessions(h.clock.now_ts())
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        h.store
            .purge_expired_sessions(h.clock.now_ts())
            .await
            .unwrap(),
        0
    );
}

/// Checks that deactivation kills sessions and blocks login.
pub async fn deactivation_kills_sessions_and_blocks_login(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let admin = h.admin("root").await;
    let (erin, token) = h.service.signup("erin", "password123").await.unwrap();
    let off = h
        .service
        .admin_set_active(&admin, erin.id, false)
        .await
        .unwrap();
    assert!(!off.is_active);
    assert!(matches!(
        h.service.authenticate(&token).await.unwrap_err(),
        ChatError::Unauthenticated
    ));
    assert!(
        h.store
            .session_user(&token.hash(), h.clock.now_ts())
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        h.service.login("erin", "password123").await.unwrap_err(),
        ChatError::InvalidCredentials
    ));
    // Reactivation allows logging in again, but the old session stays dead.
    h.service
        .admin_set_active(&admin, erin.id, true)
        .await
        .unwrap();
    assert!(h.service.authenticate(&token).await.is_err());
    assert!(h.service.login("erin", "password123").await.is_ok());
}

/// Checks that invalid account input is rejected.
pub async fn invalid_account_input_is_rejected(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let cases: [(&str, &str); 5] = [
        ("ab", "password123"),
        ("has space", "password123"),
        ("<script>", "password123"),
        (&"x".repeat(33), "password123"),
        ("frank", "short"),
    ];
    for (name, password) in cases {
        let err = h.service.signup(name, password).await.unwrap_err();
        assert!(matches!(err, ChatError::Validation(_)), "{name}: {err:?}");
    }
    let err = h
        .service
        .signup("frank", &"p".repeat(1025))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        ChatError::Validation(ValidationError::PasswordLength { .. })
    ));
    assert_eq!(err.code(), "invalid_password");
    let all = h
        .store
        .list_users(UserQuery {
            limit: 100,
            ..UserQuery::default()
        })
        .await
        .unwrap();
    assert!(all.is_empty(), "nothing was written: {all:?}");
}

/// Checks that users are found by id and name.
pub async fn users_are_found_by_id_and_name(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let gina = h.user("Gina").await;
    assert_eq!(
        h.store.user(gina.id).await.unwrap().unwrap().username,
        "Gina"
    );
    assert_eq!(
        h.store.user_by_name("gina").await.unwrap().unwrap().id,
        gina.id
    );
    assert!(
        h.store
            .user(UserId(gina.id.0 + 1000))
            .await
            .unwrap()
            .is_none()
    );
    assert!(h.store.user_by_name("nobody").await.unwrap().is_none());
}

/// Checks that users are listed paged and searched.
pub async fn users_are_listed_paged_and_searched(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let mut ids = Vec::new();
    for name in ["amy", "bea", "cam", "dan", "amber"] {
        ids.push(h.user(name).await.id);
    }
    let page = |after: Option<UserId>, limit: usize, search: Option<&str>| {
        let store = Arc::clone(&h.store);
        let search = search.map(str::to_owned);
        async move {
            store
                .list_users(UserQuery {
                    search,
                    after,
                    limit,
                })
                .await
                .unwrap()
                .into_iter()
                .map(|u| u.username)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(page(None, 2, None).await, ["amy", "bea"]);
    assert_eq!(page(Some(ids[1]), 2, None).await, ["cam", "dan"]);
    assert_eq!(page(Some(ids[3]), 10, None).await, ["amber"]);
    assert_eq!(page(None, 10, Some("AM")).await, ["amy", "cam", "amber"]);
    assert!(page(None, 0, None).await.is_empty());
}

/// Checks that session store primitives.
pub async fn session_store_primitives(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let u = h.user("hank").await;
    let v = h.user("ivan").await;
    let now = Timestamp(1_000_000);
    let mk = |user: UserId, n: u8, expires: i64| Session {
        token_hash: crate::TokenHash(format!("{n:064x}")),
        user_id: user,
        created_at: now,
        expires_at: Timestamp(expires),
    };
    h.store
        .create_session(mk(u.id, 1, 2_000_000))
        .await
        .unwrap();
    h.store
        .create_session(mk(u.id, 2, 3_000_000))
        .await
        .unwrap();
    h.store
        .create_session(mk(v.id, 3, 3_000_000))
        .await
        .unwrap();
    let one = mk(u.id, 1, 0).token_hash;
    let (session, user) = h.store.session_user(&one, now).await.unwrap().unwrap();
    assert_eq!((session.user_id, user.id), (u.id, u.id));
    assert_eq!(session.expires_at, Timestamp(2_000_000));
    assert!(
        h.store
            .session_user(&one, Timestamp(2_000_000))
            .await
            .unwrap()
            .is_none()
    );
    assert!(h.store.delete_session(&one).await.unwrap());
    assert!(!h.store.delete_session(&one).await.unwrap());
    assert_eq!(h.store.delete_user_sessions(u.id).await.unwrap(), 1);
    assert_eq!(h.store.delete_user_sessions(u.id).await.unwrap(), 0);
    assert_eq!(
        h.store
            .purge_expired_sessions(Timestamp(3_000_001))
            .await
            .unwrap(),
        1
    );
}

/// A flag a live session's callback raises, to check which sockets would have closed.
fn ended_flag() -> (
    Arc<std::sync::atomic::AtomicBool>,
    Arc<dyn crate::SessionEnd>,
) {
    let flag = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let set = Arc::clone(&flag);
    (
        flag,
        Arc::new(move || set.store(true, std::sync::atomic::Ordering::SeqCst)),
    )
}

fn raised(flag: &std::sync::atomic::AtomicBool) -> bool {
    flag.load(std::sync::atomic::Ordering::SeqCst)
}

/// Checks that a password change keeps the changing session, ends every other one (in the
/// store and the live sockets of this node) and needs the current password.
pub async fn password_change_ends_other_sessions(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let (user, this) = h.service.signup("judy", "password123").await.unwrap();
    let (_, other) = h.service.login("judy", "password123").await.unwrap();
    let (this_ended, on_this) = ended_flag();
    let (other_ended, on_other) = ended_flag();
    let _g1 = h.service.watch_session(user.id, Some(this.hash()), on_this);
    let _g2 = h
        .service
        .watch_session(user.id, Some(other.hash()), on_other);
    assert!(matches!(
        h.service
            .change_password(&user, Some(&this), "wrong password", "newpassword456")
            .await
            .unwrap_err(),
        ChatError::InvalidCredentials
    ));
    assert!(matches!(
        h.service
            .change_password(&user, Some(&this), "password123", "short")
            .await
            .unwrap_err(),
        ChatError::Validation(ValidationError::PasswordLength { .. })
    ));
    assert!(!raised(&other_ended), "failed changes end nothing");
    h.service
        .change_password(&user, Some(&this), "password123", "newpassword456")
        .await
        .unwrap();
    assert!(h.service.authenticate(&this).await.is_ok());
    assert!(h.service.authenticate(&other).await.is_err());
    assert!(raised(&other_ended) && !raised(&this_ended));
    assert!(h.service.login("judy", "password123").await.is_err());
    assert!(h.service.login("judy", "newpassword456").await.is_ok());
}

/// Checks that logging out everywhere ends every session, and that log out and deactivation
/// end the live sessions they concern.
pub async fn session_ends_reach_live_sessions(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let admin = h.admin("root").await;
    let (user, a) = h.service.signup("kate", "password123").await.unwrap();
    let (_, b) = h.service.login("kate", "password123").await.unwrap();
    let (a_ended, on_a) = ended_flag();
    let (b_ended, on_b) = ended_flag();
    let _ga = h.service.watch_session(user.id, Some(a.hash()), on_a);
    let _gb = h.service.watch_session(user.id, Some(b.hash()), on_b);
    h.service.logout(&a).await.unwrap();
    assert!(
        raised(&a_ended) && !raised(&b_ended),
        "log out ends its own session only"
    );
    let (_, c) = h.service.login("kate", "password123").await.unwrap();
    let (c_ended, on_c) = ended_flag();
    let _gc = h.service.watch_session(user.id, Some(c.hash()), on_c);
    assert_eq!(h.service.logout_everywhere(&user).await.unwrap(), 2);
    assert!(raised(&b_ended) && raised(&c_ended));
    assert!(h.service.authenticate(&b).await.is_err());
    assert!(h.service.authenticate(&c).await.is_err());
    let (_, d) = h.service.login("kate", "password123").await.unwrap();
    let (d_ended, on_d) = ended_flag();
    let _gd = h.service.watch_session(user.id, Some(d.hash()), on_d);
    let (session, _) = h.service.authenticate_session(&d).await.unwrap();
    assert_eq!(session.user_id, user.id);
    h.service
        .admin_set_active(&admin, user.id, false)
        .await
        .unwrap();
    assert!(raised(&d_ended), "deactivation ends live sessions");
    assert!(h.service.session_of(&d.hash()).await.unwrap().is_none());
}

trait NowTs {
    fn now_ts(&self) -> Timestamp;
}

impl NowTs for crate::ManualClock {
    fn now_ts(&self) -> Timestamp {
        crate::Clock::now(self)
    }
}
