//! Market data: where candles are stored ([`store`]), where they come from
//! until live data exists ([`simulated`]) and how the API serves them
//! ([`api`]).

pub mod api;
pub mod entity;
pub mod simulated;
pub mod store;
