# The inchart helper module against values worked out by hand (the
# working is in the comments), and the runner's pane rules for what its
# line(), histogram() and level() return. Runs as a signal script inside
# the real sandbox (tests/functional.rs), with and without numpy; an
# assertion failure comes back as an exception with its line.
import math
import sys

import inchart
from inchart import atr, bollinger, crossover, crossunder, ema, macd, rsi, sma

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
    m = inchart.buy(c.time[0], 1.5, "x")
    assert (m.time, m.side, m.price, m.label) == (c.time[0], "buy", 1.5, "x")
    drawings()
    panes(c, list)
    if np is not None:
        panes(c, np.array)
    return [], {}
