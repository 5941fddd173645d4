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

use common::{Node, TestSchema, log_path, tail, test_url};
use serde_json::json;
use server_common::testing::call;
use server_common::testing::ws::{Msg, RecvError, WAIT, Ws, assert_exactly_once_in_order};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

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

/// Posts `n` messages (`{prefix}-{i}`, `client_id` = body) one after the other, waiting for
/// each `ack`; `message` frames of the room arriving meanwhile go to `log`. Returns the acked
/// `(seq, body)` pairs.
async fn post_many(ws: &mut Ws, prefix: &str, n: usize, log: &mut Vec<Msg>) -> Vec<(i64, String)> {
    let mut acked = Vec::with_capacity(n);
    for i in 0..n {
        let body = format!("{prefix}-{i}");
        ws.send(json!({"type": "send", "room": ROOM, "body": body, "client_id": body}))
            .await
            .unwrap();
        loop {
            let frame = ws.expect_frame().await;
            if let Some(msg) = Msg::of(&frame, ROOM) {
                log.push(msg);
            } else if frame["type"] == "ack" && frame["client_id"] == body.as_str() {
                assert_eq!(frame["duplicate"], false, "{}: {frame}", ws.label);
                acked.push((frame["seq"].as_i64().unwrap(), body));
                break;
            } else if frame["type"] == "error" {
                panic!("{}: send refused: {frame}", ws.label);
            }
        }
    }
    acked
}

/// Reads `message` frames of the room into `log` until one with seq >= `last` arrived, then
/// checks that nothing more (a duplicate) follows within [`QUIET`].
async fn read_until(ws: &mut Ws, log: &mut Vec<Msg>, last: i64) {
    while log.last().is_none_or(|m| m.seq < last) {
        let frame = ws.expect_frame().await;
        if let Some(msg) = Msg::of(&frame, ROOM) {
            log.push(msg);
        } else if frame["type"] == "error" {
            panic!("{}: {frame}", ws.label);
        }
    }
    expect_quiet(ws).await;
}

/// No further `message` frame of the room within [`QUIET`].
async fn expect_quiet(ws: &mut Ws) {
    let until = Instant::now() + QUIET;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match ws.recv(left).await {
            Err(RecvError::Timeout) => return,
            Err(RecvError::Closed(why)) => panic!("{}: closed: {why}", ws.label),
            Ok(frame) => assert!(
                Msg::of(&frame, ROOM).is_none(),
                "{}: unexpected extra message {frame}",
                ws.label
            ),
        }
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
    let mut alice = Ws::connect(a.addr, &users.alice, "alice@A").await.unwrap();
    let mut bob = Ws::connect(b.addr, &users.bob, "bob@B").await.unwrap();
    let joined_a = alice.join(ROOM, Some(0)).await;
    let joined_b = bob.join(ROOM, Some(0)).await;
    assert_eq!(joined_a["last_seq"], 0, "{joined_a}");
    assert_eq!(joined_b["last_seq"], 0, "{joined_b}");

    let started = Instant::now();
    let (mut log_a, mut log_b) = (Vec::new(), Vec::new());
    let (acked_a, acked_b) = tokio::join!(
        post_many(&mut alice, "from-a", CONCURRENT_POSTS, &mut log_a),
        post_many(&mut bob, "from-b", CONCURRENT_POSTS, &mut log_b),
    );
    let last = i64::try_from(2 * CONCURRENT_POSTS).unwrap();
    for acked in [&acked_a, &acked_b] {
        assert!(
            acked.windows(2).all(|w| w[0].0 < w[1].0),
            "acks out of order"
        );
    }
    tokio::join!(
        read_until(&mut alice, &mut log_a, last),
        read_until(&mut bob, &mut log_b, last),
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

/// Step 2: one message in flight at a time, posted by bob on B; the time until alice's socket
/// on A has the `message` frame (and, for comparison, until bob has the ack and his own copy).
async fn cross_node_latency(a: &Node, b: &Node, users: &Users, last: i64) -> i64 {
    let mut alice = Ws::connect(a.addr, &users.alice, "alice@A").await.unwrap();
    let mut bob = Ws::connect(b.addr, &users.bob, "bob@B").await.unwrap();
    alice.join(ROOM, Some(last)).await;
    bob.join(ROOM, Some(last)).await;

    let (mut cross, mut same, mut ack) = (Vec::new(), Vec::new(), Vec::new());
    let (mut log_a, mut log_b) = (Vec::new(), Vec::new());
    for i in 0..LATENCY_WARMUP + LATENCY_SAMPLES {
        let body = format!("latency-{i}");
        let sent = Instant::now();
        bob.send(json!({"type": "send", "room": ROOM, "body": body, "client_id": body}))
            .await
            .unwrap();
        let on_a = async {
            loop {
                let frame = alice.expect_frame().await;
                if let Some(msg) = Msg::of(&frame, ROOM) {
                    let at = Instant::now();
                    let done = msg.body == body;
                    log_a.push(msg);
                    if done {
                        return at;
                    }
                }
            }
        };
        let on_b = async {
            let (mut acked, mut own) = (None, None);
            while acked.is_none() || own.is_none() {
                let frame = bob.expect_frame().await;
                if let Some(msg) = Msg::of(&frame, ROOM) {
                    if msg.body == body {
                        own = Some(Instant::now());
                    }
                    log_b.push(msg);
                } else if frame["type"] == "ack" && frame["client_id"] == body.as_str() {
                    acked = Some(Instant::now());
                } else if frame["type"] == "error" {
                    panic!("bob@B: {frame}");
                }
            }
            (acked.unwrap(), own.unwrap())
        };
        let (at_a, (acked, own)) = tokio::join!(on_a, on_b);
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
         \x20 post on B -> message frame on A (cross-node): p50 {}  p99 {}\n\
         \x20 post on B -> message frame on B (same node):  p50 {}  p99 {}\n\
         \x20 post on B -> ack on B (durable):               p50 {}  p99 {}",
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
    /// Times the poster lost its node and moved to the other.
    failovers: usize,
    /// Acks flagged `duplicate` (a re-send of a message the dead node had stored).
    duplicates: usize,
}

/// Sends one message and waits for its ack. `Err` when the connection fails or stays silent.
async fn try_post(ws: &mut Ws, body: &str) -> Result<(i64, bool), String> {
    ws.send(json!({"type": "send", "room": ROOM, "body": body, "client_id": body}))
        .await?;
    loop {
        match ws.recv(WAIT).await {
            Ok(frame) if frame["type"] == "ack" && frame["client_id"] == body => {
                return Ok((
                    frame["seq"].as_i64().unwrap(),
                    frame["duplicate"].as_bool().unwrap(),
                ));
            }
            Ok(frame) if frame["type"] == "error" => panic!("{}: send refused: {frame}", ws.label),
            Ok(_) => {}
            Err(e) => return Err(format!("{}: {e:?}", ws.label)),
        }
    }
}

/// Posts `{prefix}-{i}` every [`POST_PACE`] until `stop`, starting on `nodes[0]`; when its node
/// fails it reconnects to the next one and re-sends the un-acked message with the same
/// `client_id`. `count` follows the number of acks.
async fn poster(
    label: &'static str,
    nodes: Vec<SocketAddr>,
    token: String,
    stop: Arc<AtomicBool>,
    count: Arc<AtomicUsize>,
) -> Posted {
    let mut posted = Posted::default();
    let mut node = 0;
    let mut ws = Ws::connect(nodes[node], &token, label).await.unwrap();
    let mut i = 0;
    while !stop.load(Ordering::SeqCst) {
        let body = format!("{label}-{i}");
        loop {
            match try_post(&mut ws, &body).await {
                Ok((seq, duplicate)) => {
                    posted.acked.push((seq, body));
                    posted.duplicates += usize::from(duplicate);
                    count.fetch_add(1, Ordering::SeqCst);
                    break;
                }
                Err(e) => {
                    node += 1;
                    let next = *nodes
                        .get(node)
                        .unwrap_or_else(|| panic!("{label}: no node left after: {e}"));
                    posted.failovers += 1;
                    ws = Ws::connect(next, &token, label).await.unwrap();
                }
            }
        }
        i += 1;
        tokio::time::sleep(POST_PACE).await;
    }
    ws.close().await;
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
/// carol resumes on B with `after_seq` while bob keeps posting; dave moves to B and re-sends.
async fn kill_a_while_posting(a: &mut Node, b: &Node, users: &Users, last: i64) {
    let mut carol = Ws::connect(a.addr, &users.carol, "carol@A").await.unwrap();
    let joined = carol.join(ROOM, Some(last)).await;
    assert_eq!(joined["last_seq"], last, "{joined}");

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
        let frame = carol.expect_frame().await;
        if let Some(msg) = Msg::of(&frame, ROOM) {
            log.push(msg);
        }
    }

    a.kill().await;
    let killed = Instant::now();
    let bob_at_kill = bob_count.load(Ordering::SeqCst);
    // Whatever A had already written to carol's socket, then the end of the connection.
    let why = loop {
        match carol.recv(WAIT).await {
            Ok(frame) => {
                if let Some(msg) = Msg::of(&frame, ROOM) {
                    log.push(msg);
                }
            }
            Err(RecvError::Closed(why)) => break why,
            Err(RecvError::Timeout) => panic!("carol@A: still open {WAIT:?} after A was killed"),
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

    let mut carol = Ws::connect(b.addr, &users.carol, "carol@B").await.unwrap();
    let joined = carol.join(ROOM, Some(resume_after)).await;
    let resumed = Instant::now();
    let backlog = joined["last_seq"].as_i64().unwrap() - resume_after;
    while log.len() < seen_on_a + usize::try_from(backlog).unwrap() + LIVE_BEFORE_KILL {
        let frame = carol.expect_frame().await;
        if let Some(msg) = Msg::of(&frame, ROOM) {
            log.push(msg);
        }
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
    read_until(&mut carol, &mut log, final_seq).await;

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
