//! Alerts as the pages show and edit them: the form as the trader types
//! it and the [`AlertSpec`] it makes, an alert's state and channels in
//! words, and (in the browser) the calls to `/api/v1/alerts`. The types
//! themselves are [`inchart_api::alerts`]'s, re-exported here.
//!
//! Policy: times are UTC, like the rest of the account's pages, and the
//! expiry the trader types is read as UTC too (the field says so); a
//! field the server refuses is named by its `field` and shown beside the
//! matching input ([`FormField::of_api`]).

use inchart_api::market::{Interval, Symbol};

pub use inchart_api::alerts::{
    Alert, AlertCreated, AlertPatch, AlertSpec, AlertState, Attempt, Channel, Channels, Condition, Delivery,
    DeliveryState, Firing, MAX_TEMPLATE, MAX_WEBHOOK_URL, PLACEHOLDERS, PriceSource, Repeat, Sides, Webhook,
};

use crate::backtests::{parse_day, plain_number};
use crate::pages::account::format_time;

/// What an alert watches, as the form's kind picker offers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Crossing,
    CrossingUp,
    CrossingDown,
    EnteringRange,
    LeavingRange,
    Script,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Crossing,
        Kind::CrossingUp,
        Kind::CrossingDown,
        Kind::EnteringRange,
        Kind::LeavingRange,
        Kind::Script,
    ];

    /// Its name in the form (`value` of the option) and the API (`kind`).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Crossing => "crossing",
            Kind::CrossingUp => "crossing_up",
            Kind::CrossingDown => "crossing_down",
            Kind::EnteringRange => "entering_range",
            Kind::LeavingRange => "leaving_range",
            Kind::Script => "script",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Kind::Crossing => "Price crosses",
            Kind::CrossingUp => "Price crosses up",
            Kind::CrossingDown => "Price crosses down",
            Kind::EnteringRange => "Price enters a range",
            Kind::LeavingRange => "Price leaves a range",
            Kind::Script => "A script's signal",
        }
    }

    pub fn parse(text: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    /// Whether it watches a low and a high rather than one level.
    pub fn is_range(self) -> bool {
        matches!(self, Kind::EnteringRange | Kind::LeavingRange)
    }

    pub fn of(condition: &Condition) -> Kind {
        match condition {
            Condition::Script { .. } => Kind::Script,
            Condition::CrossingUp { .. } => Kind::CrossingUp,
            Condition::CrossingDown { .. } => Kind::CrossingDown,
            Condition::Crossing { .. } => Kind::Crossing,
            Condition::EnteringRange { .. } => Kind::EnteringRange,
            Condition::LeavingRange { .. } => Kind::LeavingRange,
        }
    }
}

/// The form's name for which markers of a script fire it.
pub fn sides_str(sides: Sides) -> &'static str {
    match sides {
        Sides::Both => "both",
        Sides::Buy => "buy",
        Sides::Sell => "sell",
    }
}

pub fn parse_sides(text: &str) -> Sides {
    match text {
        "buy" => Sides::Buy,
        "sell" => Sides::Sell,
        _ => Sides::Both,
    }
}

/// Which part of the alert form a message belongs beside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormField {
    Symbol,
    Interval,
    Level,
    Low,
    High,
    Script,
    Expiry,
    /// No channel picked, or the plan's channels.
    Channels,
    WebhookUrl,
    WebhookTemplate,
    /// Anywhere else: shown above the save button.
    Other,
}

impl FormField {
    /// The form's field for the server's name of it (`condition.level`,
    /// `channels.webhook.url`, `expires_at` …).
    pub fn of_api(field: &str) -> FormField {
        let field = field.to_ascii_lowercase();
        let has = |word: &str| field.contains(word);
        match () {
            _ if has("webhook") && has("template") => FormField::WebhookTemplate,
            _ if has("webhook") => FormField::WebhookUrl,
            _ if has("channel") || has("email") || has("push") => FormField::Channels,
            _ if has("expires") || has("expiry") => FormField::Expiry,
            _ if has("script") => FormField::Script,
            _ if has("low") => FormField::Low,
            _ if has("high") => FormField::High,
            _ if has("level") || has("condition") => FormField::Level,
            _ if has("symbol") => FormField::Symbol,
            _ if has("interval") => FormField::Interval,
            _ => FormField::Other,
        }
    }

    /// The field's `data-testid` stem and `id` suffix.
    pub fn as_str(self) -> &'static str {
        match self {
            FormField::Symbol => "symbol",
            FormField::Interval => "interval",
            FormField::Level => "level",
            FormField::Low => "low",
            FormField::High => "high",
            FormField::Script => "script",
            FormField::Expiry => "expires",
            FormField::Channels => "channels",
            FormField::WebhookUrl => "webhook-url",
            FormField::WebhookTemplate => "webhook-template",
            FormField::Other => "other",
        }
    }
}

/// The alert form as the trader types it: numbers and dates as text
/// until it is saved.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertDraft {
    pub symbol: String,
    pub interval: Interval,
    pub kind: Kind,
    pub level: String,
    pub low: String,
    pub high: String,
    pub script_id: String,
    pub sides: Sides,
    pub source: PriceSource,
    pub repeat: Repeat,
    /// `YYYY-MM-DDTHH:MM` (a `datetime-local` input's value), UTC; empty
    /// for never.
    pub expires: String,
    pub email: bool,
    pub push: bool,
    pub webhook: bool,
    pub webhook_url: String,
    pub template: String,
}

impl AlertDraft {
    /// A price alert on a series: crossing `last` (the last price, when
    /// known), on closed candles, once, by email.
    pub fn price(symbol: &Symbol, interval: Interval, last: Option<f64>) -> Self {
        AlertDraft {
            symbol: symbol.to_string(),
            interval,
            kind: Kind::Crossing,
            level: last.map(level_text).unwrap_or_default(),
            low: String::new(),
            high: String::new(),
            script_id: String::new(),
            sides: Sides::Both,
            source: PriceSource::Close,
            repeat: Repeat::Once,
            expires: String::new(),
            email: true,
            push: false,
            webhook: false,
            webhook_url: String::new(),
            template: String::new(),
        }
    }

    /// A script alert on a series: every buy and sell, every time, by email.
    pub fn script(symbol: &Symbol, interval: Interval, script_id: &str) -> Self {
        AlertDraft {
            kind: Kind::Script,
            script_id: script_id.to_string(),
            repeat: Repeat::EveryTime,
            ..AlertDraft::price(symbol, interval, None)
        }
    }

    /// The form of an alert, to change it.
    pub fn of_alert(alert: &Alert) -> Self {
        let spec = &alert.spec;
        let mut draft = AlertDraft::price(&spec.symbol, spec.interval, None);
        draft.kind = Kind::of(&spec.condition);
        match &spec.condition {
            Condition::Script { script_id, sides } => {
                draft.script_id = script_id.clone();
                draft.sides = *sides;
            }
            Condition::CrossingUp { level }
            | Condition::CrossingDown { level }
            | Condition::Crossing { level } => draft.level = level_text(*level),
            Condition::EnteringRange { low, high } | Condition::LeavingRange { low, high } => {
                draft.low = level_text(*low);
                draft.high = level_text(*high);
            }
        }
        draft.source = spec.source;
        draft.repeat = spec.repeat;
        draft.expires = spec.expires_at.map(datetime_local).unwrap_or_default();
        draft.email = spec.channels.email;
        draft.push = spec.channels.push;
        if let Some(webhook) = &spec.channels.webhook {
            draft.webhook = true;
            draft.webhook_url = webhook.url.clone();
            draft.template = webhook.template.clone().unwrap_or_default();
        }
        draft
    }

    /// The alert, or the first field that is not right and why; `now` (ms)
    /// is what an expiry must come after.
    pub fn spec(&self, now: i64) -> Result<AlertSpec, (FormField, String)> {
        let symbol = Symbol::parse(self.symbol.trim().to_ascii_uppercase().as_str()).map_err(|_| {
            (
                FormField::Symbol,
                "A symbol is letters and digits, like BTCUSDT.".to_string(),
            )
        })?;
        let condition = match self.kind {
            Kind::Script => {
                let script_id = self.script_id.trim();
                if script_id.is_empty() {
                    return Err((FormField::Script, "Pick one of your scripts.".into()));
                }
                Condition::Script {
                    script_id: script_id.to_string(),
                    sides: self.sides,
                }
            }
            Kind::Crossing | Kind::CrossingUp | Kind::CrossingDown => {
                let level = price(&self.level, FormField::Level, "the level")?;
                match self.kind {
                    Kind::CrossingUp => Condition::CrossingUp { level },
                    Kind::CrossingDown => Condition::CrossingDown { level },
                    _ => Condition::Crossing { level },
                }
            }
            Kind::EnteringRange | Kind::LeavingRange => {
                let low = price(&self.low, FormField::Low, "the low")?;
                let high = price(&self.high, FormField::High, "the high")?;
                if low >= high {
                    return Err((FormField::High, "The high must be above the low.".into()));
                }
                match self.kind {
                    Kind::EnteringRange => Condition::EnteringRange { low, high },
                    _ => Condition::LeavingRange { low, high },
                }
            }
        };
        let expires_at = match self.expires.trim() {
            "" => None,
            text => {
                let at = parse_datetime(text).ok_or_else(|| {
                    (
                        FormField::Expiry,
                        "Pick a date and time, or leave it empty for never.".to_string(),
                    )
                })?;
                if at <= now {
                    return Err((FormField::Expiry, "The expiry is already past.".into()));
                }
                Some(at)
            }
        };
        let webhook = if self.webhook {
            Some(check_webhook(&self.webhook_url, &self.template)?)
        } else {
            None
        };
        if !self.email && !self.push && webhook.is_none() {
            return Err((
                FormField::Channels,
                "Pick at least one way to be told: email, browser notifications or a webhook.".into(),
            ));
        }
        Ok(AlertSpec {
            symbol,
            interval: self.interval,
            condition,
            source: self.source,
            repeat: self.repeat,
            expires_at,
            channels: Channels {
                webhook,
                email: self.email,
                push: self.push,
            },
        })
    }
}

/// A level as the form shows it: Rust's shortest text that reads back the
/// same (`65000`, `0.1234`), no grouping, so it can be edited.
pub fn level_text(level: f64) -> String {
    format!("{level}")
}

/// A price the trader typed: `65000`, `65,000.5`; above 0.
fn price(text: &str, field: FormField, what: &str) -> Result<f64, (FormField, String)> {
    let value = text
        .trim()
        .replace(',', "")
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| (field, format!("Give {what} as a price, like 65000 or 0.52.")))?;
    if value <= 0.0 {
        return Err((field, format!("{} must be above 0.", capitalise(what))));
    }
    Ok(value)
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Checks a webhook's URL and body template as typed.
fn check_webhook(url: &str, template: &str) -> Result<Webhook, (FormField, String)> {
    let url = url.trim();
    if url.is_empty() {
        return Err((FormField::WebhookUrl, "Give the address to POST to.".into()));
    }
    if url.len() > MAX_WEBHOOK_URL {
        return Err((
            FormField::WebhookUrl,
            format!("A webhook address has at most {MAX_WEBHOOK_URL} characters."),
        ));
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .filter(|rest| !rest.is_empty() && !rest.starts_with('/'))
        .ok_or_else(|| {
            (
                FormField::WebhookUrl,
                "A webhook address starts with https://, like https://example.com/hooks/inchart.".to_string(),
            )
        })?;
    if rest.chars().any(char::is_whitespace) {
        return Err((FormField::WebhookUrl, "A webhook address has no spaces.".into()));
    }
    let template = template.trim();
    if template.len() > MAX_TEMPLATE {
        return Err((
            FormField::WebhookTemplate,
            format!("A body template has at most {} KiB.", MAX_TEMPLATE / 1024),
        ));
    }
    if let Some(unknown) = unknown_placeholders(template).first() {
        return Err((
            FormField::WebhookTemplate,
            format!(
                "{{{{{unknown}}}}} is not a placeholder; use {}.",
                placeholder_list()
            ),
        ));
    }
    Ok(Webhook {
        url: url.to_string(),
        template: (!template.is_empty()).then(|| template.to_string()),
    })
}

/// `{{symbol}}, {{interval}}, …`: the placeholders a template may use.
pub fn placeholder_list() -> String {
    PLACEHOLDERS
        .iter()
        .map(|name| format!("{{{{{name}}}}}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `{{names}}` in a template that are not [`PLACEHOLDERS`], in order.
pub fn unknown_placeholders(template: &str) -> Vec<String> {
    let mut unknown = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let name = after[..end].trim();
        if !PLACEHOLDERS.contains(&name) && !unknown.iter().any(|u| u == name) {
            unknown.push(name.to_string());
        }
        rest = &after[end + 2..];
    }
    unknown
}

/// `2026-12-04T18:30` (UTC) as ms since the epoch; `None` when it is not
/// a real date and time. Seconds, when given, are kept.
pub fn parse_datetime(text: &str) -> Option<i64> {
    let (date, time) = text.trim().split_once(['T', ' '])?;
    let day = parse_day(date)?;
    let mut parts = time.split(':');
    let hours: i64 = parts.next()?.parse().ok()?;
    let minutes: i64 = parts.next()?.parse().ok()?;
    let seconds: f64 = parts.next().map_or(Some(0.0), |s| s.parse().ok())?;
    if !(0..24).contains(&hours) || !(0..60).contains(&minutes) || !(0.0..60.0).contains(&seconds) {
        return None;
    }
    Some(day + hours * 3_600_000 + minutes * 60_000 + (seconds * 1000.0) as i64)
}

/// A `datetime-local` value of a time, UTC: `2026-12-04T18:30`.
pub fn datetime_local(ms: i64) -> String {
    crate::backtests::minute(ms).replacen(' ', "T", 1)
}

/// A level in a sentence: `65,000`, `0.52`.
pub fn level_words(level: f64) -> String {
    plain_number(level)
}

/// What the alert watches, in a sentence: `BTCUSDT crosses up 65000 on
/// closed candles`, `MA cross: every buy marker`.
pub fn condition_sentence(alert: &Alert) -> String {
    let spec = &alert.spec;
    match &spec.condition {
        Condition::Script { .. } => format!(
            "{}: {}",
            alert.script_name.as_deref().unwrap_or("A deleted script"),
            spec.condition.describe()
        ),
        condition => {
            let source = match spec.source {
                PriceSource::Close => "on a closed candle",
                PriceSource::Forming => "as trades arrive",
            };
            format!("Price {} {source}", condition.describe())
        }
    }
}

/// How often, in words.
pub fn repeat_words(repeat: Repeat) -> &'static str {
    match repeat {
        Repeat::Once => "once",
        Repeat::EveryTime => "every time",
    }
}

/// The channels an alert reaches the trader on, for its badges.
pub fn channel_names(channels: &Channels) -> Vec<&'static str> {
    let mut names = Vec::new();
    if channels.email {
        names.push("Email");
    }
    if channels.push {
        names.push("Push");
    }
    if channels.webhook.is_some() {
        names.push("Webhook");
    }
    names
}

/// An alert's state as its badge shows it: a word, a CSS class and, when
/// InChart paused it, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateView {
    pub label: &'static str,
    pub class: &'static str,
    pub reason: Option<String>,
}

pub fn state_view(alert: &Alert) -> StateView {
    let (label, class) = match (alert.state, alert.paused_reason.is_some()) {
        (AlertState::Active, _) => ("Active", "state-active"),
        (AlertState::Paused, true) => ("Paused: failing", "state-failing"),
        (AlertState::Paused, false) => ("Paused", "state-paused"),
        (AlertState::Triggered, _) => ("Triggered", "state-triggered"),
        (AlertState::Expired, _) => ("Expired", "state-expired"),
    };
    StateView {
        label,
        class,
        reason: alert
            .paused_reason
            .clone()
            .filter(|_| alert.state == AlertState::Paused),
    }
}

/// `Last fired 2026-12-04 18:05 UTC · 3 firings`, or `Not fired yet`.
pub fn fired_words(alert: &Alert) -> String {
    match alert.last_fired_at {
        Some(at) => {
            let count = match alert.firings {
                1 => "1 firing".to_string(),
                n => format!("{n} firings"),
            };
            format!("Last fired {} · {count}", format_time(at))
        }
        None => "Not fired yet".to_string(),
    }
}

/// `Delivered`, `Retrying at 18:07 UTC`, `Failed`.
pub fn delivery_words(delivery: &Delivery) -> String {
    match (delivery.state, delivery.next_attempt_at) {
        (DeliveryState::Delivered, _) => "Delivered".into(),
        (DeliveryState::Failed, _) => "Failed".into(),
        (DeliveryState::Pending, Some(at)) => format!("Retrying at {}", format_time(at)),
        (DeliveryState::Pending, None) => "Sending".into(),
    }
}

pub fn channel_label(channel: Channel) -> &'static str {
    match channel {
        Channel::Webhook => "Webhook",
        Channel::Email => "Email",
        Channel::Push => "Push",
    }
}

/// Whether the chart draws the alert: a price alert that may still fire.
pub fn drawn_on_chart(alert: &Alert) -> bool {
    alert.spec.condition.is_price() && matches!(alert.state, AlertState::Active | AlertState::Paused)
}

/// The condition with its `index`th level (0: the level or the low, 1:
/// the high) moved to `level`; a range keeps its low under its high.
pub fn moved(condition: &Condition, index: usize, level: f64) -> Condition {
    match condition.clone() {
        Condition::CrossingUp { .. } => Condition::CrossingUp { level },
        Condition::CrossingDown { .. } => Condition::CrossingDown { level },
        Condition::Crossing { .. } => Condition::Crossing { level },
        Condition::EnteringRange { low, high } => {
            let (low, high) = ordered(low, high, index, level);
            Condition::EnteringRange { low, high }
        }
        Condition::LeavingRange { low, high } => {
            let (low, high) = ordered(low, high, index, level);
            Condition::LeavingRange { low, high }
        }
        script @ Condition::Script { .. } => script,
    }
}

fn ordered(low: f64, high: f64, index: usize, level: f64) -> (f64, f64) {
    let (a, b) = if index == 0 { (level, high) } else { (low, level) };
    (a.min(b), a.max(b))
}

/// A price dragged on the chart, rounded to a few significant digits more
/// than the chart shows, so that a level reads `65012.5`, not
/// `65012.4873161`.
pub fn round_level(level: f64) -> f64 {
    if !level.is_finite() || level == 0.0 {
        return level;
    }
    let magnitude = level.abs().log10().floor() as i32;
    let decimals = (5 - magnitude).clamp(0, 8);
    let factor = 10f64.powi(decimals);
    (level * factor).round() / factor
}

#[cfg(feature = "hydrate")]
pub use client::*;

/// The calls to `/api/v1/alerts`, each failing with all the API said.
#[cfg(feature = "hydrate")]
mod client {
    use gloo_net::http::Request;
    use inchart_api::market::{Interval, Symbol};

    use super::{Alert, AlertCreated, AlertPatch, AlertSpec, Firing};
    use crate::api_client::{ApiFailure, get_for, send_for};

    const BASE: &str = "/api/v1/alerts";

    fn body<T: serde::Serialize>(value: &T) -> Result<String, ApiFailure> {
        serde_json::to_string(value).map_err(|_| ApiFailure {
            status: 0,
            kind: None,
            field: None,
            message: "The alert could not be written down for the server.".into(),
            upgrade: None,
        })
    }

    fn empty() -> ApiFailure {
        ApiFailure {
            status: 0,
            kind: None,
            field: None,
            message: "The server sent an empty answer.".into(),
            upgrade: None,
        }
    }

    /// The trader's alerts, newest first; only one series' when given.
    pub async fn list_alerts(series: Option<(&Symbol, Interval)>) -> Result<Vec<Alert>, ApiFailure> {
        let url = match series {
            Some((symbol, interval)) => format!("{BASE}?symbol={symbol}&interval={interval}"),
            None => BASE.to_string(),
        };
        get_for(&url).await
    }

    pub async fn create_alert(csrf: &str, spec: &AlertSpec) -> Result<AlertCreated, ApiFailure> {
        send_for(Request::post(BASE), csrf, Some(body(spec)?))
            .await?
            .ok_or_else(empty)
    }

    /// Replaces an alert; a secret comes back only for a newly added webhook.
    pub async fn replace_alert(csrf: &str, id: &str, spec: &AlertSpec) -> Result<AlertCreated, ApiFailure> {
        send_for(Request::put(&format!("{BASE}/{id}")), csrf, Some(body(spec)?))
            .await?
            .ok_or_else(empty)
    }

    pub async fn patch_alert(csrf: &str, id: &str, patch: &AlertPatch) -> Result<Alert, ApiFailure> {
        send_for(Request::patch(&format!("{BASE}/{id}")), csrf, Some(body(patch)?))
            .await?
            .ok_or_else(empty)
    }

    pub async fn delete_alert(csrf: &str, id: &str) -> Result<(), ApiFailure> {
        send_for::<serde_json::Value>(Request::delete(&format!("{BASE}/{id}")), csrf, None)
            .await
            .map(|_| ())
    }

    /// An alert's firings, newest first, each with its deliveries.
    pub async fn list_firings(id: &str) -> Result<Vec<Firing>, ApiFailure> {
        get_for(&format!("{BASE}/{id}/firings")).await
    }

    /// Sends a firing again on every channel.
    pub async fn resend_firing(csrf: &str, id: &str, firing: &str) -> Result<Firing, ApiFailure> {
        send_for(
            Request::post(&format!("{BASE}/{id}/firings/{firing}/resend")),
            csrf,
            None,
        )
        .await?
        .ok_or_else(empty)
    }
}

/// An alert for tests: BTCUSDT on `interval`, on closes, once, by email.
#[cfg(test)]
pub(crate) fn sample_alert(id: &str, interval: Interval, condition: Condition, state: AlertState) -> Alert {
    Alert {
        id: id.into(),
        spec: AlertSpec {
            symbol: Symbol::parse("BTCUSDT").unwrap(),
            interval,
            condition,
            source: PriceSource::Close,
            repeat: Repeat::Once,
            expires_at: None,
            channels: Channels {
                webhook: None,
                email: true,
                push: false,
            },
        },
        state,
        paused_reason: None,
        script_name: None,
        created_at: 0,
        last_fired_at: None,
        firings: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn btc() -> Symbol {
        Symbol::parse("BTCUSDT").unwrap()
    }

    const NOW: i64 = 1_764_870_000_000; // 2025-12-04

    fn alert(condition: Condition, state: AlertState) -> Alert {
        sample_alert("a1", Interval::H1, condition, state)
    }

    #[test]
    fn a_price_draft_from_the_chart_is_a_crossing_on_closes_once_by_email() {
        let draft = AlertDraft::price(&btc(), Interval::M1, Some(65_012.5));
        let spec = draft.spec(NOW).unwrap();
        assert_eq!(spec.condition, Condition::Crossing { level: 65_012.5 });
        assert_eq!(spec.source, PriceSource::Close);
        assert_eq!(spec.repeat, Repeat::Once);
        assert_eq!(spec.expires_at, None);
        assert_eq!(
            spec.channels,
            Channels {
                webhook: None,
                email: true,
                push: false
            }
        );
    }

    #[test]
    fn the_form_names_the_field_that_is_wrong() {
        let base = AlertDraft::price(&btc(), Interval::H1, Some(100.0));
        let wrong = |draft: AlertDraft| draft.spec(NOW).unwrap_err().0;
        assert_eq!(
            wrong(AlertDraft {
                level: "a lot".into(),
                ..base.clone()
            }),
            FormField::Level
        );
        assert_eq!(
            wrong(AlertDraft {
                level: "-5".into(),
                ..base.clone()
            }),
            FormField::Level
        );
        let range = AlertDraft {
            kind: Kind::EnteringRange,
            low: "70,000".into(),
            high: "60000".into(),
            ..base.clone()
        };
        assert_eq!(wrong(range.clone()), FormField::High);
        let fixed = AlertDraft {
            high: "80000".into(),
            ..range
        };
        assert_eq!(
            fixed.spec(NOW).unwrap().condition,
            Condition::EnteringRange {
                low: 70_000.0,
                high: 80_000.0
            }
        );
        assert_eq!(
            wrong(AlertDraft {
                email: false,
                ..base.clone()
            }),
            FormField::Channels
        );
        assert_eq!(
            wrong(AlertDraft {
                expires: "2020-01-01T00:00".into(),
                ..base.clone()
            }),
            FormField::Expiry
        );
        assert_eq!(
            wrong(AlertDraft {
                expires: "tomorrow".into(),
                ..base.clone()
            }),
            FormField::Expiry
        );
        assert_eq!(
            wrong(AlertDraft::script(&btc(), Interval::H1, " ")),
            FormField::Script
        );
        assert_eq!(
            wrong(AlertDraft {
                symbol: "btc usdt".into(),
                ..base.clone()
            }),
            FormField::Symbol
        );
    }

    #[test]
    fn a_webhook_needs_an_http_address_and_known_placeholders() {
        let base = AlertDraft {
            webhook: true,
            webhook_url: "https://example.com/hook".into(),
            ..AlertDraft::price(&btc(), Interval::H1, Some(1.0))
        };
        let spec = base.spec(NOW).unwrap();
        assert_eq!(
            spec.channels.webhook,
            Some(Webhook {
                url: "https://example.com/hook".into(),
                template: None
            })
        );
        let bad_url = AlertDraft {
            webhook_url: "example.com".into(),
            ..base.clone()
        };
        assert_eq!(bad_url.spec(NOW).unwrap_err().0, FormField::WebhookUrl);
        let bad_template = AlertDraft {
            template: r#"{"s":"{{symbol}}","x":"{{ price }}","y":"{{pirce}}"}"#.into(),
            ..base.clone()
        };
        let (field, message) = bad_template.spec(NOW).unwrap_err();
        assert_eq!(field, FormField::WebhookTemplate);
        assert!(message.starts_with("{{pirce}} is not a placeholder"), "{message}");
        assert_eq!(unknown_placeholders("{{a}} {{symbol}} {{a}} {{b"), vec!["a"]);
        assert!(placeholder_list().starts_with("{{symbol}}, {{interval}}"));
    }

    #[test]
    fn an_alert_reads_back_into_the_form_it_came_from() {
        let mut original = alert(
            Condition::LeavingRange { low: 0.5, high: 0.75 },
            AlertState::Active,
        );
        original.spec.expires_at = Some(1_767_225_600_000 + 90 * 60_000); // 2026-01-01 01:30
        original.spec.channels.webhook = Some(Webhook {
            url: "https://example.com/a".into(),
            template: Some("{{symbol}}".into()),
        });
        let draft = AlertDraft::of_alert(&original);
        assert_eq!(draft.expires, "2026-01-01T01:30");
        assert_eq!(draft.spec(NOW), Ok(original.spec));
    }

    #[test]
    fn server_fields_map_to_the_forms_inputs() {
        assert_eq!(FormField::of_api("channels.webhook.url"), FormField::WebhookUrl);
        assert_eq!(
            FormField::of_api("channels.webhook.template"),
            FormField::WebhookTemplate
        );
        assert_eq!(FormField::of_api("condition.level"), FormField::Level);
        assert_eq!(FormField::of_api("condition.high"), FormField::High);
        assert_eq!(FormField::of_api("condition.script_id"), FormField::Script);
        assert_eq!(FormField::of_api("expires_at"), FormField::Expiry);
        assert_eq!(FormField::of_api("channels.push"), FormField::Channels);
        assert_eq!(FormField::of_api("alerts"), FormField::Other);
    }

    #[test]
    fn dates_are_read_as_utc() {
        assert_eq!(
            parse_datetime("2024-01-01T14:00"),
            Some(1_704_067_200_000 + 14 * 3_600_000)
        );
        assert_eq!(parse_datetime("2024-01-01T14:00:30"), Some(1_704_117_630_000));
        assert_eq!(parse_datetime("2024-01-01T24:00"), None);
        assert_eq!(parse_datetime("2024-02-30T10:00"), None);
        assert_eq!(datetime_local(1_704_117_600_000), "2024-01-01T14:00");
    }

    #[test]
    fn states_channels_and_sentences_read_as_a_trader_expects() {
        let mut paused = alert(Condition::CrossingUp { level: 65_000.0 }, AlertState::Paused);
        assert_eq!(state_view(&paused).label, "Paused");
        paused.paused_reason = Some("The webhook answered HTTP 500 for a day.".into());
        let view = state_view(&paused);
        assert_eq!(view.label, "Paused: failing");
        assert_eq!(
            view.reason.as_deref(),
            Some("The webhook answered HTTP 500 for a day.")
        );
        assert_eq!(
            condition_sentence(&paused),
            "Price crosses up 65000 on a closed candle"
        );
        let mut script = alert(
            Condition::Script {
                script_id: "s".into(),
                sides: Sides::Buy,
            },
            AlertState::Active,
        );
        script.script_name = Some("MA cross".into());
        assert_eq!(condition_sentence(&script), "MA cross: every buy marker");
        assert!(!drawn_on_chart(&script));
        assert!(drawn_on_chart(&paused));
        assert!(!drawn_on_chart(&alert(
            Condition::Crossing { level: 1.0 },
            AlertState::Triggered
        )));
        script.spec.channels.push = true;
        script.spec.channels.webhook = Some(Webhook {
            url: "https://x.y".into(),
            template: None,
        });
        assert_eq!(
            channel_names(&script.spec.channels),
            vec!["Email", "Push", "Webhook"]
        );
        assert_eq!(fired_words(&script), "Not fired yet");
        script.last_fired_at = Some(1_704_117_600_000);
        script.firings = 3;
        assert_eq!(
            fired_words(&script),
            "Last fired 2024-01-01 14:00 UTC · 3 firings"
        );
    }

    #[test]
    fn a_dragged_level_moves_one_line_and_keeps_a_range_in_order() {
        assert_eq!(
            moved(&Condition::CrossingDown { level: 1.0 }, 0, 2.0),
            Condition::CrossingDown { level: 2.0 }
        );
        assert_eq!(
            moved(
                &Condition::EnteringRange {
                    low: 10.0,
                    high: 20.0
                },
                1,
                15.0
            ),
            Condition::EnteringRange {
                low: 10.0,
                high: 15.0
            }
        );
        assert_eq!(
            moved(
                &Condition::LeavingRange {
                    low: 10.0,
                    high: 20.0
                },
                0,
                25.0
            ),
            Condition::LeavingRange {
                low: 20.0,
                high: 25.0
            }
        );
        assert_eq!(round_level(65_012.487_316_1), 65_012.5);
        assert_eq!(round_level(0.523_456_78), 0.523457);
    }
}
