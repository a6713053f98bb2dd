//! The addresses of InChart's pages that more than one side builds: the
//! pages link to them and the server redirects to them.

use crate::market::{Interval, Symbol};

/// The link to a chart.
pub fn chart_href(symbol: &Symbol, interval: Interval) -> String {
    format!("/chart/{symbol}?interval={interval}")
}
