//! chat-client against a real in-process server: two clients talk, every call has its answer,
//! a server restart mid-stream loses and duplicates nothing, a dropped socket's sends are
//! resent, and an ended session stops the client.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chat_client::{Auth, Client, ClientError, Credential, Event, ServerFrame};
use common::{
    Framework, Server, WAIT, ann_bob_and_room, close_code, connect, database, fast_config,
    next_matching,
};
use std::collections::HashSet;
use std::time::Duration;

async fn two_clients_talk_and_every_call_gets_its_answer(framework: Framework) {
    let (_dir, path) = database();
    let server = Server::start(path, None, framework).await;
    let (ann_token, bob_token) = ann_bob_and_room(&server, "General").await;
    let (a, mut a_events) = connect(&server, &ann_token).await;
    let (b, mut b_events) = connect(&server, &bob_token).await;
    let joined = a.join("general").await.unwrap();
    assert_eq!(joined.room, "General", "the server's spelling");
    assert_eq!(joined.description, "the room");
    b.join("GENERAL").await.unwrap();

    let ack = a.send("general", "hi bob").await.unwrap();
    assert_eq!((ack.seq, ack.duplicate), (1, false));
    let seen = next_matching(&mut b_events, |e| match e {
        Event::Message(m) => Some(m),
        _ => None,
    })
    .await;
    assert_eq!((seen.seq, &*seen.author, &*seen.body), (1, "ann", "hi bob"));
    assert_eq!(seen.client_id.as_deref(), Some(ack.client_id.as_str()));
    // The sender sees its own message too, once.
    let own = next_matching(&mut a_events, |e| match e {
        Event::Message(m) => Some(m.seq),
        _ => None,
    })
    .await;
    assert_eq!(own, 1);

    a.edit("general", 1, "hi bob!").await.unwrap();
    let edited = next_matching(&mut b_events, |e| match e {
        Event::Frame(ServerFrame::Edited(m)) => Some(m),
        _ => None,
    })
    .await;
    assert_eq!(&*edited.body, "hi bob!");
    assert!(edited.edited_at.is_some());
    b.typing("general").await.unwrap();
    let typing = next_matching(&mut a_events, |e| match e {
        Event::Frame(ServerFrame::Typing { user, .. }) => Some(user),
        _ => None,
    })
    .await;
    assert_eq!(typing, "bob");

    let refused = b.edit("general", 1, "not mine").await.unwrap_err();
    assert!(
        matches!(&refused, ClientError::Server { code, .. } if code == "forbidden"),
        "{refused:?}"
    );
    let refused = a.join("no-such-room").await.unwrap_err();
    assert!(
        matches!(&refused, ClientError::Server { code, .. } if code == "unknown_room"),
        "{refused:?}"
    );
    assert_eq!(a.last_seq("no-such-room").await.unwrap(), None);

    a.delete("general", 1).await.unwrap();
    let deleted = next_matching(&mut b_events, |e| match e {
        Event::Frame(ServerFrame::Deleted { seq, .. }) => Some(seq),
        _ => None,
    })
    .await;
    assert_eq!(deleted, 1);
    let page = b.history("general", None, Some(10)).await.unwrap();
    assert_eq!(page.messages.len(), 1);
    assert!(page.messages[0].deleted);
    assert!(!page.has_more);
    assert!(a.ping().await.unwrap() < WAIT);
    b.leave("general").await.unwrap();
    assert_eq!(b.last_seq("general").await.unwrap(), None);
    a.close().await;
    assert_eq!(
        a.send("general", "x").await.unwrap_err(),
        ClientError::Closed
    );
    b.close().await;
}

async fn cookie_and_callback_credentials_and_a_refused_token(framework: Framework) {
    let (_dir, path) = database();
    let server = Server::start(path, None, framework).await;
    let (_, token) = server.user("ann").await;
    let cookie = Auth::cookie(format!("chat_session={token}"));
    let (client, mut events) = Client::connect_with(&server.url(), cookie, fast_config())
        .await
        .unwrap();
    let user = next_matching(&mut events, |e| match e {
        Event::Connected { user, reconnect } => Some((user, reconnect)),
        _ => None,
    })
    .await;
    assert_eq!((&*user.0.username, user.1), ("ann", false));
    client.close().await;

    let asked = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counter = asked.clone();
    let callback = Auth::callback(move || {
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let token = token.clone();
        async move { Ok(Credential::Bearer(token)) }
    });
    let (client, mut events) = Client::connect_with(&server.url(), callback, fast_config())
        .await
        .unwrap();
    client.drop_connection();
    next_matching(&mut events, |e| match e {
        Event::Connected {
            reconnect: true, ..
        } => Some(()),
        _ => None,
    })
    .await;
    assert_eq!(
        asked.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "asked at every connect"
    );
    client.close().await;

    let refused = Client::connect(&server.url(), Auth::bearer("not-a-session")).await;
    assert_eq!(refused.unwrap_err(), ClientError::SessionEnded);
}

async fn a_dropped_socket_resends_the_outbox_once_each(framework: Framework) {
    let (_dir, path) = database();
    let server = Server::start(path, None, framework).await;
    let (token, _) = ann_bob_and_room(&server, "general").await;
    let (client, mut events) = connect(&server, &token).await;
    client.join("general").await.unwrap();
    // Queued in call order: the sends go on the wire, then the socket is cut before their
    // acks are read.
    let replies: Vec<_> = (0..20)
        .map(|i| client.send("general", &format!("m{i}")))
        .collect();
    client.drop_connection();
    let mut acks = Vec::new();
    for reply in replies {
        acks.push(tokio::time::timeout(WAIT, reply).await.unwrap().unwrap());
    }
    let seqs: Vec<i64> = acks.iter().map(|a| a.seq).collect();
    let duplicates = acks.iter().filter(|a| a.duplicate).count();
    println!("{duplicates} of 20 sends were stored before the drop and acked as duplicates");
    assert!(
        duplicates > 0,
        "the outbox resent sends the server had stored"
    );
    assert_eq!(
        seqs,
        (1..=20).collect::<Vec<_>>(),
        "each stored once, in order"
    );
    assert_eq!(client.pending_sends().await.unwrap(), 0);
    let mut seen = Vec::new();
    while seen.len() < 20 {
        let seq = next_matching(&mut events, |e| match e {
            Event::Message(m) => Some(m.seq),
            _ => None,
        })
        .await;
        seen.push(seq);
    }
    assert_eq!(seen, seqs, "delivered exactly once, in order");
    // Rewinding the cursor replays from there.
    client.join_after("general", 15).await.unwrap();
    let mut replayed = Vec::new();
    while replayed.len() < 5 {
        replayed.push(
            next_matching(&mut events, |e| match e {
                Event::Message(m) => Some(m.seq),
                _ => None,
            })
            .await,
        );
    }
    assert_eq!(replayed, [16, 17, 18, 19, 20]);
    let page = client.history("general", None, Some(50)).await.unwrap();
    assert_eq!(page.messages.len(), 20);
    client.close().await;
}

async fn logout_everywhere_stops_the_client(framework: Framework) {
    let (_dir, path) = database();
    let server = Server::start(path, None, framework).await;
    let (bob, token) = server.user("bob").await;
    let (client, mut events) = connect(&server, &token).await;
    server.chat.service().logout_everywhere(&bob).await.unwrap();
    assert_eq!(close_code(&mut events).await, Some(4001));
    let stopped = next_matching(&mut events, |e| match e {
        Event::Stopped(error) => Some(error),
        Event::Reconnecting { .. } | Event::Connected { .. } => panic!("reconnected: {e:?}"),
        _ => None,
    })
    .await;
    assert_eq!(stopped, ClientError::SessionEnded);
    assert_eq!(
        client.send("x", "y").await.unwrap_err(),
        ClientError::SessionEnded
    );
    // Nothing more: no reconnect attempt.
    let more = tokio::time::timeout(Duration::from_millis(500), events.next()).await;
    assert!(matches!(more, Err(_) | Ok(None)), "{more:?}");
    assert_eq!(server.chat.open_connections(), 0);
}

async fn a_token_callback_is_asked_again_after_4001(framework: Framework) {
    let (_dir, path) = database();
    let server = Server::start(path, None, framework).await;
    let (bob, first) = server.user("bob").await;
    let service = server.chat.service().clone();
    // The first credential, then fresh logins; after `logout_everywhere` the old one is dead.
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counter = calls.clone();
    let auth = Auth::callback(move || {
        let (service, first) = (service.clone(), first.clone());
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async move {
            if n == 0 {
                return Ok(Credential::Bearer(first));
            }
            let (_, token) = service
                .login("bob", "password-123")
                .await
                .map_err(|e| e.to_string())?;
            Ok(Credential::Bearer(token.as_str().to_owned()))
        }
    });
    let (client, mut events) = Client::connect_with(&server.url(), auth, fast_config())
        .await
        .unwrap();
    server.chat.service().logout_everywhere(&bob).await.unwrap();
    assert_eq!(close_code(&mut events).await, Some(4001));
    next_matching(&mut events, |e| match e {
        Event::Connected {
            reconnect: true, ..
        } => Some(()),
        Event::Stopped(error) => panic!("stopped: {error}"),
        _ => None,
    })
    .await;
    assert!(client.ping().await.is_ok());
    client.close().await;

    // A callback that only has the dead credential: the handshake's 401 stops the client.
    let (dead_bob, dead) = server.user("dead").await;
    let auth = Auth::callback(move || {
        let dead = dead.clone();
        async move { Ok(Credential::Bearer(dead)) }
    });
    let (_client, mut events) = Client::connect_with(&server.url(), auth, fast_config())
        .await
        .unwrap();
    server
        .chat
        .service()
        .logout_everywhere(&dead_bob)
        .await
        .unwrap();
    let stopped = next_matching(&mut events, |e| match e {
        Event::Stopped(error) => Some(error),
        Event::Connected {
            reconnect: true, ..
        } => panic!("reconnected with a dead session"),
        _ => None,
    })
    .await;
    assert_eq!(stopped, ClientError::SessionEnded);
}

async fn a_server_restart_mid_stream_loses_and_repeats_nothing(framework: Framework) {
    const N: usize = 300;
    let (_dir, path) = database();
    let server = Server::start(path, None, framework).await;
    let (ann_token, bob_token) = ann_bob_and_room(&server, "general").await;
    let (sender, _sender_events) = connect(&server, &ann_token).await;
    let (receiver, mut events) = connect(&server, &bob_token).await;
    receiver.join("general").await.unwrap();

    // The sender keeps up to 8 sends in flight, across the restart.
    let sending = tokio::spawn({
        let sender = sender.clone();
        async move {
            let mut in_flight = std::collections::VecDeque::new();
            let mut acks = Vec::new();
            for i in 0..N {
                in_flight.push_back(sender.send("general", &format!("m{i}")));
                if in_flight.len() >= 8 {
                    acks.push(in_flight.pop_front().unwrap().await.unwrap());
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            for reply in in_flight {
                acks.push(reply.await.unwrap());
            }
            acks
        }
    });

    let mut seen = Vec::new();
    let mut shutdown_closes = Vec::new();
    let mut server = Some(server);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while seen.len() < N {
        let event = tokio::time::timeout_at(deadline, events.next())
            .await
            .expect("the receiver stalled")
            .expect("the events ended");
        if let Event::Disconnected { code, .. } = event {
            shutdown_closes.push(code);
        }
        if let Event::Message(m) = event {
            seen.push(m.seq);
            if seen.len() == N / 3
                && let Some(running) = server.take()
            {
                let (path, addr) = running.stop().await;
                tokio::time::sleep(Duration::from_millis(200)).await;
                server = Some(Server::start(path, Some(addr), framework).await);
            }
        }
    }
    let acks = tokio::time::timeout(WAIT, sending).await.unwrap().unwrap();
    assert_eq!(
        shutdown_closes,
        [Some(1001)],
        "one restart, seen as a graceful close"
    );
    assert_eq!(
        seen,
        (1..=N as i64).collect::<Vec<_>>(),
        "every seq once, in order"
    );
    let acked: HashSet<String> = acks.iter().map(|a| a.client_id.clone()).collect();
    assert_eq!(acked.len(), N);

    // Every client_id stored once.
    let mut stored = Vec::new();
    let mut before = None;
    loop {
        let page = receiver
            .history("general", before, Some(200))
            .await
            .unwrap();
        before = page.messages.first().map(|m| m.seq);
        stored.extend(
            page.messages
                .into_iter()
                .map(|m| m.client_id.unwrap().into_owned()),
        );
        if !page.has_more {
            break;
        }
    }
    assert_eq!(stored.len(), N, "no message stored twice");
    assert_eq!(stored.into_iter().collect::<HashSet<_>>(), acked);
    sender.close().await;
    receiver.close().await;
    if let Some(server) = server {
        server.stop().await;
    }
}

/// Each scenario against each adapter.
macro_rules! on_both_servers {
    ($($scenario:ident),* $(,)?) => {
        mod axum_server {
            $(#[tokio::test]
            async fn $scenario() {
                super::$scenario(super::Framework::Axum).await;
            })*
        }
        mod warp_server {
            $(#[tokio::test]
            async fn $scenario() {
                super::$scenario(super::Framework::Warp).await;
            })*
        }
    };
}

on_both_servers!(
    two_clients_talk_and_every_call_gets_its_answer,
    cookie_and_callback_credentials_and_a_refused_token,
    a_dropped_socket_resends_the_outbox_once_each,
    logout_everywhere_stops_the_client,
    a_token_callback_is_asked_again_after_4001,
    a_server_restart_mid_stream_loses_and_repeats_nothing,
);
