//! The listener task: one dedicated connection `LISTEN`ing on the channel, turning
//! notifications into events for this node's [`LocalBroker`], and reconnecting (then
//! resynchronizing, see [`resync`](super::resync)) when the connection is lost.
//!
//! Notifications are handled in batches: after one arrives, everything already received is
//! taken too, notices published by this node are skipped (they were delivered locally at
//! publish time), and so are notices for rooms nobody on this node subscribes to. The messages
//! the remaining posts and edits refer to are read from the store in one query, then the events
//! are delivered in notification order.
//!
//! A connection can die silently (a network partition sends no reset): after
//! [`KEEPALIVE`] without a notification the task pings the server through the listener
//! connection and reconnects if the ping fails or takes longer than [`PING_TIMEOUT`].

use super::notice::Notice;
use super::resync::resync_subscribed_rooms;
use super::stats::Counters;
use crate::PostgresStore;
use chat_core::{Envelope, LocalBroker, Message, RoomEvent, RoomId, Seq, StoreError};
use futures::FutureExt;
use sqlx::postgres::{PgConnectOptions, PgListener, PgNotification, PgPoolOptions};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::watch;

/// Idle time after which the listener connection is pinged.
pub(crate) const KEEPALIVE: Duration = Duration::from_secs(15);
/// How long a ping may take before the connection is considered dead.
pub(crate) const PING_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest time to open the listener connection and `LISTEN`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How soon a failed resynchronization is retried.
const RESYNC_RETRY: Duration = Duration::from_millis(500);
/// First and longest wait between reconnection attempts.
const BACKOFF_MIN: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// Most notifications handled in one batch.
const MAX_BATCH: usize = 512;

/// What the listener task needs; it holds no reference to the broker handle, so dropping the
/// last handle (which drops the shutdown sender) stops the task.
pub(crate) struct ListenerContext {
    pub(crate) store: PostgresStore,
    pub(crate) local: LocalBroker,
    /// How the listener connects (the store's options).
    pub(crate) options: PgConnectOptions,
    pub(crate) channel: String,
    pub(crate) node: u64,
    pub(crate) counters: Arc<Counters>,
}

/// Opens the listener connection, `LISTEN`s, and records the backend pid.
///
/// Each connection gets a pool of its own (of one connection): when a connection is abandoned
/// (a ping timed out on a silent network), `PgListener`'s drop handler may hang on it until TCP
/// gives up; a fresh pool keeps that from blocking the reconnection.
pub(crate) async fn connect(ctx: &ListenerContext) -> Result<PgListener, sqlx::Error> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .max_lifetime(None)
        .idle_timeout(None)
        .acquire_timeout(CONNECT_TIMEOUT)
        .connect_lazy_with(ctx.options.clone());
    let connecting = async {
        let mut listener = PgListener::connect_with(&pool).await?;
        // We detect lost connections and reconnect ourselves, so we can resync right after.
        listener.eager_reconnect(false);
        listener.ignore_pool_close_event(true);
        listener.listen(&ctx.channel).await?;
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut listener)
            .await?;
        Ok::<_, sqlx::Error>((listener, pid))
    };
    let (listener, pid) = tokio::time::timeout(CONNECT_TIMEOUT, connecting)
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)??;
    ctx.counters.listener_pid.store(pid, Ordering::Relaxed);
    Ok(listener)
}

/// Runs until `shutdown` changes or its sender is dropped. `listener` is the connection
/// [`PostgresBroker::start`](super::PostgresBroker::start) opened.
pub(crate) async fn run(
    ctx: ListenerContext,
    listener: PgListener,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut current = Some(listener);
    let mut backoff = BACKOFF_MIN;
    loop {
        // After a reconnection notifications may have been missed: resync before serving.
        let (mut listener, resync_needed) = match current.take() {
            Some(listener) => (listener, false),
            None => {
                let attempt = tokio::select! {
                    biased;
                    _ = shutdown.changed() => break,
                    attempt = connect(&ctx) => attempt,
                };
                match attempt {
                    Ok(listener) => {
                        tracing::info!(channel = %ctx.channel, "broker listener reconnected");
                        Counters::add(&ctx.counters.reconnects, 1);
                        backoff = BACKOFF_MIN;
                        (listener, true)
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, retry_in = ?backoff, "broker listener cannot connect");
                        tokio::select! {
                            biased;
                            _ = shutdown.changed() => break,
                            () = tokio::time::sleep(backoff) => {}
                        }
                        backoff = (backoff * 2).min(BACKOFF_MAX);
                        continue;
                    }
                }
            }
        };
        if !serve(&ctx, &mut listener, &mut shutdown, resync_needed).await {
            break;
        }
        ctx.counters.listener_pid.store(0, Ordering::Relaxed);
        tracing::warn!(channel = %ctx.channel, "broker listener connection lost; reconnecting");
    }
    ctx.counters.listener_pid.store(0, Ordering::Relaxed);
}

/// Receives on one connection until it fails (returns `true`: reconnect) or shutdown is asked
/// (returns `false`).
async fn serve(
    ctx: &ListenerContext,
    listener: &mut PgListener,
    shutdown: &mut watch::Receiver<bool>,
    mut resync_needed: bool,
) -> bool {
    loop {
        if resync_needed {
            match resync_subscribed_rooms(ctx).await {
                Ok(()) => {
                    Counters::add(&ctx.counters.resyncs, 1);
                    resync_needed = false;
                }
                Err(e) => tracing::warn!(error = %e, "resynchronizing subscribed rooms failed"),
            }
        }
        let wait = if resync_needed {
            RESYNC_RETRY
        } else {
            KEEPALIVE
        };
        let received = tokio::select! {
            biased;
            _ = shutdown.changed() => return false,
            received = tokio::time::timeout(wait, listener.try_recv()) => received,
        };
        match received {
            Err(_idle) => {
                if resync_needed {
                    continue;
                }
                let ping = sqlx::query("SELECT 1").execute(&mut *listener);
                match tokio::time::timeout(PING_TIMEOUT, ping).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "broker listener ping failed");
                        return true;
                    }
                    Err(_) => {
                        tracing::warn!("broker listener ping timed out");
                        return true;
                    }
                }
            }
            Ok(Ok(Some(first))) => {
                // Take whatever has already arrived too, without waiting: polling `try_recv`
                // once is cancel-safe (a partial message stays in the connection's buffer).
                let mut batch = vec![first];
                let mut lost = false;
                while batch.len() < MAX_BATCH {
                    match listener.try_recv().now_or_never() {
                        Some(Ok(Some(n))) => batch.push(n),
                        Some(Ok(None)) => {
                            lost = true;
                            break;
                        }
                        Some(Err(e)) => {
                            tracing::warn!(error = %e, "broker listener failed");
                            lost = true;
                            break;
                        }
                        None => break,
                    }
                }
                if let Err(e) = handle_batch(ctx, &batch).await {
                    tracing::warn!(error = %e, "reading announced messages failed; will resync");
                    resync_needed = true;
                }
                if lost {
                    return true;
                }
            }
            Ok(Ok(None)) => return true,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "broker listener failed");
                return true;
            }
        }
    }
}

/// Delivers a batch of notifications to local subscribers. Non-message events are delivered
/// even when reading the messages fails; the error is returned so the caller resyncs.
async fn handle_batch(ctx: &ListenerContext, batch: &[PgNotification]) -> Result<(), StoreError> {
    Counters::add(&ctx.counters.notifications, batch.len() as u64);
    let notices: Vec<Notice> = batch
        .iter()
        .filter_map(|n| match Notice::decode(n.payload()) {
            Ok(notice) => Some(notice),
            Err(e) => {
                tracing::warn!(error = %e, "ignoring an unreadable notification");
                None
            }
        })
        .filter(|n| n.node() != ctx.node && ctx.local.subscriber_count(n.room()) > 0)
        .collect();
    let keys: Vec<(RoomId, Seq)> = notices.iter().filter_map(Notice::message_key).collect();
    let (messages, failure) = if keys.is_empty() {
        (HashMap::new(), None)
    } else {
        match ctx.store.messages_at(&keys).await {
            Ok(found) => (
                found
                    .into_iter()
                    .map(|m| ((m.room, m.seq), m))
                    .collect::<HashMap<(RoomId, Seq), Message>>(),
                None,
            ),
            Err(e) => (HashMap::new(), Some(e)),
        }
    };
    for notice in notices {
        let room = notice.room();
        let event = match notice {
            Notice::Posted { r, s, .. } => match messages.get(&(RoomId(r), Seq(s))) {
                Some(message) => RoomEvent::MessagePosted {
                    message: message.clone(),
                },
                // Its room was deleted since; a RoomDeleted notice follows.
                None => continue,
            },
            Notice::Edited { r, s, .. } => match messages.get(&(RoomId(r), Seq(s))) {
                Some(message) if !message.deleted => RoomEvent::MessageEdited {
                    message: message.clone(),
                },
                // Deleted since (a MessageDeleted notice follows) or gone with its room.
                _ => continue,
            },
            Notice::Event { e, .. } => e,
        };
        ctx.local.deliver(Arc::new(Envelope::new(room, event)));
    }
    failure.map_or(Ok(()), Err)
}
