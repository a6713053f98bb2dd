"""Runs backtesting.py on a case the reference test (reference.rs) wrote, and
prints what it found as JSON: its statistics, its trades and its equity at
each candle's close.

    PYTHONPATH=$INCHART_REFERENCE_SITE $PYO3_PYTHON reference.py case.json

The case holds the candles, the signals (candle index and side) and
InChart's backtest settings. backtesting.py knows orders, not signals: the
Strategy below turns each signal into the order InChart's settings say it
means (its own reading of the rules, written here apart from the engine),
and backtesting.py fills them, charges them and computes the figures.

Where backtesting.py's conventions differ from InChart's, the case is
handed to it so that both trade the same way, and each bridge is written
where it is made:

- Slippage. backtesting.py's `spread` worsens entries only; InChart's
  slippage worsens every fill. The open of each candle where a signal
  fills is handed to backtesting.py already slipped (up for a buy, down
  for a sell), with `spread=0`. A close cannot be slipped without moving
  the equity, so fills at the signal's close take no slippage here.
- The end. InChart closes what is still open at the last candle's close;
  backtesting.py's `finalize_trades` closes at the last candle's open. A
  candle is appended whose open is the last close (slipped as the closing
  fill's side asks), and the strategy closes on the last real candle, so
  the position is closed at the last close. Its equity (the cash after
  that close) becomes the last candle's, its exit bar the last candle.
- Fill at the close (`trade_on_close`). backtesting.py records a candle's
  equity before the orders sent at its close fill; InChart after. The
  fills' commissions (the only cost of a fill at the close without
  slippage) are taken from the equity of their candle.
- Then backtesting.py's own `compute_stats` computes the figures on those
  trades and that equity, over the real candles only.
"""

import json
import math
import sys
import warnings

import pandas as pd

import backtesting
from backtesting import Backtest, Strategy
from backtesting._stats import compute_stats

# A canceled order or any other complaint from backtesting.py means the
# two backtests no longer trade the same way: stop rather than compare.
warnings.simplefilter("error", UserWarning)


def plan(signals, settings, candles):
    """What each signal does, as InChart's settings define it: the orders
    per candle, each ("buy" | "sell" | "close", the side its fill takes),
    the signals that change nothing, and the position left at the end
    ("long", "short" or None)."""
    shorts = settings["direction"] == "long_and_short"
    reverse = settings["meaning"] == "reverse"
    next_open = settings["fill"] == "next_open"
    orders = {}
    ignored = 0
    held = None
    for signal in signals:
        index, side = signal["index"], signal["side"]
        if index >= candles or (next_open and index == candles - 1):
            ignored += 1
            continue
        wanted = "long" if side == "buy" else "short"
        if held == wanted:
            ignored += 1
        elif held is not None:
            if reverse and shorts:
                # exclusive_orders: the new order closes the position first.
                orders.setdefault(index, []).append((side, side))
                held = wanted
            else:
                orders.setdefault(index, []).append(("close", side))
                held = None
        elif side == "buy" or shorts:
            orders.setdefault(index, []).append((side, side))
            held = wanted
        else:
            ignored += 1
    return orders, ignored, held


def slipped(price, side, slippage):
    """A fill's price as InChart slips it (the same arithmetic)."""
    if slippage["kind"] == "percent":
        percent = slippage["percent"]
        return price * (1.0 + percent / 100.0) if side == "buy" else price * (1.0 - percent / 100.0)
    step = float(slippage["ticks"]) * slippage["tick"]
    return price + step if side == "buy" else max(price - step, 0.0)


def number(value):
    """A figure as JSON has it: NaN (backtesting.py's "undefined") as null."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def main(path):
    with open(path) as file:
        case = json.load(file)
    settings = case["settings"]
    time, interval = case["time"], case["interval_ms"]
    n = len(time)
    size = settings["size"]
    if size["kind"] != "quantity" or not float(size["quantity"]).is_integer():
        sys.exit("backtesting.py trades whole units: give a whole quantity")
    units = int(size["quantity"])
    fee = settings["fee_pct"] / 100.0
    on_close = settings["fill"] == "signal_close"
    slippage = settings["slippage"]
    if on_close and slipped(1.0, "buy", slippage) != 1.0:
        sys.exit("fills at the close take no slippage here (see the module's doc)")

    orders, ignored, held_at_end = plan(case["signals"], settings, n)
    if 0 in orders:
        sys.exit("backtesting.py's strategy first runs on candle 1: no signal on candle 0")
    if n - 1 in orders:
        sys.exit("no signal on the last candle: the close at the end would race it")
    if any(len({side for _, side in placed}) > 1 for placed in orders.values()):
        sys.exit("one candle's orders must go one way: its next open is slipped for that side")

    opens = list(case["open"])
    if not on_close:
        for index, placed in orders.items():
            opens[index + 1] = slipped(opens[index + 1], placed[0][1], slippage)
    last_close = case["close"][-1]
    closing_side = {"long": "sell", "short": "buy", None: "buy"}[held_at_end]
    end_open = last_close if on_close or held_at_end is None else slipped(last_close, closing_side, slippage)

    index = pd.to_datetime(time + [time[-1] + interval], unit="ms")
    data = pd.DataFrame(
        {
            "Open": opens + [end_open],
            "High": case["high"] + [last_close],
            "Low": case["low"] + [last_close],
            "Close": case["close"] + [last_close],
        },
        index=index,
    )

    class Signals(Strategy):
        """Places the planned orders, and closes on the last real candle."""

        def init(self):
            pass

        def next(self):
            at = len(self.data) - 1
            if at >= n:
                return
            for order, _ in orders.get(at, []):
                if order == "buy":
                    self.buy(size=units)
                elif order == "sell":
                    self.sell(size=units)
                else:
                    self.position.close()
            if at == n - 1 and held_at_end is not None:
                self.position.close()

    run = Backtest(
        data,
        Signals,
        cash=settings["capital"],
        commission=fee,
        spread=0.0,
        margin=1.0,
        trade_on_close=on_close,
        hedging=False,
        exclusive_orders=True,
        finalize_trades=False,
    ).run()

    equity = run["_equity_curve"]["Equity"].to_numpy(dtype=float)
    trades = run["_trades"].copy()
    if len(equity) != n + 1:
        sys.exit(f"backtesting.py stopped early: {len(equity)} equities for {n + 1} candles")

    # The close at the end, moved onto the last real candle.
    equity_after = equity[:n].copy()
    equity_after[n - 1] = equity[n]
    trades["ExitBar"] = trades["ExitBar"].clip(upper=n - 1)
    trades["ExitTime"] = index[trades["ExitBar"].to_numpy()]
    trades["Duration"] = trades["ExitTime"] - trades["EntryTime"]
    if on_close:
        for trade in trades.itertuples():
            if trade.EntryBar < n - 1:
                equity_after[trade.EntryBar] -= fee * abs(trade.Size) * trade.EntryPrice
            if trade.ExitBar < n - 1:
                equity_after[trade.ExitBar] -= fee * abs(trade.Size) * trade.ExitPrice

    stats = compute_stats(trades=trades, equity=equity_after, ohlc_data=data.iloc[:n], strategy_instance=None)
    duration = stats["Max. Drawdown Duration"]
    duration_ms = None if pd.isna(duration) else int(duration / pd.Timedelta(milliseconds=1))

    json.dump(
        {
            "version": backtesting.__version__,
            "signals_ignored": ignored,
            "stats": {
                "equity_final": number(stats["Equity Final [$]"]),
                "return_pct": number(stats["Return [%]"]),
                "buy_and_hold_pct": number(stats["Buy & Hold Return [%]"]),
                "max_drawdown_pct": number(stats["Max. Drawdown [%]"]),
                "max_drawdown_duration_ms": duration_ms,
                "trades": int(stats["# Trades"]),
                "win_rate_pct": number(stats["Win Rate [%]"]),
                "best_trade_pct": number(stats["Best Trade [%]"]),
                "worst_trade_pct": number(stats["Worst Trade [%]"]),
                "avg_trade_pct": number(stats["Avg. Trade [%]"]),
                "expectancy_pct": number(stats["Expectancy [%]"]),
                "exposure_pct": number(stats["Exposure Time [%]"]),
                "profit_factor": number(stats["Profit Factor"]),
                "commissions": number(trades["Commission"].sum()),
            },
            "trades": [
                {
                    "size": int(trade.Size),
                    "entry_bar": int(trade.EntryBar),
                    "exit_bar": int(trade.ExitBar),
                    "entry_price": number(trade.EntryPrice),
                    "exit_price": number(trade.ExitPrice),
                    "pnl": number(trade.PnL),
                    "return_pct": number(trade.ReturnPct),
                    "commission": number(trade.Commission),
                }
                for trade in trades.itertuples()
            ],
            "equity": [number(value) for value in equity_after],
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main(sys.argv[1])
