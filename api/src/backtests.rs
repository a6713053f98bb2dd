//! A strategy backtest: a script's signals traded over a range of a
//! series, with the settings the trader chose, and what came out (the
//! report, the trades, the equity and its drawdown).
//!
//! The definitions of every figure are written on [`Report`]'s fields;
//! where they differ from other tools' (Sharpe's annualisation, say) the
//! field says how ours is computed.

use serde::{Deserialize, Serialize};

use crate::market::{Interval, Symbol};
use crate::scripts::Side;

/// How a backtest trades, saved with the script version it ran.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Starting capital, in the quote currency (USDT for BTCUSDT).
    pub capital: f64,
    pub size: OrderSize,
    /// Fee per side (entry and exit each), in percent of the traded value.
    pub fee_pct: f64,
    pub slippage: Slippage,
    pub direction: Direction,
    pub meaning: SignalMeaning,
    pub fill: Fill,
}

impl Default for Settings {
    /// 10,000 USDT, all of the equity in each trade, Binance's 0.1% spot
    /// fee per side, no slippage, long only, `buy` enters and `sell`
    /// exits, filled at the next candle's open.
    fn default() -> Self {
        Self {
            capital: 10_000.0,
            size: OrderSize::PercentOfEquity { percent: 100.0 },
            fee_pct: 0.1,
            slippage: Slippage::Percent { percent: 0.0 },
            direction: Direction::LongOnly,
            meaning: SignalMeaning::EnterExit,
            fill: Fill::NextOpen,
        }
    }
}

/// How much each entry buys or sells short.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OrderSize {
    /// A fixed value in the quote currency (1,000 USDT).
    Amount { amount: f64 },
    /// A fixed quantity of the base asset (0.5 BTC).
    Quantity { quantity: f64 },
    /// A share of the equity at the fill, fees included.
    PercentOfEquity { percent: f64 },
}

/// How much worse than the candle's price each fill is: buys pay more,
/// sells get less.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Slippage {
    /// A share of the price.
    Percent { percent: f64 },
    /// A number of price ticks of `tick` each.
    Ticks { ticks: u32, tick: f64 },
}

/// Which positions a backtest takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    LongOnly,
    LongAndShort,
}

/// What a `buy` and a `sell` marker do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalMeaning {
    /// Flat, `buy` opens a long (and `sell` a short, when shorts are
    /// allowed); in a position, the opposite signal closes it and a
    /// signal of its own side is ignored.
    EnterExit,
    /// `buy` closes a short and opens a long, `sell` closes a long and
    /// opens a short (long only: `sell` just closes): always in the market
    /// once the first signal has come.
    Reverse,
}

/// When a signal's order fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fill {
    /// At the open of the candle after the signal's: the first price a
    /// live order could get.
    NextOpen,
    /// At the close of the signal's own candle, as an order sent the
    /// moment it closes would get if the price had not moved yet.
    SignalClose,
}

/// Which candles a backtest asks for: open times, inclusive. Both absent:
/// all the history the plan reaches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<i64>,
}

/// `POST /api/v1/scripts/{id}/backtests`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BacktestRequest {
    pub symbol: Symbol,
    pub interval: Interval,
    /// The newest saved version when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    #[serde(default)]
    pub range: Range,
    /// The version's saved settings (or the defaults) when absent; given,
    /// they are saved with the version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<Settings>,
}

/// Where a backtest is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Status {
    /// Older candles are being fetched from the exchange.
    Loading {
        have: u64,
        want: u64,
    },
    /// The script runs and its signals are traded.
    Running,
    Done,
    /// The script failed, or its signals could not be traded as they
    /// would be live; `message` says why, for the trader.
    Failed {
        message: String,
    },
}

/// A backtest as the API answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Backtest {
    pub id: String,
    pub script_id: String,
    pub version: u32,
    pub symbol: Symbol,
    pub interval: Interval,
    pub settings: Settings,
    /// The range asked for.
    pub range: Range,
    pub status: Status,
    /// Once done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Box<Outcome>>,
    pub created_at: i64,
}

/// What a finished backtest found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub report: Report,
    /// Every trade, oldest first.
    pub trades: Vec<Trade>,
    /// The equity at the close of each candle (after the fills at that
    /// close), `(open time, equity)`; over [`MAX_CURVE_POINTS`] candles,
    /// the lowest and highest equity and the deepest drawdown of each
    /// stretch, so that no drop is hidden.
    pub equity: Vec<(i64, f64)>,
    /// The drawdown from the running peak in percent (0 or negative), at
    /// the same times as `equity`.
    pub drawdown: Vec<(i64, f64)>,
    /// What the script printed.
    #[serde(default)]
    pub log: String,
    /// CPU time the script used, in milliseconds.
    pub cpu_ms: u64,
    /// Time from the request to the report, in milliseconds.
    pub wall_ms: u64,
}

/// The most points of the equity and drawdown curves an [`Outcome`]
/// carries.
pub const MAX_CURVE_POINTS: usize = 4_000;

/// Long or short.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Position {
    Long,
    Short,
}

/// One round trip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trade {
    pub position: Position,
    /// The signal that opened it: its candle's open time and side.
    pub signal_time: i64,
    pub entry_time: i64,
    /// The fill price, slippage included.
    pub entry_price: f64,
    pub exit_time: i64,
    pub exit_price: f64,
    /// Quantity of the base asset.
    pub quantity: f64,
    /// Profit or loss in the quote currency, fees included.
    pub pnl: f64,
    /// `pnl` against the entry's value (quantity × entry price), in
    /// percent (backtesting.py's `ReturnPct`).
    pub pnl_pct: f64,
    /// Fees paid on entry and exit.
    pub fees: f64,
    /// Candles from the entry's to the exit's (0 for a trade closed on
    /// the candle it opened on).
    pub bars: u32,
    /// Closed because the range ended, not by a signal.
    #[serde(default)]
    pub closed_at_end: bool,
}

/// The figures of a backtest. Percentages are percent (12.5 is 12.5%).
/// Ratios a range cannot define (a profit factor without a losing trade)
/// are `None`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Open times of the first and last candle traded.
    pub first_candle: i64,
    pub last_candle: i64,
    pub candles: u32,
    pub capital: f64,
    pub final_equity: f64,
    /// `final_equity - capital`.
    pub net_profit: f64,
    pub net_profit_pct: f64,
    /// Sum of the winning trades' P&L.
    pub gross_profit: f64,
    /// Sum of the losing trades' P&L (0 or negative).
    pub gross_loss: f64,
    /// `gross_profit / -gross_loss`, in money (TradingView's definition;
    /// backtesting.py divides summed trade returns instead).
    pub profit_factor: Option<f64>,
    pub trades: u32,
    pub winning: u32,
    pub losing: u32,
    /// Winning trades (P&L above 0) over all trades, percent.
    pub win_rate_pct: Option<f64>,
    pub avg_win: Option<f64>,
    pub avg_loss: Option<f64>,
    pub largest_win: Option<f64>,
    pub largest_loss: Option<f64>,
    /// Best and worst trade return, percent.
    pub best_trade_pct: Option<f64>,
    pub worst_trade_pct: Option<f64>,
    /// Geometric mean of the trades' returns, percent; `None` when a
    /// trade lost all it staked or more (backtesting.py says 0 there).
    pub avg_trade_pct: Option<f64>,
    /// Mean P&L per trade, money.
    pub expectancy: Option<f64>,
    /// Mean of the trades' returns, percent (backtesting.py's
    /// "Expectancy [%]").
    pub expectancy_pct: Option<f64>,
    /// Largest fall of the equity from a running peak, money (positive).
    pub max_drawdown: f64,
    /// The same as a share of the peak, percent (positive).
    pub max_drawdown_pct: f64,
    /// Longest time from a peak to the equity's return to it (or to the
    /// end of the range), milliseconds: from the open of the last candle
    /// at the peak to the open of the first candle back at it (or of the
    /// last candle). backtesting.py's "Max. Drawdown Duration", except
    /// that it leaves out a drawdown that begins on the last candle.
    pub max_drawdown_duration_ms: i64,
    /// Mean per-candle return over its standard deviation (sample, n-1),
    /// times the square root of candles per year (24/7 markets: 365 days).
    /// No risk-free rate. (backtesting.py resamples the equity to days
    /// and divides a geometric annual return by an annual volatility.)
    pub sharpe: Option<f64>,
    /// Mean per-candle return over the downside deviation (the root mean
    /// square of the negative returns, over all candles), annualised as
    /// `sharpe`.
    pub sortino: Option<f64>,
    /// `cagr_pct / max_drawdown_pct` (backtesting.py divides its
    /// annualised daily return instead).
    pub calmar: Option<f64>,
    /// Compound annual growth: `(final / capital)^(1 / years) - 1`, years
    /// of 365 days from the first candle's open to the last one's close.
    /// (backtesting.py: years of 365.25 days from the first open to the
    /// last open.)
    pub cagr_pct: Option<f64>,
    /// Candles with a position open (from each entry's candle to its
    /// exit's, inclusive) over all candles, percent.
    pub exposure_pct: f64,
    /// Holding from the first candle's close to the last one's, percent
    /// (backtesting.py's "Buy & Hold Return [%]").
    pub buy_and_hold_pct: f64,
    /// The same in money on the starting capital, no fees.
    pub buy_and_hold_profit: f64,
    pub fees_paid: f64,
    /// Signals that changed nothing: given while already in the position
    /// they ask for, a `sell` while flat in long only, one on the last
    /// candle when orders fill at the next open, and entries the equity
    /// could not pay for (value and fee above the equity at the fill).
    pub signals_ignored: u32,
}

/// A backtest in a script's list: enough to pick two to compare.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BacktestSummary {
    pub id: String,
    pub version: u32,
    pub symbol: Symbol,
    pub interval: Interval,
    pub range: Range,
    pub status: Status,
    /// Net profit and drawdown, once done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net_profit_pct: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_drawdown_pct: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trades: Option<u32>,
    pub created_at: i64,
}

impl Position {
    /// The side of the signal that opens a position of this kind.
    pub fn opened_by(self) -> Side {
        match self {
            Position::Long => Side::Buy,
            Position::Short => Side::Sell,
        }
    }
}
