//! Infrastructure every other layer stands on, and which knows nothing of
//! the market, accounts or scripts: the database, the one Redis
//! connection, the shared cache, the clock, the metrics registry and the
//! logs.

pub mod cache;
pub mod clock;
pub mod db;
pub mod metrics;
pub mod redis;
pub mod telemetry;
