//! Alerts: a price level or a script's signal that reaches a trader by webhook, email or browser push.

pub mod push;
