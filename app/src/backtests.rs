//! Strategy backtests as the workbench shows them: the settings in words
//! and as a form, the report's figures formatted and compared, and the
//! range's dates. The types themselves are [`inchart_api::backtests`]'s,
//! re-exported here.
//!
//! Policy: a figure the report cannot define (`None`) reads "—", never 0;
//! money and percentages keep two decimals, ratios two, counts none; times
//! and dates are UTC, like the rest of the account's pages.

use inchart_api::market::Symbol;

pub use inchart_api::backtests::{
    Backtest, BacktestRequest, BacktestSummary, Direction, Fill, OrderSize, Outcome, Position, Range, Report,
    Settings, SignalMeaning, Slippage, Status, Trade,
};

use crate::markets::group_thousands;

/// What "no figure" reads as.
pub const NONE: &str = "\u{2014}";
const MINUS: char = '\u{2212}';
const DAY_MS: i64 = 86_400_000;

/// The quote currency of a pair (`USDT` of `BTCUSDT`), in which the
/// capital, fees and P&L are counted; empty when it cannot be told.
pub fn quote_asset(symbol: &Symbol) -> &str {
    let text = symbol.as_str();
    let base = crate::news::base_asset(symbol);
    text.get(base.len()..).unwrap_or_default()
}

/// A plain number for a sentence: `10,000`, `0.1`, `2.5`, at most 8
/// decimals and none that are trailing zeros.
pub fn plain_number(value: f64) -> String {
    let text = format!("{value:.8}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    let text = if text == "-0" { "0" } else { text };
    group_thousands(text).replace('-', &MINUS.to_string())
}

/// `1,234.56`, `−80.25`: money with two decimals.
pub fn money(value: f64) -> String {
    signed(value, false, |v| group_thousands(&format!("{v:.2}")))
}

/// `+1,234.56`, `−80.25`: a gain or loss.
pub fn signed_money(value: f64) -> String {
    signed(value, true, |v| group_thousands(&format!("{v:.2}")))
}

/// `12.34%`.
pub fn percent(value: f64) -> String {
    signed(value, false, |v| format!("{v:.2}%"))
}

/// `+12.34%`, `−3.10%`.
pub fn signed_percent(value: f64) -> String {
    signed(value, true, |v| format!("{v:.2}%"))
}

/// `1.85`.
pub fn ratio(value: f64) -> String {
    signed(value, false, |v| format!("{v:.2}"))
}

/// A sign (`−`, and `+` when `plus`), then `digits` of the magnitude; a
/// value that rounds to zero has no sign.
fn signed(value: f64, plus: bool, digits: impl Fn(f64) -> String) -> String {
    if !value.is_finite() {
        return NONE.to_string();
    }
    let shown = digits(value.abs());
    let zero = shown.chars().all(|c| matches!(c, '0' | '.' | ',' | '%'));
    match () {
        _ if zero => shown,
        _ if value < 0.0 => format!("{MINUS}{shown}"),
        _ if plus => format!("+{shown}"),
        _ => shown,
    }
}

/// A quantity of the base asset, with the decimals its size needs.
pub fn quantity(value: f64) -> String {
    let decimals = match value.abs() {
        v if v >= 1000.0 => 2,
        v if v >= 1.0 => 4,
        _ => 6,
    };
    group_thousands(&format!("{value:.decimals$}"))
}

/// A length of time, largest unit first: `14 d 6 h`, `5 h 30 min`, `45 min`.
pub fn duration(ms: i64) -> String {
    let minutes = ms.max(0) / 60_000;
    let (days, hours, mins) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    match (days, hours, mins) {
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) if d < 30 => format!("{d} d {h} h"),
        (d, _, _) => format!("{d} d"),
    }
}

/// `2024-03-12`, UTC.
pub fn day(ms: i64) -> String {
    crate::pages::account::format_day(ms)
}

/// `2024-03-12 14:00`, UTC.
pub fn minute(ms: i64) -> String {
    let minutes = ms.div_euclid(60_000).rem_euclid(1440);
    format!("{} {:02}:{:02}", day(ms), minutes / 60, minutes % 60)
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's
/// days-from-civil, the inverse of `worker_protocol::utc::civil_date`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let month = i64::from(month);
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The start (00:00 UTC) of a `YYYY-MM-DD` date, as a date input gives it;
/// `None` when it is not a real date.
pub fn parse_day(text: &str) -> Option<i64> {
    let mut parts = text.trim().splitn(3, '-');
    let year: i64 = parts.next()?.parse().ok()?;
    let month: u32 = parts.next()?.parse().ok()?;
    let day: u32 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&month) || day == 0 || !(1970..=9999).contains(&year) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    // 31 February comes back as another date.
    (worker_protocol::utc::civil_date(days) == (year, month, day)).then_some(days * DAY_MS)
}

/// The range in words: `all the history your plan reaches`,
/// `from 2024-01-01 to 2024-06-30` (both days included).
pub fn describe_range(range: &Range) -> String {
    match (range.from, range.to) {
        (None, None) => "all the history your plan reaches".into(),
        (Some(from), None) => format!("from {} on", day(from)),
        (None, Some(to)) => format!("up to {}", day(to)),
        (Some(from), Some(to)) => format!("{} to {}", day(from), day(to)),
    }
}

/// How each entry is sized, in words.
fn describe_size(size: OrderSize, symbol: &Symbol) -> String {
    match size {
        OrderSize::PercentOfEquity { percent } => format!("{}% of equity per trade", plain_number(percent)),
        OrderSize::Amount { amount } => format!("{} {} per trade", plain_number(amount), quote_asset(symbol)),
        OrderSize::Quantity { quantity } => {
            format!(
                "{} {} per trade",
                plain_number(quantity),
                crate::news::base_asset(symbol)
            )
        }
    }
}

/// What a `buy` and a `sell` do, in words.
fn describe_meaning(meaning: SignalMeaning, direction: Direction) -> &'static str {
    match (meaning, direction) {
        // Long only, a reversal is an exit: both read the same.
        (_, Direction::LongOnly) => "buy enters, sell exits",
        (SignalMeaning::EnterExit, Direction::LongAndShort) => "buy or sell enters, the other exits",
        (SignalMeaning::Reverse, Direction::LongAndShort) => "each signal reverses the position",
    }
}

/// The settings in one sentence, as the collapsed settings panel states
/// them: `10,000 USDT, 100% of equity per trade, 0.1% fee per side, no
/// slippage, long only, buy enters, sell exits, fills at the next open`.
pub fn describe_settings(settings: &Settings, symbol: &Symbol) -> String {
    let fee = if settings.fee_pct == 0.0 {
        "no fees".to_string()
    } else {
        format!("{}% fee per side", plain_number(settings.fee_pct))
    };
    let slippage = match settings.slippage {
        Slippage::Percent { percent: 0.0 } => "no slippage".to_string(),
        Slippage::Ticks { ticks: 0, .. } => "no slippage".to_string(),
        Slippage::Percent { percent } => format!("{}% slippage", plain_number(percent)),
        Slippage::Ticks { ticks, tick } => format!("{ticks} ticks of {} slippage", plain_number(tick)),
    };
    let direction = match settings.direction {
        Direction::LongOnly => "long only",
        Direction::LongAndShort => "long and short",
    };
    let fill = match settings.fill {
        Fill::NextOpen => "fills at the next open",
        Fill::SignalClose => "fills at the signal's close",
    };
    let capital = match quote_asset(symbol) {
        "" => format!("{} capital", plain_number(settings.capital)),
        quote => format!("{} {quote}", plain_number(settings.capital)),
    };
    format!(
        "{capital}, {}, {fee}, {slippage}, {direction}, {}, {fill}",
        describe_size(settings.size, symbol),
        describe_meaning(settings.meaning, settings.direction),
    )
}

/// How a figure reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Money,
    SignedMoney,
    Percent,
    SignedPercent,
    Ratio,
    Count,
    Duration,
}

impl Format {
    pub fn show(self, value: Option<f64>) -> String {
        let Some(value) = value.filter(|v| v.is_finite()) else {
            return NONE.to_string();
        };
        match self {
            Format::Money => money(value),
            Format::SignedMoney => signed_money(value),
            Format::Percent => percent(value),
            Format::SignedPercent => signed_percent(value),
            Format::Ratio => ratio(value),
            Format::Count => group_thousands(&format!("{value:.0}")),
            Format::Duration => duration(value as i64),
        }
    }
}

/// Which of two values of a figure is the better one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
    /// Neither (the number of trades, the exposure).
    Neither,
}

/// Whether a figure is a gain, a loss, or neither, for its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Up,
    Down,
    Plain,
}

impl Tone {
    /// By the sign of a gain or loss.
    pub fn of(value: Option<f64>) -> Tone {
        match value {
            Some(v) if v > 0.0 => Tone::Up,
            Some(v) if v < 0.0 => Tone::Down,
            _ => Tone::Plain,
        }
    }

    pub fn class(self) -> &'static str {
        match self {
            Tone::Up => "up",
            Tone::Down => "down",
            Tone::Plain => "",
        }
    }
}

/// One figure of a report.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// Its name in the page (`data-figure`) and in tests.
    pub id: &'static str,
    pub label: &'static str,
    pub value: Option<f64>,
    pub format: Format,
    /// A second reading under the value (the net profit in percent …).
    pub detail: Option<String>,
    pub better: Better,
    pub tone: Tone,
    /// Among the figures a trader scans first.
    pub headline: bool,
}

impl Figure {
    pub fn shown(&self) -> String {
        self.format.show(self.value)
    }

    /// With a second reading under the value.
    fn with(mut self, detail: String) -> Self {
        self.detail = Some(detail);
        self
    }
}

/// The figures a trader scans first, in the order the design asks for.
pub const HEADLINE: [&str; 7] = [
    "net_profit",
    "max_drawdown",
    "win_rate",
    "profit_factor",
    "sharpe",
    "trades",
    "buy_and_hold",
];

/// One figure; a gain or loss (a signed format) is coloured by its sign.
fn figure(
    id: &'static str,
    label: &'static str,
    value: Option<f64>,
    format: Format,
    better: Better,
) -> Figure {
    let tone = match format {
        Format::SignedMoney | Format::SignedPercent => Tone::of(value),
        _ => Tone::Plain,
    };
    Figure {
        id,
        label,
        value,
        format,
        detail: None,
        better,
        tone,
        headline: HEADLINE.contains(&id),
    }
}

/// The figures of a report, [`HEADLINE`] ones first, then the rest.
pub fn figures(report: &Report) -> Vec<Figure> {
    use Better::{Higher, Lower, Neither};
    use Format::*;
    let r = report;
    let won_lost = format!("{} won, {} lost", r.winning, r.losing);
    let per_trade = r
        .expectancy_pct
        .map(|pct| format!("{} per trade", signed_percent(pct)));
    let expectancy = figure("expectancy", "Expectancy", r.expectancy, SignedMoney, Higher);
    vec![
        figure(
            "net_profit",
            "Net profit",
            Some(r.net_profit),
            SignedMoney,
            Higher,
        )
        .with(signed_percent(r.net_profit_pct)),
        figure(
            "max_drawdown",
            "Max drawdown",
            Some(-r.max_drawdown_pct.abs()),
            SignedPercent,
            Higher,
        )
        .with(signed_money(-r.max_drawdown.abs())),
        figure("win_rate", "Win rate", r.win_rate_pct, Percent, Higher).with(won_lost),
        figure("profit_factor", "Profit factor", r.profit_factor, Ratio, Higher),
        figure("sharpe", "Sharpe", r.sharpe, Ratio, Higher),
        figure("trades", "Trades", Some(f64::from(r.trades)), Count, Neither),
        figure(
            "buy_and_hold",
            "Buy & hold",
            Some(r.buy_and_hold_pct),
            SignedPercent,
            Higher,
        )
        .with(signed_money(r.buy_and_hold_profit)),
        figure(
            "gross_profit",
            "Gross profit",
            Some(r.gross_profit),
            SignedMoney,
            Higher,
        ),
        figure(
            "gross_loss",
            "Gross loss",
            Some(r.gross_loss),
            SignedMoney,
            Higher,
        ),
        figure("avg_win", "Average win", r.avg_win, SignedMoney, Higher),
        figure("avg_loss", "Average loss", r.avg_loss, SignedMoney, Higher),
        figure("largest_win", "Largest win", r.largest_win, SignedMoney, Higher),
        figure(
            "largest_loss",
            "Largest loss",
            r.largest_loss,
            SignedMoney,
            Higher,
        ),
        match per_trade {
            Some(detail) => expectancy.with(detail),
            None => expectancy,
        },
        figure(
            "max_drawdown_duration",
            "Longest drawdown",
            Some(r.max_drawdown_duration_ms as f64),
            Duration,
            Lower,
        ),
        figure("sortino", "Sortino", r.sortino, Ratio, Higher),
        figure("calmar", "Calmar", r.calmar, Ratio, Higher),
        figure("cagr", "CAGR", r.cagr_pct, SignedPercent, Higher),
        figure("exposure", "Exposure", Some(r.exposure_pct), Percent, Neither),
        figure("fees", "Fees paid", Some(r.fees_paid), Money, Lower),
        figure(
            "final_equity",
            "Final equity",
            Some(r.final_equity),
            Money,
            Higher,
        )
        .with(format!("from {}", money(r.capital))),
    ]
}

/// Which side of a comparison is better on a figure: `Some(true)` for
/// `a`, `Some(false)` for `b`, `None` for a tie, a figure without a
/// better side, or a side without the figure.
pub fn better_of(better: Better, a: Option<f64>, b: Option<f64>) -> Option<bool> {
    let (a, b) = (a.filter(|v| v.is_finite())?, b.filter(|v| v.is_finite())?);
    if a == b {
        return None;
    }
    match better {
        Better::Higher => Some(a > b),
        Better::Lower => Some(a < b),
        Better::Neither => None,
    }
}

/// A backtest in a picker: `v3 · BTCUSDT 1h · 2024-01-01 to 2024-06-30 · +12.30%`.
pub fn summary_label(summary: &BacktestSummary) -> String {
    let outcome = match (&summary.status, summary.net_profit_pct) {
        (Status::Done, Some(pct)) => signed_percent(pct),
        (Status::Done, None) => "done".into(),
        (Status::Failed { .. }, _) => "failed".into(),
        (Status::Loading { .. } | Status::Running, _) => "running".into(),
    };
    format!(
        "v{} \u{00b7} {} {} \u{00b7} {} \u{00b7} {}",
        summary.version,
        summary.symbol,
        summary.interval,
        describe_range(&summary.range),
        outcome
    )
}

/// Which part of the settings form a field the server refused is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormField {
    Capital,
    Size,
    Fee,
    Slippage,
    From,
    To,
    /// Anywhere else: shown above the form.
    Other,
}

impl FormField {
    /// The form's field for the server's name of it (`capital`,
    /// `settings.size.percent`, `range.from` …).
    pub fn of_api(field: &str) -> FormField {
        let field = field.to_ascii_lowercase();
        let has = |word: &str| field.contains(word);
        match () {
            _ if has("capital") => FormField::Capital,
            _ if has("size") || has("amount") || has("quantity") => FormField::Size,
            _ if has("fee") => FormField::Fee,
            _ if has("slippage") || has("tick") => FormField::Slippage,
            _ if has("from") => FormField::From,
            _ if has("range") || field.ends_with("to") => FormField::To,
            _ => FormField::Other,
        }
    }
}

/// How the order size is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeKind {
    PercentOfEquity,
    Amount,
    Quantity,
}

impl SizeKind {
    pub const ALL: [SizeKind; 3] = [SizeKind::PercentOfEquity, SizeKind::Amount, SizeKind::Quantity];

    pub fn as_str(self) -> &'static str {
        match self {
            SizeKind::PercentOfEquity => "percent",
            SizeKind::Amount => "amount",
            SizeKind::Quantity => "quantity",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SizeKind::PercentOfEquity => "% of equity",
            SizeKind::Amount => "Fixed amount",
            SizeKind::Quantity => "Fixed quantity",
        }
    }

    pub fn parse(text: &str) -> Option<SizeKind> {
        SizeKind::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// How slippage is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlippageKind {
    Percent,
    Ticks,
}

/// The settings form as the trader types it: numbers as text until the
/// backtest starts, so that a half-typed `0.` is not rewritten under the
/// cursor.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingsDraft {
    pub capital: String,
    pub size_kind: SizeKind,
    pub size: String,
    pub fee_pct: String,
    pub slippage_kind: SlippageKind,
    /// Percent, or the number of ticks.
    pub slippage: String,
    pub tick: String,
    pub direction: Direction,
    pub meaning: SignalMeaning,
    pub fill: Fill,
    /// `YYYY-MM-DD` or empty.
    pub from: String,
    pub to: String,
}

impl Default for SettingsDraft {
    fn default() -> Self {
        SettingsDraft::new(&Settings::default(), &Range::default())
    }
}

impl SettingsDraft {
    pub fn new(settings: &Settings, range: &Range) -> Self {
        let (size_kind, size) = match settings.size {
            OrderSize::PercentOfEquity { percent } => (SizeKind::PercentOfEquity, percent),
            OrderSize::Amount { amount } => (SizeKind::Amount, amount),
            OrderSize::Quantity { quantity } => (SizeKind::Quantity, quantity),
        };
        let (slippage_kind, slippage, tick) = match settings.slippage {
            Slippage::Percent { percent } => (SlippageKind::Percent, percent, 0.01),
            Slippage::Ticks { ticks, tick } => (SlippageKind::Ticks, f64::from(ticks), tick),
        };
        // Rust's shortest form that reads back the same: `10000`, `0.1`.
        let text = |value: f64| format!("{value}");
        SettingsDraft {
            capital: text(settings.capital),
            size_kind,
            size: text(size),
            fee_pct: text(settings.fee_pct),
            slippage_kind,
            slippage: text(slippage),
            tick: text(tick),
            direction: settings.direction,
            meaning: settings.meaning,
            fill: settings.fill,
            from: range.from.map(day).unwrap_or_default(),
            to: range.to.map(day).unwrap_or_default(),
        }
    }

    /// The settings, or the first field that is not right and why.
    pub fn settings(&self) -> Result<Settings, (FormField, String)> {
        let number = |text: &str, field, what: &str| -> Result<f64, (FormField, String)> {
            text.trim()
                .replace(',', "")
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| (field, format!("Give the {what} as a number, like 10000 or 0.1.")))
        };
        let capital = number(&self.capital, FormField::Capital, "starting capital")?;
        if capital <= 0.0 {
            return Err((FormField::Capital, "The starting capital must be above 0.".into()));
        }
        let size = number(&self.size, FormField::Size, "order size")?;
        if size <= 0.0 {
            return Err((FormField::Size, "The order size must be above 0.".into()));
        }
        let size = match self.size_kind {
            SizeKind::PercentOfEquity if size > 100.0 => {
                return Err((
                    FormField::Size,
                    "At most 100% of the equity goes into a trade.".into(),
                ));
            }
            SizeKind::PercentOfEquity => OrderSize::PercentOfEquity { percent: size },
            SizeKind::Amount => OrderSize::Amount { amount: size },
            SizeKind::Quantity => OrderSize::Quantity { quantity: size },
        };
        let fee_pct = number(&self.fee_pct, FormField::Fee, "fee")?;
        if fee_pct >= 100.0 {
            return Err((
                FormField::Fee,
                "A fee is a percent of the trade, under 100.".into(),
            ));
        }
        let slippage = match self.slippage_kind {
            SlippageKind::Percent => Slippage::Percent {
                percent: number(&self.slippage, FormField::Slippage, "slippage")?,
            },
            SlippageKind::Ticks => {
                let ticks = number(&self.slippage, FormField::Slippage, "number of ticks")?;
                if ticks.fract() != 0.0 || ticks > f64::from(u32::MAX) {
                    return Err((FormField::Slippage, "Ticks are a whole number.".into()));
                }
                let tick = number(&self.tick, FormField::Slippage, "tick size")?;
                if tick <= 0.0 {
                    return Err((FormField::Slippage, "The tick size must be above 0.".into()));
                }
                Slippage::Ticks {
                    ticks: ticks as u32,
                    tick,
                }
            }
        };
        Ok(Settings {
            capital,
            size,
            fee_pct,
            slippage,
            direction: self.direction,
            meaning: self.meaning,
            fill: self.fill,
        })
    }

    /// The range: the `from` day's first candle to the `to` day's last.
    pub fn range(&self) -> Result<Range, (FormField, String)> {
        let date = |text: &str, field| -> Result<Option<i64>, (FormField, String)> {
            if text.trim().is_empty() {
                return Ok(None);
            }
            parse_day(text)
                .map(Some)
                .ok_or_else(|| (field, "Pick a date, or leave it empty.".to_string()))
        };
        let from = date(&self.from, FormField::From)?;
        let to = date(&self.to, FormField::To)?.map(|start| start + DAY_MS - 1);
        if let (Some(from), Some(to)) = (from, to)
            && from > to
        {
            return Err((FormField::To, "The end comes before the start.".into()));
        }
        Ok(Range { from, to })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn btc() -> Symbol {
        Symbol::parse("BTCUSDT").unwrap()
    }

    #[test]
    fn the_default_settings_read_as_the_brief_states_them() {
        assert_eq!(
            describe_settings(&Settings::default(), &btc()),
            "10,000 USDT, 100% of equity per trade, 0.1% fee per side, no slippage, long only, \
             buy enters, sell exits, fills at the next open"
        );
        assert_eq!(
            describe_range(&Range::default()),
            "all the history your plan reaches"
        );
        let other = Settings {
            capital: 2_500.5,
            size: OrderSize::Quantity { quantity: 0.5 },
            fee_pct: 0.0,
            slippage: Slippage::Ticks { ticks: 2, tick: 0.01 },
            direction: Direction::LongAndShort,
            meaning: SignalMeaning::Reverse,
            fill: Fill::SignalClose,
        };
        assert_eq!(
            describe_settings(&other, &btc()),
            "2,500.5 USDT, 0.5 BTC per trade, no fees, 2 ticks of 0.01 slippage, long and short, \
             each signal reverses the position, fills at the signal's close"
        );
    }

    #[test]
    fn figures_read_with_signs_separators_and_a_dash_for_none() {
        assert_eq!(signed_money(1234.5), "+1,234.50");
        assert_eq!(signed_money(-80.254), "\u{2212}80.25");
        assert_eq!(signed_money(-0.001), "0.00");
        assert_eq!(money(10_000.0), "10,000.00");
        assert_eq!(signed_percent(12.345), "+12.35%");
        assert_eq!(percent(55.0), "55.00%");
        assert_eq!(Format::Ratio.show(None), NONE);
        assert_eq!(Format::Ratio.show(Some(f64::INFINITY)), NONE);
        assert_eq!(Format::Count.show(Some(1234.0)), "1,234");
        assert_eq!(duration(90 * 60_000), "1 h 30 min");
        assert_eq!(duration(3 * 86_400_000 + 4 * 3_600_000), "3 d 4 h");
        assert_eq!(duration(400 * 86_400_000), "400 d");
        assert_eq!(duration(45 * 60_000), "45 min");
        assert_eq!(quantity(0.16), "0.160000");
        assert_eq!(plain_number(0.1), "0.1");
        assert_eq!(plain_number(10_000.0), "10,000");
        assert_eq!(minute(1_704_067_200_000 + 14 * 3_600_000), "2024-01-01 14:00");
    }

    #[test]
    fn a_comparison_marks_the_better_side_by_the_figures_sense() {
        assert_eq!(better_of(Better::Higher, Some(2.0), Some(1.0)), Some(true));
        assert_eq!(better_of(Better::Lower, Some(2.0), Some(1.0)), Some(false));
        assert_eq!(better_of(Better::Higher, Some(1.0), Some(1.0)), None);
        assert_eq!(better_of(Better::Higher, None, Some(1.0)), None);
        assert_eq!(better_of(Better::Neither, Some(3.0), Some(1.0)), None);
        // A drawdown shown as −12% beats one of −20%.
        let report = |dd: f64| Report {
            max_drawdown_pct: dd,
            ..tests_support::report()
        };
        let (a, b) = (figures(&report(12.0)), figures(&report(20.0)));
        let (fa, fb) = (&a[1], &b[1]);
        assert_eq!(fa.id, "max_drawdown");
        assert_eq!(better_of(fa.better, fa.value, fb.value), Some(true));
    }

    #[test]
    fn the_headline_figures_come_first_in_the_designs_order() {
        let all = figures(&tests_support::report());
        let ids: Vec<_> = all.iter().filter(|f| f.headline).map(|f| f.id).collect();
        assert_eq!(ids, HEADLINE);
        assert!(
            all[..HEADLINE.len()].iter().all(|f| f.headline),
            "they come first"
        );
        let tone = |id| all.iter().find(|f| f.id == id).map(|f| f.tone);
        assert_eq!(tone("gross_loss"), Some(Tone::Down));
        assert_eq!(tone("net_profit"), Some(Tone::Up));
        assert_eq!(tone("win_rate"), Some(Tone::Plain));
    }

    #[test]
    fn dates_are_utc_days_and_the_range_covers_both_whole_days() {
        assert_eq!(parse_day("2024-01-01"), Some(1_704_067_200_000));
        assert_eq!(parse_day("2024-02-30"), None);
        assert_eq!(parse_day("24-01-01"), None);
        assert_eq!(parse_day("2000-02-29"), Some(951_782_400_000));
        let draft = SettingsDraft {
            from: "2024-01-01".into(),
            to: "2024-01-02".into(),
            ..SettingsDraft::default()
        };
        assert_eq!(
            draft.range(),
            Ok(Range {
                from: Some(1_704_067_200_000),
                to: Some(1_704_067_200_000 + 2 * DAY_MS - 1),
            })
        );
        let backwards = SettingsDraft {
            from: "2024-02-01".into(),
            to: "2024-01-02".into(),
            ..SettingsDraft::default()
        };
        assert_eq!(backwards.range().unwrap_err().0, FormField::To);
        let round_trip = SettingsDraft::new(&Settings::default(), &draft.range().unwrap());
        assert_eq!(round_trip.to, "2024-01-02");
    }

    #[test]
    fn the_form_gives_back_the_settings_it_was_made_from_and_names_a_wrong_field() {
        let settings = Settings {
            size: OrderSize::Amount { amount: 1_000.0 },
            slippage: Slippage::Ticks { ticks: 3, tick: 0.5 },
            ..Settings::default()
        };
        let draft = SettingsDraft::new(&settings, &Range::default());
        assert_eq!(draft.capital, "10000");
        assert_eq!(draft.settings(), Ok(settings));
        assert_eq!(SettingsDraft::default().settings(), Ok(Settings::default()));
        let wrong = SettingsDraft {
            fee_pct: "a lot".into(),
            ..SettingsDraft::default()
        };
        assert_eq!(wrong.settings().unwrap_err().0, FormField::Fee);
        let too_much = SettingsDraft {
            size: "150".into(),
            ..SettingsDraft::default()
        };
        assert_eq!(too_much.settings().unwrap_err().0, FormField::Size);
        assert_eq!(FormField::of_api("settings.size.percent"), FormField::Size);
        assert_eq!(FormField::of_api("range.to"), FormField::To);
        assert_eq!(FormField::of_api("capital"), FormField::Capital);
        assert_eq!(FormField::of_api("symbol"), FormField::Other);
    }
}

/// Backtests for the crate's tests.
#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    pub fn report() -> Report {
        Report {
            first_candle: 0,
            last_candle: 3_600_000,
            candles: 2,
            capital: 10_000.0,
            final_equity: 10_100.0,
            net_profit: 100.0,
            net_profit_pct: 1.0,
            gross_profit: 150.0,
            gross_loss: -50.0,
            profit_factor: Some(3.0),
            trades: 2,
            winning: 1,
            losing: 1,
            win_rate_pct: Some(50.0),
            avg_win: Some(150.0),
            avg_loss: Some(-50.0),
            largest_win: Some(150.0),
            largest_loss: Some(-50.0),
            best_trade_pct: Some(1.5),
            worst_trade_pct: Some(-0.5),
            avg_trade_pct: Some(0.5),
            expectancy: Some(50.0),
            expectancy_pct: Some(0.5),
            max_drawdown: 50.0,
            max_drawdown_pct: 0.5,
            max_drawdown_duration_ms: 3_600_000,
            sharpe: None,
            sortino: None,
            calmar: None,
            cagr_pct: None,
            exposure_pct: 50.0,
            buy_and_hold_pct: 2.0,
            buy_and_hold_profit: 200.0,
            fees_paid: 40.0,
            signals_ignored: 0,
        }
    }

    /// A finished backtest of two trades on BTCUSDT 1h, a win and a loss.
    pub fn backtest() -> Backtest {
        let hour = 3_600_000;
        let trade = |position, entry: i64, pnl: f64| Trade {
            position,
            signal_time: entry - hour,
            entry_time: entry,
            entry_price: 100.0,
            exit_time: entry + 3 * hour,
            exit_price: 100.0 + pnl,
            quantity: 1.0,
            pnl,
            pnl_pct: pnl,
            fees: 0.2,
            bars: 3,
            closed_at_end: false,
        };
        Backtest {
            id: "b1".into(),
            script_id: "s1".into(),
            version: 2,
            symbol: Symbol::parse("BTCUSDT").unwrap(),
            interval: inchart_api::market::Interval::H1,
            settings: Settings::default(),
            range: Range::default(),
            status: Status::Done,
            result: Some(Box::new(Outcome {
                report: report(),
                trades: vec![
                    trade(Position::Long, 10 * hour, 5.0),
                    trade(Position::Short, 20 * hour, -2.0),
                ],
                equity: vec![(0, 10_000.0), (hour, 10_005.0), (2 * hour, 10_003.0)],
                drawdown: vec![(0, 0.0), (hour, 0.0), (2 * hour, -0.02)],
                log: String::new(),
                cpu_ms: 1,
                wall_ms: 2,
            })),
            created_at: 0,
        }
    }
}
