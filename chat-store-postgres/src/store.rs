//! `PostgresStore`: the handle every storage trait is implemented on, a cheap-to-clone pool of
//! connections that all use one PostgreSQL schema.

use crate::PgError;
use crate::migrations;
use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;
use std::fmt;
use std::sync::Arc;

/// The PostgreSQL store. Implements [`UserStore`](chat_core::UserStore),
/// [`SessionStore`](chat_core::SessionStore), [`RoomStore`](chat_core::RoomStore) and
/// [`MessageStore`](chat_core::MessageStore), hence [`Store`](chat_core::Store).
///
/// Cheap to clone: clones share the connection pool. Several stores (on several nodes) may use
/// one database and schema at once; every invariant (unique names, gap-free seqs, idempotent
/// posts) is enforced by the database, not by this process.
#[derive(Clone)]
pub struct PostgresStore {
    pub(crate) pool: PgPool,
    pub(crate) shared: Arc<Shared>,
}

/// What clones of a store share besides the pool.
pub(crate) struct Shared {
    /// How the pool connects; the broker's listener connects the same way.
    pub(crate) options: PgConnectOptions,
    /// The schema the store's tables live in (`current_schema()` of its connections).
    pub(crate) schema: String,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("schema", &self.shared.schema)
            .field("connections", &self.pool.size())
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// The connection pool, for applications that keep their own tables next to the chat's.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The schema the store's tables live in.
    pub fn schema(&self) -> &str {
        &self.shared.schema
    }

    /// The schema version recorded in the database.
    pub async fn schema_version(&self) -> Result<i64, PgError> {
        migrations::recorded_version(&self.pool).await
    }

    /// Closes every connection of the pool (of every clone). Calls made afterwards fail with
    /// [`StoreError::Closed`](chat_core::StoreError::Closed).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// [`PostgresStore::close`], for an `Arc<dyn Store>`.
#[async_trait::async_trait]
impl chat_core::Store for PostgresStore {
    async fn close(&self) -> chat_core::StoreResult<()> {
        PostgresStore::close(self).await;
        Ok(())
    }
}
