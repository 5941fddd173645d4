//! The few bytes of protocol 1 that the load generator and the ceiling servers need, without a
//! full JSON parse on the hot path.
//!
//! The generator receives up to millions of frames per second, so it does not deserialize them:
//! it classifies a frame by its `"type"` and reads the probe it put in a message body (sender,
//! counter, send time) by scanning for a fixed marker. Bodies are plain ASCII, so the JSON
//! encoder of any server leaves them unescaped.

use memchr::memmem;
use std::fmt::Write as _;

/// Every probe body starts with this, right after the opening quote of the `body` string.
pub const PROBE_PREFIX: &str = "LG ";

/// The probe a load-generator message carries in its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    /// The sender's index within its room.
    pub sender: u32,
    /// The sender's message counter: 0, 1, 2, ... per sending connection.
    pub counter: u64,
    /// When it was sent, in nanoseconds since the generator's start instant.
    pub sent_ns: u64,
}

/// Writes a probe body into `out` (cleared first), padded with `x` to at least `min_len` bytes.
///
/// The body has no leading or trailing whitespace, because servers trim bodies.
pub fn write_probe_body(out: &mut String, probe: Probe, min_len: usize) {
    out.clear();
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "{PROBE_PREFIX}{} {} {}",
        probe.sender, probe.counter, probe.sent_ns
    );
    if out.len() < min_len {
        out.push(' ');
        while out.len() < min_len {
            out.push('x');
        }
    }
}

/// The kind of a server frame, as far as the generator cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// A `message` frame carrying a probe.
    Probe(Probe),
    /// A `message` frame without a probe (someone else's message).
    Message,
    /// `ack`.
    Ack,
    /// `hello`.
    Hello,
    /// `joined`.
    Joined,
    /// `error`.
    Error,
    /// Anything else (presence, typing, pong, ...).
    Other,
}

/// Classifies server frames with precompiled substring searchers. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Scanner {
    type_key: memmem::Finder<'static>,
    body_key: memmem::Finder<'static>,
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner::new()
    }
}

impl Scanner {
    /// A scanner for protocol 1 frames.
    pub fn new() -> Scanner {
        Scanner {
            type_key: memmem::Finder::new(b"\"type\":\"").into_owned(),
            body_key: memmem::Finder::new(b"\"body\":\"LG ").into_owned(),
        }
    }

    /// What `frame` is. Assumes compact JSON (`"key":"value"`, as serde_json and every
    /// mainstream encoder write it).
    pub fn classify(&self, frame: &[u8]) -> FrameKind {
        let Some(at) = self.type_key.find(frame) else {
            return FrameKind::Other;
        };
        let rest = &frame[at + 8..];
        let name = match memchr::memchr(b'"', rest) {
            Some(end) => &rest[..end],
            None => return FrameKind::Other,
        };
        match name {
            b"message" => match self.probe(frame) {
                Some(p) => FrameKind::Probe(p),
                None => FrameKind::Message,
            },
            b"ack" => FrameKind::Ack,
            b"hello" => FrameKind::Hello,
            b"joined" => FrameKind::Joined,
            b"error" => FrameKind::Error,
            _ => FrameKind::Other,
        }
    }

    /// The probe in a `message` frame's body, if it has one.
    pub fn probe(&self, frame: &[u8]) -> Option<Probe> {
        let at = self.body_key.find(frame)?;
        let mut rest = &frame[at + 11..];
        let sender = parse_u64(&mut rest)?;
        let counter = parse_u64(&mut rest)?;
        let sent_ns = parse_u64(&mut rest)?;
        Some(Probe {
            sender: u32::try_from(sender).ok()?,
            counter,
            sent_ns,
        })
    }
}

/// Parses decimal digits at the start of `input`, then skips one separator byte.
fn parse_u64(input: &mut &[u8]) -> Option<u64> {
    let mut value: u64 = 0;
    let mut len = 0;
    for &b in input.iter() {
        if !b.is_ascii_digit() {
            break;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
        len += 1;
    }
    if len == 0 {
        return None;
    }
    *input = input.get(len + 1..).unwrap_or(&[]);
    Some(value)
}

/// The `"room"` string value of a frame, when it needs no unescaping (our room names never do).
pub fn room_of(frame: &[u8]) -> Option<&[u8]> {
    let at = memmem::find(frame, b"\"room\":\"")?;
    let rest = &frame[at + 8..];
    let end = memchr::memchr(b'"', rest)?;
    Some(&rest[..end])
}

/// A JSON string literal for `s`, quotes included.
pub fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_round_trips_through_a_server_frame() {
        let probe = Probe {
            sender: 7,
            counter: 12345,
            sent_ns: 987_654_321,
        };
        let mut body = String::new();
        write_probe_body(&mut body, probe, 64);
        assert_eq!(body.len(), 64);
        assert_eq!(body.trim(), body);
        let frame = format!(
            r#"{{"type":"message","room":"r1","seq":3,"id":9,"author":"u","body":{},"created_at":"2026-11-24T07:00:00.000Z","client_id":"c"}}"#,
            json_string(&body)
        );
        let scanner = Scanner::new();
        assert_eq!(scanner.classify(frame.as_bytes()), FrameKind::Probe(probe));
        assert_eq!(room_of(frame.as_bytes()), Some(&b"r1"[..]));
    }

    #[test]
    fn short_bodies_are_not_padded() {
        let mut body = String::new();
        write_probe_body(
            &mut body,
            Probe {
                sender: 0,
                counter: 0,
                sent_ns: 1,
            },
            0,
        );
        assert_eq!(body, "LG 0 0 1");
        let frame = format!(r#"{{"type":"message","body":"{body}"}}"#);
        assert!(matches!(
            Scanner::new().classify(frame.as_bytes()),
            FrameKind::Probe(Probe { sent_ns: 1, .. })
        ));
    }

    #[test]
    fn classifies_other_frames() {
        let s = Scanner::new();
        assert_eq!(
            s.classify(br#"{"type":"ack","room":"r","client_id":"c","seq":1}"#),
            FrameKind::Ack
        );
        assert_eq!(
            s.classify(br#"{"type":"hello","user":{},"protocol":1}"#),
            FrameKind::Hello
        );
        assert_eq!(
            s.classify(br#"{"type":"joined","room":"r","last_seq":0}"#),
            FrameKind::Joined
        );
        assert_eq!(
            s.classify(br#"{"type":"error","code":"x","message":"y"}"#),
            FrameKind::Error
        );
        assert_eq!(
            s.classify(br#"{"type":"message","body":"hi"}"#),
            FrameKind::Message
        );
        assert_eq!(s.classify(br#"{"type":"pong"}"#), FrameKind::Other);
        assert_eq!(s.classify(b"garbage"), FrameKind::Other);
    }
}
