//! InChart's public API as types: the words the server, the browser and
//! the fakes of outside services share. The server answers with them, the
//! browser (this crate compiled to WebAssembly) reads them, and the fakes
//! speak the same market vocabulary without depending on the Leptos app.
//!
//! Policy:
//! - A [`market::Symbol`] or a [`market::Interval`] that exists is valid.
//!   Parsing is the only way to make one, so code that holds one never
//!   re-checks it.
//! - The two ends of `/ws` share [`stream`]'s types, so they cannot drift
//!   apart.
//! - Plain data only: serde, thiserror and the worker protocol's signal
//!   types, nothing that ties the crate to a server, a runtime or a page;
//!   it builds for wasm32 as for the server.
//!
//! Modules:
//! - [`market`]: symbols, intervals, candles, the feed's status and the
//!   market endpoints' bodies.
//! - [`stream`]: the `/ws` protocol.
//! - [`scripts`]: a signal script's run, as the API and `/ws` report it.
//! - [`backtests`]: a strategy backtest: settings, report, trades.
//! - [`alerts`]: alerts, their firings and deliveries, push subscriptions.
//! - [`charts`]: drawings, the scripts a chart shows, layouts of several
//!   charts.
//! - [`error`]: the body of every API error.
//! - [`paths`]: the addresses of pages more than one side links to.

pub mod alerts;
pub mod backtests;
pub mod charts;
pub mod error;
pub mod market;
pub mod paths;
pub mod scripts;
pub mod stream;
