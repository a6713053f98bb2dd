//! The `/ws` protocol: what a chart says to the server and what it hears
//! back. Every frame is one JSON object; the browser and the server share
//! these types, so the two ends cannot drift apart.
//!
//! A client subscribes to a series and receives a snapshot of its recent
//! candles, then every change to them in ascending open time: the forming
//! candle as it moves, then its close, then the next one. The server also
//! sends the feed's status when it changes and a heartbeat now and then,
//! so a silent connection is a dead one.

use serde::{Deserialize, Serialize};

use crate::charts::DrawingChange;
use crate::market::{Candle, FeedStatus, Interval, Symbol};
use crate::scripts::RunView;

/// The most series one connection may follow at once.
pub const MAX_SUBSCRIPTIONS: usize = 16;
/// The largest frame a client may send, in bytes.
pub const MAX_CLIENT_FRAME: usize = 4096;
/// The most candles a snapshot holds.
pub const MAX_SNAPSHOT: usize = 1000;
/// Candles in a snapshot when the subscription does not say `since`.
pub const DEFAULT_SNAPSHOT: usize = 50;
/// How often the server sends a heartbeat, in milliseconds.
pub const HEARTBEAT_MS: u64 = 15_000;

/// What a client sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Follow a series. The snapshot holds the candles from open time
    /// `since` on (at most [`MAX_SNAPSHOT`]), or the last
    /// [`DEFAULT_SNAPSHOT`] without it: a chart that reconnects passes its
    /// newest candle's open time and receives exactly what it missed.
    Subscribe {
        symbol: Symbol,
        interval: Interval,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<i64>,
    },
    /// Stop following a series.
    Unsubscribe { symbol: Symbol, interval: Interval },
    /// Asks for a heartbeat now.
    Ping,
}

/// What the server sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// The answer to a subscription: the series' recent candles, ascending.
    Snapshot {
        symbol: Symbol,
        interval: Interval,
        candles: Vec<Candle>,
    },
    /// A candle of a followed series changed (or a new one opened).
    /// `event_time` is when the exchange produced the change, in
    /// milliseconds since the Unix epoch.
    Candle {
        symbol: Symbol,
        interval: Interval,
        candle: Candle,
        event_time: i64,
    },
    /// The subscription ended (the answer to `unsubscribe`).
    Unsubscribed { symbol: Symbol, interval: Interval },
    /// The feed's status: sent on connecting and whenever it changes.
    Status { feed: FeedStatus },
    /// Sent every [`HEARTBEAT_MS`] and in answer to `ping`.
    Heartbeat { time: i64 },
    /// A request could not be served; the connection stays open.
    Error { code: ErrorCode, message: String },
    /// A script of the signed-in user attached to a followed series ran
    /// on a closed candle (only that user's connections hear of it).
    Signals { script_name: String, run: Box<RunView> },
    /// The signed-in user drew, changed or deleted a drawing (in this tab
    /// or another): every connection of theirs hears of it.
    Drawing { change: DrawingChange },
}

/// Why a client's frame was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not JSON, or not one of the messages above.
    BadMessage,
    /// The symbol is not one InChart carries.
    UnknownSymbol,
    /// Already following [`MAX_SUBSCRIPTIONS`] series.
    TooManySubscriptions,
    /// The frame was larger than [`MAX_CLIENT_FRAME`] bytes.
    TooLarge,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_read_as_documented() {
        let subscribe: ClientMessage =
            serde_json::from_str(r#"{"op":"subscribe","symbol":"btcusdt","interval":"1m"}"#).unwrap();
        assert_eq!(
            subscribe,
            ClientMessage::Subscribe {
                symbol: Symbol::parse("BTCUSDT").unwrap(),
                interval: Interval::M1,
                since: None
            }
        );
        let status = serde_json::to_string(&ServerMessage::Status {
            feed: FeedStatus::Reconnecting,
        })
        .unwrap();
        assert_eq!(status, r#"{"type":"status","feed":"reconnecting"}"#);
        assert!(serde_json::from_str::<ClientMessage>(r#"{"op":"subscribe","symbol":"BTC/USDT"}"#).is_err());
    }
}
