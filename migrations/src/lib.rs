//! The schema, one migration at a time. A landed migration is never edited:
//! a change is a new migration, and every migration has a working `down`.

// `MigrationTrait` is an `async_trait` whose methods take `&SchemaManager`
// with an elided lifetime; spelling it out breaks the trait's signature.
#![allow(elided_lifetimes_in_paths)]

pub use sea_orm_migration::prelude::*;

mod m20261124_000001_create_candles;
mod m20261125_000002_candle_closed_and_feed;
mod m20261126_000003_accounts;
mod m20261127_000004_scripts;
mod m20261128_000005_billing;
mod m20261204_000006_charts;
mod m20261204_000007_deep_history;
mod m20261204_000008_backtests;
mod m20261204_000009_alerts;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_create_candles::Migration),
            Box::new(m20261125_000002_candle_closed_and_feed::Migration),
            Box::new(m20261126_000003_accounts::Migration),
            Box::new(m20261127_000004_scripts::Migration),
            Box::new(m20261128_000005_billing::Migration),
            Box::new(m20261204_000006_charts::Migration),
            Box::new(m20261204_000007_deep_history::Migration),
            Box::new(m20261204_000008_backtests::Migration),
            Box::new(m20261204_000009_alerts::Migration),
        ]
    }
}
