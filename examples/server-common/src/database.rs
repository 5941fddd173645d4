//! The `--database` URL and what it opens: SQLite (one process, in-process broker),
//! PostgreSQL (several server processes can share it; their broker is LISTEN/NOTIFY), or
//! `memory` (nothing kept after exit: for demos, and for benchmarks that leave the store out).
//! Opening a store creates and migrates its schema, so `migrate` is just "open, then exit".

use crate::run::BoxError;
use chat_core::{ChatService, Config, LocalBroker};
use chat_store_memory::MemoryStore;
#[cfg(feature = "postgres")]
use chat_store_postgres::{PostgresBroker, PostgresStore};
use chat_store_sqlite::SqliteStore;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// Which database to use.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// `sqlite:PATH` (also `sqlite://PATH`): a file, created when missing.
    Sqlite(PathBuf),
    /// `postgres://...` or `postgresql://...`: a connection URL.
    Postgres(String),
    /// `memory`: everything in this process's memory, lost at exit.
    Memory,
}

impl FromStr for Database {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "memory" || s == "memory:" {
            return Ok(Database::Memory);
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(Database::Postgres(s.to_owned()));
        }
        if let Some(rest) = s.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err("`sqlite:` needs a file path, e.g. sqlite:./chat.db".to_owned());
            }
            return Ok(Database::Sqlite(PathBuf::from(path)));
        }
        Err(format!(
            "`{s}`: expected sqlite:PATH, postgres://user@host/db or memory"
        ))
    }
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Shows the database without the password of a PostgreSQL URL (safe to log).
impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            Database::Postgres(url) => f.write_str(&redact_password(url)),
            Database::Memory => f.write_str("memory"),
        }
    }
}

/// `postgres://user:secret@host/db` -> `postgres://user:***@host/db`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// Opens (creating and migrating) the database and builds the chat service over it with the
/// matching broker: [`LocalBroker`] for SQLite and memory, [`PostgresBroker`] for PostgreSQL.
/// `broker_capacity` is how many events a subscriber may lag behind before it re-reads the
/// store: the length of each room's ring (see [`LocalBroker::new`]).
/// Close the store at the end with `service.store().close()`.
pub async fn open_service(
    db: &Database,
    broker_capacity: usize,
    config: Config,
) -> Result<ChatService, BoxError> {
    let local = || LocalBroker::new(broker_capacity);
    let builder = match db {
        Database::Sqlite(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            }
            let store = SqliteStore::open(path)
                .await
                .map_err(|e| format!("cannot open {db}: {e}"))?;
            ChatService::builder(store).broker(local())
        }
        Database::Memory => {
            tracing::warn!("--database memory: nothing is kept after the server exits");
            ChatService::builder(MemoryStore::new()).broker(local())
        }
        #[cfg(feature = "postgres")]
        Database::Postgres(url) => {
            let store = PostgresStore::connect(url)
                .await
                .map_err(|e| format!("cannot connect to {db}: {e}"))?;
            let broker = PostgresBroker::start(&store, broker_capacity)
                .await
                .map_err(|e| format!("cannot start the PostgreSQL broker: {e}"))?;
            ChatService::builder(store).broker(broker)
        }
        #[cfg(not(feature = "postgres"))]
        Database::Postgres(_) => {
            return Err(
                "this server was built without PostgreSQL support (feature `postgres`)".into(),
            );
        }
    };
    Ok(builder.config(config).build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_database_urls() {
        assert_eq!(
            "sqlite:./chat.db".parse::<Database>(),
            Ok(Database::Sqlite("./chat.db".into()))
        );
        assert_eq!(
            "sqlite:///var/lib/chat.db".parse::<Database>(),
            Ok(Database::Sqlite("/var/lib/chat.db".into()))
        );
        assert_eq!(
            "postgres://u@h/db".parse::<Database>(),
            Ok(Database::Postgres("postgres://u@h/db".into()))
        );
        assert_eq!("memory".parse::<Database>(), Ok(Database::Memory));
        assert!("sqlite:".parse::<Database>().is_err());
        assert!("mysql://x".parse::<Database>().is_err());
        assert!("chat.db".parse::<Database>().is_err());
    }

    #[test]
    fn display_hides_the_password() {
        let db = Database::Postgres("postgres://chat:hunter2@db:5432/chat".into());
        let shown = db.to_string();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(shown, "postgres://chat:***@db:5432/chat");
        let db = Database::Postgres("postgres://chat@db/chat".into());
        assert_eq!(db.to_string(), "postgres://chat@db/chat");
    }

    #[tokio::test]
    async fn opens_and_reopens_a_sqlite_file() -> Result<(), BoxError> {
        let dir = std::env::temp_dir().join(format!("server-common-test-{}", std::process::id()));
        let db = Database::Sqlite(dir.join("nested").join("chat.db"));
        let service = open_service(&db, 16, Config::for_tests()).await?;
        let (_, token) = service.signup("ann", "ann-password-1").await?;
        service.store().close().await?;
        let closed = service.authenticate(&token).await;
        assert!(closed.is_err(), "a closed store still answered: {closed:?}");
        // Closed means every write of the first opening is in the main file.
        let wal = dir.join("nested").join("chat.db-wal");
        assert_eq!(std::fs::metadata(&wal).map_or(0, |m| m.len()), 0);
        let service = open_service(&db, 16, Config::for_tests()).await?;
        assert_eq!(service.authenticate(&token).await?.username, "ann");
        service.store().close().await?;
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }
}
