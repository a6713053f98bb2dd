//! When an alert fires, and what its firing says: pure functions, the
//! same on every instance, so that two instances that see the same
//! candle decide the same.
//!
//! A price alert compares the price before with the price now. On closed
//! candles, "before" is the previous candle's close (the candle's own open
//! when this instance has not seen the previous close: on a 24-hour market
//! the two are the same trade but for a gap); on the forming candle it is
//! the price this instance heard last. A crossing counts when the price
//! reaches the level: from below to at-or-above is crossing up.

use inchart_api::alerts::{Condition, PLACEHOLDERS};
use serde::{Deserialize, Serialize};

/// Whether `condition` holds going from `before` to `now`. Script
/// conditions never fire on prices.
pub fn crossed(condition: &Condition, before: f64, now: f64) -> bool {
    let inside = |low: f64, high: f64, price: f64| (low..=high).contains(&price);
    match *condition {
        Condition::Script { .. } => false,
        Condition::CrossingUp { level } => before < level && now >= level,
        Condition::CrossingDown { level } => before > level && now <= level,
        Condition::Crossing { level } => (before < level && now >= level) || (before > level && now <= level),
        Condition::EnteringRange { low, high } => !inside(low, high, before) && inside(low, high, now),
        Condition::LeavingRange { low, high } => inside(low, high, before) && !inside(low, high, now),
    }
}

/// What a firing says, fixed when it fires: every delivery and every
/// attempt carries the same.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub alert_id: String,
    /// The idempotency id.
    pub firing_id: String,
    pub symbol: String,
    pub interval: String,
    /// The candle's open time, milliseconds since the Unix epoch.
    pub time: i64,
    pub price: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub side: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<String>,
    /// "BTCUSDT 1m crosses up 65000".
    pub summary: String,
}

impl Message {
    /// The value of a template placeholder.
    fn value(&self, name: &str) -> String {
        match name {
            "symbol" => self.symbol.clone(),
            "interval" => self.interval.clone(),
            "time" => self.time.to_string(),
            "price" => self.price.to_string(),
            "side" => self.side.clone().unwrap_or_default(),
            "label" => self.label.clone().unwrap_or_default(),
            "script" => self.script.clone().unwrap_or_default(),
            "alert_id" => self.alert_id.clone(),
            "firing_id" => self.firing_id.clone(),
            _ => String::new(),
        }
    }

    /// A sample, to check templates with.
    pub fn sample() -> Self {
        Message {
            alert_id: "00000000-0000-0000-0000-000000000000".into(),
            firing_id: "00000000-0000-0000-0000-000000000000".into(),
            symbol: "BTCUSDT".into(),
            interval: "1m".into(),
            time: 1_764_806_400_000,
            price: 65_000.5,
            side: Some("buy".into()),
            label: Some("a \"quoted\" label\n".into()),
            script: Some("cross".into()),
            summary: "BTCUSDT 1m crosses up 65000".into(),
        }
    }
}

/// The standard webhook body: `{"type", "timestamp", "data"}` as the
/// Standard Webhooks specification suggests.
pub fn standard_body(message: &Message, fired_at_secs: i64) -> String {
    serde_json::json!({
        "type": "alert.fired",
        "timestamp": time::OffsetDateTime::from_unix_timestamp(fired_at_secs)
            .ok()
            .and_then(|at| at.format(&time::format_description::well_known::Rfc3339).ok())
            .unwrap_or_default(),
        "data": message,
    })
    .to_string()
}

/// A trader's template with its placeholders filled. Each value is written
/// as the inside of a JSON string (quotes and newlines escaped), so a
/// placeholder inside quotes never breaks the JSON around it; numbers
/// (`time`, `price`) read as numbers outside quotes.
pub fn render(template: &str, message: &Message) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) if PLACEHOLDERS.contains(&after[..end].trim()) => {
                let value = message.value(after[..end].trim());
                let quoted = serde_json::to_string(&value).unwrap_or_default();
                out.push_str(&quoted[1..quoted.len().saturating_sub(1)]);
                rest = &after[end + 2..];
            }
            _ => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Why a template is refused, or `None`: it must name only known
/// placeholders and give JSON once filled.
pub fn template_problem(template: &str) -> Option<String> {
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let name = after[..end].trim();
        if !PLACEHOLDERS.contains(&name) {
            return Some(format!(
                "{{{{{name}}}}} is not a placeholder; use {}.",
                PLACEHOLDERS.map(|p| format!("{{{{{p}}}}}")).join(", ")
            ));
        }
        rest = &after[end + 2..];
    }
    let filled = render(template, &Message::sample());
    match serde_json::from_str::<serde_json::Value>(&filled) {
        Ok(_) => None,
        Err(error) => Some(format!("The body is not JSON once filled in: {error}.")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crossings_count_when_the_price_reaches_the_level() {
        let up = Condition::CrossingUp { level: 100.0 };
        assert!(crossed(&up, 99.0, 100.0));
        assert!(crossed(&up, 99.0, 101.0));
        assert!(!crossed(&up, 100.0, 101.0), "already there");
        assert!(!crossed(&up, 101.0, 99.0));
        let down = Condition::CrossingDown { level: 100.0 };
        assert!(crossed(&down, 101.0, 100.0));
        assert!(!crossed(&down, 99.0, 101.0));
        let either = Condition::Crossing { level: 100.0 };
        assert!(crossed(&either, 99.0, 101.0) && crossed(&either, 101.0, 99.0));
        assert!(!crossed(&either, 98.0, 99.0));
    }

    #[test]
    fn ranges_fire_on_the_way_in_and_out() {
        let enter = Condition::EnteringRange {
            low: 10.0,
            high: 20.0,
        };
        assert!(crossed(&enter, 5.0, 10.0));
        assert!(crossed(&enter, 25.0, 15.0));
        assert!(!crossed(&enter, 12.0, 15.0));
        let leave = Condition::LeavingRange {
            low: 10.0,
            high: 20.0,
        };
        assert!(crossed(&leave, 15.0, 21.0));
        assert!(!crossed(&leave, 21.0, 25.0));
        let script = Condition::Script {
            script_id: "s".into(),
            sides: Default::default(),
        };
        assert!(!crossed(&script, 0.0, 1e9));
    }

    #[test]
    fn templates_fill_placeholders_as_json() {
        let template =
            r#"{"text": "{{symbol}} {{side}} at {{price}}: {{label}}", "t": {{time}}, "p": {{price}}}"#;
        assert_eq!(template_problem(template), None);
        let body = render(template, &Message::sample());
        let value: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(value["text"], "BTCUSDT buy at 65000.5: a \"quoted\" label\n");
        assert_eq!(value["t"], 1_764_806_400_000_i64);
        assert_eq!(value["p"], 65000.5);
    }

    #[test]
    fn bad_templates_say_why() {
        assert!(
            template_problem("{{nope}}")
                .unwrap()
                .contains("not a placeholder")
        );
        assert!(template_problem("{\"a\": }").unwrap().contains("not JSON"));
        assert_eq!(template_problem("{\"a\": \"{{ symbol }}\"}"), None);
    }
}
