//! Embedded, versioned schema migrations.
//!
//! sqlx's `migrate!` macro is not available here (its feature drags in a `libsqlite3-sys`
//! version that clashes with rusqlite, see the crate docs), so the SQL files of `migrations/`
//! are embedded with `include_str!` and applied by this module: in one transaction, under an
//! advisory lock keyed by the schema so two nodes starting at once do not race, each version
//! recorded with a checksum in `chat_schema_migrations`. A database already migrated by a newer
//! build is refused with [`PgError::SchemaTooNew`], and an applied migration whose SQL changed
//! since with [`PgError::MigrationChanged`].

use crate::PgError;
use sqlx::{AssertSqlSafe, PgPool, Row};

/// One schema version.
struct Migration {
    version: i64,
    description: &'static str,
    sql: &'static str,
}

/// Every migration, in version order. Append only: never edit an applied migration.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "users, sessions, rooms, memberships, messages with tsvector search",
        sql: include_str!("../migrations/0001_init.sql"),
    },
    Migration {
        version: 2,
        description: "users linked to the host application's ids",
        sql: include_str!("../migrations/0002_external_users.sql"),
    },
];

/// The newest schema version this build migrates to.
pub const SCHEMA_VERSION: i64 = 2;

/// A stable 64-bit FNV-1a checksum of a migration's SQL.
fn checksum(sql: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in sql.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// Creates `schema` when given (already validated as a plain identifier), then brings the
/// schema the pool's connections use up to [`SCHEMA_VERSION`]. Returns the version the
/// database is at.
pub(crate) async fn migrate(pool: &PgPool, schema: Option<&str>) -> Result<i64, PgError> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "SELECT pg_advisory_xact_lock(hashtext('chat-store-postgres:migrate:' \
         || coalesce($1, current_schema(), '')))",
    )
    .bind(schema)
    .execute(&mut *tx)
    .await?;
    if let Some(schema) = schema {
        // `schema` matched [a-z_][a-z0-9_]*: quoting it is enough.
        sqlx::query(AssertSqlSafe(format!(
            "CREATE SCHEMA IF NOT EXISTS \"{schema}\""
        )))
        .execute(&mut *tx)
        .await?;
    }
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS chat_schema_migrations (
            version     BIGINT PRIMARY KEY,
            description TEXT NOT NULL,
            checksum    BIGINT NOT NULL,
            applied_at  BIGINT NOT NULL
        )",
    )
    .execute(&mut *tx)
    .await?;
    let applied =
        sqlx::query("SELECT version, checksum FROM chat_schema_migrations ORDER BY version")
            .fetch_all(&mut *tx)
            .await?;
    let mut current = 0;
    for row in &applied {
        let version: i64 = row.try_get("version")?;
        let sum: i64 = row.try_get("checksum")?;
        if version > SCHEMA_VERSION {
            return Err(PgError::SchemaTooNew {
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        let known = MIGRATIONS.iter().find(|m| m.version == version);
        if known.is_none_or(|m| checksum(m.sql) != sum) {
            return Err(PgError::MigrationChanged { version });
        }
        current = current.max(version);
    }
    let already = current;
    for migration in MIGRATIONS.iter().filter(|m| m.version > already) {
        tracing::info!(
            version = migration.version,
            description = migration.description,
            "applying schema migration"
        );
        sqlx::raw_sql(migration.sql).execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO chat_schema_migrations (version, description, checksum, applied_at)
             VALUES ($1, $2, $3, (extract(epoch FROM clock_timestamp()) * 1000)::bigint)",
        )
        .bind(migration.version)
        .bind(migration.description)
        .bind(checksum(migration.sql))
        .execute(&mut *tx)
        .await?;
        current = migration.version;
    }
    tx.commit().await?;
    Ok(current)
}

/// The schema version recorded in the database the pool uses (0 when never migrated).
pub(crate) async fn recorded_version(pool: &PgPool) -> Result<i64, PgError> {
    let version: Option<i64> =
        sqlx::query_scalar("SELECT max(version) FROM chat_schema_migrations")
            .fetch_one(pool)
            .await?;
    Ok(version.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_ordered_and_end_at_the_schema_version() {
        let versions: Vec<i64> = MIGRATIONS.iter().map(|m| m.version).collect();
        let expected: Vec<i64> = (1..=SCHEMA_VERSION).collect();
        assert_eq!(versions, expected);
        assert_ne!(checksum("a"), checksum("b"));
    }
}
