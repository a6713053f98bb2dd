//! What a trader may ask a backtest for, checked before anything is
//! traded. Every refusal names the setting (its JSON field, so that the
//! page can put the message beside it) and says, in the trader's words,
//! what would be accepted.

use inchart_api::backtests::{OrderSize, Settings, Slippage};

use crate::Candles;

/// The highest fee per side and the highest slippage, in percent.
pub const MAX_PERCENT: f64 = 10.0;
/// The most ticks of slippage.
pub const MAX_TICKS: u32 = 1_000;

/// A setting (or an input) a backtest cannot run with.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct SettingsError {
    /// The setting at fault, as the settings' JSON names it (`capital`,
    /// `size`, `fee_pct`, `slippage`), or `candles` / `interval` when the
    /// series itself cannot be traded.
    pub field: &'static str,
    /// What is wrong and what would do, for the trader.
    pub message: String,
}

impl SettingsError {
    fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

/// Accepts settings a backtest can run with: a positive, finite capital;
/// fees from 0 to 10% per side; slippage from 0 to 10%, or up to 1,000
/// ticks of a positive tick size; a positive amount or quantity; a share
/// of equity above 0 and at most 100%.
pub fn check(settings: &Settings) -> Result<(), SettingsError> {
    let capital = settings.capital;
    if !(capital.is_finite() && capital > 0.0) {
        return Err(SettingsError::new(
            "capital",
            format!("The starting capital must be a positive amount (it is {capital})."),
        ));
    }
    let fee = settings.fee_pct;
    if !(0.0..=MAX_PERCENT).contains(&fee) {
        return Err(SettingsError::new(
            "fee_pct",
            format!("Fees must be from 0% to {MAX_PERCENT}% per side (they are {fee}%)."),
        ));
    }
    match settings.slippage {
        Slippage::Percent { percent } => {
            if !(0.0..=MAX_PERCENT).contains(&percent) {
                return Err(SettingsError::new(
                    "slippage",
                    format!("Slippage must be from 0% to {MAX_PERCENT}% (it is {percent}%)."),
                ));
            }
        }
        Slippage::Ticks { ticks, tick } => {
            if ticks > MAX_TICKS {
                return Err(SettingsError::new(
                    "slippage",
                    format!("Slippage can be at most {MAX_TICKS} ticks (it is {ticks})."),
                ));
            }
            if !(tick.is_finite() && tick > 0.0) {
                return Err(SettingsError::new(
                    "slippage",
                    format!("The tick size must be a positive price step (it is {tick})."),
                ));
            }
        }
    }
    match settings.size {
        OrderSize::Amount { amount } => {
            if !(amount.is_finite() && amount > 0.0) {
                return Err(SettingsError::new(
                    "size",
                    format!("The amount per trade must be a positive amount (it is {amount})."),
                ));
            }
        }
        OrderSize::Quantity { quantity } => {
            if !(quantity.is_finite() && quantity > 0.0) {
                return Err(SettingsError::new(
                    "size",
                    format!("The quantity per trade must be positive (it is {quantity})."),
                ));
            }
        }
        OrderSize::PercentOfEquity { percent } => {
            if !(percent > 0.0 && percent <= 100.0) {
                return Err(SettingsError::new(
                    "size",
                    format!(
                        "The share of equity per trade must be above 0% and at most 100% (it is {percent}%)."
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Accepts a series a backtest can trade: at least one candle, columns of
/// one length, opens and closes that are positive numbers, a positive
/// candle length.
pub(crate) fn check_candles(candles: &Candles<'_>, interval_ms: i64) -> Result<(), SettingsError> {
    if interval_ms <= 0 {
        return Err(SettingsError::new(
            "interval",
            format!("The candle length must be positive (it is {interval_ms} ms)."),
        ));
    }
    let n = candles.time.len();
    if n == 0 {
        return Err(SettingsError::new(
            "candles",
            "There are no candles in this range to backtest.",
        ));
    }
    let lengths = [
        candles.open.len(),
        candles.high.len(),
        candles.low.len(),
        candles.close.len(),
    ];
    if lengths.iter().any(|&length| length != n) {
        return Err(SettingsError::new(
            "candles",
            format!(
                "The candles' columns differ in length (time {n}, open {}, high {}, low {}, close {}).",
                lengths[0], lengths[1], lengths[2], lengths[3]
            ),
        ));
    }
    // The prices fills and equity are taken at; high and low are not read.
    for column in [candles.open, candles.close] {
        if let Some(at) = first_unpriced(column) {
            return Err(SettingsError::new(
                "candles",
                format!(
                    "The candle opening at {} ms has a price that is not a positive number.",
                    candles.time[at]
                ),
            ));
        }
    }
    Ok(())
}

/// The index of the first price that is not a positive, finite number.
/// Checked a block at a time without stopping early inside a block, so
/// that the check runs at memory speed over a million candles.
fn first_unpriced(prices: &[f64]) -> Option<usize> {
    const BLOCK: usize = 256;
    // False for NaN too; `&`, not `&&`, so that no branch stops the
    // compiler from checking several prices at once.
    let priced = |price: f64| (price > 0.0) & (price < f64::INFINITY);
    prices.chunks(BLOCK).enumerate().find_map(|(block, chunk)| {
        let all = chunk.iter().fold(true, |all, &price| all & priced(price));
        if all {
            None
        } else {
            chunk
                .iter()
                .position(|&price| !priced(price))
                .map(|at| block * BLOCK + at)
        }
    })
}

#[cfg(test)]
mod tests {
    use inchart_api::backtests::{OrderSize, Settings, Slippage};

    use super::check;

    fn refused(settings: Settings) -> &'static str {
        check(&settings)
            .expect_err("these settings should be refused")
            .field
    }

    #[test]
    fn the_defaults_pass() {
        assert!(check(&Settings::default()).is_ok());
    }

    #[test]
    fn each_setting_out_of_range_is_named() {
        let base = Settings::default();
        assert_eq!(refused(Settings { capital: 0.0, ..base }), "capital");
        assert_eq!(
            refused(Settings {
                capital: f64::INFINITY,
                ..base
            }),
            "capital"
        );
        assert_eq!(
            refused(Settings {
                capital: f64::NAN,
                ..base
            }),
            "capital"
        );
        assert_eq!(
            refused(Settings {
                fee_pct: -0.1,
                ..base
            }),
            "fee_pct"
        );
        assert_eq!(
            refused(Settings {
                fee_pct: 10.5,
                ..base
            }),
            "fee_pct"
        );
        assert_eq!(
            refused(Settings {
                fee_pct: f64::NAN,
                ..base
            }),
            "fee_pct"
        );
        let slippage = Slippage::Percent { percent: 11.0 };
        assert_eq!(refused(Settings { slippage, ..base }), "slippage");
        let slippage = Slippage::Ticks {
            ticks: 1_001,
            tick: 0.01,
        };
        assert_eq!(refused(Settings { slippage, ..base }), "slippage");
        let slippage = Slippage::Ticks { ticks: 3, tick: 0.0 };
        assert_eq!(refused(Settings { slippage, ..base }), "slippage");
        let size = OrderSize::Amount { amount: -5.0 };
        assert_eq!(refused(Settings { size, ..base }), "size");
        let size = OrderSize::Quantity { quantity: 0.0 };
        assert_eq!(refused(Settings { size, ..base }), "size");
        let size = OrderSize::PercentOfEquity { percent: 100.5 };
        assert_eq!(refused(Settings { size, ..base }), "size");
        let size = OrderSize::PercentOfEquity { percent: 0.0 };
        assert_eq!(refused(Settings { size, ..base }), "size");
    }

    #[test]
    fn the_limits_themselves_pass() {
        let base = Settings::default();
        let settings = Settings {
            fee_pct: 10.0,
            slippage: Slippage::Ticks {
                ticks: 1_000,
                tick: 0.5,
            },
            size: OrderSize::PercentOfEquity { percent: 100.0 },
            ..base
        };
        assert!(check(&settings).is_ok());
        let settings = Settings {
            fee_pct: 0.0,
            slippage: Slippage::Percent { percent: 10.0 },
            ..base
        };
        assert!(check(&settings).is_ok());
    }

    #[test]
    fn the_message_says_what_would_do() {
        let error = check(&Settings {
            fee_pct: 12.0,
            ..Settings::default()
        })
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "Fees must be from 0% to 10% per side (they are 12%)."
        );
    }
}
