"""Indicators and chart helpers for InChart signal scripts.

A script imports what it needs::

    from inchart import sma, crossover, crossunder, buy, sell

    def signals(c):
        fast, slow = sma(c.close, 9), sma(c.close, 21)
        markers = [buy(c.time[i], c.close[i]) for i in crossover(fast, slow)]
        markers += [sell(c.time[i], c.close[i]) for i in crossunder(fast, slow)]
        return markers, {"SMA 9": fast, "SMA 21": slow}

Every indicator takes a series (a numpy array or a list of numbers) and
returns a series of the same length and the same kind: a float64 numpy
array for an array, a list of floats for a list. Candles before an
indicator has enough data ("warm-up") are NaN, and NaN is what a chart
line leaves out. A NaN in the input gives NaN at that candle and is
otherwise skipped.

Definitions:

* ``sma(x, n)``: mean of the last ``n`` values; first value at index n-1.
* ``ema(x, n)``: exponential average with ``alpha = 2 / (n + 1)``, seeded
  with the SMA of the first ``n`` values (first value at index n-1);
  leading NaNs (another indicator's warm-up) are skipped.
* ``rsi(x, n=14)``: Wilder's RSI: average gain and loss seeded with the
  mean of the first ``n`` changes, then ``avg = (avg * (n - 1) + new) / n``;
  first value at index n. No losses in the window gives 100, no change at
  all gives 50.
* ``macd(x, fast=12, slow=26, signal=9)``: ``(macd, signal, hist)`` with
  ``macd = ema(x, fast) - ema(x, slow)``, ``signal = ema(macd, signal)``,
  ``hist = macd - signal``.
* ``bollinger(x, n=20, k=2)``: ``(mid, upper, lower)``: the SMA and the SMA
  plus or minus ``k`` population standard deviations of the window.
* ``atr(high, low, close, n=14)``: Wilder's average true range: the true
  range of the first candle is high - low; the first ATR (index n-1) is the
  mean of the first ``n`` true ranges, then ``(atr * (n - 1) + tr) / n``.
* ``crossover(a, b)`` / ``crossunder(a, b)``: the indices ``i`` where ``a``
  crosses above (below) ``b``: ``a[i-1] <= b[i-1] and a[i] > b[i]``
  (``>=`` and ``<`` for crossunder), skipping candles where any of the four
  values is NaN. ``b`` may be a single number (a level). Returns a list of
  ints.
* ``buy(time, price, label=None)`` / ``sell(...)``: a marker at the candle
  that opened at ``time`` (use ``c.time[i]``).
* ``line(values, color=None, pane=None)``: a line's values with a colour
  ``"#rrggbb"``, for the lines dict: ``{"SMA 9": line(fast, color="#f0b90b")}``.
  A plain list or array in the lines dict is a line too. Lines are drawn
  over the candles, on the price scale, unless they name a ``pane``.
* ``histogram(values, color=None, pane=None)``: bars from zero to each
  value, such as MACD's histogram.
* ``level(value, color=None, pane=None)``: a horizontal line at ``value``
  across the chart, such as an RSI's 70.
* ``higher(c, interval)``: the candles of a higher interval (``"4h"``),
  each shown from the candle at whose close it closed (below).

Panes: an oscillator (RSI's 0 to 100, MACD around zero) is invisible on
the price scale, so it goes in a pane of its own under the candles, with
its own scale: ``line(r, pane="RSI")``. Lines, histograms and levels
naming the same pane share it; at most 4 panes. Two rules fill in a
missing pane, following the order of the lines dict:

* a histogram without a pane gets a pane named after its key (on the
  price scale its bars would be invisible);
* a level without a pane joins the pane of the entry just before it in
  the dict: the price chart when it comes first or that entry is on the
  price chart.

Levels go in the same lines dict as lines, their key is their name; at
most 16 levels and 16 lines (histograms count as lines).

An RSI with its overbought and oversold levels::

    from inchart import rsi, line, level

    def signals(c):
        r = rsi(c.close, 14)
        return [], {
            "RSI 14": line(r, pane="RSI"),
            "Overbought": level(70),
            "Oversold": level(30),
        }

A MACD, its signal line and histogram in one pane::

    from inchart import macd, line, histogram, level

    def signals(c):
        m, s, h = macd(c.close)
        return [], {
            "MACD": line(m, pane="MACD"),
            "Signal": line(s, color="#f0b90b", pane="MACD"),
            "Histogram": histogram(h, pane="MACD"),
            "Zero": level(0),
        }

Other intervals of the same symbol: ``higher(c, interval)`` makes the
candles of a higher interval (``"1h"``, ``"4h"``, ``"1d"``, ``"1w"``: a
number and s, m, h, d or w, a whole multiple of the chart's own interval,
which it reads from the candles' times) out of the chart's candles, and
aligns them to them. At candle ``i``, ``h.time[i]``, ``h.open[i]``,
``h.high[i]``, ``h.low[i]``, ``h.close[i]`` and ``h.volume[i]`` are the
newest higher candle that had closed by the close of candle ``i``: a 4h
candle appears at the 15m candle that completes it, never while it is
still forming, so a script sees in a backtest exactly what it would have
seen live. Its open is the first candle's open, its high the highest
high, its low the lowest low, its close the last candle's close, its
volume the sum. A higher candle whose candles are not all in the series
(the first, often; one with a gap in the data) is NaN. Minutes, hours and
days open at whole multiples since 1970-01-01 00:00 UTC, weeks on Monday
00:00 UTC, as on Binance; months are not offered (their length varies).

``h.bars`` are the higher candles themselves (``time``, ``open``, ...,
one each, oldest first, up to the newest closed one) for indicators, and
``h.align(values)`` puts one value per bar back on the chart's candles
the same way, NaN before the first.

A 4h trend filter on a 15-minute chart::

    from inchart import higher, ema, crossover, crossunder, buy, sell

    def signals(c):
        h4 = higher(c, "4h")
        trend = h4.align(ema(h4.bars.close, 20))  # the 4h EMA 20 as it stood
        fast, slow = ema(c.close, 9), ema(c.close, 21)
        # NaN compares false: no trend known yet, no trade.
        ups = [i for i in crossover(fast, slow) if h4.close[i] > trend[i]]
        downs = [i for i in crossunder(fast, slow) if h4.close[i] < trend[i]]
        markers = [buy(c.time[i], c.close[i]) for i in ups]
        markers += [sell(c.time[i], c.close[i]) for i in downs]
        return markers, {"4h EMA 20": trend}
"""

import math
import numbers
import operator

try:
    import numpy as _np
except ImportError:
    _np = None

__all__ = [
    "sma",
    "ema",
    "rsi",
    "macd",
    "bollinger",
    "atr",
    "crossover",
    "crossunder",
    "buy",
    "sell",
    "line",
    "histogram",
    "level",
    "higher",
    "Marker",
    "Line",
    "Level",
    "HigherCandles",
    "Bars",
]

_NAN = float("nan")


class Marker:
    """A buy or sell signal at the candle that opened at ``time``."""

    __slots__ = ("time", "side", "price", "label")

    def __init__(self, time, side, price, label=None):
        self.time = time
        self.side = side
        self.price = price
        self.label = label

    def __repr__(self):
        label = "" if self.label is None else f", label={self.label!r}"
        return f"{self.side}({self.time!r}, {self.price!r}{label})"


class Line:
    """A line's values (aligned with the candles), its colour, the pane it
    is drawn in (``None``: over the candles) and its style (``"line"`` or
    ``"histogram"``)."""

    __slots__ = ("values", "color", "pane", "style")

    def __init__(self, values, color=None, pane=None, style="line"):
        self.values = values
        self.color = color
        self.pane = pane
        self.style = style

    def __repr__(self):
        try:
            size = f"<{len(self.values)} values>"
        except TypeError:
            size = f"<{type(self.values).__name__}>"
        pane = "" if self.pane is None else f", pane={self.pane!r}"
        return f"{self.style}({size}, color={self.color!r}{pane})"


class Level:
    """A horizontal line at ``value``, its colour and its pane (``None``:
    the pane of the entry before it in the lines dict)."""

    __slots__ = ("value", "color", "pane")

    def __init__(self, value, color=None, pane=None):
        self.value = value
        self.color = color
        self.pane = pane

    def __repr__(self):
        pane = "" if self.pane is None else f", pane={self.pane!r}"
        return f"level({self.value!r}, color={self.color!r}{pane})"


def buy(time, price, label=None):
    """A buy marker at the candle that opened at ``time``, drawn at ``price``."""
    return Marker(time, "buy", price, label)


def sell(time, price, label=None):
    """A sell marker at the candle that opened at ``time``, drawn at ``price``."""
    return Marker(time, "sell", price, label)


def line(values, color=None, pane=None):
    """A line for the lines dict, e.g. ``line(fast, color="#f0b90b")``; with
    ``pane="RSI"`` it is drawn under the candles, in the pane of that name,
    with its own scale."""
    return Line(values, color, pane)


def histogram(values, color=None, pane=None):
    """Bars from zero to each value (a MACD histogram) for the lines dict;
    without a ``pane``, in a pane named after its key in the dict."""
    return Line(values, color, pane, "histogram")


def level(value, color=None, pane=None):
    """A horizontal line at ``value`` (an RSI's 70) for the lines dict, its
    key being its name; without a ``pane``, in the pane of the entry just
    before it in the dict (the price chart when there is none)."""
    return Level(value, color, pane)


def _is_array(x):
    return _np is not None and isinstance(x, _np.ndarray)


def _floats_check(x, who, what="x"):
    if x.ndim != 1:
        raise ValueError(f"{who}: {what} must be one-dimensional, got shape {x.shape}")
    if x.dtype.kind not in "fiub":
        raise TypeError(f"{who}: {what} must hold numbers, got dtype {x.dtype}")


def _floats(x, who, what="x"):
    """The series as a list of floats (None and NaN become NaN)."""
    if _is_array(x):
        _floats_check(x, who, what)
        return x.astype(_np.float64).tolist()
    if isinstance(x, (str, bytes, dict, set)) or not hasattr(x, "__len__"):
        raise TypeError(f"{who}: {what} must be a list or array of numbers, got {type(x).__name__}")
    out = []
    for i, v in enumerate(x):
        if v is None:
            out.append(_NAN)
        elif isinstance(v, numbers.Real) and not isinstance(v, bool):
            out.append(float(v))
        else:
            raise TypeError(f"{who}: {what}[{i}] is {type(v).__name__}, expected a number")
    return out


def _like(x, values):
    """``values`` (a list of floats) as the same kind of series as ``x``."""
    if _is_array(x):
        return _np.array(values, dtype=_np.float64)
    return values


def _period(n, who, name="n"):
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"{who}: {name} must be a whole number of candles, got {n!r}") from None
    if n < 1:
        raise ValueError(f"{who}: {name} must be at least 1, got {n}")
    return n


def _ok(v):
    return not math.isnan(v)


def _sma(xs, n):
    # Each window summed on its own (exactly, with fsum): the average at a
    # candle is the same bits whatever came before the window, as a live
    # run (which sees fewer candles) and a backtest must agree.
    out = [_NAN] * len(xs)
    missing = 0
    for i, v in enumerate(xs):
        if not math.isfinite(v):
            missing += 1
        if i >= n and not math.isfinite(xs[i - n]):
            missing -= 1
        if i >= n - 1 and missing == 0:
            out[i] = math.fsum(xs[i - n + 1 : i + 1]) / n
    return out


def _ema(xs, n):
    out = [_NAN] * len(xs)
    alpha = 2.0 / (n + 1)
    # Seed with the mean of the first n consecutive values after any
    # leading NaNs.
    start = 0
    while start + n <= len(xs):
        window = xs[start : start + n]
        bad = [j for j, v in enumerate(window) if not _ok(v)]
        if not bad:
            break
        start += bad[-1] + 1
    else:
        return out
    value = sum(xs[start : start + n]) / n
    out[start + n - 1] = value
    for i in range(start + n, len(xs)):
        v = xs[i]
        if _ok(v):
            value = alpha * v + (1.0 - alpha) * value
            out[i] = value
    return out


def _sma_array(x, n):
    values = _np.asarray(x, dtype=_np.float64)
    out = _np.full(len(values), _NAN)
    if len(values) < n:
        return out
    missing = ~_np.isfinite(values)
    # Each window summed on its own, in the same order wherever the series
    # starts: a running (cumulative) sum would carry rounding from every
    # earlier candle, so a live run (which sees fewer candles) and a
    # backtest could disagree in the last digits, and tip a near-tie
    # cross. Integer counts of gaps are exact either way.
    sums = _np.convolve(_np.where(missing, 0.0, values), _np.ones(n), "valid")
    gaps = _np.concatenate(([0], _np.cumsum(missing)))
    window = sums / n
    out[n - 1 :] = _np.where(gaps[n:] - gaps[:-n] == 0, window, _NAN)
    return out


def sma(x, n):
    """Simple moving average of the last ``n`` values; NaN for the first n-1."""
    n = _period(n, "sma")
    if _is_array(x):
        _floats_check(x, "sma")
        return _sma_array(x, n)
    return _like(x, _sma(_floats(x, "sma"), n))


def ema(x, n):
    """Exponential moving average (alpha = 2/(n+1)) seeded with the SMA of the first n values."""
    n = _period(n, "ema")
    return _like(x, _ema(_floats(x, "ema"), n))


def rsi(x, n=14):
    """Wilder's relative strength index (0..100); NaN for the first n values."""
    n = _period(n, "rsi")
    xs = _floats(x, "rsi")
    out = [_NAN] * len(xs)
    gains = []
    losses = []
    avg_gain = avg_loss = None
    previous = None
    for i, v in enumerate(xs):
        if not _ok(v):
            continue
        if previous is not None:
            change = v - previous
            gain, loss = max(change, 0.0), max(-change, 0.0)
            if avg_gain is None:
                gains.append(gain)
                losses.append(loss)
                if len(gains) == n:
                    avg_gain, avg_loss = sum(gains) / n, sum(losses) / n
            else:
                avg_gain = (avg_gain * (n - 1) + gain) / n
                avg_loss = (avg_loss * (n - 1) + loss) / n
            if avg_gain is not None:
                if avg_loss == 0.0:
                    out[i] = 100.0 if avg_gain > 0.0 else 50.0
                else:
                    out[i] = 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)
        previous = v
    return _like(x, out)


def macd(x, fast=12, slow=26, signal=9):
    """``(macd, signal, hist)``: ema(fast) - ema(slow), its ema(signal), and their difference."""
    fast = _period(fast, "macd", "fast")
    slow = _period(slow, "macd", "slow")
    signal = _period(signal, "macd", "signal")
    xs = _floats(x, "macd")
    line_ = [a - b for a, b in zip(_ema(xs, fast), _ema(xs, slow))]
    signal_ = _ema(line_, signal)
    hist = [a - b for a, b in zip(line_, signal_)]
    return _like(x, line_), _like(x, signal_), _like(x, hist)


def bollinger(x, n=20, k=2):
    """``(mid, upper, lower)``: sma(n) and sma plus/minus k population standard deviations."""
    n = _period(n, "bollinger")
    if not isinstance(k, numbers.Real) or isinstance(k, bool):
        raise TypeError(f"bollinger: k must be a number, got {k!r}")
    k = float(k)
    xs = _floats(x, "bollinger")
    mid = _sma(xs, n)
    upper = [_NAN] * len(xs)
    lower = [_NAN] * len(xs)
    for i, m in enumerate(mid):
        if _ok(m):
            window = xs[i - n + 1 : i + 1]
            sd = math.sqrt(sum((v - m) ** 2 for v in window) / n)
            upper[i] = m + k * sd
            lower[i] = m - k * sd
    return _like(x, mid), _like(x, upper), _like(x, lower)


def atr(high, low, close, n=14):
    """Wilder's average true range; NaN for the first n-1 candles."""
    n = _period(n, "atr")
    hs = _floats(high, "atr", "high")
    ls = _floats(low, "atr", "low")
    cs = _floats(close, "atr", "close")
    if not len(hs) == len(ls) == len(cs):
        raise ValueError(f"atr: high, low and close have {len(hs)}, {len(ls)} and {len(cs)} values")
    out = [_NAN] * len(cs)
    ranges = []
    value = None
    previous_close = None
    for i, (h, lo, c) in enumerate(zip(hs, ls, cs)):
        if not (_ok(h) and _ok(lo) and _ok(c)):
            continue
        if previous_close is None:
            tr = h - lo
        else:
            tr = max(h - lo, abs(h - previous_close), abs(lo - previous_close))
        previous_close = c
        if value is None:
            ranges.append(tr)
            if len(ranges) == n:
                value = sum(ranges) / n
                out[i] = value
        else:
            value = (value * (n - 1) + tr) / n
            out[i] = value
    return _like(close, out)


def _pair(a, b, who):
    xs = _floats(a, who, "a")
    if isinstance(b, numbers.Real) and not isinstance(b, bool):
        ys = [float(b)] * len(xs)
    else:
        ys = _floats(b, who, "b")
        if len(ys) != len(xs):
            raise ValueError(f"{who}: a has {len(xs)} values and b has {len(ys)}")
    return xs, ys


def _cross_arrays(a, b, who, above):
    _floats_check(a, who, "a")
    xs = a.astype(_np.float64)
    if isinstance(b, numbers.Real) and not isinstance(b, bool):
        ys = _np.full(len(xs), float(b))
    else:
        ys = _np.asarray(_floats(b, who, "b") if not _is_array(b) else b, dtype=_np.float64)
        if ys.ndim != 1 or len(ys) != len(xs):
            raise ValueError(f"{who}: a has {len(xs)} values and b has {len(ys)}")
    if not above:
        # a crosses below b where b crosses above a.
        xs, ys = ys, xs
    # Comparisons with NaN are false: a NaN on either candle is no cross.
    hits = (xs[:-1] <= ys[:-1]) & (xs[1:] > ys[1:])
    return (_np.flatnonzero(hits) + 1).tolist()


def _cross(a, b, who, above):
    if _is_array(a):
        return _cross_arrays(a, b, who, above)
    xs, ys = _pair(a, b, who)
    if not above:
        # a crosses below b where b crosses above a.
        xs, ys = ys, xs
    return [
        i
        for i in range(1, len(xs))
        if _ok(xs[i - 1]) and _ok(ys[i - 1]) and _ok(xs[i]) and _ok(ys[i])
        and xs[i - 1] <= ys[i - 1] and xs[i] > ys[i]
    ]


def crossover(a, b):
    """Indices i where a crosses above b: a[i-1] <= b[i-1] and a[i] > b[i]."""
    return _cross(a, b, "crossover", True)


def crossunder(a, b):
    """Indices i where a crosses below b: a[i-1] >= b[i-1] and a[i] < b[i]."""
    return _cross(a, b, "crossunder", False)


# Other intervals of the same symbol.

_UNITS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
# Weeks open on Monday 00:00 UTC, as on Binance; 1970-01-01 was a Thursday.
_MONDAY = 4 * 86_400_000


def _interval(interval):
    """``(length, origin)`` in milliseconds of an interval such as ``"4h"``:
    its candles open at ``origin + k * length``."""
    if not isinstance(interval, str):
        raise TypeError(f"higher: interval must be a str such as '4h', got {type(interval).__name__}")
    digits = interval[:-1]
    unit = interval[-1:]
    if unit == "M" and digits.isdigit():
        raise ValueError(f"higher: {interval!r}: months have no fixed length; use days or weeks ('1w')")
    if not (digits.isascii() and digits.isdigit()) or unit not in _UNITS or int(digits) < 1:
        raise ValueError(
            f"higher: interval {interval!r:.40} must be a whole number and a unit, "
            "s, m, h, d or w (as '15m', '4h', '1d', '1w')"
        )
    length = int(digits) * _UNITS[unit]
    return length, (_MONDAY if unit == "w" else 0)


def _interval_name(ms):
    for unit in "wdhms":
        if ms % _UNITS[unit] == 0:
            return f"{ms // _UNITS[unit]}{unit}"
    return f"{ms} ms"


class Bars:
    """Candle columns ``time`` (open times), ``open``, ``high``, ``low``,
    ``close``, ``volume``, oldest first, and ``len()``."""

    __slots__ = ("time", "open", "high", "low", "close", "volume")

    def __init__(self, time, open, high, low, close, volume):
        self.time = time
        self.open = open
        self.high = high
        self.low = low
        self.close = close
        self.volume = volume

    def __len__(self):
        return len(self.time)

    def __repr__(self):
        return f"<{len(self)} candles>"


class HigherCandles(Bars):
    """What :func:`higher` returns: at each of the script's candles, the
    newest candle of ``interval`` that had closed by that candle's close
    (its open ``time`` and its ``open``, ``high``, ``low``, ``close``,
    ``volume``, NaN when it is not whole in the series). ``bars`` are those
    higher candles themselves, one each, oldest first, up to the newest
    closed one; ``align(values)`` spreads one value per bar (an indicator of
    ``bars``) onto the script's candles the same way."""

    __slots__ = ("interval", "bars", "_at", "_like")

    def align(self, values):
        """``values`` (one per bar, e.g. ``ema(h.bars.close, 20)``) at each of
        the script's candles: the value of the newest closed bar, NaN before
        the first."""
        xs = _floats(values, "align", "values")
        if len(xs) != len(self.bars):
            raise ValueError(f"align: {len(xs)} values for {len(self.bars)} {self.interval} bars")
        if self._like is not None:
            padded = self._like.array(xs + [_NAN], dtype=self._like.float64)
            return padded[self._at]
        return [xs[j] if j >= 0 else _NAN for j in self._at]

    def __repr__(self):
        return f"<{self.interval} candles aligned to {len(self)} candles, {len(self.bars)} bars>"


def higher(candles, interval):
    """The candles of a higher ``interval`` of the same symbol (``"4h"``,
    ``"1d"``, ``"1w"``), made from ``candles`` and aligned to them: element
    ``i`` is the newest ``interval`` candle that had closed by the close of
    candle ``i``, never one still forming. See the module's doc."""
    length, origin = _interval(interval)
    names = ("open", "high", "low", "close", "volume")
    columns = [getattr(candles, name) for name in names]
    times = candles.time
    n = len(times)
    for name, column in zip(names, columns):
        if len(column) != n:
            raise ValueError(f"higher: {len(column)} {name} values for {n} times")
    if _is_array(times):
        return _higher_arrays(times, columns, interval, length, origin)
    return _higher_lists(times, columns, interval, length, origin)


def _base(interval, length, origin, steps, first_off_grid):
    """The candles' own interval: their shortest step, which must divide
    ``length``; ``first_off_grid(base)`` is the first candle not opening
    on a whole one, or None."""
    base = min(steps)
    if length % base:
        raise ValueError(
            f"higher: {interval} is not a whole multiple of the candles' interval ({_interval_name(base)})"
        )
    off_grid = first_off_grid(base)
    if off_grid is not None:
        raise ValueError(
            f"higher: candle {off_grid} does not open on a whole {_interval_name(base)} (UTC), "
            f"so the candles cannot make up {interval} candles"
        )
    return base


def _not_ascending(i):
    return ValueError(f"higher: the candles' times must ascend (at candle {i})")


# With one candle or none the candles' interval cannot be told: `base` 0
# makes the newest closed higher candle the one before the candle's own,
# and no higher candle is whole.


def _higher_lists(times, columns, interval, length, origin):
    ts = [operator.index(t) for t in times]
    n = len(ts)
    for i in range(1, n):
        if ts[i] <= ts[i - 1]:
            raise _not_ascending(i)
    base = 0
    if n >= 2:
        steps = [b - a for a, b in zip(ts, ts[1:])]
        base = _base(
            interval, length, origin, steps,
            lambda base: next((i for i, t in enumerate(ts) if (t - origin) % base), None),
        )
    names = ("open", "high", "low", "close", "volume")
    opens, highs, lows, closes, volumes = (_floats(c, "higher", name) for c, name in zip(columns, names))
    need = length // base if base else None

    def extreme(values, pick):
        return _NAN if any(math.isnan(v) for v in values) else pick(values)

    bars = Bars([], [], [], [], [], [])
    keys = []
    start = 0
    while start < n:
        key = (ts[start] - origin) // length
        end = start
        while end < n and (ts[end] - origin) // length == key:
            end += 1
        if (key + 1) * length + origin > ts[-1] + base:
            break  # still forming at the close of the last candle
        if end - start == need:
            values = (
                opens[start],
                extreme(highs[start:end], max),
                extreme(lows[start:end], min),
                closes[end - 1],
                sum(volumes[start:end]),
            )
        else:
            values = (_NAN,) * 5
        keys.append(key)
        bars.time.append(key * length + origin)
        for column, value in zip((bars.open, bars.high, bars.low, bars.close, bars.volume), values):
            column.append(value)
        start = end

    out = HigherCandles([], [], [], [], [], [])
    at = []
    j = 0
    for t in ts:
        key = (t + base - origin) // length - 1
        while j < len(keys) and keys[j] < key:
            j += 1
        hit = j if j < len(keys) and keys[j] == key else -1
        at.append(hit)
        out.time.append(key * length + origin)
        for column, bar_column in zip(
            (out.open, out.high, out.low, out.close, out.volume),
            (bars.open, bars.high, bars.low, bars.close, bars.volume),
        ):
            column.append(bar_column[hit] if hit >= 0 else _NAN)
    out.interval, out.bars, out._at, out._like = interval, bars, at, None
    return out


def _higher_arrays(times, columns, interval, length, origin):
    np = _np
    if times.ndim != 1 or times.dtype.kind not in "iu":
        raise TypeError(f"higher: time must be whole milliseconds, got dtype {times.dtype}")
    t = times.astype(np.int64)
    n = len(t)
    steps = t[1:] - t[:-1]
    if n >= 2 and not (steps > 0).all():
        raise _not_ascending(int(np.flatnonzero(steps <= 0)[0]) + 1)
    base = 0
    if n >= 2:

        def first_off_grid(base):
            off = np.flatnonzero((t - origin) % base)
            return int(off[0]) if len(off) else None

        base = int(_base(interval, length, origin, [int(steps.min())], first_off_grid))
    names = ("open", "high", "low", "close", "volume")
    for column, name in zip(columns, names):
        _floats_check(column, "higher", name)
    opens, highs, lows, closes, volumes = (np.asarray(c, dtype=np.float64) for c in columns)

    key = (t - origin) // length
    if n:
        starts = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
        ends = np.append(starts[1:], n)
        # Reduced over every bucket, the forming one too, so that none
        # reaches into the next; the forming one is dropped after.
        bar_values = [
            opens[starts],
            np.maximum.reduceat(highs, starts),
            np.minimum.reduceat(lows, starts),
            closes[ends - 1],
            np.add.reduceat(volumes, starts),
        ]
        bar_key = key[starts]
        closed = (bar_key + 1) * length + origin <= t[-1] + base
        whole = (ends - starts == (length // base if base else -1))[closed]
        bar_key = bar_key[closed]
        bar_values = [np.where(whole, v[closed], _NAN) for v in bar_values]
    else:
        bar_key = np.zeros(0, dtype=np.int64)
        bar_values = [np.zeros(0) for _ in names]
    bars = Bars(bar_key * length + origin, *bar_values)

    wanted = (t + base - origin) // length - 1
    j = np.searchsorted(bar_key, wanted)
    hit = np.zeros(n, dtype=bool)
    if len(bar_key):
        hit = (j < len(bar_key)) & (bar_key[np.minimum(j, len(bar_key) - 1)] == wanted)
    at = np.where(hit, j, len(bar_key))  # misses read the NaN after the last bar
    out = HigherCandles(wanted * length + origin, *(np.append(v, _NAN)[at] for v in bar_values))
    out.interval, out.bars, out._at, out._like = interval, bars, at, np
    return out
