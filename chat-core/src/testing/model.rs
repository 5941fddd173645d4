//! The model-based property test: random sequences of operations run against the backend
//! (through the service) and against a tiny in-test reference model must agree on every
//! result and error.

use super::Harness;
use crate::{ChatError, ChatRoom, HistoryPage, Seq, Store, User};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};
use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::Arc;

const USERS: usize = 3;
const ROOMS: usize = 3;
const BODIES: [&str; 4] = ["apple", "banana split", "cherry pie", "apple pie"];
const WORDS: [&str; 4] = ["app", "pie", "ban", "zzz"];

#[derive(Debug, Clone)]
enum Op {
    CreateUser(usize),
    CreateRoom {
        user: usize,
        room: usize,
        upper: bool,
    },
    Join {
        user: usize,
        room: usize,
    },
    Leave {
        user: usize,
        room: usize,
    },
    Post {
        user: usize,
        room: usize,
        body: usize,
        client_id: Option<u8>,
    },
    Edit {
        user: usize,
        room: usize,
        seq: i64,
        body: usize,
    },
    Delete {
        user: usize,
        room: usize,
        seq: i64,
    },
    History {
        room: usize,
        kind: u8,
        seq: i64,
        limit: usize,
    },
    Search {
        room: usize,
        word: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let u = 0..USERS;
    // Mostly the seeded room 0, so posts, edits and pages meet each other.
    let r = prop_oneof![3 => Just(0usize), 1 => 0..ROOMS];
    prop_oneof![
        1 => u.clone().prop_map(Op::CreateUser),
        1 => (u.clone(), r.clone(), any::<bool>()).prop_map(|(user, room, upper)| Op::CreateRoom { user, room, upper }),
        2 => (u.clone(), r.clone()).prop_map(|(user, room)| Op::Join { user, room }),
        1 => (u.clone(), r.clone()).prop_map(|(user, room)| Op::Leave { user, room }),
        6 => (u.clone(), r.clone(), 0..BODIES.len(), proptest::option::of(0u8..3))
            .prop_map(|(user, room, body, client_id)| Op::Post { user, room, body, client_id }),
        1 => (u.clone(), r.clone(), 0i64..8, 0..BODIES.len()).prop_map(|(user, room, seq, body)| Op::Edit { user, room, seq, body }),
        1 => (u.clone(), r.clone(), 0i64..8).prop_map(|(user, room, seq)| Op::Delete { user, room, seq }),
        2 => (r.clone(), 0u8..3, -1i64..10, 0usize..6).prop_map(|(room, kind, seq, limit)| Op::History { room, kind, seq, limit }),
        1 => (r, 0..WORDS.len()).prop_map(|(room, word)| Op::Search { room, word }),
    ]
}

#[derive(Debug, Clone)]
struct ModelMessage {
    author: usize,
    body: String,
    deleted: bool,
}

#[derive(Debug, Default)]
struct Model {
    users: Vec<Option<User>>,
    rooms: Vec<Option<ChatRoom>>,
    members: HashMap<usize, BTreeSet<usize>>,
    messages: HashMap<usize, Vec<ModelMessage>>,
    client_ids: HashMap<(usize, u8), (usize, i64)>,
}

fn code<T>(r: &Result<T, ChatError>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

/// Runs the property test on fresh stores from `factory`.
pub fn check<F, Fut>(rt: &tokio::runtime::Runtime, factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Option<Arc<dyn Store>>>,
{
    if rt.block_on(factory()).is_none() {
        eprintln!("skipped: model-based property test: the store factory gave no store");
        return;
    }
    let config = ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&proptest::collection::vec(op(), 10..60), |ops| {
        rt.block_on(async {
            let store = factory()
                .await
                .ok_or_else(|| TestCaseError::fail("factory gave no store"))?;
            run_ops(store, ops).await
        })
    });
    if let Err(e) = result {
        panic!("model-based test failed: {e}");
    }
}

async fn run_ops(store: Arc<dyn Store>, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let h = Harness::new(store);
    let mut m = Model {
        users: vec![None; USERS],
        rooms: vec![None; ROOMS],
        ..Model::default()
    };
    // Start from a populated world so most random operations do real work: every user exists,
    // room 0 exists and users 0 and 1 are its members.
    let mut setup = vec![Op::CreateUser(0), Op::CreateUser(1), Op::CreateUser(2)];
    setup.push(Op::CreateRoom {
        user: 0,
        room: 0,
        upper: false,
    });
    setup.push(Op::Join { user: 1, room: 0 });
    for op in setup.into_iter().chain(ops) {
        match op {
            Op::CreateUser(u) => {
                let r = h
                    .service
                    .create_user(&format!("user{u}"), "password123", false)
                    .await;
                let expected = if m.users[u].is_some() {
                    "conflict"
                } else {
                    "ok"
                };
                prop_assert_eq!(code(&r), expected);
                if let Ok(user) = r {
                    m.users[u] = Some(user);
                }
            }
            Op::CreateRoom { user, room, upper } => {
                let Some(actor) = m.users[user].clone() else {
                    continue;
                };
                let name = if upper {
                    format!("ROOM{room}")
                } else {
                    format!("room{room}")
                };
                let r = h.service.create_room(&actor, &name, "").await;
                let expected = if m.rooms[room].is_some() {
                    "conflict"
                } else {
                    "ok"
                };
                prop_assert_eq!(code(&r), expected);
                if let Ok(created) = r {
                    m.rooms[room] = Some(created);
                    m.members.entry(room).or_default().insert(user);
                }
            }
            Op::Join { user, room } => {
                let (Some(actor), Some(r)) = (m.users[user].clone(), m.rooms[room].clone()) else {
                    continue;
                };
                let added = h.service.join_room(&actor, r.id).await.map_err(fail)?;
                prop_assert_eq!(added, m.members.entry(room).or_default().insert(user));
            }
            Op::Leave { user, room } => {
                let (Some(actor), Some(r)) = (m.users[user].clone(), m.rooms[room].clone()) else {
                    continue;
                };
                let removed = h.service.leave_room(&actor, r.id).await.map_err(fail)?;
                prop_assert_eq!(removed, m.members.entry(room).or_default().remove(&user));
            }
            Op::Post {
                user,
                room,
                body,
                client_id,
            } => {
                let (Some(actor), Some(r)) = (m.users[user].clone(), m.rooms[room].clone()) else {
                    continue;
                };
                let cid = client_id.map(|c| format!("cid-{c}"));
                let result = h
                    .service
                    .post(&actor, r.id, BODIES[body], cid.as_deref())
                    .await;
                let member = m.members.get(&room).is_some_and(|s| s.contains(&user));
                if !member {
                    prop_assert_eq!(code(&result), "not_member");
                    continue;
                }
                let posted = result.map_err(fail)?;
                if let Some(&(orig_room, orig_seq)) =
                    client_id.and_then(|c| m.client_ids.get(&(user, c)))
                {
                    prop_assert!(posted.duplicate);
                    prop_assert_eq!(posted.message.seq, Seq(orig_seq));
                    prop_assert_eq!(
                        posted.message.room,
                        m.rooms[orig_room].as_ref().map(|r| r.id).unwrap_or(r.id)
                    );
                } else {
                    let list = m.messages.entry(room).or_default();
                    list.push(ModelMessage {
                        author: user,
                        body: BODIES[body].to_owned(),
                        deleted: false,
                    });
                    prop_assert!(!posted.duplicate);
                    prop_assert_eq!(posted.message.seq, Seq(list.len() as i64));
                    if let Some(c) = client_id {
                        m.client_ids.insert((user, c), (room, list.len() as i64));
                    }
                }
            }
            Op::Edit {
                user,
                room,
                seq,
                body,
            } => {
                let (Some(actor), Some(r)) = (m.users[user].clone(), m.rooms[room].clone()) else {
                    continue;
                };
                let result = h.service.edit(&actor, r.id, Seq(seq), BODIES[body]).await;
                let target = usize::try_from(seq - 1)
                    .ok()
                    .and_then(|i| m.messages.get_mut(&room)?.get_mut(i));
                match target {
                    Some(msg) if !msg.deleted && msg.author == user => {
                        prop_assert_eq!(code(&result), "ok");
                        msg.body = BODIES[body].to_owned();
                    }
                    Some(msg) if !msg.deleted => prop_assert_eq!(code(&result), "forbidden"),
                    _ => prop_assert_eq!(code(&result), "not_found"),
                }
            }
            Op::Delete { user, room, seq } => {
                let (Some(actor), Some(r)) = (m.users[user].clone(), m.rooms[room].clone()) else {
                    continue;
                };
                let result = h.service.delete(&actor, r.id, Seq(seq)).await;
                let target = usize::try_from(seq - 1)
                    .ok()
                    .and_then(|i| m.messages.get_mut(&room)?.get_mut(i));
                match target {
                    Some(msg) if !msg.deleted && msg.author == user => {
                        prop_assert_eq!(code(&result), "ok");
                        msg.deleted = true;
                        msg.body.clear();
                    }
                    Some(msg) if !msg.deleted => prop_assert_eq!(code(&result), "forbidden"),
                    _ => prop_assert_eq!(code(&result), "not_found"),
                }
            }
            Op::History {
                room,
                kind,
                seq,
                limit,
            } => {
                let (Some(actor), Some(r)) = (
                    m.users.iter().flatten().next().cloned(),
                    m.rooms[room].clone(),
                ) else {
                    continue;
                };
                let page = match kind {
                    0 => HistoryPage::Latest { limit },
                    1 => HistoryPage::Before {
                        seq: Seq(seq),
                        limit,
                    },
                    _ => HistoryPage::After {
                        seq: Seq(seq),
                        limit,
                    },
                };
                let got = h.service.history(&actor, r.id, page).await.map_err(fail)?;
                let all = m.messages.get(&room).cloned().unwrap_or_default();
                let n = all.len() as i64;
                let (lo, hi) = match page {
                    HistoryPage::Latest { .. } => ((n - limit as i64).max(0) + 1, n),
                    HistoryPage::Before { seq, .. } => {
                        let hi = (seq.0 - 1).min(n);
                        ((hi - limit as i64).max(0) + 1, hi)
                    }
                    HistoryPage::After { seq, .. } => {
                        let lo = seq.0.max(0) + 1;
                        (lo, (lo + limit as i64 - 1).min(n))
                    }
                };
                let expected: Vec<(i64, String, bool)> = (lo..=hi)
                    .filter(|s| *s >= 1 && limit > 0)
                    .map(|s| {
                        let msg = &all[(s - 1) as usize];
                        (s, msg.body.clone(), msg.deleted)
                    })
                    .collect();
                let actual: Vec<(i64, String, bool)> = got
                    .messages
                    .iter()
                    .map(|msg| (msg.seq.0, msg.body.clone(), msg.deleted))
                    .collect();
                prop_assert_eq!(actual, expected, "page {:?}", page);
            }
            Op::Search { room, word } => {
                let (Some(actor), Some(r)) = (
                    m.users.iter().flatten().next().cloned(),
                    m.rooms[room].clone(),
                ) else {
                    continue;
                };
                let got = h
                    .service
                    .search(&actor, r.id, WORDS[word], None, 50)
                    .await
                    .map_err(fail)?;
                let words = crate::search::words(WORDS[word]);
                let expected: Vec<i64> = m
                    .messages
                    .get(&room)
                    .map(|all| {
                        all.iter()
                            .enumerate()
                            .rev()
                            .filter(|(_, msg)| {
                                !msg.deleted && crate::search::matches(&words, &msg.body)
                            })
                            .map(|(i, _)| i as i64 + 1)
                            .collect()
                    })
                    .unwrap_or_default();
                prop_assert_eq!(
                    got.iter().map(|msg| msg.seq.0).collect::<Vec<_>>(),
                    expected
                );
            }
        }
    }
    Ok(())
}

fn fail(e: ChatError) -> TestCaseError {
    TestCaseError::fail(format!("unexpected error: {e:?}"))
}
