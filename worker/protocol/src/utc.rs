//! Calendar dates of UTC times, for messages and pages on the server and
//! in the browser alike (no time-zone database needed).

/// Year, month and day of a count of days since 1970-01-01 (Howard
/// Hinnant's civil-from-days).
pub fn civil_date(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `2026-11-24 18:05 UTC` for milliseconds since the epoch.
pub fn minute(ms: i64) -> String {
    let (year, month, day) = civil_date(ms.div_euclid(86_400_000));
    let minutes = ms.div_euclid(60_000).rem_euclid(1440);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        minutes / 60,
        minutes % 60
    )
}
