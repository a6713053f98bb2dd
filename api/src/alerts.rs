//! Alerts: a script's signal or a price level that reaches a trader by
//! webhook, email or browser push, and the record of every firing and
//! every delivery attempt.
//!
//! A firing is named once (its `id`) and keeps that name on every channel
//! and every attempt: it is the webhook's `webhook-id`, so a receiver can
//! drop a message it has already handled.

use serde::{Deserialize, Serialize};

use crate::market::{Interval, Symbol};

/// The longest webhook body template, in bytes.
pub const MAX_TEMPLATE: usize = 4096;
/// The longest webhook URL, in bytes.
pub const MAX_WEBHOOK_URL: usize = 2048;
/// The placeholders a webhook template may use, each written `{{name}}`.
pub const PLACEHOLDERS: [&str; 9] = [
    "symbol",
    "interval",
    "time",
    "price",
    "side",
    "label",
    "script",
    "alert_id",
    "firing_id",
];

/// Which of a script's markers fire its alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sides {
    #[default]
    Both,
    Buy,
    Sell,
}

/// What makes an alert fire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Condition {
    /// Every new marker of a script running live on the alert's series.
    Script { script_id: String, sides: Sides },
    /// The price goes from below `level` to at or above it.
    CrossingUp { level: f64 },
    /// The price goes from above `level` to at or below it.
    CrossingDown { level: f64 },
    /// Either of the two.
    Crossing { level: f64 },
    /// The price goes from outside `low..=high` to inside it.
    EnteringRange { low: f64, high: f64 },
    /// The price goes from inside `low..=high` to outside it.
    LeavingRange { low: f64, high: f64 },
}

impl Condition {
    /// Whether this alert watches a price (and so is a line on the chart).
    pub fn is_price(&self) -> bool {
        !matches!(self, Condition::Script { .. })
    }

    /// The levels drawn on the chart for it.
    pub fn levels(&self) -> Vec<f64> {
        match *self {
            Condition::Script { .. } => Vec::new(),
            Condition::CrossingUp { level }
            | Condition::CrossingDown { level }
            | Condition::Crossing { level } => vec![level],
            Condition::EnteringRange { low, high } | Condition::LeavingRange { low, high } => {
                vec![low, high]
            }
        }
    }

    /// A short sentence for lists: "crosses up 65,000", "a buy or sell of a script".
    pub fn describe(&self) -> String {
        match self {
            Condition::Script { sides, .. } => match sides {
                Sides::Both => "every buy and sell marker".to_string(),
                Sides::Buy => "every buy marker".to_string(),
                Sides::Sell => "every sell marker".to_string(),
            },
            Condition::CrossingUp { level } => format!("crosses up {level}"),
            Condition::CrossingDown { level } => format!("crosses down {level}"),
            Condition::Crossing { level } => format!("crosses {level}"),
            Condition::EnteringRange { low, high } => format!("enters {low} – {high}"),
            Condition::LeavingRange { low, high } => format!("leaves {low} – {high}"),
        }
    }
}

/// Which price a price alert watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceSource {
    /// Closed candles' closes: fires when a candle closes past the level.
    #[default]
    Close,
    /// The forming candle's price, as trades arrive: fires at most once
    /// per candle.
    Forming,
}

/// How many times an alert fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Repeat {
    /// Once, then it is done (`triggered`).
    #[default]
    Once,
    /// Every time, at most once per candle.
    EveryTime,
}

/// A webhook: where a firing is POSTed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Webhook {
    pub url: String,
    /// A JSON body with `{{placeholder}}`s (see [`PLACEHOLDERS`]); the
    /// standard body when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
}

/// Where an alert's firings go: any of the three.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Channels {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<Webhook>,
    #[serde(default)]
    pub email: bool,
    /// To every browser the trader turned notifications on in.
    #[serde(default)]
    pub push: bool,
}

/// What a trader writes to create or change an alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertSpec {
    pub symbol: Symbol,
    pub interval: Interval,
    pub condition: Condition,
    /// For price alerts only.
    #[serde(default)]
    pub source: PriceSource,
    #[serde(default)]
    pub repeat: Repeat,
    /// Milliseconds since the Unix epoch; never when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    pub channels: Channels,
}

/// Where an alert stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Active,
    /// Paused by the trader, or by InChart when its webhook kept failing
    /// (`paused_reason` says which).
    Paused,
    /// A "once" alert that has fired.
    Triggered,
    /// Past its expiry.
    Expired,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Active => "active",
            AlertState::Paused => "paused",
            AlertState::Triggered => "triggered",
            AlertState::Expired => "expired",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "active" => AlertState::Active,
            "paused" => AlertState::Paused,
            "triggered" => AlertState::Triggered,
            "expired" => AlertState::Expired,
            _ => return None,
        })
    }
}

/// An alert as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub id: String,
    #[serde(flatten)]
    pub spec: AlertSpec,
    pub state: AlertState,
    /// Why InChart paused it, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_reason: Option<String>,
    /// The script's name, for script alerts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script_name: Option<String>,
    pub created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_fired_at: Option<i64>,
    pub firings: u32,
}

/// The answer to creating an alert: the alert, and its webhook's signing
/// secret (`whsec_…`), shown this once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertCreated {
    pub alert: Alert,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
}

/// A change to part of an alert: pausing or resuming it, or moving its
/// level (a line dragged on the chart).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AlertPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Condition>,
}

/// A channel a firing is delivered on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Webhook,
    Email,
    Push,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Webhook => "webhook",
            Channel::Email => "email",
            Channel::Push => "push",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "webhook" => Channel::Webhook,
            "email" => Channel::Email,
            "push" => Channel::Push,
            _ => return None,
        })
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Not delivered yet; tried again at `next_attempt_at`.
    Pending,
    Delivered,
    /// Given up: refused (a 4xx other than 429), or failing for a day.
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "pending" => DeliveryState::Pending,
            "delivered" => DeliveryState::Delivered,
            "failed" => DeliveryState::Failed,
            _ => return None,
        })
    }
}

/// One try at delivering a firing on one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub at: i64,
    /// The HTTP status (webhook, push), when there was an answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// What came back, as a person reads it: "HTTP 500 Internal Server
    /// Error", "250 2.0.0 Ok: queued", "timed out after 5 s".
    pub outcome: String,
    pub ok: bool,
    pub latency_ms: u32,
}

/// A firing on one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub channel: Channel,
    pub state: DeliveryState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<i64>,
    pub attempts: Vec<Attempt>,
}

/// One firing of an alert and its deliveries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Firing {
    /// The idempotency id: the same on every channel and every attempt.
    pub id: String,
    pub alert_id: String,
    /// The open time of the candle it fired on.
    pub candle_time: i64,
    pub fired_at: i64,
    pub price: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub side: Option<worker_protocol::Side>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub deliveries: Vec<Delivery>,
}

/// A browser's push subscription, as `PushSubscription.toJSON()` gives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushSubscription {
    pub endpoint: String,
    pub keys: PushKeys,
}

/// A subscription's keys, base64url without padding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushKeys {
    pub p256dh: String,
    pub auth: String,
}

/// The server's VAPID public key, for `pushManager.subscribe`'s
/// `applicationServerKey` (base64url, uncompressed P-256 point).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushKey {
    pub public_key: String,
}

/// What a browser push carries, as JSON, for the service worker to show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushMessage {
    pub title: String,
    pub body: String,
    /// The page a click opens.
    pub url: String,
    /// The firing's id: a notification tag, so a repeat replaces it.
    pub tag: String,
}
