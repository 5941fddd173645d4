//! The query plan test: every statement of [`crate::sql`] is run through `EXPLAIN QUERY PLAN`
//! on a migrated database with its search file attached as `search` (the indexer's statements
//! on the search file name its tables unqualified, which finds them there too), and no plan
//! may scan a whole table (an ordered walk of an index, a primary-key range or the FTS5 index
//! is fine).

use crate::search_file::{self, Anchor};
use crate::sql::ALL;
use crate::{SqliteOptions, open};
use rusqlite::Connection;

/// Statements allowed to scan, with the reason.
const ALLOWED_SCANS: &[(&str, &str)] = &[
    (
        "HIGH_WATER",
        "sqlite_sequence has one row per AUTOINCREMENT table and no index; read at open only",
    ),
    (
        "USER_INSERT",
        "the plan includes the deferred foreign key of messages.author_id (the index on \
         (author_id, client_id) is partial, so it cannot serve it), but SQLite runs that scan \
         only while the transaction has a deferred violation outstanding (OP_FkIfZero), and \
         the writer checks every post's author first",
    ),
];

fn plan(conn: &Connection, statement: &str) -> Vec<String> {
    let explain = format!("EXPLAIN QUERY PLAN {statement}");
    let mut stmt = conn.prepare(&explain).unwrap();
    let count = stmt.parameter_count();
    let params: Vec<i64> = vec![1; count];
    stmt.query_map(rusqlite::params_from_iter(params), |r| {
        r.get::<_, String>(3)
    })
    .unwrap()
    .collect::<Result<Vec<_>, _>>()
    .unwrap()
}

fn is_full_scan(line: &str) -> bool {
    let line = line.trim();
    line.starts_with("SCAN ")
        && !line.contains("USING INDEX")
        && !line.contains("USING COVERING INDEX")
        && !line.contains("VIRTUAL TABLE")
        && line != "SCAN CONSTANT ROW"
}

#[test]
fn no_statement_scans_a_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plans.db");
    let options = SqliteOptions::default();
    let conn = open::open_writer(&path, &options).unwrap();
    let anchor = Anchor::read(&conn).unwrap();
    drop(search_file::open(&path, &anchor, &options).unwrap());
    search_file::attach(&conn, &path, &options).unwrap();
    let mut offenders = Vec::new();
    for (name, statement) in ALL {
        let lines = plan(&conn, statement);
        println!("{name}:\n  {}", lines.join("\n  "));
        let allowed = ALLOWED_SCANS.iter().any(|(allowed, _)| allowed == name);
        if !allowed && lines.iter().any(|l| is_full_scan(l)) {
            offenders.push(format!("{name}: {lines:?}"));
        }
    }
    assert!(
        offenders.is_empty(),
        "full table scans:\n{}",
        offenders.join("\n")
    );
}
