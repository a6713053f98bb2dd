# The inchart helper module against values worked out by hand (the
# working is in the comments), higher() (other intervals, never a candle
# before it closes), and the runner's pane rules for what its line(),
# histogram() and level() return. Runs as a signal script inside
# the real sandbox (tests/functional.rs), with and without numpy; an
# assertion failure comes back as an exception with its line.
import math
import sys

import inchart
from inchart import atr, bollinger, crossover, crossunder, ema, higher, macd, rsi, sma

try:
    import numpy as np
except ImportError:
    np = None

NAN = float("nan")


def same(got, expected, what):
    got = list(got)
    assert len(got) == len(expected), f"{what}: {len(got)} values, expected {len(expected)}"
    for i, (g, e) in enumerate(zip(got, expected)):
        if math.isnan(e):
            assert math.isnan(g), f"{what}[{i}] = {g!r}, expected NaN"
        else:
            assert abs(g - e) < 1e-9, f"{what}[{i}] = {g!r}, expected {e!r}"


def check(kind):
    x = kind([2.0, 4.0, 6.0, 8.0, 4.0, 2.0])

    # sma 3: (2+4+6)/3, (4+6+8)/3, (6+8+4)/3, (8+4+2)/3
    same(sma(x, 3), [NAN, NAN, 4.0, 6.0, 6.0, 14 / 3], "sma")

    # ema 3: alpha = 2/4; seed mean(2, 4, 6) = 4 at index 2; then
    # 0.5*8 + 0.5*4 = 6, 0.5*4 + 0.5*6 = 5, 0.5*2 + 0.5*5 = 3.5
    same(ema(x, 3), [NAN, NAN, 4.0, 6.0, 5.0, 3.5], "ema")

    # rsi 2 on 1 2 4 3 1 2: changes +1 +2 -1 -2 +1
    # index 2: gain (1+2)/2 = 1.5, loss 0 -> 100
    # index 3: gain (1.5+0)/2 = .75, loss (0+1)/2 = .5, rs 1.5 -> 60
    # index 4: gain .375, loss (.5+2)/2 = 1.25, rs .3 -> 100 - 100/1.3
    # index 5: gain (.375+1)/2 = .6875, loss .625, rs 1.1 -> 100 - 100/2.1
    same(
        rsi(kind([1.0, 2.0, 4.0, 3.0, 1.0, 2.0]), 2),
        [NAN, NAN, 100.0, 60.0, 100 - 100 / 1.3, 100 - 100 / 2.1],
        "rsi",
    )
    same(rsi(kind([5.0, 5.0, 5.0]), 2), [NAN, NAN, 50.0], "rsi of a flat series")

    # macd 2/3/2: ema2 (alpha 2/3, seed (2+4)/2 = 3) = . 3 5 7 5 3,
    # ema3 = . . 4 6 5 3.5, macd = . . 1 1 0 -.5,
    # signal = ema2 of macd seeded with mean(1, 1) = 1 at index 3, then
    # 2/3*0 + 1/3*1 = 1/3, 2/3*-.5 + 1/3*1/3 = -2/9
    line, signal, hist = macd(x, fast=2, slow=3, signal=2)
    same(line, [NAN, NAN, 1.0, 1.0, 0.0, -0.5], "macd line")
    same(signal, [NAN, NAN, NAN, 1.0, 1 / 3, -2 / 9], "macd signal")
    same(hist, [NAN, NAN, NAN, 0.0, -1 / 3, -0.5 + 2 / 9], "macd hist")

    # bollinger 3, k 2: windows 2 4 6 / 4 6 8 / 6 8 4 have variance 8/3;
    # 8 4 2 has mean 14/3 and variance (100 + 4 + 64)/9/3 = 56/9
    mid, upper, lower = bollinger(x, 3, 2)
    d = 2 * math.sqrt(8 / 3)
    same(mid, [NAN, NAN, 4.0, 6.0, 6.0, 14 / 3], "bollinger mid")
    same(upper, [NAN, NAN, 4 + d, 6 + d, 6 + d, 14 / 3 + 2 * math.sqrt(56) / 3], "bollinger upper")
    same(lower, [NAN, NAN, 4 - d, 6 - d, 6 - d, 14 / 3 - 2 * math.sqrt(56) / 3], "bollinger lower")

    # atr 2: true ranges 10-8 = 2; max(11-9, |11-9|, |9-9|) = 2;
    # max(12-9, |12-10|, |9-10|) = 3; max(11-10, |11-11|, |10-11|) = 1.
    # First atr (2+2)/2 = 2, then (2*1+3)/2 = 2.5, (2.5*1+1)/2 = 1.75
    same(
        atr(kind([10.0, 11.0, 12.0, 11.0]), kind([8.0, 9.0, 9.0, 10.0]), kind([9.0, 10.0, 11.0, 10.5]), 2),
        [NAN, 2.0, 2.5, 1.75],
        "atr",
    )

    # a goes 1 2 3 2 1 2 against a flat 2: above at 2 (2 <= 2, 3 > 2),
    # below at 4 (2 >= 2, 1 < 2); touching 2 at 5 is no cross.
    a = kind([1.0, 2.0, 3.0, 2.0, 1.0, 2.0])
    assert crossover(a, kind([2.0] * 6)) == [2], crossover(a, kind([2.0] * 6))
    assert crossunder(a, kind([2.0] * 6)) == [4], crossunder(a, kind([2.0] * 6))
    assert crossover(a, 2) == [2], "crossover against a level"
    assert crossover(kind([NAN, 1.0, 3.0]), 2) == [2], "NaN is skipped"
    assert crossover(kind([3.0, NAN, 3.0]), 2) == [], "no cross through a NaN"

    # The same kind of series comes back.
    result = sma(x, 2)
    if np is not None and isinstance(x, np.ndarray):
        assert isinstance(result, np.ndarray) and result.dtype == np.float64, type(result)
    else:
        assert isinstance(result, list), type(result)

    for call, message in [
        (lambda: sma(x, 0), "sma: n must be at least 1, got 0"),
        (lambda: ema(x, 2.5), "ema: n must be a whole number of candles, got 2.5"),
        (lambda: sma("abc", 2), "sma: x must be a list or array of numbers, got str"),
        (lambda: crossover(x, [1.0]), "crossover: a has 6 values and b has 1"),
    ]:
        try:
            call()
        except (ValueError, TypeError) as e:
            assert str(e) == message, f"{e!s} != {message}"
        else:
            raise AssertionError(f"no error: {message}")


MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
MONDAY = 1_704_067_200_000  # 2024-01-01 00:00 UTC


class Series:
    def __init__(self, kind, time, open, high, low, close, volume):
        self.time = np.array(time, dtype=np.int64) if kind is not list else list(time)
        self.open, self.high, self.low, self.close, self.volume = (
            kind([float(v) for v in column]) for column in (open, high, low, close, volume)
        )

    def __len__(self):
        return len(self.time)

    def head(self, n):
        """The first n candles, as the script would have had them then."""
        kind = list if isinstance(self.time, list) else np.array
        return Series(kind, *(list(column[:n]) for column in (self.time, self.open, self.high, self.low, self.close, self.volume)))


def raises(call, error, message):
    try:
        call()
    except error as e:
        assert str(e) == message, f"{e!s} != {message}"
    else:
        raise AssertionError(f"no error: {message}")


def higher_by_hand(kind):
    # Ten 15-minute candles from 00:30: the 00:00 hour has only two of its
    # four (NaN), 01:00 and 02:00 are whole. Candle i: open i, high 10+i,
    # low -i, close 100+i, volume 1.
    c = Series(
        kind,
        [MONDAY + 30 * MINUTE + i * 15 * MINUTE for i in range(10)],
        range(10), [10 + i for i in range(10)], [-i for i in range(10)], [100 + i for i in range(10)], [1] * 10,
    )
    h = higher(c, "1h")
    # Candle 0 closes at 00:45: the newest closed hour is 23:00 the day
    # before (not in the series). Candles 1-4 close from 01:00 to 01:45:
    # the 00:00 hour, not whole. Candle 5 closes at 02:00: the 01:00 hour
    # (candles 2-5) has just closed, until candle 9 closes at 03:00 with
    # the 02:00 hour (candles 6-9).
    assert list(h.time) == [MONDAY - HOUR] + [MONDAY] * 4 + [MONDAY + HOUR] * 4 + [MONDAY + 2 * HOUR], list(h.time)
    same(h.open, [NAN] * 5 + [2.0] * 4 + [6.0], "higher open")
    same(h.high, [NAN] * 5 + [15.0] * 4 + [19.0], "higher high")
    same(h.low, [NAN] * 5 + [-5.0] * 4 + [-9.0], "higher low")
    same(h.close, [NAN] * 5 + [105.0] * 4 + [109.0], "higher close")
    same(h.volume, [NAN] * 5 + [4.0] * 4 + [4.0], "higher volume")
    assert len(h) == 10 and h.interval == "1h"
    # The hours themselves, up to the newest closed one.
    assert list(h.bars.time) == [MONDAY, MONDAY + HOUR, MONDAY + 2 * HOUR], list(h.bars.time)
    same(h.bars.close, [NAN, 105.0, 109.0], "bars close")
    same(h.align([1.0, 2.0, 3.0]), [NAN, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0, 3.0], "align")
    # Without candle 9, the 02:00 hour is still forming: no bar, not shown.
    h = higher(c.head(9), "1h")
    assert list(h.bars.time) == [MONDAY, MONDAY + HOUR] and list(h.time)[-1] == MONDAY + HOUR
    # A missing candle leaves its hour NaN; the hours around it are whole.
    kept = [i for i in range(12) if i != 4]
    gap = Series(kind, [MONDAY + i * 15 * MINUTE for i in kept], kept, kept, kept, kept, [1] * 11)
    same(higher(gap, "1h").bars.close, [3.0, NAN, 11.0], "hours around a gap")
    # Whatever the kind of the candles, the same kind comes back.
    if kind is list:
        assert isinstance(h.close, list) and isinstance(h.time, list) and isinstance(h.align([1.0, 2.0]), list)
    else:
        assert h.close.dtype == np.float64 and h.time.dtype == np.int64 and h.align([1.0, 2.0]).dtype == np.float64


def higher_weeks(kind):
    # Daily candles from Thursday 2023-12-28: the week of Monday 25
    # December is not whole; 1-7 and 8-14 January are, closing with the
    # candles of Sunday 7 (index 10) and Sunday 14 (index 17).
    start = MONDAY - 4 * DAY
    c = Series(kind, [start + i * DAY for i in range(20)], range(20), range(20), range(20), range(20), [2] * 20)
    w = higher(c, "1w")
    assert all((t // DAY + 3) % 7 == 0 and t % DAY == 0 for t in w.bars.time), "weeks open on Mondays"
    assert list(w.bars.time) == [MONDAY - 7 * DAY, MONDAY, MONDAY + 7 * DAY], list(w.bars.time)
    same(w.close, [NAN] * 10 + [10.0] * 7 + [17.0] * 3, "weekly close")
    same(w.open, [NAN] * 10 + [4.0] * 7 + [11.0] * 3, "weekly open")
    same(w.volume, [NAN] * 10 + [14.0] * 7 + [14.0] * 3, "weekly volume")
    same(higher(c, "2d").bars.close, [NAN] + [float(i) for i in range(2, 20, 2)], "two days")


def higher_refusals(kind):
    quarter = [MONDAY + i * 15 * MINUTE for i in range(8)]
    c = Series(kind, quarter, range(8), range(8), range(8), range(8), range(8))
    for interval, error, message in [
        ("7m", ValueError, "higher: 7m is not a whole multiple of the candles' interval (15m)"),
        ("1M", ValueError, "higher: '1M': months have no fixed length; use days or weeks ('1w')"),
        ("4x", ValueError, "higher: interval '4x' must be a whole number and a unit, s, m, h, d or w (as '15m', '4h', '1d', '1w')"),
        ("0h", ValueError, "higher: interval '0h' must be a whole number and a unit, s, m, h, d or w (as '15m', '4h', '1d', '1w')"),
        (4, TypeError, "higher: interval must be a str such as '4h', got int"),
    ]:
        raises(lambda: higher(c, interval), error, message)
    shifted = Series(kind, [t + 5 * MINUTE for t in quarter], range(8), range(8), range(8), range(8), range(8))
    raises(
        lambda: higher(shifted, "1h"), ValueError,
        "higher: candle 0 does not open on a whole 15m (UTC), so the candles cannot make up 1h candles",
    )
    backwards = Series(kind, quarter[::-1], range(8), range(8), range(8), range(8), range(8))
    raises(lambda: higher(backwards, "1h"), ValueError, "higher: the candles' times must ascend (at candle 1)")
    # One candle: its interval cannot be told, nothing is whole.
    one = higher(c.head(1), "1h")
    assert list(one.time) == [MONDAY - HOUR] and math.isnan(one.close[0]) and len(one.bars) == 0
    assert len(higher(c.head(0), "1h")) == 0


def higher_never_looks_ahead(kind):
    # A random walk of 15-minute candles with a gap: at every candle i,
    # higher() of the candles up to i (all a live run would have had)
    # equals higher() of them all, up to i; and the higher candle shown
    # at i had closed by candle i's close.
    import random

    rng = random.Random(7)
    times = [MONDAY + 45 * MINUTE + i * 15 * MINUTE for i in range(160)]
    del times[70:75]
    close = [100.0]
    for _ in times[1:]:
        close.append(close[-1] + rng.uniform(-1, 1))
    opens = [close[0]] + close[:-1]
    c = Series(
        kind, times, opens, [max(o, x) + rng.random() for o, x in zip(opens, close)],
        [min(o, x) - rng.random() for o, x in zip(opens, close)], close, [rng.uniform(1, 9) for _ in times],
    )
    for interval, length in (("1h", HOUR), ("4h", 4 * HOUR), ("15m", 15 * MINUTE)):
        full = higher(c, interval)
        trend = full.align(ema(full.bars.close, 3))
        for i in range(1, len(c)):
            assert full.time[i] + length <= c.time[i] + 15 * MINUTE, f"{interval} at {i}: shown before it closed"
            past = higher(c.head(i + 1), interval)
            for name in ("time", "open", "high", "low", "close", "volume"):
                same(list(getattr(past, name)), list(getattr(full, name))[: i + 1], f"{interval} {name} up to {i}")
            same(past.align(ema(past.bars.close, 3)), list(trend)[: i + 1], f"{interval} trend up to {i}")
        assert sum(1 for v in full.close if not math.isnan(v)) > len(c) // 2, interval


def trend_filter_example(kind):
    """The module doc's 4h trend filter runs on a 15m chart."""
    doc = inchart.__doc__.split("A 4h trend filter on a 15-minute chart::\n\n", 1)[1]
    code = []
    for line in doc.splitlines():
        if line and not line.startswith("    "):
            break
        code.append(line[4:])
    namespace = {}
    exec("\n".join(code), namespace)
    import random

    rng = random.Random(3)
    close = [100.0]
    for _ in range(1999):
        close.append(close[-1] + rng.uniform(-1, 1))
    c = Series(kind, [MONDAY + i * 15 * MINUTE for i in range(2000)], close, close, close, close, [1] * 2000)
    markers, lines = namespace["signals"](c)
    assert markers and all(isinstance(m, inchart.Marker) for m in markers), markers
    assert list(lines) == ["4h EMA 20"], list(lines)


def drawings():
    line, histogram, level = inchart.line, inchart.histogram, inchart.level
    l = line([1.0], color="#f0b90b", pane="RSI")
    assert (l.values, l.color, l.pane, l.style) == ([1.0], "#f0b90b", "RSI", "line"), l
    assert (line([1.0]).color, line([1.0]).pane) == (None, None), "a line is on the price chart"
    h = histogram([1.0], pane="MACD")
    assert (h.values, h.color, h.pane, h.style) == ([1.0], None, "MACD", "histogram"), h
    assert histogram([1.0], "#26a69a").pane is None, "the runner names a histogram's pane"
    lv = level(70, color="#ef5350", pane="RSI")
    assert (lv.value, lv.color, lv.pane) == (70, "#ef5350", "RSI"), lv
    assert level(30).pane is None, "the runner settles a level's pane"
    assert repr(h) == "histogram(<1 values>, color=None, pane='MACD')", repr(h)
    assert repr(level(30)) == "level(30, color=None)", repr(level(30))
    assert {"line", "histogram", "level", "Line", "Level"} <= set(inchart.__all__)


def panes(c, kind):
    """The runner's pane rules, following the lines dict's order: a
    histogram without a pane gets one named after its key, a level without
    one joins the entry before it, or the price chart."""
    runner = sys.modules["_inchart_runner"]
    line, histogram, level = inchart.line, inchart.histogram, inchart.level
    times = [int(t) for t in c.time[:3]]
    x = kind([1.0, 2.0, 3.0])
    output = runner._output(
        (
            [],
            {
                "Top": level(3),
                "SMA": x,
                "Above SMA": level(2.5),
                "RSI 14": line(x, pane="RSI"),
                "Overbought": level(70),
                "Oversold": level(30, color="#26a69a"),
                "MACD": line(x, pane="MACD"),
                "Histogram": histogram(x, pane="MACD"),
                "Zero": level(0),
                "Volume delta": histogram(x),
                "Delta zero": level(0),
                "Elsewhere": level(1, pane="RSI"),
                "After": level(2),
            },
        ),
        times,
    )
    drawn = {d["name"]: (d.get("pane"), d.get("style")) for d in output["lines"]}
    assert drawn == {
        "SMA": (None, None),
        "RSI 14": ("RSI", None),
        "MACD": ("MACD", None),
        "Histogram": ("MACD", "histogram"),
        "Volume delta": ("Volume delta", "histogram"),
    }, drawn
    levels = [(d["name"], d["value"], d.get("pane")) for d in output["levels"]]
    assert levels == [
        ("Top", 3.0, None),
        ("Above SMA", 2.5, None),
        ("Overbought", 70.0, "RSI"),
        ("Oversold", 30.0, "RSI"),
        ("Zero", 0.0, "MACD"),
        ("Delta zero", 0.0, "Volume delta"),
        ("Elsewhere", 1.0, "RSI"),
        ("After", 2.0, "RSI"),
    ], levels
    assert output["levels"][3]["color"] == "#26a69a"
    # Old scripts: plain series and coloured lines stay on the price chart,
    # and the answer has no levels.
    old = runner._output(([], {"SMA": x, "EMA": line(x, color="#f0b90b")}), times)
    points = [[t, v] for t, v in zip(times, [1.0, 2.0, 3.0])]
    assert old == {
        "markers": [],
        "lines": [{"name": "SMA", "points": points}, {"name": "EMA", "points": points, "color": "#f0b90b"}],
    }, old


def signals(c):
    check(list)
    if np is not None:
        check(np.array)
    for kind in [list] + ([np.array] if np is not None else []):
        higher_by_hand(kind)
        higher_weeks(kind)
        higher_refusals(kind)
        higher_never_looks_ahead(kind)
        trend_filter_example(kind)
    m = inchart.buy(c.time[0], 1.5, "x")
    assert (m.time, m.side, m.price, m.label) == (c.time[0], "buy", 1.5, "x")
    drawings()
    panes(c, list)
    if np is not None:
        panes(c, np.array)
    return [], {}
