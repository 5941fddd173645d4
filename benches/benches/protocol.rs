//! Protocol 1 frames: decoding a client `send` with chat-http's parser, encoding the `message`
//! frame of a posted message (once per room, shared by every recipient) and an `ack`, and the
//! load generator's byte scan of a received `message` frame (its hot path).

use chat_benches::wire::Scanner;
use chat_core::{Envelope, Message, MessageId, RoomEvent, RoomId, Seq, Timestamp, UserId};
use chat_http::protocol::frames::{self, ServerFrame};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;

const SEND: &[u8] =
    br#"{"type":"send","room":"general","body":"LG 12 3456 7890123456 xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","client_id":"c12-3456"}"#;

fn posted() -> RoomEvent {
    RoomEvent::MessagePosted {
        message: Message {
            id: MessageId(42),
            room: RoomId(1),
            seq: Seq(3456),
            author: UserId(7),
            author_name: "alice".into(),
            body: "LG 12 3456 7890123456 xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx".into(),
            client_id: Some("c12-3456".into()),
            created_at: Timestamp(1_790_000_000_000),
            edited_at: None,
            deleted: false,
        },
    }
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("protocol");
    group.throughput(Throughput::Bytes(SEND.len() as u64));
    group.bench_function("decode_send", |b| {
        b.iter(|| black_box(frames::parse(black_box(SEND))))
    });
    group.finish();
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("protocol");
    let event = posted();
    group.bench_function("encode_message_event", |b| {
        b.iter(|| {
            let env = Envelope::new(RoomId(1), event.clone());
            black_box(frames::encode_event("general", &env, Vec::new))
        })
    });
    group.bench_function("encode_ack", |b| {
        b.iter(|| {
            black_box(frames::encode(&ServerFrame::Ack {
                room: "general".into(),
                client_id: Some("c12-3456".into()),
                seq: black_box(3456),
                id: 42,
                duplicate: false,
            }))
        })
    });
    let env = Envelope::new(RoomId(1), event.clone());
    let frame = frames::encode_event("general", &env, Vec::new);
    let scanner = Scanner::new();
    group.throughput(Throughput::Bytes(frame.len() as u64));
    group.bench_function("loadgen_scan_message", |b| {
        b.iter(|| black_box(scanner.classify(black_box(&frame))))
    });
    group.bench_function("serde_json_value_parse_message", |b| {
        b.iter(|| {
            black_box(serde_json::from_slice::<serde_json::Value>(black_box(
                &frame,
            )))
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = decode, encode
}
criterion_main!(benches);
