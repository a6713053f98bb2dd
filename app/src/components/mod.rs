//! Pieces shared by several pages.

pub mod account;
pub mod alert_form;
pub mod backtest;
pub mod chart;
pub mod chart_alerts;
pub mod chart_backtest;
pub mod chart_drawings;
pub mod chart_layers;
pub mod chart_panes;
pub mod live_feed;
pub mod news;
pub mod quick_look;
pub mod site;
pub mod symbol_search;
pub mod top_bar;
pub mod watchlist;
