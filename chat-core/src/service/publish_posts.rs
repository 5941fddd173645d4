//! `PublishPosts`: the [`PostListener`] a [`ChatService`](super::ChatService) gives a store that
//! announces its posts, so that each group commit reaches the in-process broker in seq order
//! from the committing thread.
//!
//! A commit's posts are published per room, as runs of consecutive seqs: one
//! [`RoomEvent::MessagesPosted`] for a run of several (at most [`MAX_RUN`] messages), a
//! `MessagePosted` for a lone one. Under load a busy room gets several messages per commit, and
//! every subscriber then takes them from the broker as one shared event (one ring slot, one
//! reference count, one encoding, one read) and a batching connection writes them as one
//! frame, instead of paying for each message.

use crate::{Envelope, LocalBroker, Message, PostListener, RoomEvent};
use std::sync::Arc;

/// Most messages published as one event (longer runs are split).
pub const MAX_RUN: usize = 64;

/// Publishes each commit's posts to the in-process broker, per room, in runs.
pub(crate) struct PublishPosts(pub(crate) LocalBroker);

impl PostListener for PublishPosts {
    fn posted(&self, messages: Vec<Message>) {
        for run in runs(messages) {
            let Some(room) = run.first().map(|m| m.room) else {
                continue;
            };
            if let Some(event) = RoomEvent::posted(run) {
                self.0.deliver(Arc::new(Envelope::new(room, event)));
            }
        }
    }
}

/// Splits a commit's messages into runs of one room with consecutive ascending seqs, at most
/// [`MAX_RUN`] long, keeping each room's messages in the order given.
pub(crate) fn runs(mut messages: Vec<Message>) -> Vec<Vec<Message>> {
    if messages.len() == 1 {
        return vec![messages];
    }
    // Stable: a room's messages keep their (seq) order.
    messages.sort_by_key(|m| m.room);
    let mut runs: Vec<Vec<Message>> = Vec::new();
    for message in messages {
        match runs.last_mut() {
            Some(run)
                if run.len() < MAX_RUN
                    && run
                        .last()
                        .is_some_and(|l| l.room == message.room && l.seq.next() == message.seq) =>
            {
                run.push(message);
            }
            _ => runs.push(vec![message]),
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MessageId, RoomId, Seq, Timestamp, UserId};

    fn message(room: i64, seq: i64) -> Message {
        Message {
            id: MessageId(room * 1000 + seq),
            room: RoomId(room),
            seq: Seq(seq),
            author: UserId(1),
            author_name: "ann".into(),
            body: format!("{room}/{seq}"),
            created_at: Timestamp(0),
            edited_at: None,
            deleted: false,
            client_id: None,
        }
    }

    fn shape(runs: &[Vec<Message>]) -> Vec<(i64, Vec<i64>)> {
        runs.iter()
            .map(|run| (run[0].room.0, run.iter().map(|m| m.seq.0).collect()))
            .collect()
    }

    #[test]
    fn a_commit_becomes_one_run_per_room_in_seq_order() {
        let commit = vec![
            message(2, 7),
            message(1, 3),
            message(2, 8),
            message(1, 4),
            message(1, 5),
        ];
        assert_eq!(shape(&runs(commit)), [(1, vec![3, 4, 5]), (2, vec![7, 8])]);
    }

    #[test]
    fn a_gap_in_seqs_or_the_length_limit_starts_a_new_run() {
        let mut commit = vec![message(1, 1), message(1, 3)];
        commit.extend((10..10 + MAX_RUN as i64 + 1).map(|seq| message(1, seq)));
        let runs = runs(commit);
        let lens: Vec<usize> = runs.iter().map(Vec::len).collect();
        assert_eq!(lens, [1, 1, MAX_RUN, 1]);
        assert_eq!(runs[3][0].seq, Seq(10 + MAX_RUN as i64));
    }

    #[test]
    fn a_run_is_one_event_and_a_lone_message_a_message_posted() {
        let broker = LocalBroker::default();
        let mut one = broker.subscribe_local(RoomId(1));
        let mut two = broker.subscribe_local(RoomId(2));
        PublishPosts(broker.clone()).posted(vec![message(1, 1), message(2, 1), message(1, 2)]);
        let event = |sub: &mut crate::broker::Subscription| match sub.try_recv() {
            Some(crate::broker::Delivery::Event(env)) => env.event.clone(),
            other => panic!("expected an event, got {other:?}"),
        };
        let first = event(&mut one);
        assert!(
            matches!(first, RoomEvent::MessagesPosted { .. }),
            "{first:?}"
        );
        assert_eq!(first.posted_seqs(), Some((Seq(1), Seq(2))));
        assert!(matches!(event(&mut two), RoomEvent::MessagePosted { .. }));
        assert!(one.try_recv().is_none() && two.try_recv().is_none());
    }
}
