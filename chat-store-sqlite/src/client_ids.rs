//! Idempotency keys: which message each (author, client id) created, so that a post sent again
//! is answered with the original instead of stored twice.
//!
//! A unique index on `messages (author_id, client_id)` did this until schema version 3, but it
//! was the dearest part of a post: its entries sit at each author's place in the tree, so a
//! group commit of N posts by N authors wrote N scattered index pages to the WAL (17 of the 28
//! pages of a typical group at 20,000 posts/s), and the checkpointer copied them again. Now the
//! writer keeps the keys of the latest posts in memory ([`ClientIds`], part of its cache) and,
//! once [`SqliteOptions::client_ids_batch`] posts have passed, adds them to the `client_ids`
//! table sorted, so that each author's new keys land on a page or two. It does so between
//! groups, in transactions of [`SLICE`] keys each (about a millisecond), so that no request
//! waits for the whole batch, and only while no request is queued (a post arriving during a
//! slice waits it out) unless four batches' worth of keys have piled up: at 400,000
//! deliveries/s, p99 4.1-4.5 ms (median 4.3) against 4.2-6.1 ms (median 4.9) in five
//! interleaved pairs. The last slice also moves the table's watermark
//! (`client_ids_state.upto`), which says up to which message id the table is complete. Every
//! key above it is in memory, and is read back from `messages` (which keeps each post's
//! `client_id`) whenever the memory may be wrong: when the writer starts (after a crash, say),
//! and whenever a rollback drops the writer's cache. Keys written by an unfinished batch are
//! harmless: they are right, and written again (`INSERT OR REPLACE`).
//!
//! A lookup checks memory first, then a Bloom filter of the table's keys ([`KeyFilter`], built
//! between groups as well), and only then the table. A key whose message is gone (deleted with
//! its room) counts as unused: a new post takes it over, as it did with the index, where the
//! cascade removed the entry.
//!
//! [`SqliteOptions::client_ids_batch`]: crate::SqliteOptions::client_ids_batch

use crate::error::DbResult;
use crate::key_filter::KeyFilter;
use crate::sql;
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashMap;

/// Keys written per transaction while a batch is added.
pub(crate) const SLICE: usize = 512;

/// One key: author, client id, message id.
type Key = (i64, String, i64);

/// A batch of keys being added to the table, sorted.
#[derive(Debug)]
struct Batch {
    keys: Vec<Key>,
    /// The keys before this index are written.
    next: usize,
    /// The watermark once every key is written.
    upto: i64,
}

/// The keys above the table's watermark, as the writer knows them.
#[derive(Debug, Default)]
struct Pending {
    /// `client_ids_state.upto` as committed: the table holds every key of a message at or
    /// below it.
    upto: i64,
    /// The highest message id above `upto` posted (or read back) so far.
    highest: i64,
    /// The keys above `upto` not in `batch`: author, then client id, to message id.
    keys: HashMap<i64, HashMap<String, i64>>,
    /// The batch being added, if any.
    batch: Option<Batch>,
}

impl Pending {
    fn insert(&mut self, author: i64, client_id: String, id: i64) {
        self.keys.entry(author).or_default().insert(client_id, id);
    }

    /// How many keys `keys` holds.
    fn count(&self) -> usize {
        self.keys.values().map(HashMap::len).sum()
    }

    fn find(&self, author: i64, client_id: &str) -> Option<i64> {
        if let Some(id) = self.keys.get(&author).and_then(|k| k.get(client_id)) {
            return Some(*id);
        }
        let batch = self.batch.as_ref()?;
        let at = batch
            .keys
            .binary_search_by(|(a, c, _)| (*a, c.as_str()).cmp(&(author, client_id)))
            .ok()?;
        batch.keys.get(at).map(|(_, _, id)| *id)
    }

    /// Moves every key into a new sorted batch.
    fn start_batch(&mut self) {
        let mut keys: Vec<Key> = Vec::with_capacity(self.count());
        for (author, ids) in std::mem::take(&mut self.keys) {
            keys.extend(
                ids.into_iter()
                    .map(|(client_id, id)| (author, client_id, id)),
            );
        }
        keys.sort_unstable();
        self.batch = Some(Batch {
            keys,
            next: 0,
            upto: self.highest,
        });
    }
}

/// The writer's view of the idempotency keys (see the module documentation). Holds no keys
/// until first used, and again after [`ClientIds::forget`].
#[derive(Debug, Default)]
pub(crate) struct ClientIds {
    pending: Option<Pending>,
    /// The table's keys, as a Bloom filter. Survives [`ClientIds::forget`]: only the slices
    /// write to the table, in transactions of their own.
    filter: KeyFilter,
}

impl ClientIds {
    /// The keys above the watermark, read from the file if not known.
    fn pending(&mut self, conn: &Connection) -> DbResult<&mut Pending> {
        let pending = match self.pending.take() {
            Some(pending) => pending,
            None => load(conn)?,
        };
        Ok(self.pending.insert(pending))
    }

    /// The message that `author` created with `client_id`, if it did (the message itself may
    /// be gone since). With no client id, only makes sure the keys are known, so that
    /// [`ClientIds::posted`] has them.
    pub(crate) fn find(
        &mut self,
        conn: &Connection,
        author: i64,
        client_id: Option<&str>,
    ) -> DbResult<Option<i64>> {
        let pending = self.pending(conn)?;
        let Some(client_id) = client_id else {
            return Ok(None);
        };
        if let Some(id) = pending.find(author, client_id) {
            return Ok(Some(id));
        }
        if !self.filter.may_contain(author, client_id) {
            return Ok(None);
        }
        Ok(conn
            .prepare_cached(sql::CLIENT_ID_MESSAGE)?
            .query_row(params![author, client_id], |r| r.get(0))
            .optional()?)
    }

    /// Records a message just written in the open transaction. Call [`ClientIds::find`] for
    /// the same post first.
    pub(crate) fn posted(&mut self, author: i64, client_id: Option<&str>, id: i64) {
        if let Some(pending) = self.pending.as_mut() {
            pending.highest = pending.highest.max(id);
            if let Some(client_id) = client_id {
                pending.insert(author, client_id.to_owned(), id);
            }
        }
    }

    /// Whether there is work for [`ClientIds::step`]: a batch under way, or `batch` or more
    /// messages posted above the watermark.
    pub(crate) fn due(&self, batch: usize) -> bool {
        self.pending.as_ref().is_some_and(|p| {
            p.batch.is_some()
                || p.highest - p.upto >= i64::try_from(batch.max(1)).unwrap_or(i64::MAX)
        })
    }

    /// Messages posted above the table's watermark (those of a batch under way included):
    /// how far the table is behind.
    pub(crate) fn backlog(&self) -> usize {
        self.pending.as_ref().map_or(0, |p| {
            usize::try_from(p.highest.saturating_sub(p.upto)).unwrap_or(0)
        })
    }

    /// Whether [`ClientIds::filter_step`] has work (see [`KeyFilter::due`]).
    pub(crate) fn filter_due(&self) -> bool {
        self.filter.due()
    }

    /// One step of building the Bloom filter of the table's keys (see [`KeyFilter::step`]),
    /// outside any transaction. Returns how many keys it read.
    pub(crate) fn filter_step(&mut self, conn: &Connection) -> DbResult<usize> {
        // The table holds at most one key per message up to the watermark.
        let expected = usize::try_from(self.pending(conn)?.upto).unwrap_or(0);
        Ok(self.filter.step(conn, expected)?)
    }

    /// Keys remembered above the watermark (in a batch or not).
    #[cfg(test)]
    pub(crate) fn remembered(&self) -> usize {
        self.pending.as_ref().map_or(0, |p| {
            p.count() + p.batch.as_ref().map_or(0, |b| b.keys.len() - b.next)
        })
    }

    /// Forgets the keys (a rollback may have undone some); they are read again on next use.
    pub(crate) fn forget(&mut self) {
        self.pending = None;
    }

    /// Writes the next [`SLICE`] keys of the batch under way (starting one with every
    /// remembered key if none is), in a transaction of its own (none may be open); the last
    /// slice moves the watermark. Returns how many keys it wrote. On failure the file and the
    /// memory are as before.
    pub(crate) fn step(&mut self, conn: &Connection) -> rusqlite::Result<usize> {
        let Some(pending) = self.pending.as_mut() else {
            return Ok(0);
        };
        if pending.batch.is_none() {
            if pending.highest <= pending.upto {
                return Ok(0);
            }
            pending.start_batch();
        }
        let Some(batch) = pending.batch.as_mut() else {
            return Ok(0);
        };
        let end = batch.keys.len().min(batch.next + SLICE);
        let slice = batch.keys.get(batch.next..end).unwrap_or_default();
        let last = end == batch.keys.len();
        let write = || -> rusqlite::Result<()> {
            conn.execute_batch("BEGIN IMMEDIATE")?;
            let mut insert = conn.prepare_cached(sql::CLIENT_ID_INSERT)?;
            for (author, client_id, id) in slice {
                insert.execute(params![author, client_id, id])?;
            }
            if last {
                conn.prepare_cached(sql::CLIENT_IDS_SET_UPTO)?
                    .execute([batch.upto])?;
            }
            conn.execute_batch("COMMIT")
        };
        if let Err(e) = write() {
            if !conn.is_autocommit() {
                // Nothing of it may stay; the memory still holds every key.
                conn.execute_batch("ROLLBACK")?;
            }
            return Err(e);
        }
        for (author, client_id, _) in slice {
            self.filter.insert(*author, client_id);
        }
        let written = slice.len();
        batch.next = end;
        if last {
            pending.upto = batch.upto;
            pending.batch = None;
        }
        Ok(written)
    }
}

/// Reads the watermark and the keys of the messages above it.
fn load(conn: &Connection) -> DbResult<Pending> {
    let upto: i64 = conn
        .prepare_cached(sql::CLIENT_IDS_UPTO)?
        .query_row([], |r| r.get(0))?;
    let mut pending = Pending {
        upto,
        highest: upto,
        ..Pending::default()
    };
    let mut stmt = conn.prepare_cached(sql::CLIENT_IDS_ABOVE)?;
    let mut rows = stmt.query([upto])?;
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        pending.highest = pending.highest.max(id);
        pending.insert(row.get(1)?, row.get(2)?, id);
    }
    Ok(pending)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::open;

    fn table(conn: &Connection) -> (i64, i64) {
        let upto = conn
            .query_row(sql::CLIENT_IDS_UPTO, [], |r| r.get(0))
            .unwrap();
        let rows = conn
            .query_row("SELECT count(*) FROM client_ids", [], |r| r.get(0))
            .unwrap();
        (upto, rows)
    }

    #[test]
    fn a_batch_goes_in_slices_and_every_key_stays_found() {
        let (_dir, conn) = open::scratch_writer();
        let mut ids = ClientIds::default();
        let keys = SLICE * 2 + 10;
        // Loaded on first use, even for a post without a client id.
        assert_eq!(ids.find(&conn, 1, None).unwrap(), None);
        for n in 0..keys {
            let id = n as i64 + 1;
            ids.posted(id % 7, Some(&format!("c{n}")), id);
        }
        ids.posted(3, None, keys as i64 + 1);
        assert!(!ids.due(keys + 2));
        assert!(ids.due(keys + 1));
        let found = |ids: &mut ClientIds, n: usize| {
            let id = n as i64 + 1;
            ids.find(&conn, id % 7, Some(&format!("c{n}"))).unwrap()
        };

        assert_eq!(ids.step(&conn).unwrap(), SLICE);
        assert_eq!(table(&conn), (0, SLICE as i64), "the watermark waits");
        // A post while the batch is under way goes to the next one.
        ids.posted(9, Some("later"), keys as i64 + 2);
        assert!(ids.due(usize::MAX), "the batch under way is not done");
        for n in 0..keys {
            assert_eq!(found(&mut ids, n), Some(n as i64 + 1), "key c{n}");
        }
        assert_eq!(
            ids.find(&conn, 1, Some("c1")).unwrap(),
            None,
            "other author"
        );
        assert_eq!(ids.step(&conn).unwrap(), SLICE);
        assert_eq!(ids.step(&conn).unwrap(), 10);
        assert_eq!(table(&conn), (keys as i64 + 1, keys as i64));
        assert_eq!(ids.remembered(), 1, "only the later key is left in memory");
        for n in 0..keys {
            assert_eq!(found(&mut ids, n), Some(n as i64 + 1), "key c{n}");
        }
        assert_eq!(
            ids.find(&conn, 9, Some("later")).unwrap(),
            Some(keys as i64 + 2)
        );
        assert!(!ids.due(2), "one post above the watermark");
        assert!(ids.due(1));
        assert_eq!(ids.step(&conn).unwrap(), 1);
        assert_eq!(table(&conn), (keys as i64 + 2, keys as i64 + 1));
        assert_eq!(ids.step(&conn).unwrap(), 0, "nothing left");
    }

    #[test]
    fn once_the_filter_is_built_new_keys_skip_the_table_and_written_ones_are_found() {
        let (_dir, conn) = open::scratch_writer();
        let mut ids = ClientIds::default();
        ids.find(&conn, 1, None).unwrap();
        let first = crate::key_filter::STEP_ROWS + 100;
        for n in 0..first {
            ids.posted(1 + (n % 5) as i64, Some(&format!("a{n}")), n as i64 + 1);
        }
        while ids.step(&conn).unwrap() > 0 {}
        assert!(ids.filter_due());
        assert_eq!(
            ids.filter_step(&conn).unwrap(),
            crate::key_filter::STEP_ROWS
        );
        // Written while the filter is built, by an author that sorts before the walk.
        for n in 0..10 {
            ids.posted(0, Some(&format!("b{n}")), (first + n) as i64 + 1);
        }
        while ids.step(&conn).unwrap() > 0 {}
        // Keys that reach the table behind the writer's back: one before the walk has read
        // that far is found (by the walk, or in the table meanwhile); one after the filter is
        // built is ruled out by it, without a lookup.
        let sneak = |client_id: &str| {
            conn.execute(sql::CLIENT_ID_INSERT, params![9, client_id, 999_999])
                .unwrap();
        };
        sneak("before");
        assert_eq!(ids.find(&conn, 9, Some("before")).unwrap(), Some(999_999));
        while ids.filter_due() {
            ids.filter_step(&conn).unwrap();
        }
        sneak("after");
        assert_eq!(ids.find(&conn, 9, Some("before")).unwrap(), Some(999_999));
        assert_eq!(ids.find(&conn, 9, Some("after")).unwrap(), None);
        assert_eq!(
            ids.remembered(),
            0,
            "every key is in the table, not in memory"
        );
        for n in 0..first {
            let id = ids
                .find(&conn, 1 + (n % 5) as i64, Some(&format!("a{n}")))
                .unwrap();
            assert_eq!(id, Some(n as i64 + 1), "a{n}");
        }
        for n in 0..10 {
            let id = ids.find(&conn, 0, Some(&format!("b{n}"))).unwrap();
            assert_eq!(id, Some((first + n) as i64 + 1), "b{n}");
        }
    }

    #[test]
    fn a_failed_slice_leaves_file_and_memory_as_they_were() {
        let (_dir, conn) = open::scratch_writer();
        let mut ids = ClientIds::default();
        ids.find(&conn, 1, None).unwrap();
        ids.posted(1, Some("a"), 1);
        ids.posted(2, Some("b"), 2);
        // A trigger makes the second insert fail after the first one was written.
        conn.execute_batch(
            "CREATE TEMP TRIGGER refuse BEFORE INSERT ON client_ids WHEN new.author_id = 2
             BEGIN SELECT RAISE(ABORT, 'refused'); END;",
        )
        .unwrap();
        assert!(ids.step(&conn).is_err());
        assert!(conn.is_autocommit(), "no transaction is left open");
        assert_eq!(table(&conn), (0, 0), "the first insert was rolled back");
        assert_eq!(ids.remembered(), 2);
        assert_eq!(ids.find(&conn, 2, Some("b")).unwrap(), Some(2));
        conn.execute_batch("DROP TRIGGER refuse").unwrap();
        assert_eq!(ids.step(&conn).unwrap(), 2, "tried again");
        assert_eq!(table(&conn), (2, 2));
    }
}
