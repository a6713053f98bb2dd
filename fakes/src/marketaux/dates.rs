//! Marketaux's two date formats, on Unix seconds (UTC):
//! - what it answers: `published_at` is `2026-11-24T16:05:00.000000Z`
//!   (microseconds, always zero here: the fake's articles are whole seconds);
//! - what it accepts: `published_after` / `published_before` are `Y-m-d`,
//!   `Y-m-dTH:i` or `Y-m-dTH:i:s`, read as UTC.
//!
//! Policy: only those shapes, with zero-padded fields and a real calendar
//! date, are read; anything else (`2026-11-24 16:05`, `2026-02-30`,
//! `1764000000`) is not, so the API can answer `malformed_parameters`.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

/// `at` as Marketaux writes `published_at`; `None` outside years 0..=9999.
pub(crate) fn format_published_at(at: i64) -> Option<String> {
    let moment = OffsetDateTime::from_unix_timestamp(at).ok()?;
    if !(0..=9999).contains(&moment.year()) {
        return None;
    }
    Some(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.000000Z",
        moment.year(),
        u8::from(moment.month()),
        moment.day(),
        moment.hour(),
        moment.minute(),
        moment.second()
    ))
}

/// Reads a `published_at` as Marketaux writes it (any number of fraction
/// digits, dropped: the fake keeps whole seconds).
pub(crate) fn parse_published_at(raw: &str) -> Option<i64> {
    let without_zone = raw.strip_suffix('Z')?;
    let (whole, fraction) = without_zone.split_once('.').unwrap_or((without_zone, "0"));
    if fraction.is_empty() || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (date, time) = whole.split_once('T')?;
    // Unlike a date parameter, `published_at` always has its seconds.
    let (hour_minute, second) = time_of_day(time)?;
    unix_seconds(date, (hour_minute, Some(second?)))
}

/// Reads a `published_after`-style parameter: `Y-m-d` (midnight),
/// `Y-m-dTH:i` or `Y-m-dTH:i:s`.
pub(crate) fn parse_date_param(raw: &str) -> Option<i64> {
    match raw.split_once('T') {
        None => unix_seconds(raw, ((0, 0), Some(0))),
        Some((date, time)) => unix_seconds(date, time_of_day(time)?),
    }
}

/// `((hour, minute), second)` of `H:i` or `H:i:s`.
fn time_of_day(raw: &str) -> Option<((u8, u8), Option<u8>)> {
    let parts: Vec<&str> = raw.split(':').collect();
    match parts.as_slice() {
        [hour, minute] => Some(((two_digits(hour)?, two_digits(minute)?), None)),
        [hour, minute, second] => Some((
            (two_digits(hour)?, two_digits(minute)?),
            Some(two_digits(second)?),
        )),
        _ => None,
    }
}

fn unix_seconds(date: &str, ((hour, minute), second): ((u8, u8), Option<u8>)) -> Option<i64> {
    let parts: Vec<&str> = date.split('-').collect();
    let [year, month, day] = parts.as_slice() else {
        return None;
    };
    let year = i32::try_from(digits(year, 4)?).ok()?;
    let month = Month::try_from(two_digits(month)?).ok()?;
    let date = Date::from_calendar_date(year, month, two_digits(day)?).ok()?;
    let time = Time::from_hms(hour, minute, second.unwrap_or(0)).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_utc().unix_timestamp())
}

/// Exactly `width` ASCII digits.
fn digits(raw: &str, width: usize) -> Option<u32> {
    (raw.len() == width && raw.bytes().all(|b| b.is_ascii_digit()))
        .then(|| raw.parse().ok())
        .flatten()
}

fn two_digits(raw: &str) -> Option<u8> {
    digits(raw, 2).and_then(|value| u8::try_from(value).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-24T16:05:00Z.
    const AT: i64 = 1_795_536_300;

    #[test]
    fn published_at_round_trips() {
        let written = format_published_at(AT + 7);
        assert_eq!(written.as_deref(), Some("2026-11-24T16:05:07.000000Z"));
        assert_eq!(parse_published_at("2026-11-24T16:05:07.000000Z"), Some(AT + 7));
        assert_eq!(parse_published_at("2026-11-24T16:05:07Z"), Some(AT + 7));
        assert_eq!(parse_published_at("2026-11-24T16:05Z"), None);
        assert_eq!(parse_published_at("2026-11-24T16:05:07.000000"), None);
    }

    #[test]
    fn date_params_take_marketaux_shapes_only() {
        assert_eq!(parse_date_param("2026-11-24"), Some(AT - 16 * 3600 - 5 * 60));
        assert_eq!(parse_date_param("2026-11-24T16:05"), Some(AT));
        assert_eq!(parse_date_param("2026-11-24T16:05:09"), Some(AT + 9));
        for bad in [
            "",
            "2026-11-24 16:05",
            "2026-11-24T16",
            "2026-11-24T16:05:09Z",
            "2026-02-30",
            "2026-13-01",
            "2026-11-24T24:00",
            "26-11-24",
            "2026-1-24",
            "1795536300",
            "yesterday",
        ] {
            assert_eq!(parse_date_param(bad), None, "{bad:?}");
        }
    }
}
