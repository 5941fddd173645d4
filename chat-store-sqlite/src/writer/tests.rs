//! Tests of the writer: groups, savepoints and their rollbacks, and the gate that makes a
//! group out of chosen requests ([`hold_writer`], [`in_one_group`]), which other modules'
//! tests use too.

use super::Writer;
use crate::error::Fail;
use crate::indexer::Tracker;
use crate::search_file::Watermarks;
use chat_core::{StoreError, StoreResult};
use rusqlite::Connection;
use std::future::Future;
use std::sync::Arc;

fn tracker() -> Arc<Tracker> {
    Arc::new(Tracker::new(Watermarks::default(), Watermarks::default()))
}

/// Holds the writer thread in a request until released, so that the requests queued
/// meanwhile are taken together as one group. Returns the held request's task once the
/// writer runs it, and the release.
pub(crate) async fn hold_writer(
    writer: &Writer,
) -> (
    tokio::task::JoinHandle<StoreResult<()>>,
    std::sync::mpsc::Sender<()>,
) {
    let (entered_tx, entered) = tokio::sync::oneshot::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let w = writer.clone();
    let held = tokio::spawn(async move {
        w.write(move |_| {
            let _ = entered_tx.send(());
            let _ = released.recv();
            Ok(())
        })
        .await
    });
    entered.await.unwrap();
    (held, release)
}

/// Sends each request to the writer (the first poll of `write` queues it), releases the
/// held writer, then awaits the answers: the requests form one group, in this order.
pub(crate) async fn in_one_group<F: Future + Unpin>(
    mut requests: Vec<F>,
    release: std::sync::mpsc::Sender<()>,
) -> Vec<F::Output> {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    for r in &mut requests {
        let polled = std::pin::Pin::new(r).poll(&mut cx);
        assert!(polled.is_pending(), "answered while the writer is held");
    }
    release.send(()).unwrap();
    let mut out = Vec::new();
    for r in requests {
        out.push(r.await);
    }
    out
}

/// A writer over a fresh database in `dir` holding `t (x INTEGER NOT NULL UNIQUE)`.
fn writer_of_table_t(dir: &std::path::Path) -> Writer {
    let conn = Connection::open(dir.join("w.db")).unwrap();
    conn.execute_batch("CREATE TABLE t (x INTEGER NOT NULL UNIQUE)")
        .unwrap();
    Writer::start(conn, 64, 64, tracker()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_request_rolls_back_alone_in_its_group() {
    let dir = tempfile::tempdir().unwrap();
    let writer = writer_of_table_t(dir.path());
    // Hold the writer so the next three requests queue up and share one group.
    let (busy, release) = hold_writer(&writer).await;
    let insert = |values: Vec<i64>| {
        let w = writer.clone();
        Box::pin(async move {
            w.write(move |c| {
                for v in values {
                    c.execute("INSERT INTO t (x) VALUES (?1)", [v])?;
                }
                Ok::<_, Fail>(())
            })
            .await
        })
    };
    let requests = vec![insert(vec![1]), insert(vec![2, 1]), insert(vec![3])];
    let [a, b, c]: [_; 3] = in_one_group(requests, release).await.try_into().unwrap();
    busy.await.unwrap().unwrap();
    assert!(a.is_ok() && c.is_ok());
    assert!(matches!(b, Err(StoreError::Backend(_))), "{b:?}");
    let rows: Vec<i64> = writer
        .write(|c| {
            let mut s = c.prepare("SELECT x FROM t ORDER BY x")?;
            let v = s.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
            Ok::<_, Fail>(v)
        })
        .await
        .unwrap();
    assert_eq!(
        rows,
        [1, 3],
        "the failed request's first insert was rolled back"
    );
    writer.close().await.unwrap();
    assert!(matches!(
        writer.write(|_| Ok(())).await,
        Err(StoreError::Closed)
    ));
}

/// A request without a savepoint that fails having written nothing fails alone; one that
/// fails after writing takes its whole group down (nothing of it survives).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_request_without_savepoint_never_leaves_changes() {
    let dir = tempfile::tempdir().unwrap();
    let writer = writer_of_table_t(dir.path());
    let single = |v: i64, fail_after: bool| {
        let w = writer.clone();
        Box::pin(async move {
            w.write_single(move |c| {
                if !fail_after {
                    // Fails on the UNIQUE constraint before writing.
                    c.execute("INSERT INTO t (x) VALUES (?1)", [v])?;
                    return Ok(());
                }
                c.execute("INSERT INTO t (x) VALUES (?1)", [v])?;
                Err(Fail::from(StoreError::NotFound(chat_core::Entity::Room)))
            })
            .await
        })
    };
    let rows = || {
        let w = writer.clone();
        async move {
            w.write(|c| {
                let mut s = c.prepare("SELECT x FROM t ORDER BY x")?;
                let v: Vec<i64> = s.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
                Ok::<_, Fail>(v)
            })
            .await
            .unwrap()
        }
    };

    let (busy, release) = hold_writer(&writer).await;
    let requests = vec![single(1, false), single(1, false), single(2, false)];
    let [a, dup, b]: [_; 3] = in_one_group(requests, release).await.try_into().unwrap();
    busy.await.unwrap().unwrap();
    assert!(a.is_ok() && b.is_ok(), "{a:?} {b:?}");
    assert!(matches!(dup, Err(StoreError::Backend(_))), "{dup:?}");
    assert_eq!(rows().await, [1, 2]);

    let (busy, release) = hold_writer(&writer).await;
    let requests = vec![single(3, false), single(4, true), single(5, false)];
    let [c, bad, d]: [_; 3] = in_one_group(requests, release).await.try_into().unwrap();
    busy.await.unwrap().unwrap();
    assert!(matches!(bad, Err(StoreError::NotFound(_))), "{bad:?}");
    assert!(c.is_err() && d.is_err(), "the group failed: {c:?} {d:?}");
    assert_eq!(rows().await, [1, 2]);
    writer.close().await.unwrap();
}
