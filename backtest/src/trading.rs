//! Signals into fills: the position, the cash and the round trips, candle
//! by candle, as the crate's top documentation describes. The series and
//! the settings have been checked before anything here runs.

use std::borrow::Cow;

use inchart_api::backtests::{
    Direction, Fill, OrderSize, Position, Settings, SignalMeaning, Slippage, Trade,
};
use inchart_api::scripts::{Side, Signal};

use crate::Candles;

/// What trading the signals left, for the report.
pub(crate) struct Traded {
    pub trades: Vec<Trade>,
    pub equity: Vec<f64>,
    /// Candles with a position open, each counted once.
    pub exposed_candles: u64,
    pub signals_ignored: u32,
}

/// Trades `signals` over `candles`, which hold at least one candle.
pub(crate) fn trade(candles: &Candles<'_>, signals: &[Signal], settings: &Settings) -> Traded {
    let signals = by_candle(signals);
    let n = candles.close.len();
    let mut book = Book::new(candles, settings, signals.len());
    let mut equity = Vec::with_capacity(n);
    let mut next = 0;
    for signal in signals.iter() {
        let candle = signal.index as usize;
        let (fill, price) = match settings.fill {
            Fill::NextOpen => (
                candle.saturating_add(1),
                candles.open.get(candle.saturating_add(1)),
            ),
            Fill::SignalClose => (candle, candles.close.get(candle)),
        };
        // Past the series, or on the last candle under NextOpen.
        let Some(&price) = price else { break };
        // The closes before the fill's candle, marked with what is held
        // until then: one tight loop between fills.
        let (cash, held) = (book.cash, book.held);
        equity.extend(
            candles.close[equity.len()..fill]
                .iter()
                .map(|&close| cash + held * close),
        );
        book.on_signal(signal.side, candle, fill, price);
        next += 1;
    }
    let (cash, held) = (book.cash, book.held);
    equity.extend(
        candles.close[equity.len()..]
            .iter()
            .map(|&close| cash + held * close),
    );
    // Signals on the last candle under NextOpen, or past the series.
    book.signals_ignored += count(signals.len() - next);
    if book.open.is_some() {
        let last = n - 1;
        book.close(last, candles.close[last], true);
        equity[last] = book.cash;
    }
    Traded {
        trades: book.trades,
        equity,
        exposed_candles: book.exposed_candles,
        signals_ignored: book.signals_ignored,
    }
}

/// The signals ordered by candle, same-candle signals in the order given;
/// borrowed when they already are (the worker sends them in order).
fn by_candle(signals: &[Signal]) -> Cow<'_, [Signal]> {
    if signals.is_sorted_by_key(|signal| signal.index) {
        Cow::Borrowed(signals)
    } else {
        let mut sorted = signals.to_vec();
        sorted.sort_by_key(|signal| signal.index);
        Cow::Owned(sorted)
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A position being held.
#[derive(Clone, Copy)]
struct Holding {
    position: Position,
    /// Candle indices of the signal and the entry fill.
    signal: usize,
    entry: usize,
    price: f64,
    quantity: f64,
    fee: f64,
}

/// The account: cash, what is held and what has been traded.
struct Book<'c> {
    candles: &'c Candles<'c>,
    size: OrderSize,
    /// Fee per fill as a share of the traded value.
    fee: f64,
    slippage: Slippage,
    shorts: bool,
    reverse: bool,
    cash: f64,
    /// The quantity held, negative when short, so that the equity at a
    /// close is `cash + held × close`.
    held: f64,
    open: Option<Holding>,
    trades: Vec<Trade>,
    exposed_candles: u64,
    /// The last candle counted in `exposed_candles`.
    last_exposed: Option<usize>,
    signals_ignored: u32,
}

impl<'c> Book<'c> {
    fn new(candles: &'c Candles<'c>, settings: &Settings, signals: usize) -> Self {
        Self {
            candles,
            size: settings.size,
            fee: settings.fee_pct / 100.0,
            slippage: settings.slippage,
            shorts: settings.direction == Direction::LongAndShort,
            reverse: settings.meaning == SignalMeaning::Reverse,
            cash: settings.capital,
            held: 0.0,
            open: None,
            // At most one round trip per signal, usually one per two.
            trades: Vec::with_capacity(signals / 2 + 1),
            exposed_candles: 0,
            last_exposed: None,
            signals_ignored: 0,
        }
    }

    /// A signal given on candle `signal`, filling on candle `fill` at
    /// `price` (before slippage).
    fn on_signal(&mut self, side: Side, signal: usize, fill: usize, price: f64) {
        let holding = self.open.map(|holding| holding.position);
        match (holding, side) {
            (Some(Position::Long), Side::Buy) | (Some(Position::Short), Side::Sell) => {
                self.signals_ignored += 1;
            }
            (Some(_), _) => {
                self.close(fill, price, false);
                if self.reverse && self.shorts {
                    self.enter(side, signal, fill, price);
                }
            }
            (None, Side::Buy) => self.enter(side, signal, fill, price),
            (None, Side::Sell) if self.shorts => self.enter(side, signal, fill, price),
            (None, Side::Sell) => self.signals_ignored += 1,
        }
    }

    /// The price a fill of `side` gets when the candle says `price`.
    fn fill_price(&self, side: Side, price: f64) -> f64 {
        match (self.slippage, side) {
            (Slippage::Percent { percent }, Side::Buy) => price * (1.0 + percent / 100.0),
            (Slippage::Percent { percent }, Side::Sell) => price * (1.0 - percent / 100.0),
            (Slippage::Ticks { ticks, tick }, Side::Buy) => price + f64::from(ticks) * tick,
            (Slippage::Ticks { ticks, tick }, Side::Sell) => (price - f64::from(ticks) * tick).max(0.0),
        }
    }

    /// Opens a position of `side`'s kind, flat, if the equity pays for it.
    fn enter(&mut self, side: Side, signal: usize, fill: usize, price: f64) {
        let price = self.fill_price(side, price);
        let equity = self.cash;
        let quantity = match self.size {
            OrderSize::Quantity { quantity } => quantity,
            OrderSize::Amount { amount } => amount / price,
            OrderSize::PercentOfEquity { percent } => equity * percent / 100.0 / (price * (1.0 + self.fee)),
        };
        let value = quantity * price;
        let fee = value * self.fee;
        // A share of equity costs that share by construction; checking it
        // again would refuse 100% for a rounding error.
        let affordable = match self.size {
            OrderSize::PercentOfEquity { .. } => true,
            OrderSize::Quantity { .. } | OrderSize::Amount { .. } => value + fee <= equity,
        };
        if !(price > 0.0 && quantity > 0.0 && quantity.is_finite() && affordable) {
            self.signals_ignored += 1;
            return;
        }
        let position = match side {
            Side::Buy => {
                self.cash -= value + fee;
                self.held = quantity;
                Position::Long
            }
            Side::Sell => {
                self.cash += value - fee;
                self.held = -quantity;
                Position::Short
            }
        };
        self.open = Some(Holding {
            position,
            signal,
            entry: fill,
            price,
            quantity,
            fee,
        });
    }

    /// Closes the position held, on candle `fill` at `price` (before
    /// slippage).
    fn close(&mut self, fill: usize, price: f64, at_end: bool) {
        let Some(holding) = self.open.take() else { return };
        let (side, direction) = match holding.position {
            Position::Long => (Side::Sell, 1.0),
            Position::Short => (Side::Buy, -1.0),
        };
        let price = self.fill_price(side, price);
        let quantity = holding.quantity;
        let value = quantity * price;
        let fee = value * self.fee;
        match holding.position {
            Position::Long => self.cash += value - fee,
            Position::Short => self.cash -= value + fee,
        }
        self.held = 0.0;
        let fees = holding.fee + fee;
        let pnl = direction * (price - holding.price) * quantity - fees;
        let first = match self.last_exposed {
            Some(last) => holding.entry.max(last + 1),
            None => holding.entry,
        };
        if fill >= first {
            self.exposed_candles += (fill - first + 1) as u64;
            self.last_exposed = Some(fill);
        }
        let time = self.candles.time;
        self.trades.push(Trade {
            position: holding.position,
            signal_time: time[holding.signal],
            entry_time: time[holding.entry],
            entry_price: holding.price,
            exit_time: time[fill],
            exit_price: price,
            quantity,
            pnl,
            pnl_pct: pnl / (quantity * holding.price) * 100.0,
            fees,
            bars: count(fill - holding.entry),
            closed_at_end: at_end,
        });
    }
}
