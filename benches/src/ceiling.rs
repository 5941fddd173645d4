//! The ceiling servers: the smallest tokio-tungstenite room broadcast server that speaks the
//! subset of protocol 1 the load generator uses, so the reference server's numbers can be read
//! as a fraction of what this machine can do at all.
//!
//! - Any bearer token is accepted; `/api/signup`, `/api/login` and `/api/rooms` answer trivially
//!   on the same port, so the generator runs unchanged against it.
//! - WebSocket: `hello` on connect, `join` -> `joined`, `send` -> one `message` frame serialized
//!   once per room and shared by every member (a cheap `Bytes` clone), then `ack` to the sender;
//!   `ping` -> `pong`.
//! - One task per connection. Each has a bounded outbound queue, written in batches with one
//!   flush each; a member whose queue overflows is closed (4008 "slow"), never silently skipped.
//! - Durable mode: messages go to one writer thread that inserts them into SQLite (rusqlite, WAL,
//!   `synchronous=NORMAL`) in one transaction per batch, and only after the commit broadcasts
//!   them and sends the acks.

use crate::BoxError;
use crate::http1::{self, RequestHead};
use futures::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

/// How a ceiling server runs.
#[derive(Debug, Clone)]
pub struct CeilingConfig {
    /// Write every message to this SQLite file (in batches, before broadcast). `None`: no
    /// persistence.
    pub durable: Option<PathBuf>,
    /// Frames each connection may have queued before it is closed as slow.
    pub queue: usize,
    /// Most messages committed in one SQLite transaction.
    pub batch_max: usize,
    /// tungstenite read buffer per connection, in bytes.
    pub read_buffer: usize,
}

impl Default for CeilingConfig {
    fn default() -> Self {
        CeilingConfig {
            durable: None,
            queue: 8192,
            batch_max: 4096,
            read_buffer: 4096,
        }
    }
}

/// The close code sent to a connection whose outbound queue overflowed.
pub const CLOSE_SLOW: u16 = 4008;

/// A connection's outbound side, as held by the rooms it joined.
struct Member {
    conn: u64,
    tx: mpsc::Sender<Message>,
    kick: Arc<Notify>,
}

struct RoomState {
    last_seq: i64,
    members: Vec<Member>,
}

struct Room {
    name: Arc<str>,
    state: Mutex<RoomState>,
}

impl Room {
    fn lock(&self) -> MutexGuard<'_, RoomState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends one shared frame to every member; members whose queue is full are kicked and
    /// removed.
    fn broadcast(state: &mut RoomState, frame: &Message) {
        state
            .members
            .retain(|m| match m.tx.try_send(frame.clone()) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    m.kick.notify_one();
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            });
    }
}

/// A message waiting for the durable writer.
struct Job {
    room: Arc<Room>,
    body: String,
    client_id: Option<String>,
    reply: mpsc::Sender<Message>,
    kick: Arc<Notify>,
}

struct Hub {
    rooms: Mutex<HashMap<String, Arc<Room>>>,
    next_conn: AtomicU64,
    next_id: AtomicU64,
    writer: Option<mpsc::Sender<Job>>,
    config: CeilingConfig,
}

impl Hub {
    fn room(&self, name: &str) -> Arc<Room> {
        let mut rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(rooms.entry(name.to_owned()).or_insert_with(|| {
            Arc::new(Room {
                name: Arc::from(name),
                state: Mutex::new(RoomState {
                    last_seq: 0,
                    members: Vec::new(),
                }),
            })
        }))
    }
}

/// Serves the ceiling protocol on `listener` until the process ends.
pub async fn serve(listener: TcpListener, config: CeilingConfig) -> Result<(), BoxError> {
    let writer = match &config.durable {
        Some(path) => Some(start_writer(path.clone(), config.batch_max)?),
        None => None,
    };
    let hub = Arc::new(Hub {
        rooms: Mutex::new(HashMap::new()),
        next_conn: AtomicU64::new(1),
        next_id: AtomicU64::new(1),
        writer,
        config,
    });
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(pair) => pair,
            Err(e) => {
                // EMFILE and friends: back off briefly instead of spinning.
                eprintln!("ceiling: accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let hub = Arc::clone(&hub);
        tokio::spawn(async move {
            if let Err(e) = handle(stream, hub).await {
                // Connection-level errors (resets at the end of a run) are expected; stay quiet
                // unless asked.
                if std::env::var_os("CEILING_DEBUG").is_some() {
                    eprintln!("ceiling: connection error: {e}");
                }
            }
        });
    }
}

async fn handle(mut stream: TcpStream, hub: Arc<Hub>) -> Result<(), BoxError> {
    stream.set_nodelay(true)?;
    let Some(head) = http1::read_request_head(&mut stream).await? else {
        return Ok(());
    };
    let path = head.path.split('?').next().unwrap_or("");
    match (head.method.as_str(), path) {
        ("GET", "/ws") => upgrade(stream, head, hub).await,
        ("POST", "/api/signup" | "/api/login") => {
            http1::drain_body(&mut stream, &head).await?;
            http1::write_json(
                &mut stream,
                200,
                "OK",
                "Set-Cookie: chat_session=ceiling; HttpOnly; SameSite=Lax; Path=/\r\n",
                r#"{"token":"ceiling","user":{"id":1,"username":"ceiling","is_admin":false}}"#,
            )
            .await
        }
        ("POST", "/api/rooms") => {
            http1::drain_body(&mut stream, &head).await?;
            http1::write_json(&mut stream, 201, "Created", "", "{}").await
        }
        ("GET", "/healthz") => http1::write_json(&mut stream, 200, "OK", "", "{}").await,
        _ => {
            http1::write_json(
                &mut stream,
                404,
                "Not Found",
                "",
                r#"{"error":{"code":"not_found","message":"not found"}}"#,
            )
            .await
        }
    }
}

async fn upgrade(mut stream: TcpStream, head: RequestHead, hub: Arc<Hub>) -> Result<(), BoxError> {
    use tokio::io::AsyncWriteExt;
    let Some(key) = head.header("sec-websocket-key") else {
        return http1::write_json(&mut stream, 400, "Bad Request", "", "{}").await;
    };
    let accept = derive_accept_key(key.trim().as_bytes());
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    stream.write_all(response.as_bytes()).await?;
    let config = WebSocketConfig::default()
        .read_buffer_size(hub.config.read_buffer)
        // Frames are fed in batches and flushed once per batch: buffer them up to 32 KiB so a
        // batch costs one write syscall, not one per frame. (Allocated only when used.)
        .write_buffer_size(32 * 1024);
    let ws =
        WebSocketStream::from_partially_read(stream, head.rest, Role::Server, Some(config)).await;
    connection(ws, hub).await;
    Ok(())
}

#[derive(Deserialize)]
struct ClientFrame<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    room: Option<Cow<'a, str>>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
}

#[derive(Serialize)]
struct MessageFrame<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    room: &'a str,
    seq: i64,
    id: u64,
    author: &'a str,
    body: &'a str,
    created_at: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<&'a str>,
}

fn text(json: String) -> Message {
    Message::Text(Utf8Bytes::from(json))
}

fn json_frame(value: &serde_json::Value) -> Message {
    text(value.to_string())
}

fn error_frame(code: &str, message: &str) -> Message {
    json_frame(&serde_json::json!({"type": "error", "code": code, "message": message}))
}

fn now_rfc3339() -> String {
    let format = time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::now_utc()
        .format(&format)
        .unwrap_or_default()
}

/// Encodes the `message` frame once; every member gets a clone of the same bytes.
fn message_frame(hub: &Hub, room: &str, seq: i64, body: &str, client_id: Option<&str>) -> Message {
    let created_at = now_rfc3339();
    let frame = MessageFrame {
        kind: "message",
        room,
        seq,
        id: hub.next_id.fetch_add(1, Ordering::Relaxed),
        author: "ceiling",
        body,
        created_at: &created_at,
        client_id,
    };
    text(serde_json::to_string(&frame).unwrap_or_default())
}

fn ack_frame(room: &str, client_id: Option<&str>, seq: i64) -> Message {
    json_frame(
        &serde_json::json!({"type": "ack", "room": room, "client_id": client_id, "seq": seq}),
    )
}

/// Queues a frame for this connection; a full queue kicks it.
fn push(tx: &mpsc::Sender<Message>, kick: &Notify, frame: Message) {
    if let Err(mpsc::error::TrySendError::Full(_)) = tx.try_send(frame) {
        kick.notify_one();
    }
}

/// Frames written per flush at most.
const WRITE_BATCH: usize = 32;

/// One task per connection: it writes queued frames (first, in batches of one flush) and reads
/// client frames. Blocking in a flush only stalls this connection, whose reader is then slow.
async fn connection(mut ws: WebSocketStream<TcpStream>, hub: Arc<Hub>) {
    let conn = hub.next_conn.fetch_add(1, Ordering::Relaxed);
    let (tx, mut rx) = mpsc::channel::<Message>(hub.config.queue);
    let kick = Arc::new(Notify::new());
    push(
        &tx,
        &kick,
        text(r#"{"type":"hello","user":{"id":1,"username":"ceiling"},"protocol":1}"#.to_owned()),
    );
    let mut joined: Vec<Arc<Room>> = Vec::new();
    let mut batch: Vec<Message> = Vec::new();
    let mut slow = false;
    'conn: loop {
        tokio::select! {
            biased;
            n = rx.recv_many(&mut batch, WRITE_BATCH) => {
                if n == 0 {
                    break;
                }
                for frame in batch.drain(..) {
                    if ws.feed(frame).await.is_err() {
                        break 'conn;
                    }
                }
                if ws.flush().await.is_err() {
                    break;
                }
            }
            frame = ws.next() => match frame {
                Some(Ok(Message::Text(t))) => {
                    on_frame(&hub, conn, &tx, &kick, &mut joined, t.as_bytes()).await;
                }
                Some(Ok(Message::Binary(_))) => {
                    push(&tx, &kick, error_frame("binary_frame", "text frames only"));
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            () = kick.notified() => {
                slow = true;
                break;
            }
        }
    }
    for room in &joined {
        room.lock().members.retain(|m| m.conn != conn);
    }
    let code = if slow {
        eprintln!("ceiling: closing a slow connection ({CLOSE_SLOW})");
        CloseCode::from(CLOSE_SLOW)
    } else {
        CloseCode::Normal
    };
    let close = ws.close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from_static(if slow { "slow" } else { "bye" }),
    }));
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), close).await;
}

async fn on_frame(
    hub: &Arc<Hub>,
    conn: u64,
    tx: &mpsc::Sender<Message>,
    kick: &Arc<Notify>,
    joined: &mut Vec<Arc<Room>>,
    raw: &[u8],
) {
    let frame: ClientFrame<'_> = match serde_json::from_slice(raw) {
        Ok(f) => f,
        Err(e) => {
            push(tx, kick, error_frame("invalid_json", &e.to_string()));
            return;
        }
    };
    match (frame.kind.as_ref(), frame.room) {
        ("join", Some(name)) => {
            let room = hub.room(&name);
            let last_seq = {
                let mut state = room.lock();
                if !state.members.iter().any(|m| m.conn == conn) {
                    state.members.push(Member {
                        conn,
                        tx: tx.clone(),
                        kick: Arc::clone(kick),
                    });
                }
                state.last_seq
            };
            if !joined.iter().any(|r| Arc::ptr_eq(r, &room)) {
                joined.push(Arc::clone(&room));
            }
            push(
                tx,
                kick,
                json_frame(&serde_json::json!({
                    "type": "joined", "room": name, "last_seq": last_seq,
                    "members": [], "online": [],
                })),
            );
        }
        ("leave", Some(name)) => {
            joined.retain(|r| {
                if *r.name == *name {
                    r.lock().members.retain(|m| m.conn != conn);
                    false
                } else {
                    true
                }
            });
        }
        ("send", Some(name)) => {
            let Some(room) = joined.iter().find(|r| *r.name == *name).cloned() else {
                push(tx, kick, error_frame("not_member", "join the room first"));
                return;
            };
            let body = frame.body.unwrap_or_default();
            match &hub.writer {
                Some(writer) => {
                    let job = Job {
                        room,
                        body,
                        client_id: frame.client_id,
                        reply: tx.clone(),
                        kick: Arc::clone(kick),
                    };
                    // Backpressure: wait while the writer is behind.
                    if writer.send(job).await.is_err() {
                        push(tx, kick, error_frame("internal", "writer stopped"));
                    }
                }
                None => {
                    let seq = {
                        let mut state = room.lock();
                        state.last_seq += 1;
                        let seq = state.last_seq;
                        let message =
                            message_frame(hub, &room.name, seq, &body, frame.client_id.as_deref());
                        Room::broadcast(&mut state, &message);
                        seq
                    };
                    push(
                        tx,
                        kick,
                        ack_frame(&room.name, frame.client_id.as_deref(), seq),
                    );
                }
            }
        }
        ("ping", _) => push(tx, kick, text(r#"{"type":"pong"}"#.to_owned())),
        ("join" | "leave" | "send", None) => {
            push(tx, kick, error_frame("missing_field", "room is required"));
        }
        _ => push(
            tx,
            kick,
            error_frame("unknown_type", "unsupported frame type"),
        ),
    }
}

/// Opens the database and starts the writer thread; returns its job queue.
fn start_writer(path: PathBuf, batch_max: usize) -> Result<mpsc::Sender<Job>, BoxError> {
    let db = rusqlite::Connection::open(&path)?;
    db.execute_batch(
        "PRAGMA journal_mode=WAL;
         PRAGMA synchronous=NORMAL;
         CREATE TABLE IF NOT EXISTS messages (
             room TEXT NOT NULL,
             seq INTEGER NOT NULL,
             author TEXT NOT NULL,
             body TEXT NOT NULL,
             client_id TEXT,
             created_at TEXT NOT NULL,
             PRIMARY KEY (room, seq)
         );",
    )?;
    let (tx, rx) = mpsc::channel::<Job>(65_536);
    let hub_ids = Arc::new(AtomicU64::new(1));
    std::thread::Builder::new()
        .name("ceiling-sqlite".into())
        .spawn(move || writer_thread(db, rx, batch_max.max(1), hub_ids))?;
    Ok(tx)
}

fn writer_thread(
    mut db: rusqlite::Connection,
    mut rx: mpsc::Receiver<Job>,
    batch_max: usize,
    ids: Arc<AtomicU64>,
) {
    let mut batch: Vec<(Job, i64, String)> = Vec::with_capacity(batch_max);
    while let Some(first) = rx.blocking_recv() {
        let mut jobs = vec![first];
        while jobs.len() < batch_max {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        // Seqs are assigned here, by the only thread that broadcasts in durable mode, so the
        // broadcast order is the seq order.
        for job in jobs {
            let seq = {
                let mut state = job.room.lock();
                state.last_seq += 1;
                state.last_seq
            };
            batch.push((job, seq, now_rfc3339()));
        }
        let committed = commit(&mut db, &batch);
        for (job, seq, created_at) in batch.drain(..) {
            let Job {
                room,
                body,
                client_id,
                reply,
                kick,
            } = job;
            if let Err(e) = &committed {
                push(&reply, &kick, error_frame("internal", &e.to_string()));
                continue;
            }
            let frame = MessageFrame {
                kind: "message",
                room: &room.name,
                seq,
                id: ids.fetch_add(1, Ordering::Relaxed),
                author: "ceiling",
                body: &body,
                created_at: &created_at,
                client_id: client_id.as_deref(),
            };
            let message = text(serde_json::to_string(&frame).unwrap_or_default());
            Room::broadcast(&mut room.lock(), &message);
            push(
                &reply,
                &kick,
                ack_frame(&room.name, client_id.as_deref(), seq),
            );
        }
    }
}

fn commit(db: &mut rusqlite::Connection, batch: &[(Job, i64, String)]) -> rusqlite::Result<()> {
    let tx = db.transaction()?;
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO messages (room, seq, author, body, client_id, created_at)
             VALUES (?1, ?2, 'ceiling', ?3, ?4, ?5)",
        )?;
        for (job, seq, created_at) in batch {
            insert.execute(rusqlite::params![
                &*job.room.name,
                seq,
                job.body,
                job.client_id,
                created_at
            ])?;
        }
    }
    tx.commit()
}
