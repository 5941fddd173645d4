//! The sends not acknowledged yet. Each carries a `client_id`; after a reconnect the client
//! sends the unacknowledged ones again with the same id and the server, which never stores one
//! `client_id` twice, answers with the original seq (`duplicate: true`). Entries keep the order
//! they were written in, which is the order they are sent again.

use crate::error::ClientError;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// A `send` the server committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    /// The room's canonical name.
    pub room: String,
    /// The message's seq in the room.
    pub seq: i64,
    /// The message's id.
    pub id: i64,
    /// The idempotency id the message was sent with.
    pub client_id: String,
    /// The `client_id` had been stored before (a resend after a reconnect): nothing new was
    /// written and `seq` is the original one.
    pub duplicate: bool,
}

/// One unacknowledged send.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) client_id: String,
    pub(crate) room: String,
    pub(crate) body: String,
    /// On the current connection's wire, waiting for the ack.
    pub(crate) sent: bool,
    /// Refusals so far (`rate_limited`, `internal`) after which it was queued again.
    pub(crate) retries: u32,
    /// Not to be sent before (a retry's delay).
    pub(crate) not_before: Option<Instant>,
    reply: Option<oneshot::Sender<Result<Ack, ClientError>>>,
}

/// Unacknowledged sends in order.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    entries: BTreeMap<u64, Entry>,
    index: HashMap<String, u64>,
    next: u64,
}

impl Outbox {
    /// Adds a send; `false` when one with the same `client_id` is already waiting (the reply
    /// then gets an error).
    pub(crate) fn add(
        &mut self,
        room: String,
        body: String,
        client_id: String,
        reply: oneshot::Sender<Result<Ack, ClientError>>,
    ) -> bool {
        if self.index.contains_key(&client_id) {
            let _ = reply.send(Err(ClientError::BadRequest(format!(
                "client_id {client_id} is already waiting for its ack"
            ))));
            return false;
        }
        self.next += 1;
        self.index.insert(client_id.clone(), self.next);
        self.entries.insert(
            self.next,
            Entry {
                client_id,
                room,
                body,
                sent: false,
                retries: 0,
                not_before: None,
                reply: Some(reply),
            },
        );
        true
    }

    /// The entries to put on the wire now, in order, marked sent.
    pub(crate) fn due(&mut self, now: Instant) -> Vec<(String, String, String)> {
        self.entries
            .values_mut()
            .filter(|e| !e.sent && e.not_before.is_none_or(|t| t <= now))
            .map(|e| {
                e.sent = true;
                e.not_before = None;
                (e.client_id.clone(), e.room.clone(), e.body.clone())
            })
            .collect()
    }

    /// When the earliest delayed entry becomes due.
    pub(crate) fn next_retry(&self) -> Option<Instant> {
        self.entries
            .values()
            .filter(|e| !e.sent)
            .filter_map(|e| e.not_before)
            .min()
    }

    /// After a disconnect: what was on the wire unacknowledged goes again.
    pub(crate) fn requeue_sent(&mut self) {
        for entry in self.entries.values_mut() {
            entry.sent = false;
        }
    }

    /// Queues an entry again, after `base` doubled per earlier refusal; returns its retry
    /// count, or `None` when the id is not waiting.
    pub(crate) fn retry(&mut self, client_id: &str, now: Instant, base: Duration) -> Option<u32> {
        let order = self.index.get(client_id)?;
        let entry = self.entries.get_mut(order)?;
        entry.sent = false;
        entry.not_before = Some(now + base.saturating_mul(1 << entry.retries.min(10)));
        entry.retries += 1;
        Some(entry.retries)
    }

    /// Removes an entry and answers its caller; `false` when the id is not waiting.
    pub(crate) fn finish(&mut self, client_id: &str, result: Result<Ack, ClientError>) -> bool {
        let Some(order) = self.index.remove(client_id) else {
            return false;
        };
        if let Some(mut entry) = self.entries.remove(&order)
            && let Some(reply) = entry.reply.take()
        {
            let _ = reply.send(result);
        }
        true
    }

    /// Fails every entry (the client stopped for good).
    pub(crate) fn fail_all(&mut self, error: &ClientError) {
        self.index.clear();
        for (_, mut entry) in std::mem::take(&mut self.entries) {
            if let Some(reply) = entry.reply.take() {
                let _ = reply.send(Err(error.clone()));
            }
        }
    }

    /// Unacknowledged sends.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

/// A new `client_id`: 32 random hex digits (the server allows 64 characters).
pub fn new_client_id() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // No OS randomness: the clock and a counter still make ids unique in this process.
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        bytes[..8].copy_from_slice(&nanos.to_le_bytes());
        bytes[8..].copy_from_slice(&n.to_le_bytes());
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn resends_in_order_after_a_disconnect_and_answers_once() {
        let mut outbox = Outbox::default();
        let (tx1, mut rx1) = oneshot::channel();
        let (tx2, _rx2) = oneshot::channel();
        assert!(outbox.add("r".into(), "a".into(), "c1".into(), tx1));
        assert!(outbox.add("r".into(), "b".into(), "c2".into(), tx2));
        let now = Instant::now();
        assert_eq!(outbox.due(now).len(), 2);
        assert!(outbox.due(now).is_empty());
        outbox.requeue_sent();
        let again: Vec<String> = outbox.due(now).into_iter().map(|e| e.0).collect();
        assert_eq!(again, ["c1", "c2"]);
        let ack = Ack {
            room: "r".into(),
            seq: 1,
            id: 1,
            client_id: "c1".into(),
            duplicate: true,
        };
        assert!(outbox.finish("c1", Ok(ack.clone())));
        assert!(!outbox.finish("c1", Ok(ack.clone())));
        assert_eq!(rx1.try_recv().unwrap(), Ok(ack));
        assert_eq!(outbox.len(), 1);
        assert_eq!(new_client_id().len(), 32);
    }
}
