//! Market data: where candles come from ([`binance`], [`simulated`], run by
//! the [`ingest`]er holding the [`lease`]), where they are kept ([`store`]
//! for history, [`live`] for the recent window and its changes) and how
//! they are served ([`api`], [`symbols`], and [`ws`] for live charts).

pub mod api;
pub mod binance;
pub mod entity;
pub mod ingest;
pub mod lease;
pub mod live;
pub mod simulated;
pub mod store;
pub mod summary;
pub mod symbols;
pub mod ws;
