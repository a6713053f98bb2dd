//! The figures of a backtest from its trades and its equity at each close,
//! each computed as its field on [`Report`] defines it. A figure the range
//! cannot define is `None`, never NaN or infinite.

use inchart_api::backtests::Report;

use crate::Candles;
use crate::trading::Traded;

/// A year of a 24/7 market.
const YEAR_MS: f64 = 365.0 * 86_400_000.0;

/// The report of `traded` over `candles` (at least one) from `capital`.
pub(crate) fn report(candles: &Candles<'_>, traded: &Traded, capital: f64, interval_ms: i64) -> Report {
    let n = candles.close.len();
    let equity = &traded.equity;
    let final_equity = equity.last().copied().unwrap_or(capital);
    let net_profit = final_equity - capital;

    let trades = &traded.trades;
    let mut gross_profit = 0.0;
    let mut gross_loss = 0.0;
    let mut winning = 0u32;
    let mut losing = 0u32;
    let mut largest_win: Option<f64> = None;
    let mut largest_loss: Option<f64> = None;
    let mut best: Option<f64> = None;
    let mut worst: Option<f64> = None;
    let mut pnl_sum = 0.0;
    let mut return_sum = 0.0;
    let mut log_growth = 0.0;
    let mut lost_everything = false;
    let mut fees_paid = 0.0;
    for trade in trades {
        pnl_sum += trade.pnl;
        fees_paid += trade.fees;
        let return_pct = trade.pnl_pct;
        return_sum += return_pct;
        let growth = 1.0 + return_pct / 100.0;
        if growth > 0.0 {
            log_growth += growth.ln();
        } else {
            lost_everything = true;
        }
        best = Some(best.map_or(return_pct, |best| best.max(return_pct)));
        worst = Some(worst.map_or(return_pct, |worst| worst.min(return_pct)));
        if trade.pnl > 0.0 {
            winning += 1;
            gross_profit += trade.pnl;
            largest_win = Some(largest_win.map_or(trade.pnl, |largest| largest.max(trade.pnl)));
        } else if trade.pnl < 0.0 {
            losing += 1;
            gross_loss += trade.pnl;
            largest_loss = Some(largest_loss.map_or(trade.pnl, |largest| largest.min(trade.pnl)));
        }
    }
    let count = trades.len() as f64;
    let per_trade = |sum: f64| (!trades.is_empty()).then(|| sum / count);
    let avg_trade_pct = if trades.is_empty() || lost_everything {
        None
    } else {
        finite(((log_growth / count).exp() - 1.0) * 100.0)
    };

    let (drawdown, returns) = walk(candles.time, equity);
    let candles_per_year = YEAR_MS / interval_ms as f64;
    let annualise = candles_per_year.sqrt();
    let sharpe = returns
        .and_then(|r| ratio(r.mean, r.deviation))
        .and_then(|x| finite(x * annualise));
    let sortino = returns
        .and_then(|r| ratio(r.mean, r.downside))
        .and_then(|x| finite(x * annualise));

    let first_open = candles.time[0];
    let last_open = candles.time[n - 1];
    let years = (last_open.saturating_add(interval_ms) - first_open) as f64 / YEAR_MS;
    let growth = final_equity / capital;
    let cagr_pct = if years > 0.0 && growth >= 0.0 {
        finite((growth.powf(1.0 / years) - 1.0) * 100.0)
    } else {
        None
    };
    let calmar = cagr_pct.and_then(|cagr| ratio(cagr, drawdown.max_pct));

    let first_close = candles.close[0];
    let buy_and_hold_pct = (candles.close[n - 1] - first_close) / first_close * 100.0;

    Report {
        first_candle: first_open,
        last_candle: last_open,
        candles: u32::try_from(n).unwrap_or(u32::MAX),
        capital,
        final_equity,
        net_profit,
        net_profit_pct: net_profit / capital * 100.0,
        gross_profit,
        gross_loss,
        profit_factor: ratio(gross_profit, -gross_loss),
        trades: u32::try_from(trades.len()).unwrap_or(u32::MAX),
        winning,
        losing,
        win_rate_pct: per_trade(f64::from(winning) * 100.0),
        avg_win: (winning > 0).then(|| gross_profit / f64::from(winning)),
        avg_loss: (losing > 0).then(|| gross_loss / f64::from(losing)),
        largest_win,
        largest_loss,
        best_trade_pct: best,
        worst_trade_pct: worst,
        avg_trade_pct,
        expectancy: per_trade(pnl_sum),
        expectancy_pct: per_trade(return_sum),
        max_drawdown: drawdown.max,
        max_drawdown_pct: drawdown.max_pct,
        max_drawdown_duration_ms: drawdown.longest_ms,
        sharpe,
        sortino,
        calmar,
        cagr_pct,
        exposure_pct: traded.exposed_candles as f64 / n as f64 * 100.0,
        buy_and_hold_pct,
        buy_and_hold_profit: capital * buy_and_hold_pct / 100.0,
        fees_paid,
        signals_ignored: traded.signals_ignored,
    }
}

/// `x` when it is a number, not NaN or infinite.
fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// `numerator / denominator` when the denominator is positive and the
/// result finite.
fn ratio(numerator: f64, denominator: f64) -> Option<f64> {
    if denominator > 0.0 {
        finite(numerator / denominator)
    } else {
        None
    }
}

/// The equity's falls from its running peak.
struct Drawdown {
    /// Deepest fall, money (0 or positive).
    max: f64,
    /// Deepest fall as a share of its peak, percent (0 or positive).
    max_pct: f64,
    /// Longest time from a peak's candle to the candle where the equity is
    /// back at it, or to the last candle, milliseconds.
    longest_ms: i64,
}

/// The per-candle returns of the equity (`e[i] / e[i-1] - 1`), as the
/// ratios need them.
#[derive(Clone, Copy)]
struct CandleReturns {
    mean: f64,
    /// Sample standard deviation (n - 1).
    deviation: f64,
    /// Root mean square of the negative returns, over all returns.
    downside: f64,
}

/// Returns taken a block at a time: each block's mean and squared
/// deviations from it in two passes over a buffer on the stack, blocks
/// then merged (Chan et al.), so that a million candles take one pass
/// over the equity without the precision lost by summing squares.
const BLOCK: usize = 256;

/// The count, mean and sum of squared deviations of some returns.
#[derive(Clone, Copy, Default)]
struct Moments {
    count: f64,
    mean: f64,
    squares: f64,
}

impl Moments {
    fn of(returns: &[f64]) -> Self {
        let count = returns.len() as f64;
        let mean = returns.iter().sum::<f64>() / count;
        let squares = returns.iter().map(|r| (r - mean) * (r - mean)).sum();
        Self { count, mean, squares }
    }

    fn merge(self, other: Self) -> Self {
        if self.count == 0.0 {
            return other;
        }
        let count = self.count + other.count;
        let delta = other.mean - self.mean;
        Self {
            count,
            mean: self.mean + delta * other.count / count,
            squares: self.squares + other.squares + delta * delta * self.count * other.count / count,
        }
    }
}

/// The drawdown and the returns of `equity` (one value per candle opening
/// at `time`, at least one), in one pass. The returns are `None` with
/// fewer than two of them, or when the equity reached zero (a return from
/// nothing is not a number).
fn walk(time: &[i64], equity: &[f64]) -> (Drawdown, Option<CandleReturns>) {
    let n = equity.len();
    let mut drawdown = Drawdown {
        max: 0.0,
        max_pct: 0.0,
        longest_ms: 0,
    };
    let Some(&first) = equity.first() else {
        return (drawdown, None);
    };
    let mut peak = first;
    // The last candle at the peak; a drawdown lasts from there.
    let mut at_peak = 0;
    let mut moments = Moments::default();
    let mut downside_squares = 0.0;
    let mut from_something = true;
    let mut block = [0.0; BLOCK];
    let mut start = 1;
    while start < n {
        let end = n.min(start + BLOCK);
        for (slot, at) in block.iter_mut().zip(start..end) {
            let (before, value) = (equity[at - 1], equity[at]);
            from_something &= before > 0.0;
            let r = value / before - 1.0;
            *slot = r;
            downside_squares += r.min(0.0) * r.min(0.0);
            if value >= peak {
                if at > at_peak + 1 {
                    drawdown.longest_ms = drawdown.longest_ms.max(time[at] - time[at_peak]);
                }
                peak = value;
                at_peak = at;
            } else {
                drawdown.max = drawdown.max.max(peak - value);
                // Written as backtesting.py writes it, so that equal
                // equities give bit-equal drawdowns.
                drawdown.max_pct = drawdown.max_pct.max((1.0 - value / peak) * 100.0);
            }
        }
        moments = moments.merge(Moments::of(&block[..end - start]));
        start = end;
    }
    drawdown.longest_ms = drawdown.longest_ms.max(time[n - 1] - time[at_peak]);

    let count = (n - 1) as f64;
    let returns = (n >= 3 && from_something).then(|| CandleReturns {
        mean: moments.mean,
        deviation: (moments.squares / (count - 1.0)).sqrt(),
        downside: (downside_squares / count).sqrt(),
    });
    (drawdown, returns)
}
