//! Resynchronizing local subscribers after notifications may have been lost.
//!
//! NOTIFY is fire-and-forget: while the listener connection is down (or when reading the
//! messages a batch announced failed) notifications are lost. The broker only wakes
//! subscribers up; the data is in the store. So once the listener is `LISTEN`ing again, every
//! room with a local subscriber gets one synthetic event built from the store:
//!
//! - the room's latest message as `MessagePosted`. A [`RoomFeed`](chat_core::RoomFeed) that
//!   already has it drops it as a duplicate; one that has exactly the previous seq takes it as
//!   the next message; one that is further behind sees a gap (seq > last + 1) and re-reads the
//!   store after its last seq. Since the listener listens again before the store is read, any
//!   message committed after the read is announced by a notification, so nothing falls
//!   between the two;
//! - `RoomDeleted` when the room no longer exists, which ends the feeds;
//! - nothing for a room without messages (there is nothing to miss).
//!
//! Ephemeral events lost meanwhile (typing, presence) are not recovered, nor are edits and
//! deletions of older messages: like any subscriber that lagged, clients re-read history to
//! see those.

use super::listener::ListenerContext;
use crate::error::backend;
use crate::messages::message_from_row;
use chat_core::{Envelope, RoomEvent, RoomId, StoreResult};
use sqlx::Row;
use std::sync::Arc;

/// Wakes every locally subscribed room up with its latest state from the store.
pub(crate) async fn resync_subscribed_rooms(ctx: &ListenerContext) -> StoreResult<()> {
    let mut rooms = ctx.local.subscribed_rooms();
    // The accounts channel is not a room: nothing in the store to resync it from.
    rooms.retain(|room| *room != RoomId::ACCOUNTS);
    if rooms.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = rooms.iter().map(|r| r.0).collect();
    let rows = sqlx::query(
        "SELECT q.wanted, r.id IS NOT NULL AS room_exists, m.id IS NOT NULL AS has_message,
                m.id, m.room_id, m.seq, m.author_id, u.username AS author_name, m.body,
                m.client_id, m.created_at, m.edited_at, m.deleted
         FROM unnest($1::bigint[]) AS q(wanted)
         LEFT JOIN rooms r ON r.id = q.wanted
         LEFT JOIN messages m ON m.room_id = r.id AND m.seq = r.last_seq
         LEFT JOIN users u ON u.id = m.author_id",
    )
    .bind(ids)
    .fetch_all(&ctx.store.pool)
    .await
    .map_err(backend)?;
    let mut woken = 0usize;
    for row in &rows {
        let room = RoomId(row.try_get("wanted").map_err(backend)?);
        let event = if !row.try_get::<bool, _>("room_exists").map_err(backend)? {
            RoomEvent::RoomDeleted
        } else if row.try_get::<bool, _>("has_message").map_err(backend)? {
            RoomEvent::MessagePosted {
                message: message_from_row(row).map_err(backend)?,
            }
        } else {
            continue;
        };
        ctx.local.deliver(Arc::new(Envelope::new(room, event)));
        woken += 1;
    }
    tracing::info!(
        rooms = rooms.len(),
        woken,
        "resynchronized subscribed rooms from the store"
    );
    Ok(())
}
