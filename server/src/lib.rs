//! The InChart server as a library, so that tests start it exactly as the
//! `inchart` binary does ([`startup::Application::build`]).
//!
//! # Layers
//!
//! Dependencies point one way, down this list: a module uses only modules
//! listed above it, and never a sibling on its own line. `layers.rs`'s
//! test reads every `use crate::…` and fails when one points up or across.
//!
//! ```text
//!  0  config              settings, read once at start-up
//!  1  platform            the database, Redis, the cache, the clock, the metrics registry, logs,
//!                         the per-user bus to a user's live connections
//!  2  web                 errors, cookies, the forms' answer, extractors (SignedIn, JsonBody)
//!  3  auth                accounts, sessions, CSRF; asks registered closers before deleting one
//!  4  billing             plans from Stripe: checkout, portal, the webhook
//!  5  plans               the one gate for plan limits
//!  6  market              candles: ingestion, the store, the live window, the API
//!  7  watchlist, news     a trader's symbols; Quick Look news
//!     charts              a trader's drawings (synchronised to their tabs) and chart layout
//!     scripts             signal scripts: store, fair queue, worker pool, live runs, signals, chart layers
//!  8  stream              `/ws`: live candles and signals to charts
//!     alerts              a price level or a signal to a trader: webhook, email, browser push
//!     backtests           a script's signals traded over a range: deep history, report, trades
//!  9  state               AppState and its sub-states
//! 10  ops, site, usage    operator endpoints; robots and sitemap; plan beside usage
//! 11  router              every route and layer
//! 12  startup             building and running the application
//! ```
//!
//! Where to look: a webhook changes a plan in `billing/webhook.rs`; plan
//! limits are enforced in `plans.rs`; a script run is scheduled in
//! `scripts/fair_queue.rs` (and on a closed candle in
//! `scripts/on_close.rs`); a live run, like a change to a drawing, reaches
//! the trader's open charts through `platform/user_bus.rs`; candles are
//! stored in
//! `market/candle_store.rs`, and older ones loaded on demand by
//! `market/deep_history.rs`; the sandbox is confined in the worker crate's
//! `sandbox.rs`.

pub mod alerts;
pub mod auth;
pub mod backtests;
pub mod billing;
pub mod charts;
pub mod config;
pub mod market;
pub mod news;
pub mod ops;
pub mod plans;
pub mod platform;
pub mod router;
pub mod scripts;
pub mod site;
pub mod startup;
pub mod state;
pub mod stream;
pub mod usage;
pub mod watchlist;
pub mod web;

#[cfg(test)]
mod layers;
