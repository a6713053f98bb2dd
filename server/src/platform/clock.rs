//! The wall clock, read one way everywhere: times are stored and sent as
//! milliseconds since the Unix epoch (UTC), as Binance and the browser
//! count them. A clock set before 1970 reads as the epoch.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn since_epoch() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    i64::try_from(since_epoch().as_millis()).unwrap_or(i64::MAX)
}

/// Microseconds since the Unix epoch, for latencies measured across
/// processes (an exchange event to a client's socket write).
pub fn now_micros() -> i64 {
    i64::try_from(since_epoch().as_micros()).unwrap_or(i64::MAX)
}

/// Whole seconds since the Unix epoch.
pub fn now_secs() -> i64 {
    i64::try_from(since_epoch().as_secs()).unwrap_or(i64::MAX)
}

/// How long until the next minute of the wall clock begins.
pub fn until_next_minute() -> Duration {
    let into_minute = since_epoch().as_millis() % 60_000;
    Duration::from_millis(u64::try_from(60_000 - into_minute).unwrap_or(60_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_units_agree() {
        let (ms, micros, secs) = (now_ms(), now_micros(), now_secs());
        assert!(ms > 1_700_000_000_000, "{ms}");
        assert!((micros / 1000 - ms).abs() < 1000);
        assert!((ms / 1000 - secs).abs() <= 1);
        assert!(until_next_minute() <= Duration::from_secs(60));
    }
}
