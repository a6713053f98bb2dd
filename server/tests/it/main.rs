//! Integration tests: the real application on port 0, against the real
//! PostgreSQL and SQLite, the real Redis and, end to end, a real headless
//! Chromium. See `helpers` for how each test gets its own database.

// A test's helpers fail the test by panicking, like its assertions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod accounts;
mod alerts;
mod alerts_browser;
mod alerts_push;
mod api;
mod backtests;
mod backtests_browser;
mod billing;
mod browser;
mod chart_tools;
mod charts;
mod cli;
mod helpers;
mod instances;
mod live;
mod migrations;
mod news;
mod pages;
mod scripts;
mod seo;
