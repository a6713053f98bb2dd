//! Infrastructure every other layer stands on, and which knows nothing of
//! the market, accounts or scripts: the database, the one Redis
//! connection, the shared cache, the clock, the metrics registry, the
//! logs, and the bus that takes frames to one user's live connections
//! (which knows of a frame only whose it is, and for which series).

pub mod cache;
pub mod clock;
pub mod db;
pub mod metrics;
pub mod redis;
pub mod telemetry;
pub mod user_bus;
