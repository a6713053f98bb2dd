//! The schema goes up, down and up again on both databases, and the
//! `candles` key refuses a duplicate.

use migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};

use crate::helpers::{Db, fresh_database};

async fn candles_table_exists(db: &DatabaseConnection) -> bool {
    let sql = match db.get_database_backend() {
        DbBackend::Sqlite => {
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'candles'"
        }
        _ => "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_name = 'candles'",
    };
    let row = db
        .query_one(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap() == 1
}

async fn up_down_up(kind: Db) {
    let url = fresh_database(kind).await;
    let db = Database::connect(&url).await.unwrap();

    Migrator::up(&db, None).await.unwrap();
    assert!(candles_table_exists(&db).await);
    assert!(Migrator::get_pending_migrations(&db).await.unwrap().is_empty());

    Migrator::down(&db, None).await.unwrap();
    assert!(!candles_table_exists(&db).await);
    assert_eq!(Migrator::get_applied_migrations(&db).await.unwrap().len(), 0);

    Migrator::up(&db, None).await.unwrap();
    assert!(candles_table_exists(&db).await);

    let insert = "INSERT INTO candles (symbol, \"interval\", open_time, open, high, low, close, volume, trades) \
                  VALUES ('BTCUSDT', '1m', 60000, 1, 2, 0.5, 1.5, 10, 3)";
    db.execute_unprepared(insert).await.unwrap();
    assert!(
        db.execute_unprepared(insert).await.is_err(),
        "one row per (symbol, interval, open time)"
    );
}

#[tokio::test]
async fn postgres_schema_goes_up_down_and_up_again() {
    up_down_up(Db::Postgres).await;
}

#[tokio::test]
async fn sqlite_schema_goes_up_down_and_up_again() {
    up_down_up(Db::Sqlite).await;
}

#[tokio::test]
async fn sqlite_runs_in_write_ahead_logging_mode() {
    let url = fresh_database(Db::Sqlite).await;
    let db = inchart::platform::db::connect(&url.clone().into()).await.unwrap();
    let row = db
        .query_one(Statement::from_string(DbBackend::Sqlite, "PRAGMA journal_mode"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<String>("", "journal_mode").unwrap(), "wal");
}
