//! Two reference-server processes on one PostgreSQL database (issue 7): the end-to-end proof
//! that `--database postgres://...` makes several nodes one chat.
//!
//! Skipped (with a message) unless `CHAT_TEST_POSTGRES_URL` is set, e.g.
//!
//! ```sh
//! CHAT_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//!     cargo test -p axum-server --test multi_node -- --nocapture
//! ```
//!
//! The run gets a fresh schema (dropped at the end), and two `axum-server serve` processes,
//! A and B, on free 127.0.0.1 ports, pinned to it through the URL's `options=-c search_path=`.
//! Then:
//!
//! 1. clients on A and on B post concurrently; each receives every message of the room, its
//!    own and the other node's, exactly once and in seq order;
//! 2. cross-node delivery latency (post on B until the `message` frame arrives on A) over a few
//!    hundred messages, printed as p50/p99 next to the ack and same-node latencies;
//! 3. a reader on A and a poster on A while a poster on B keeps posting; A is SIGKILLed; the
//!    reader reconnects to B with `after_seq` and receives every acked message exactly once, in
//!    order; the poster re-sends its un-acked message on B with the same `client_id` and it is
//!    stored once.
//!
//! `CHAT_TEST_SERVER_BIN=/path/to/warp-server` runs the same scenario against another server
//! binary with the same command line. Both processes are killed at the end (and by
//! `kill_on_drop` if the test panics).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chat_client::{Auth, BackoffConfig, Client, Config, Credential, Event, Events, MessageView};
use common::{Node, TestSchema, log_path, tail, test_url};
use serde_json::json;
use server_common::testing::call;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long any single expected message or ack may take.
const WAIT: Duration = Duration::from_secs(20);
/// The whole scenario must finish within this.
const TEST_TIMEOUT: Duration = Duration::from_secs(300);
/// The room everything happens in.
const ROOM: &str = "lobby";
/// Messages each side posts in step 1.
const CONCURRENT_POSTS: usize = 100;
/// Latency samples (after warm-up) in step 2.
const LATENCY_SAMPLES: usize = 400;
/// Unrecorded messages before sampling.
const LATENCY_WARMUP: usize = 20;
/// Pause between posts of the posters of step 3.
const POST_PACE: Duration = Duration::from_millis(5);
/// Messages the step-3 reader receives live before the kill, and after resuming.
const LIVE_BEFORE_KILL: usize = 30;
/// Messages B must ack between the kill and the reader's reconnect ("posting continues").
const POSTED_WHILE_AWAY: usize = 30;
/// A short wait that must stay silent: no duplicate arrives after the last expected message.
const QUIET: Duration = Duration::from_millis(300);

/// Overrides the server binary (default: this package's `axum-server`), e.g. with the path of
/// `warp-server`, which takes the same command line.
const SERVER_VAR: &str = "CHAT_TEST_SERVER_BIN";

const PASSWORD: &str = "multi-node-password";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_database() {
    let Some(url) = test_url("two_nodes_on_one_database") else {
        return;
    };
    let schema = Arc::new(TestSchema::create(&url).await);
    let logs = [log_path(&schema.name, "A"), log_path(&schema.name, "B")];
    let mut scenario = tokio::spawn(scenario(schema.clone(), logs.clone()));
    let outcome = tokio::time::timeout(TEST_TIMEOUT, &mut scenario).await;
    if outcome.is_err() {
        // Cancel it and wait until its nodes are dropped (and so killed).
        scenario.abort();
        let _ = scenario.await;
    }
    // The scenario's nodes are killed by now: explicitly on success, by kill_on_drop when it
    // panicked or was cancelled.
    schema.drop_schema().await;
    let failed = !matches!(outcome, Ok(Ok(())));
    if failed {
        for (name, log) in ["A", "B"].iter().zip(&logs) {
            eprintln!(
                "--- node {name} log ({}) ---\n{}",
                log.display(),
                tail(log, 60)
            );
        }
    } else {
        for log in &logs {
            let _ = std::fs::remove_file(log);
        }
    }
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(e)) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Ok(Err(e)) => panic!("scenario task failed: {e}"),
        Err(_) => panic!("the multi-node scenario did not finish within {TEST_TIMEOUT:?}"),
    }
}

/// Tokens of the test users, each signed up through a different node.
struct Users {
    alice: String,
    bob: String,
    carol: String,
    dave: String,
}

async fn scenario(schema: Arc<TestSchema>, logs: [std::path::PathBuf; 2]) {
    // Another server binary with the same CLI (warp-server) can be tested the same way.
    let exe =
        std::env::var(SERVER_VAR).unwrap_or_else(|_| env!("CARGO_BIN_EXE_axum-server").into());
    let exe = exe.as_str();
    println!("server binary: {exe}");
    let [log_a, log_b] = logs;
    // One after the other, so B's port is picked while A already holds its own.
    let mut a = Node::start(exe, "A", &schema.node_url, log_a).await;
    let mut b = Node::start(exe, "B", &schema.node_url, log_b).await;
    println!(
        "node A on {}, node B on {}, schema {}",
        a.addr, b.addr, schema.name
    );

    let users = setup(&a, &b).await;
    // The nodes really use the test schema (the URL's search_path), not the default one.
    assert_eq!(schema.usernames().await, ["alice", "bob", "carol", "dave"]);
    let last = concurrent_posts_on_both_nodes(&a, &b, &users).await;
    let last = cross_node_latency(&a, &b, &users, last).await;
    kill_a_while_posting(&mut a, &b, &users, last).await;

    b.kill().await;
    a.kill().await;
}

async fn signup(node: &Node, username: &str) -> String {
    let response = call(
        node.addr,
        "POST",
        "/api/signup",
        None,
        Some(&json!({"username": username, "password": PASSWORD})),
    )
    .await;
    assert_eq!(
        response.status,
        201,
        "signup {username} on {}: {}",
        node.name,
        response.text()
    );
    response.json()["token"].as_str().unwrap().to_owned()
}

/// Signs users up through both nodes, creates the room on A, makes the others members on B,
/// and checks that sessions and rooms made on one node are seen by the other.
async fn setup(a: &Node, b: &Node) -> Users {
    let users = Users {
        alice: signup(a, "alice").await,
        bob: signup(b, "bob").await,
        carol: signup(b, "carol").await,
        dave: signup(a, "dave").await,
    };
    let created = call(
        a.addr,
        "POST",
        "/api/rooms",
        Some(&users.alice),
        Some(&json!({"name": ROOM, "description": "two nodes, one database"})),
    )
    .await;
    assert_eq!(created.status, 201, "create room: {}", created.text());
    for token in [&users.bob, &users.carol] {
        let joined = call(
            b.addr,
            "POST",
            &format!("/api/rooms/{ROOM}/join"),
            Some(token),
            None,
        )
        .await;
        assert_eq!(joined.status, 200, "join on B: {}", joined.text());
    }
    // dave signed up on A and joins through B; carol signed up on B and is checked on A.
    let joined = call(
        b.addr,
        "POST",
        &format!("/api/rooms/{ROOM}/join"),
        Some(&users.dave),
        None,
    )
    .await;
    assert_eq!(joined.status, 200, "dave joins on B: {}", joined.text());
    let me = call(a.addr, "GET", "/api/me", Some(&users.carol), None).await;
    assert_eq!(me.status, 200, "B's session on A: {}", me.text());
    assert_eq!(me.json()["user"]["username"], "carol");
    let room = call(
        a.addr,
        "GET",
        &format!("/api/rooms/{ROOM}"),
        Some(&users.alice),
        None,
    )
    .await;
    assert_eq!(room.status, 200, "{}", room.text());
    let mut members: Vec<String> = room.json()["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_owned())
        .collect();
    members.sort();
    assert_eq!(members, ["alice", "bob", "carol", "dave"]);
    users
}

/// One message of the room as a client saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Msg {
    seq: i64,
    body: String,
    author: String,
}

impl Msg {
    fn of(message: MessageView<'_>) -> Msg {
        Msg {
            seq: message.seq,
            body: message.body.into_owned(),
            author: message.author.into_owned(),
        }
    }
}

/// Panics unless `got` holds exactly the seqs `first..=last`, each once, in increasing order.
fn assert_exactly_once_in_order(who: &str, got: &[Msg], first: i64, last: i64) {
    let seqs: Vec<i64> = got.iter().map(|m| m.seq).collect();
    let expected: Vec<i64> = (first..=last).collect();
    if seqs == expected {
        return;
    }
    let at = seqs
        .iter()
        .zip(&expected)
        .position(|(a, b)| a != b)
        .unwrap_or(seqs.len().min(expected.len()));
    let lo = at.saturating_sub(3);
    panic!(
        "{who}: expected seqs {first}..={last} exactly once in order; got {} messages, \
         first difference at index {at}: got {:?}, expected {:?}",
        seqs.len(),
        &seqs[lo..(at + 4).min(seqs.len())],
        &expected[lo..(at + 4).min(expected.len())],
    );
}

/// A chat client of node `addr` with `auth`, moving to the `failover` nodes in turn when its
/// node goes away.
async fn connect_with(addr: SocketAddr, failover: &[SocketAddr], auth: Auth) -> (Client, Events) {
    let config = Config {
        backoff: BackoffConfig {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(500),
            penalty: Duration::from_secs(1),
        },
        failover_urls: failover.iter().map(|a| format!("ws://{a}/ws")).collect(),
        ..Config::default()
    };
    Client::connect_with(&format!("ws://{addr}/ws"), auth, config)
        .await
        .unwrap()
}

/// A client of node `addr` with a bearer token.
async fn connect(addr: SocketAddr, failover: &[SocketAddr], token: &str) -> (Client, Events) {
    connect_with(addr, failover, Auth::bearer(token)).await
}

/// The next event of a client; panics after [`WAIT`] or when it stopped.
async fn next_event(who: &str, events: &mut Events) -> Event {
    tokio::time::timeout(WAIT, events.next())
        .await
        .unwrap_or_else(|_| panic!("{who}: nothing within {WAIT:?}"))
        .unwrap_or_else(|| panic!("{who}: the client stopped"))
}

/// The next message the client delivers; panics after [`WAIT`] or when it stopped.
async fn next_msg(who: &str, events: &mut Events) -> Msg {
    let message = tokio::time::timeout(WAIT, events.next_message())
        .await
        .unwrap_or_else(|_| panic!("{who}: no message within {WAIT:?}"))
        .unwrap_or_else(|| panic!("{who}: the client stopped"));
    Msg::of(message)
}

/// Posts `n` messages (`{prefix}-{i}`, `client_id` = body) one after the other, waiting for
/// each `ack`. Returns the acked `(seq, body)` pairs.
async fn post_many(who: &str, client: &Client, prefix: &str, n: usize) -> Vec<(i64, String)> {
    let mut acked = Vec::with_capacity(n);
    for i in 0..n {
        let body = format!("{prefix}-{i}");
        let ack = tokio::time::timeout(WAIT, client.send_with_id(ROOM, &body, &body))
            .await
            .unwrap_or_else(|_| panic!("{who}: no ack within {WAIT:?}"))
            .unwrap_or_else(|e| panic!("{who}: send refused: {e}"));
        assert!(!ack.duplicate, "{who}: {ack:?}");
        acked.push((ack.seq, body));
    }
    acked
}

/// Reads messages into `log` until one with seq >= `last` arrived, then checks that nothing
/// more (a duplicate) follows within [`QUIET`].
async fn read_until(who: &str, events: &mut Events, log: &mut Vec<Msg>, last: i64) {
    while log.last().is_none_or(|m| m.seq < last) {
        log.push(next_msg(who, events).await);
    }
    if let Ok(extra) = tokio::time::timeout(QUIET, events.next_message()).await {
        panic!("{who}: unexpected extra message {extra:?}");
    }
}

/// Checks that every acked message is in `log` with its body and author.
fn assert_acked_received(who: &str, log: &[Msg], acked: &[(i64, String)], author: &str) {
    let by_seq: HashMap<i64, &Msg> = log.iter().map(|m| (m.seq, m)).collect();
    for (seq, body) in acked {
        let msg = by_seq
            .get(seq)
            .unwrap_or_else(|| panic!("{who}: acked seq {seq} ({body}) never arrived"));
        assert_eq!(
            (msg.body.as_str(), msg.author.as_str()),
            (body.as_str(), author),
            "{who}: seq {seq}"
        );
    }
}

/// Step 1: alice on A and bob on B post at the same time; both see all of it, in order, once.
async fn concurrent_posts_on_both_nodes(a: &Node, b: &Node, users: &Users) -> i64 {
    let (alice, mut alice_events) = connect(a.addr, &[], &users.alice).await;
    let (bob, mut bob_events) = connect(b.addr, &[], &users.bob).await;
    let joined_a = alice.join_after(ROOM, 0).await.unwrap();
    let joined_b = bob.join_after(ROOM, 0).await.unwrap();
    assert_eq!(joined_a.last_seq, 0, "{joined_a:?}");
    assert_eq!(joined_b.last_seq, 0, "{joined_b:?}");

    let started = Instant::now();
    let (acked_a, acked_b) = tokio::join!(
        post_many("alice@A", &alice, "from-a", CONCURRENT_POSTS),
        post_many("bob@B", &bob, "from-b", CONCURRENT_POSTS),
    );
    let last = i64::try_from(2 * CONCURRENT_POSTS).unwrap();
    for acked in [&acked_a, &acked_b] {
        assert!(
            acked.windows(2).all(|w| w[0].0 < w[1].0),
            "acks out of order"
        );
    }
    let (mut log_a, mut log_b) = (Vec::new(), Vec::new());
    tokio::join!(
        read_until("alice@A", &mut alice_events, &mut log_a, last),
        read_until("bob@B", &mut bob_events, &mut log_b, last),
    );
    for (who, log) in [("alice@A", &log_a), ("bob@B", &log_b)] {
        assert_exactly_once_in_order(who, log, 1, last);
        assert_acked_received(who, log, &acked_a, "alice");
        assert_acked_received(who, log, &acked_b, "bob");
    }
    // How much the two nodes' writes interleaved (author changes along the seqs).
    let switches = log_a
        .windows(2)
        .filter(|w| w[0].author != w[1].author)
        .count();
    println!(
        "step 1: {} messages posted concurrently on A and B in {:?} ({switches} author \
         changes along the seqs); both clients received seqs 1..={last} exactly once, in order",
        2 * CONCURRENT_POSTS,
        started.elapsed()
    );
    alice.close().await;
    bob.close().await;
    last
}

/// p50 and p99 (nearest rank) of `samples`.
fn percentiles(samples: &mut [Duration]) -> (Duration, Duration) {
    samples.sort();
    let rank = |p: usize| samples[(samples.len() * p).div_ceil(100).max(1) - 1];
    (rank(50), rank(99))
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// Reads messages into `log` until the one with `body`; the time it arrived.
async fn arrival(who: &str, events: &mut Events, log: &mut Vec<Msg>, body: &str) -> Instant {
    loop {
        let msg = next_msg(who, events).await;
        let at = Instant::now();
        let done = msg.body == body;
        log.push(msg);
        if done {
            return at;
        }
    }
}

/// Step 2: one message in flight at a time, posted by bob on B; the time until alice's client
/// on A has the message (and, for comparison, until bob has the ack and his own copy).
async fn cross_node_latency(a: &Node, b: &Node, users: &Users, last: i64) -> i64 {
    let (alice, mut alice_events) = connect(a.addr, &[], &users.alice).await;
    let (bob, mut bob_events) = connect(b.addr, &[], &users.bob).await;
    alice.join_after(ROOM, last).await.unwrap();
    bob.join_after(ROOM, last).await.unwrap();

    let (mut cross, mut same, mut ack) = (Vec::new(), Vec::new(), Vec::new());
    let (mut log_a, mut log_b) = (Vec::new(), Vec::new());
    for i in 0..LATENCY_WARMUP + LATENCY_SAMPLES {
        let body = format!("latency-{i}");
        let sent = Instant::now();
        let reply = bob.send_with_id(ROOM, &body, &body);
        let acked = async {
            let ack = tokio::time::timeout(WAIT, reply).await.unwrap().unwrap();
            assert!(!ack.duplicate, "bob@B: {ack:?}");
            Instant::now()
        };
        let (at_a, own, acked) = tokio::join!(
            arrival("alice@A", &mut alice_events, &mut log_a, &body),
            arrival("bob@B", &mut bob_events, &mut log_b, &body),
            acked,
        );
        if i >= LATENCY_WARMUP {
            cross.push(at_a - sent);
            same.push(own - sent);
            ack.push(acked - sent);
        }
    }
    let new_last = last + i64::try_from(LATENCY_WARMUP + LATENCY_SAMPLES).unwrap();
    assert_exactly_once_in_order("alice@A", &log_a, last + 1, new_last);
    assert_exactly_once_in_order("bob@B", &log_b, last + 1, new_last);

    let (cross50, cross99) = percentiles(&mut cross);
    let (same50, same99) = percentiles(&mut same);
    let (ack50, ack99) = percentiles(&mut ack);
    println!(
        "step 2: latency over {LATENCY_SAMPLES} messages, one in flight, posted on B:\n\
         \x20 post on B -> message on A (cross-node): p50 {}  p99 {}\n\
         \x20 post on B -> message on B (same node):  p50 {}  p99 {}\n\
         \x20 post on B -> ack on B (durable):        p50 {}  p99 {}",
        ms(cross50),
        ms(cross99),
        ms(same50),
        ms(same99),
        ms(ack50),
        ms(ack99),
    );
    alice.close().await;
    bob.close().await;
    new_last
}

/// What a step-3 poster did.
#[derive(Debug, Default)]
struct Posted {
    /// `(seq, body)` of every acked message, in posting order.
    acked: Vec<(i64, String)>,
    /// Times the poster's client reconnected (after losing its node, to the next one).
    failovers: usize,
    /// Acks flagged `duplicate` (a re-send of a message the dead node had stored).
    duplicates: usize,
}

/// Posts `{label}-{i}` every [`POST_PACE`] until `stop`, starting on `nodes[0]`; when its node
/// fails the client moves to the next one and re-sends the un-acked message from its outbox
/// with the same `client_id`. `count` follows the number of acks.
async fn poster(
    label: &'static str,
    nodes: Vec<SocketAddr>,
    token: String,
    stop: Arc<AtomicBool>,
    count: Arc<AtomicUsize>,
) -> Posted {
    let mut posted = Posted::default();
    let (client, mut events) = connect(nodes[0], &nodes[1..], &token).await;
    let mut i = 0;
    while !stop.load(Ordering::SeqCst) {
        let body = format!("{label}-{i}");
        let ack = tokio::time::timeout(WAIT, client.send_with_id(ROOM, &body, &body))
            .await
            .unwrap_or_else(|_| panic!("{label}: no ack within {WAIT:?}"))
            .unwrap_or_else(|e| panic!("{label}: send refused: {e}"));
        posted.acked.push((ack.seq, body));
        posted.duplicates += usize::from(ack.duplicate);
        count.fetch_add(1, Ordering::SeqCst);
        i += 1;
        tokio::time::sleep(POST_PACE).await;
    }
    client.close().await;
    while let Some(event) = events.try_next() {
        if matches!(
            event,
            Event::Connected {
                reconnect: true,
                ..
            }
        ) {
            posted.failovers += 1;
        }
    }
    posted
}

/// Waits until `count` reaches `at_least`.
async fn wait_for_count(what: &str, count: &AtomicUsize, at_least: usize) {
    let deadline = Instant::now() + WAIT;
    while count.load(Ordering::SeqCst) < at_least {
        assert!(Instant::now() < deadline, "{what}: stuck at {count:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Step 3: carol (signed up on B) reads on A; dave posts on A, bob posts on B; A is killed;
/// carol's client resumes on B with `after_seq` while bob keeps posting (her token callback
/// holds the reconnect until B acked [`POSTED_WHILE_AWAY`] more); dave's moves to B and
/// re-sends.
async fn kill_a_while_posting(a: &mut Node, b: &Node, users: &Users, last: i64) {
    let (may_reconnect, gate) = tokio::sync::watch::channel(true);
    let token = users.carol.clone();
    let auth = Auth::callback(move || {
        let (mut gate, token) = (gate.clone(), token.clone());
        async move {
            gate.wait_for(|open| *open)
                .await
                .map_err(|e| e.to_string())?;
            Ok(Credential::Bearer(token))
        }
    });
    let (carol, mut carol_events) = connect_with(a.addr, &[b.addr], auth).await;
    let joined = carol.join_after(ROOM, last).await.unwrap();
    assert_eq!(joined.last_seq, last, "{joined:?}");

    let stop = Arc::new(AtomicBool::new(false));
    let (bob_count, dave_count) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let bob = tokio::spawn(poster(
        "bob-kill",
        vec![b.addr],
        users.bob.clone(),
        stop.clone(),
        bob_count.clone(),
    ));
    let dave = tokio::spawn(poster(
        "dave-kill",
        vec![a.addr, b.addr],
        users.dave.clone(),
        stop.clone(),
        dave_count.clone(),
    ));

    let mut log = Vec::new();
    while log.len() < LIVE_BEFORE_KILL {
        log.push(next_msg("carol@A", &mut carol_events).await);
    }

    may_reconnect.send_replace(false);
    a.kill().await;
    let killed = Instant::now();
    let bob_at_kill = bob_count.load(Ordering::SeqCst);
    // Whatever A had already written to carol's socket, then the end of the connection.
    let why = loop {
        let event = next_event("carol@A (A killed)", &mut carol_events).await;
        match event {
            Event::Message(m) => log.push(Msg::of(m)),
            Event::Disconnected { code, reason } => break format!("{code:?} {reason}"),
            _ => {}
        }
    };
    let seen_on_a = log.len();
    let resume_after = log.last().map_or(last, |m| m.seq);
    // Carol is away; posting on B goes on.
    wait_for_count(
        "bob on B after the kill",
        &bob_count,
        bob_at_kill + POSTED_WHILE_AWAY,
    )
    .await;
    let bob_while_away = bob_count.load(Ordering::SeqCst) - bob_at_kill;
    may_reconnect.send_replace(true);

    // Her client reconnects to B and joins again after the last seq it delivered.
    let joined = loop {
        let event = next_event("carol (back on B)", &mut carol_events).await;
        match event {
            Event::Joined(joined) => break joined,
            Event::Message(m) => panic!("carol: a message before the resume: {m:?}"),
            _ => {}
        }
    };
    let resumed = Instant::now();
    let backlog = joined.last_seq - resume_after;
    while log.len() < seen_on_a + usize::try_from(backlog).unwrap() + LIVE_BEFORE_KILL {
        log.push(next_msg("carol@B", &mut carol_events).await);
    }

    stop.store(true, Ordering::SeqCst);
    let bob = bob.await.unwrap();
    let dave = dave.await.unwrap();
    let final_seq = bob
        .acked
        .iter()
        .chain(&dave.acked)
        .map(|(seq, _)| *seq)
        .max()
        .unwrap();
    read_until("carol@B", &mut carol_events, &mut log, final_seq).await;

    // Every message from `last + 1` to the newest, exactly once, in order, across the kill...
    assert_exactly_once_in_order("carol (A, then B)", &log, last + 1, final_seq);
    assert!(
        log.iter().any(|m| m.seq > resume_after),
        "nothing posted after carol lost A"
    );
    // ...and they are exactly the acked ones: nothing lost, nothing stored twice.
    assert_acked_received("carol", &log, &bob.acked, "bob");
    assert_acked_received("carol", &log, &dave.acked, "dave");
    let acked: HashSet<i64> = bob
        .acked
        .iter()
        .chain(&dave.acked)
        .map(|(s, _)| *s)
        .collect();
    assert_eq!(
        acked.len(),
        bob.acked.len() + dave.acked.len(),
        "two acks for one seq"
    );
    assert_eq!(
        acked.len(),
        usize::try_from(final_seq - last).unwrap(),
        "a stored message was never acked"
    );
    assert_eq!(dave.failovers, 1, "dave should have moved from A to B once");
    assert_eq!(bob.failovers, 0, "bob's node B should never have failed");
    assert!(bob.acked.windows(2).all(|w| w[0].0 < w[1].0));
    assert!(dave.acked.windows(2).all(|w| w[0].0 < w[1].0));

    println!(
        "step 3: A killed after carol had {} live messages ({} more were in flight; her socket \
         ended: {why}); B acked {} while she was away; she resumed on B {:?} after the kill \
         with after_seq {resume_after} ({backlog} backlog); bob posted {} on B, dave {} \
         (A then B, {} re-send acked as duplicate); carol received seqs {}..={final_seq} \
         exactly once, in order",
        LIVE_BEFORE_KILL,
        seen_on_a - LIVE_BEFORE_KILL,
        bob_while_away,
        resumed - killed,
        bob.acked.len(),
        dave.acked.len(),
        dave.duplicates,
        last + 1,
    );
    carol.close().await;
}

#[test]
fn percentiles_use_nearest_rank() {
    let mut samples: Vec<Duration> = (1..=200).map(Duration::from_millis).collect();
    let (p50, p99) = percentiles(&mut samples);
    assert_eq!(
        (p50, p99),
        (Duration::from_millis(100), Duration::from_millis(198))
    );
}
