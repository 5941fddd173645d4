//! A Bloom filter of the idempotency keys in the `client_ids` table (see [`crate::client_ids`]),
//! so that a post with a new client id (nearly every post) needs no lookup in the table. That
//! lookup, a B-tree descent on (author, client id), was a sixth of the writer's time per post
//! at 20,000 posts/s. The filter says "certainly not in the table" for all but about 1% of new
//! keys; for the rest, and for keys that are there, the table is asked as before.
//!
//! The writer builds it between groups, a step at a time, after any group that leaves no key
//! slice to write (slices come first), while no request is queued or else once every few
//! groups: [`KeyFilter::step`] reads the next [`STEP_ROWS`] keys
//! of the table in key order after where the last step stopped (about a millisecond), and
//! until the walk reaches the end the filter rules nothing out. Every key the writer adds to the table goes into the filter too
//! ([`KeyFilter::insert`]), into one being built as well, so a key written behind the walk is
//! not missed. The table only changes through the writer (the store owns its file), and a
//! rollback can only leave keys in the filter that are not in the table, which costs a lookup,
//! never a wrong answer.
//!
//! Once the filter holds more keys than it was sized for, a filter twice that size is built
//! the same way while the full one keeps answering (with a slowly rising false-positive rate).
//! Memory: about 1.2 bytes per key it was sized for, that is 1.2 to 2.4 MB per million keys.

use crate::sql;
use fastbloom::BloomFilter;
use rusqlite::{Connection, params};

/// Keys one build step reads.
pub(crate) const STEP_ROWS: usize = 4_096;

/// Share of absent keys a filter filled to its capacity lets through.
const FALSE_POSITIVES: f64 = 0.01;

/// Smallest capacity of a filter (about 80 KB).
const MIN_CAPACITY: usize = 1 << 16;

/// A Bloom filter with the count of keys put in it.
#[derive(Debug)]
struct Sized {
    bloom: BloomFilter,
    capacity: usize,
    keys: usize,
}

impl Sized {
    fn new(capacity: usize) -> Sized {
        let capacity = capacity.max(MIN_CAPACITY);
        Sized {
            bloom: BloomFilter::with_false_pos(FALSE_POSITIVES).expected_items(capacity),
            capacity,
            keys: 0,
        }
    }

    fn insert(&mut self, author: i64, client_id: &str) {
        self.bloom.insert(&(author, client_id));
        self.keys += 1;
    }

    fn full(&self) -> bool {
        self.keys > self.capacity
    }
}

/// A filter being built: the keys up to `after` are in it.
#[derive(Debug)]
struct Build {
    filter: Sized,
    after: Option<(i64, String)>,
}

/// The filter the writer consults, and the one it builds (see the module documentation).
#[derive(Debug, Default)]
pub(crate) struct KeyFilter {
    /// Holds every key of the table, once a walk has ended.
    ready: Option<Sized>,
    /// The walk under way, if any.
    build: Option<Build>,
}

impl KeyFilter {
    /// Whether (`author`, `client_id`) may be in the table: always, until a walk has ended.
    pub(crate) fn may_contain(&self, author: i64, client_id: &str) -> bool {
        self.ready
            .as_ref()
            .is_none_or(|f| f.bloom.contains(&(author, client_id)))
    }

    /// Records a key the writer adds to the table.
    pub(crate) fn insert(&mut self, author: i64, client_id: &str) {
        if let Some(ready) = self.ready.as_mut() {
            ready.insert(author, client_id);
        }
        if let Some(build) = self.build.as_mut() {
            build.filter.insert(author, client_id);
        }
    }

    /// Whether [`KeyFilter::step`] has work: no walk has ended yet, one is under way, or the
    /// filter is full.
    pub(crate) fn due(&self) -> bool {
        self.build.is_some() || self.ready.as_ref().is_none_or(Sized::full)
    }

    /// Reads the next [`STEP_ROWS`] keys of the table into the filter being built, starting a
    /// build first if none is under way; `expected` is how many keys the table may hold,
    /// used to size the first filter. When the walk reaches the end, the new filter replaces
    /// the old one. Returns how many keys it read. A failure leaves the walk where it was.
    pub(crate) fn step(&mut self, conn: &Connection, expected: usize) -> rusqlite::Result<usize> {
        let ready = &self.ready;
        let build = self.build.get_or_insert_with(|| Build {
            filter: Sized::new(match ready {
                Some(full) => full.keys.saturating_mul(2),
                None => expected.saturating_add(expected / 4),
            }),
            after: None,
        });
        let (author, client_id) = match &build.after {
            Some((author, client_id)) => (*author, client_id.as_str()),
            // Client ids are never empty, and no author id is i64::MIN.
            None => (i64::MIN, ""),
        };
        let limit = i64::try_from(STEP_ROWS).unwrap_or(i64::MAX);
        let mut stmt = conn.prepare_cached(sql::CLIENT_IDS_AFTER)?;
        let mut rows = stmt.query(params![author, client_id, limit])?;
        // The last key read, kept in one buffer rather than a string per row.
        let mut last: Option<i64> = None;
        let mut last_client_id = String::new();
        let mut read = 0;
        while let Some(row) = rows.next()? {
            let author: i64 = row.get(0)?;
            let client_id = row.get_ref(1)?.as_str()?;
            build.filter.insert(author, client_id);
            last = Some(author);
            last_client_id.clear();
            last_client_id.push_str(client_id);
            read += 1;
        }
        if let Some(author) = last {
            build.after = Some((author, last_client_id));
        }
        if read < STEP_ROWS {
            self.ready = self.build.take().map(|b| b.filter);
        }
        Ok(read)
    }

    /// The capacity of the filter that answers, if one does.
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> Option<usize> {
        self.ready.as_ref().map(|f| f.capacity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::open;

    fn add(conn: &Connection, author: i64, client_id: &str) {
        conn.execute(sql::CLIENT_ID_INSERT, params![author, client_id, 1])
            .unwrap();
    }

    fn build(filter: &mut KeyFilter, conn: &Connection) -> usize {
        let mut steps = 0;
        while filter.build.is_some() || filter.ready.is_none() {
            filter.step(conn, 0).unwrap();
            steps += 1;
        }
        steps
    }

    #[test]
    fn rules_out_keys_only_once_the_walk_has_read_the_whole_table() {
        let (_dir, conn) = open::scratch_writer();
        let keys = STEP_ROWS * 2 + 100;
        conn.execute_batch("BEGIN").unwrap();
        for n in 0..keys {
            add(&conn, (n % 13) as i64, &format!("k{n}"));
        }
        conn.execute_batch("COMMIT").unwrap();
        let mut filter = KeyFilter::default();
        assert!(filter.due());
        assert!(filter.may_contain(1, "absent"), "nothing is ruled out yet");
        assert_eq!(filter.step(&conn, keys).unwrap(), STEP_ROWS);
        assert!(
            filter.may_contain(1, "absent"),
            "nothing is ruled out mid-walk"
        );
        assert_eq!(build(&mut filter, &conn), 2);
        assert!(!filter.due());
        for n in 0..keys {
            assert!(
                filter.may_contain((n % 13) as i64, &format!("k{n}")),
                "k{n}"
            );
        }
        let passed = (0..10_000)
            .filter(|n| filter.may_contain(1, &format!("new{n}")))
            .count();
        assert!(passed < 200, "{passed} of 10,000 absent keys passed");
        assert!(
            !filter.may_contain(2, "k1"),
            "the author is part of the key"
        );
    }

    #[test]
    fn a_key_written_behind_the_walk_is_not_missed() {
        let (_dir, conn) = open::scratch_writer();
        for n in 0..STEP_ROWS + 10 {
            add(&conn, 5, &format!("k{n:05}"));
        }
        let mut filter = KeyFilter::default();
        filter.step(&conn, 0).unwrap();
        // Sorts before where the walk stands: only the writer's insert puts it in.
        add(&conn, 1, "early");
        filter.insert(1, "early");
        build(&mut filter, &conn);
        assert!(filter.may_contain(1, "early"));
        assert!(filter.may_contain(5, "k00000"));
        assert!(filter.may_contain(5, &format!("k{:05}", STEP_ROWS + 9)));
    }

    #[test]
    fn a_full_filter_keeps_answering_while_a_larger_one_is_built() {
        let (_dir, conn) = open::scratch_writer();
        let mut filter = KeyFilter::default();
        build(&mut filter, &conn);
        assert_eq!(filter.capacity(), Some(MIN_CAPACITY));
        assert!(!filter.due());
        conn.execute_batch("BEGIN").unwrap();
        for n in 0..=MIN_CAPACITY {
            add(&conn, 7, &format!("k{n}"));
            filter.insert(7, &format!("k{n}"));
        }
        conn.execute_batch("COMMIT").unwrap();
        assert!(filter.due(), "full");
        filter.step(&conn, 0).unwrap();
        assert!(filter.may_contain(7, "k0"), "the full filter answers");
        assert!(!filter.may_contain(8, "k0"));
        build(&mut filter, &conn);
        assert_eq!(filter.capacity(), Some((MIN_CAPACITY + 1) * 2));
        assert!(!filter.due());
        assert!(filter.may_contain(7, &format!("k{MIN_CAPACITY}")));
    }
}
