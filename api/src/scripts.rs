//! A signal script's run as the API and the chart's WebSocket report it.
//! The signals themselves (markers, lines, errors) are the worker
//! protocol's types, so what a worker reports reaches the browser
//! unchanged once the server has checked it.

use serde::{Deserialize, Serialize};

use crate::market::{Interval, Symbol};
pub use worker_protocol::{ErrorKind, Frame, Level, Line, LineStyle, Marker, Output, RunError, Side, Signal};

/// Why a run started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The editor's "Run on chart", or the API.
    Manual,
    /// A candle of an attached series closed.
    Live,
}

impl Trigger {
    /// Its name in the API and in storage (`manual`, `live`).
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Manual => "manual",
            Trigger::Live => "live",
        }
    }
}

/// One run of a script: which version ran on which candles, and what came
/// out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunView {
    pub id: String,
    pub script_id: String,
    pub version: u32,
    pub symbol: Symbol,
    pub interval: Interval,
    pub trigger: Trigger,
    /// Open times of the first and last candle the script saw.
    pub first_candle: Option<i64>,
    pub last_candle: Option<i64>,
    pub candles: u32,
    pub result: Result<Output, RunError>,
    /// What the script printed.
    #[serde(default)]
    pub log: String,
    pub cpu_ms: u64,
    pub wall_ms: u64,
    pub created_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_read_as_the_browser_receives_them() {
        let run: RunView = serde_json::from_str(
            r#"{"id":"r","script_id":"s","version":2,"symbol":"BTCUSDT","interval":"1h","trigger":"live",
                "first_candle":1,"last_candle":2,"candles":2,
                "result":{"Ok":{"markers":[{"time":2,"side":"sell","price":3.5}],"lines":[]}},
                "cpu_ms":3,"wall_ms":4,"created_at":5}"#,
        )
        .unwrap();
        let output = run.result.unwrap();
        assert_eq!(output.markers[0].side, Side::Sell);
    }
}
