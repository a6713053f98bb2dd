"""The references of the backtests benchmark (server/benches/backtests.rs).

Runs the template's strategy with a well-known open-source backtester on
the candles the benchmark wrote, and prints one line of JSON: the trades
it made and how long its parts took. The benchmark starts a fresh Python
process for each run and times it from start to exit; this file times the
backtest call alone.

    python3 backtest_reference.py ENGINE CANDLES [--capital C] [--fee-pct F] [--warm]

ENGINE is ``backtesting`` (backtesting.py) or ``vectorbt``. CANDLES holds
the series as raw little-endian columns, one after another, each with one
value per candle: the open time (int64, ms since the epoch), then open,
high, low, close and volume (float64); so ``n`` candles take ``48 * n``
bytes.

The strategy is the template's (``app::scripts::TEMPLATE``) as InChart
trades it with its default settings: a buy on each candle where the SMA 9
crosses above the SMA 21, a sell where it crosses below; long only, one
bitcoin a trade, ``--fee-pct`` per side, each order filled at the
next candle's open; a trade still open at the end is closed there and
counted. The averages and crossings are computed exactly as the ``inchart``
helper module computes them (each window summed on its own; ``a[i-1] <= b[i-1] and
a[i] > b[i]``), so that a difference in the trades is the backtester's,
never a rounding that tipped a near-tie the other way. Both are part of the
timed call, as the script is part of InChart's run.

With ``--warm`` the call is made a second time in the same process and
timed as ``warm_call_s`` (vectorbt compiles with numba on first use).

Exits 0 with the JSON; 3, with ``{"missing": ENGINE, "error": ...}``, when
the engine cannot be imported; anything else is a failure.
"""

import argparse
import json
import sys
import time

STARTED = time.perf_counter()

import numpy as np  # noqa: E402 (timed from the first line)


def sma(x, n):
    """The ``inchart`` helper's SMA of an array without NaN."""
    out = np.full(len(x), np.nan)
    if len(x) >= n:
        out[n - 1 :] = np.convolve(x, np.ones(n), "valid") / n
    return out


def crossings(close):
    """Boolean arrays: where the SMA 9 crosses above the SMA 21 (buy) and
    below it (sell), as ``inchart.crossover`` and ``crossunder`` say."""
    fast, slow = sma(close, 9), sma(close, 21)
    buy = np.zeros(len(close), dtype=bool)
    sell = np.zeros(len(close), dtype=bool)
    # Comparisons with NaN are false: no crossing during the warm-up.
    buy[1:] = (fast[:-1] <= slow[:-1]) & (fast[1:] > slow[1:])
    sell[1:] = (fast[:-1] >= slow[:-1]) & (fast[1:] < slow[1:])
    return buy, sell


def read_candles(path):
    raw = np.fromfile(path, dtype=np.uint8)
    if len(raw) % 48:
        raise SystemExit(f"{path}: {len(raw)} bytes is not a whole number of candles")
    n = len(raw) // 48
    time_ms = raw[: 8 * n].view("<i8")
    columns = [raw[8 * n * (k + 1) : 8 * n * (k + 2)].view("<f8") for k in range(5)]
    return (time_ms, *columns)


def with_backtesting_py(candles, capital, fee):
    import pandas as pd
    from backtesting import Backtest, Strategy

    time_ms, open_, high, low, close, volume = candles
    frame = pd.DataFrame(
        {"Open": open_, "High": high, "Low": low, "Close": close, "Volume": volume},
        index=pd.to_datetime(time_ms, unit="ms"),
    )

    class SmaCross(Strategy):
        def init(self):
            buy, sell = crossings(close)
            self.buys = self.I(lambda: buy, name="buy", plot=False)
            self.sells = self.I(lambda: sell, name="sell", plot=False)

        def next(self):
            # An order placed here fills at the next candle's open.
            if self.buys[-1] and not self.position:
                self.buy(size=1)
            elif self.sells[-1] and self.position:
                self.position.close()

    def call():
        backtest = Backtest(
            frame,
            SmaCross,
            cash=capital,
            commission=fee,
            trade_on_close=False,
            exclusive_orders=False,
            finalize_trades=True,
        )
        stats = backtest.run()
        trades = stats["_trades"]
        entries = [int(t.value // 1_000_000) for t in trades["EntryTime"]]
        return {
            "trades": int(stats["# Trades"]),
            "entries": entries,
            "net_profit_pct": float(stats["Return [%]"]),
        }

    import backtesting

    return backtesting.__version__, call


def with_vectorbt(candles, capital, fee):
    import pandas as pd
    import vectorbt as vbt

    time_ms, open_, _high, _low, close, _volume = candles
    index = pd.to_datetime(time_ms, unit="ms")
    closes = pd.Series(close, index=index)
    opens = pd.Series(open_, index=index)

    def call():
        buy, sell = crossings(close)
        # A signal on candle i is an order at candle i + 1, at its open.
        entries = pd.Series(np.concatenate(([False], buy[:-1])), index=index)
        exits = pd.Series(np.concatenate(([False], sell[:-1])), index=index)
        portfolio = vbt.Portfolio.from_signals(
            closes,
            entries,
            exits,
            price=opens,
            size=1.0,
            size_type="amount",
            fees=fee,
            init_cash=capital,
            direction="longonly",
            freq="1min",
        )
        # The full report, as InChart computes one for every backtest.
        stats = portfolio.stats()
        records = portfolio.trades.records_readable
        entries_at = [int(t.value // 1_000_000) for t in records["Entry Timestamp"]]
        return {
            # Open trades included: InChart closes one at the end and counts it.
            "trades": int(portfolio.trades.count()),
            "entries": entries_at,
            "net_profit_pct": float(stats["Total Return [%]"]),
        }

    return vbt.__version__, call


ENGINES = {"backtesting": with_backtesting_py, "vectorbt": with_vectorbt}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("engine", choices=sorted(ENGINES))
    parser.add_argument("candles")
    parser.add_argument("--capital", type=float, default=10_000.0)
    parser.add_argument("--fee-pct", type=float, default=0.1)
    parser.add_argument("--warm", action="store_true")
    args = parser.parse_args()

    read_at = time.perf_counter()
    candles = read_candles(args.candles)
    read_s = time.perf_counter() - read_at

    import_at = time.perf_counter()
    try:
        version, call = ENGINES[args.engine](candles, args.capital, args.fee_pct / 100.0)
    except ImportError as error:
        json.dump({"missing": args.engine, "error": str(error)}, sys.stdout)
        sys.stdout.write("\n")
        return 3
    import_s = time.perf_counter() - import_at

    call_at = time.perf_counter()
    answer = call()
    call_s = time.perf_counter() - call_at
    if args.warm:
        warm_at = time.perf_counter()
        call()
        answer["warm_call_s"] = time.perf_counter() - warm_at

    answer.update(
        engine=args.engine,
        version=version,
        candles=len(candles[0]),
        read_s=read_s,
        import_s=import_s,
        call_s=call_s,
        # From before numpy's import: only the interpreter's own start
        # is not in here.
        in_process_s=time.perf_counter() - STARTED,
    )
    json.dump(answer, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
