//! Calendar arithmetic on Unix seconds (UTC): billing periods move by
//! calendar months, as Stripe's do, and the hosted pages show dates.

const DAY: i64 = 86_400;

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// `(year, month 1..=12, day 1..=31)` of a day counted from 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    let (next_year, next_month) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    days_from_civil(next_year, next_month, 1) - days_from_civil(year, month, 1)
}

/// `at` moved by `months` calendar months at the same time of day, the day
/// clamped to the target month's last (January 31 + 1 month = February 28
/// or 29), as Stripe moves a billing period.
pub(super) fn add_months(at: i64, months: i64) -> i64 {
    let days = at.div_euclid(DAY);
    let time_of_day = at.rem_euclid(DAY);
    let (year, month, day) = civil_from_days(days);
    let index = year * 12 + (month - 1) + months;
    let (year, month) = (index.div_euclid(12), index.rem_euclid(12) + 1);
    let day = day.min(days_in_month(year, month));
    days_from_civil(year, month, day) * DAY + time_of_day
}

/// `2026-03-05`, for people.
pub(super) fn date(at: i64) -> String {
    let (year, month, day) = civil_from_days(at.div_euclid(DAY));
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_move_by_the_calendar() {
        // 2026-01-31 12:00:00 UTC.
        let jan_31 = days_from_civil(2026, 1, 31) * DAY + 12 * 3600;
        assert_eq!(date(jan_31), "2026-01-31");
        assert_eq!(date(add_months(jan_31, 1)), "2026-02-28");
        assert_eq!(date(add_months(jan_31, 2)), "2026-03-31");
        assert_eq!(date(add_months(jan_31, 12)), "2027-01-31");
        assert_eq!(date(add_months(jan_31, 25)), "2028-02-29");
        assert_eq!(add_months(jan_31, 1).rem_euclid(DAY), 12 * 3600);
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(add_months(0, -1)), "1969-12-01");
    }
}
