//! Frame batching, opted into per connection with `GET /ws?batch=1`: the text frames a writer
//! finds ready in one wake-up go out as one WebSocket text frame, one JSON object per line.
//!
//! Each WebSocket frame pays for a round trip through the sink and for framing and UTF-8
//! checks at both ends; a batch pays once. It never waits for more frames, so latency does not
//! grow.
//!
//! Splitting is safe: JSON writes a newline inside a string as `\n`, and the server's frames are
//! compact, so a raw newline (byte 0x0A) only ever separates two frames.

use bytes::{Bytes, BytesMut};

/// A batch grows up to this many bytes; a frame that does not fit starts the next batch. A
/// single larger frame (a history page) goes out alone.
pub const MAX_BATCH_BYTES: usize = 16 * 1024;

/// The frames joined so far in one wake-up of a writer.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    /// The first frame, kept as is until a second one comes (a batch of one is not copied).
    first: Option<Bytes>,
    /// The joined frames once there are two or more.
    joined: BytesMut,
    /// How many room frames (counted as deliveries once written) the batch holds.
    room_frames: u64,
}

/// A finished batch: the frame to write and how many room frames it holds.
pub(crate) type Joined = (Bytes, u64);

impl Batch {
    /// An empty batch (allocates nothing until two frames are joined).
    pub(crate) fn new() -> Batch {
        Batch::default()
    }

    /// Adds `frame` (one frame, or several joined by newlines), of which `rooms` are room
    /// frames. When it does not fit, the batch so far is returned, finished, and `frame`
    /// starts the next one. Joined frames longer than the limit should be cut first (see
    /// [`cut`]).
    pub(crate) fn push(&mut self, frame: Bytes, rooms: u64) -> Option<Joined> {
        let len = self.len();
        let finished = if len > 0 && len + 1 + frame.len() > MAX_BATCH_BYTES {
            self.take()
        } else {
            None
        };
        if let Some(first) = self.first.take() {
            // Room for a few more frames like these, within the limit.
            let two = first.len() + 1 + frame.len();
            let mut joined = BytesMut::with_capacity((two * 4).min(MAX_BATCH_BYTES).max(two));
            joined.extend_from_slice(&first);
            self.joined = joined;
        }
        if self.joined.is_empty() {
            self.first = Some(frame);
        } else {
            self.joined.extend_from_slice(b"\n");
            self.joined.extend_from_slice(&frame);
        }
        self.room_frames += rooms;
        finished
    }

    /// Takes what is joined so far; `None` when the batch is empty. The batch keeps no buffer.
    pub(crate) fn take(&mut self) -> Option<Joined> {
        let rooms = std::mem::take(&mut self.room_frames);
        if let Some(first) = self.first.take() {
            return Some((first, rooms));
        }
        if self.joined.is_empty() {
            return None;
        }
        Some((std::mem::take(&mut self.joined).freeze(), rooms))
    }

    /// Bytes joined so far.
    fn len(&self) -> usize {
        self.first.as_ref().map_or(self.joined.len(), Bytes::len)
    }
}

/// Cuts `frames` (`count` frames joined by newlines, `count` >= 1) after the line that ends at
/// or before `limit` bytes (after the first line, if that alone is longer): the head and how
/// many frames it holds, then the rest, if any, and its count.
pub(crate) fn cut(frames: Bytes, count: u64, limit: usize) -> ((Bytes, u64), Option<(Bytes, u64)>) {
    if count <= 1 || frames.len() <= limit {
        return ((frames, count), None);
    }
    // The last newline within the limit, else the first one.
    let within = frames
        .get(..=limit)
        .and_then(|head| memchr::memrchr(b'\n', head));
    let Some(at) = within.or_else(|| memchr::memchr(b'\n', &frames)) else {
        return ((frames, count), None);
    };
    let lines = memchr::memchr_iter(b'\n', &frames[..at]).count() as u64 + 1;
    if lines >= count {
        return ((frames, count), None);
    }
    let rest = frames.slice(at + 1..);
    ((frames.slice(..at), lines), Some((rest, count - lines)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(text: &str) -> Bytes {
        Bytes::from(text.to_string())
    }

    #[test]
    fn one_frame_goes_out_as_is() {
        let mut batch = Batch::new();
        let f = frame(r#"{"type":"pong"}"#);
        assert!(batch.push(f.clone(), 0).is_none());
        let (out, rooms) = batch.take().unwrap();
        assert_eq!(out, f);
        assert_eq!(out.as_ptr(), f.as_ptr(), "not copied");
        assert_eq!(rooms, 0);
        assert!(batch.take().is_none());
    }

    #[test]
    fn frames_are_joined_in_order_one_per_line() {
        let mut batch = Batch::new();
        assert!(batch.push(frame(r#"{"a":"x\ny"}"#), 1).is_none());
        assert!(batch.push(frame(r#"{"b":2}"#), 0).is_none());
        assert!(batch.push(frame(r#"{"c":3}"#), 1).is_none());
        let (out, rooms) = batch.take().unwrap();
        assert_eq!(
            &out[..],
            br#"{"a":"x\ny"}
{"b":2}
{"c":3}"#
        );
        assert_eq!(rooms, 2);
        let lines: Vec<serde_json::Value> = out
            .split(|b| *b == b'\n')
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0]["a"], "x\ny");
        assert!(batch.take().is_none(), "taken: the batch is empty again");
    }

    #[test]
    fn a_full_batch_is_handed_back_and_the_frame_starts_the_next() {
        let mut batch = Batch::new();
        let big = "x".repeat(MAX_BATCH_BYTES / 2);
        assert!(batch.push(frame(&big), 1).is_none());
        assert!(batch.push(frame(&big[1..]), 1).is_none());
        let (full, rooms) = batch.push(frame("tail"), 0).unwrap();
        assert_eq!(full.len(), MAX_BATCH_BYTES, "filled to the limit exactly");
        assert_eq!(rooms, 2);
        let (rest, rooms) = batch.take().unwrap();
        assert_eq!(&rest[..], b"tail");
        assert_eq!(rooms, 0);
    }

    #[test]
    fn a_frame_above_the_limit_goes_out_alone() {
        let mut batch = Batch::new();
        assert!(batch.push(frame("a"), 0).is_none());
        let huge = "h".repeat(MAX_BATCH_BYTES * 2);
        let (before, _) = batch.push(frame(&huge), 1).unwrap();
        assert_eq!(&before[..], b"a");
        let (alone, rooms) = batch.push(frame("b"), 0).unwrap();
        assert_eq!(alone.len(), huge.len());
        assert_eq!(rooms, 1);
        assert_eq!(&batch.take().unwrap().0[..], b"b");
    }

    #[test]
    fn joined_frames_are_cut_at_a_line_within_the_limit() {
        let run = frame("aaa\nbbb\nccc");
        // The first two lines end at byte 7: within a limit of 8.
        let ((head, n), rest) = cut(run.clone(), 3, 8);
        assert_eq!((&head[..], n), (&b"aaa\nbbb"[..], 2));
        let (rest, m) = rest.unwrap();
        assert_eq!((&rest[..], m), (&b"ccc"[..], 1));
        assert_eq!(head.as_ptr(), run.as_ptr(), "not copied");
        // A first line longer than the limit is cut alone.
        let ((head, n), rest) = cut(run.clone(), 3, 1);
        assert_eq!((&head[..], n), (&b"aaa"[..], 1));
        assert_eq!(rest, Some((frame("bbb\nccc"), 2)));
        // What fits stays whole.
        let ((head, n), rest) = cut(run.clone(), 3, 64);
        assert_eq!((head, n, rest), (run, 3, None));
        // One frame is never cut.
        let ((head, n), rest) = cut(frame("abc"), 1, 1);
        assert_eq!((&head[..], n, rest), (&b"abc"[..], 1, None));
    }
}
