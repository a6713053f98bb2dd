//! The database: `DATABASE_URL`'s scheme picks PostgreSQL (production,
//! several instances) or SQLite (the zero-setup default), and the schema is
//! migrated at start-up and by `inchart migrate`.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};
use secrecy::{ExposeSecret, SecretString};

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    /// Reads the scheme. Anything else is an error that says what would work.
    pub fn of(url: &str) -> anyhow::Result<Self> {
        let scheme = url.split_once(':').map(|(scheme, _)| scheme).unwrap_or(url);
        match scheme {
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            "sqlite" => Ok(Backend::Sqlite),
            other => bail!(
                "DATABASE_URL must start with postgres:// or sqlite:// (it starts with {other:?}); \
                 for example sqlite://data/inchart.db?mode=rwc or postgres://user@127.0.0.1:5432/inchart"
            ),
        }
    }
}

/// Connects, creating a SQLite file's folder when needed.
pub async fn connect(url: &SecretString) -> anyhow::Result<DatabaseConnection> {
    let url = url.expose_secret();
    let backend = Backend::of(url)?;
    if backend == Backend::Sqlite {
        create_sqlite_folder(url)?;
    }
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    if backend == Backend::Postgres {
        options.max_connections(32).min_connections(1);
    }
    // The error names the backend but not the URL, which may hold a password.
    let connection = Database::connect(options)
        .await
        .with_context(|| format!("while connecting to the {backend:?} database in DATABASE_URL"))?;
    if backend == Backend::Sqlite {
        // Write-ahead logging lets page renders read while the feed writes.
        // The mode is stored in the file, so every later connection has it.
        connection
            .execute_unprepared("PRAGMA journal_mode=WAL")
            .await
            .context("while switching SQLite to write-ahead logging")?;
    }
    Ok(connection)
}

fn create_sqlite_folder(url: &str) -> anyhow::Result<()> {
    let path = url
        .trim_start_matches("sqlite:")
        .trim_start_matches("//")
        .split('?')
        .next()
        .unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(folder) = Path::new(path)
        .parent()
        .filter(|folder| !folder.as_os_str().is_empty())
    {
        std::fs::create_dir_all(folder)
            .with_context(|| format!("while creating the SQLite folder {}", folder.display()))?;
    }
    Ok(())
}

/// Applies every pending migration.
pub async fn migrate_up(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None)
        .await
        .context("while applying migrations")?;
    tracing::info!("database schema is up to date");
    Ok(())
}

/// Reverts the most recent migration.
pub async fn migrate_down(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::down(db, Some(1))
        .await
        .context("while reverting the last migration")?;
    tracing::info!("reverted the most recent migration");
    Ok(())
}

/// Logs each migration and whether it is applied.
pub async fn migration_status(db: &DatabaseConnection) -> anyhow::Result<()> {
    let applied = Migrator::get_applied_migrations(db)
        .await
        .context("while reading applied migrations")?;
    let pending = Migrator::get_pending_migrations(db)
        .await
        .context("while reading pending migrations")?;
    for migration in applied {
        tracing::info!(migration = migration.name(), "applied");
    }
    for migration in pending {
        tracing::info!(migration = migration.name(), "pending");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_picks_the_backend() {
        assert_eq!(Backend::of("postgres://u@h/db").unwrap(), Backend::Postgres);
        assert_eq!(Backend::of("postgresql://u@h/db").unwrap(), Backend::Postgres);
        assert_eq!(
            Backend::of("sqlite://data/x.db?mode=rwc").unwrap(),
            Backend::Sqlite
        );
        let error = Backend::of("mysql://root@h/db").unwrap_err().to_string();
        assert!(
            error.contains("\"mysql\"") && error.contains("sqlite://"),
            "{error}"
        );
    }
}

/// Fresh, migrated databases for the crate's own tests, as `tests/it`
/// makes them: a UUID-named PostgreSQL database (from
/// `INCHART_TEST_POSTGRES_URL`) or a new SQLite file.
#[cfg(test)]
pub(crate) mod scratch {
    use super::*;

    /// A database of its own, dropped (PostgreSQL) or deleted (SQLite)
    /// by [`Scratch::remove`].
    pub struct Scratch {
        pub db: DatabaseConnection,
        name: String,
        backend: Backend,
    }

    fn admin_url() -> String {
        std::env::var("INCHART_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
    }

    pub async fn fresh(backend: Backend) -> anyhow::Result<Scratch> {
        let name = format!(
            "inchart_test_{:016x}{:016x}",
            fastrand::u64(..),
            fastrand::u64(..)
        );
        let url = match backend {
            Backend::Postgres => {
                let admin_url = admin_url();
                let admin = Database::connect(&admin_url).await?;
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await?;
                admin.close().await?;
                let (base, _) = admin_url
                    .rsplit_once('/')
                    .context("the admin URL names a database")?;
                format!("{base}/{name}")
            }
            Backend::Sqlite => format!(
                "sqlite://{}?mode=rwc",
                std::env::temp_dir().join(format!("{name}.db")).display()
            ),
        };
        let db = connect(&SecretString::from(url)).await?;
        migrate_up(&db).await?;
        Ok(Scratch { db, name, backend })
    }

    impl Scratch {
        pub async fn remove(self) -> anyhow::Result<()> {
            self.db.close().await?;
            match self.backend {
                Backend::Postgres => {
                    let admin = Database::connect(&admin_url()).await?;
                    admin
                        .execute_unprepared(&format!(
                            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                            self.name
                        ))
                        .await?;
                    admin.close().await?;
                }
                Backend::Sqlite => {
                    for suffix in ["", "-wal", "-shm"] {
                        let _ = std::fs::remove_file(
                            std::env::temp_dir().join(format!("{}.db{suffix}", self.name)),
                        );
                    }
                }
            }
            Ok(())
        }
    }
}
