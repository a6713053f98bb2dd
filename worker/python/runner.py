"""The worker's side of a run: warms the zygote, then runs one script in a
forked, confined child and sends the answer to the zygote.

What the child sends on its answer pipe are frames of a one-byte tag, a
little-endian u32 length and the payload:

* ``L``: text the script printed (UTF-8), at most ``log_limit`` bytes in all;
* ``R``: the result, JSON of ``{"Ok": Output}`` or ``{"Err": error}`` as
  the protocol crate's ``judge`` module reads it.

The child closes the pipe once the result is sent: that is how the
supervisor knows the run is over.

A backtest (``run(..., backtest=(window, confirm_max))``) calls
``signals()`` once on all the candles and answers only its markers, as
candle indices (``{"Ok": {"index", "side", "checked", "unconfirmed"}}``,
see the protocol's ``judge`` module); its lines are never read. Then it
re-checks signals the way a live run would have given them: for up to
``confirm_max`` of the candles it signalled on, ``signals()`` again on
only the ``window`` candles up to that one, on fresh copies; a signal not
given again there is unconfirmed (it needed later candles). Nothing here is trusted by anyone: a
script can reach this module and the pipe, so the server accepts from them
only what a script could say itself (its result, or its own error).

The script's API (see README.md): ``signals(candles)`` returns
``(markers, lines)`` or ``{"markers": markers, "lines": lines}`` where
``markers`` is a list of ``buy()``/``sell()`` markers or dicts
``{"time", "side", "price", "label"?}`` and ``lines`` is a dict mapping a
name to values aligned with the candles (NaN or None = no value), to
``line(values, color="#rrggbb", pane=None)``, to ``histogram(...)`` (the
same arguments) or to ``level(value, color=None, pane=None)``. Lines and
levels go to the Output's ``lines`` and ``levels``; a histogram without a
pane gets one named after its key, a level without one takes the pane of
the entry before it in the dict.
"""

import bisect
import builtins
import gc
import json
import math
import numbers
import operator
import os
import re
import sys
import time
import traceback
import types
import unicodedata

SCRIPT = "<script>"
MAX_MARKERS = 10_000
MAX_SIGNALS = 1_000_000
MAX_LINES = 16
MAX_LABEL = 64
MAX_LEVELS = 16
MAX_PANES = 4
MAX_FRAMES = 50
MAX_MESSAGE = 1_000
_COLOR = re.compile(r"#[0-9a-fA-F]{6}\Z")
# Characters that make a name read other than it is, or draw nothing: the
# server refuses them too (protocol/src/check.rs).
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad\u180e")

# Modules scripts may import without touching the disk, loaded in the
# zygote. Extension modules must be among them: a child cannot map new
# executable code.
PRELOAD = [
    "math", "cmath", "json", "statistics", "collections", "collections.abc", "itertools",
    "functools", "datetime", "random", "re", "decimal", "fractions", "operator", "heapq",
    "bisect", "array", "struct", "time", "copy", "dataclasses", "enum", "typing", "string",
    "textwrap", "numbers", "io", "abc", "contextlib", "types", "warnings", "traceback",
    "signal", "threading", "queue", "calendar", "zlib", "hashlib", "base64", "binascii",
    "unicodedata", "pickle", "csv", "select", "mmap", "socket", "subprocess", "resource", "uuid",
    "zoneinfo", "secrets", "pprint", "locale", "difflib", "importlib.util",
]

_numpy = None
_Marker = _Line = _Level = None


def warm(with_numpy, inchart_source):
    """Loads numpy (when there is a site directory), the ``inchart`` helper
    module (from ``inchart_source``: it has no file) and the common modules.
    Returns (sys.version, numpy's version or None)."""
    global _numpy, _Marker, _Line, _Level
    # ctypes would let a script call any C function: numpy only uses it
    # when it is there, so keep it from loading at all. A child cannot load
    # it later (no executable mappings).
    sys.modules["ctypes"] = None
    sys.modules["_ctypes"] = None
    if with_numpy:
        import numpy
        import numpy.fft
        import numpy.linalg
        import numpy.random

        _numpy = numpy
    for name in PRELOAD:
        __import__(name)
    inchart = types.ModuleType("inchart")
    inchart.__file__ = "inchart.py"
    exec(compile(inchart_source, "inchart.py", "exec", dont_inherit=True), inchart.__dict__)
    sys.modules["inchart"] = inchart
    # Now a script's `import ctypes` meets the real wall (see above)
    # instead of this marker.
    del sys.modules["ctypes"]
    del sys.modules["_ctypes"]
    _Marker, _Line, _Level = inchart.Marker, inchart.Line, inchart.Level
    # What numpy needed from the environment (thread counts) was read at
    # load time; scripts see an empty environment.
    os.environ.clear()
    # Nothing in the zygote may write to the protocol's stdout.
    sys.stdout = sys.stderr
    # Keep the collector away from the zygote's objects in the children:
    # touching them would copy their pages.
    gc.collect()
    gc.freeze()
    return sys.version, (_numpy.__version__ if _numpy is not None else None)


class _Pipe:
    def __init__(self, fd):
        self.fd = fd

    def send(self, tag, payload):
        frame = tag + len(payload).to_bytes(4, "little") + payload
        view = memoryview(frame)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]


class _Log:
    """sys.stdout and sys.stderr of a script: sends what it prints, up to
    the cap, a line at a time but at most every FLUSH_EVERY seconds (the
    supervisor forwards a bounded number of writes), so a run stopped at a
    limit keeps nearly all of its log."""

    FLUSH_EVERY = 0.05

    def __init__(self, pipe, limit):
        self._pipe = pipe
        self._left = limit
        self._pending = []
        self._pending_len = 0
        self._flushed = time.monotonic()

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if self._left > 0 and text:
            data = text.encode("utf-8", "replace")
            if len(data) >= self._left:
                data = data[: self._left].decode("utf-8", "ignore").encode("utf-8")
                self._left = 0
            else:
                self._left -= len(data)
            self._pending.append(data)
            self._pending_len += len(data)
            if (
                self._left == 0
                or self._pending_len >= 4096
                or (b"\n" in data and time.monotonic() - self._flushed >= self.FLUSH_EVERY)
            ):
                self.flush()
        return len(text)

    def writelines(self, lines):
        for text in lines:
            self.write(text)

    def flush(self):
        self._flushed = time.monotonic()
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            self._pending_len = 0
            if data:
                self._pipe.send(b"L", data)

    def isatty(self):
        return False

    def fileno(self):
        raise OSError("a script's output has no file descriptor")

    encoding = "utf-8"
    errors = "replace"


class _Discard:
    """sys.stdout and sys.stderr where nothing is kept."""

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        return len(text)

    def writelines(self, lines):
        for text in lines:
            self.write(text)

    def flush(self):
        pass

    def isatty(self):
        return False

    def fileno(self):
        raise OSError("a script's output has no file descriptor")

    encoding = "utf-8"
    errors = "replace"


class Candles:
    """The candles a script runs over: columns ``time``, ``open``, ``high``,
    ``low``, ``close``, ``volume`` (numpy arrays, ``time`` as int64
    milliseconds, when numpy is installed; lists otherwise) and ``len()``."""

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


class _Invalid(Exception):
    """The script's return value is not markers and lines."""


def _error(kind, message, line=None, column=None, frames=()):
    error = {"kind": kind, "message": message}
    if line is not None:
        error["line"] = line
    if column is not None:
        error["column"] = column
    if frames:
        error["traceback"] = list(frames)
    return error


def _describe(exc):
    """``TypeError: message``, guarded against hostile __str__ methods."""
    try:
        name = type(exc).__name__
        if not isinstance(name, str):
            name = "Exception"
    except BaseException:
        name = "Exception"
    try:
        text = str(exc)
    except BaseException:
        text = "<the exception's message could not be read>"
    if isinstance(exc, ImportError) and "failed to map segment" in text:
        # An extension module the zygote did not load: a child cannot map
        # new executable code.
        text = f"the module {exc.name!r} is not available in signal scripts"
    message = f"{name}: {text}" if text else name
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 1] + "…"
    return message


def _source_line(lines, number):
    if 1 <= number <= len(lines):
        return lines[number - 1].strip()[:200]
    return ""


def _user_frames(tb, lines):
    """The script's own frames, outermost first; runs of one frame repeated
    (recursion) keep three, and at most MAX_FRAMES are kept."""
    frames = []
    for frame, number in traceback.walk_tb(tb):
        code = frame.f_code
        if code.co_filename != SCRIPT:
            continue
        entry = (number, code.co_name)
        if len(frames) >= 3 and all(f[:2] == entry for f in frames[-3:]):
            continue
        frames.append((number, code.co_name))
    if len(frames) > MAX_FRAMES:
        frames = frames[: MAX_FRAMES // 2] + frames[-MAX_FRAMES // 2 :]
    return [{"line": n, "function": f, "text": _source_line(lines, n)} for n, f in frames]


def _columns(raw):
    time, open_, high, low, close, volume = raw
    if _numpy is not None:
        as_int = lambda b: _numpy.frombuffer(b, dtype="<i8").copy()  # noqa: E731
        as_float = lambda b: _numpy.frombuffer(b, dtype="<f8").copy()  # noqa: E731
    else:
        as_int = lambda b: memoryview(b).cast("q").tolist()  # noqa: E731
        as_float = lambda b: memoryview(b).cast("d").tolist()  # noqa: E731
    return Candles(
        as_int(time), as_float(open_), as_float(high), as_float(low), as_float(close), as_float(volume)
    )


def _number(value, where):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _Invalid(f"{where} must be a number, got {type(value).__name__}")
    return float(value)


def _label(value, where):
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Invalid(f"{where} must be a str, got {type(value).__name__}")
    if len(value) > MAX_LABEL:
        raise _Invalid(f"{where} is over {MAX_LABEL} characters")
    return value


def _marker(i, marker, candles):
    time, side, price, label = _marker_fields(i, marker, candles)
    out = {"time": time, "side": side, "price": price}
    if label is not None:
        out["label"] = label
    return out


def _marker_fields(i, marker, candles=None):
    """A marker's ``(time, side, price, label)``, checked; its time is
    looked up in ``candles`` (a set of open times) unless that is None
    (the caller looks all the times up at once)."""
    if isinstance(marker, _Marker):
        time, side, price, label = marker.time, marker.side, marker.price, marker.label
    elif isinstance(marker, dict):
        unknown = [k for k in marker if k not in ("time", "side", "price", "label")]
        if unknown:
            raise _Invalid(f"marker {i}: unknown key {unknown[0]!r} (keys are time, side, price, label)")
        for key in ("time", "side", "price"):
            if key not in marker:
                raise _Invalid(f"marker {i}: missing {key!r}")
        time, side, price, label = marker["time"], marker["side"], marker["price"], marker.get("label")
    else:
        raise _Invalid(f"marker {i}: expected buy(...), sell(...) or a dict, got {type(marker).__name__}")
    if isinstance(time, bool):
        raise _Invalid(f"marker {i}: time must be a candle's open time (an int), got bool")
    try:
        time = operator.index(time)
    except TypeError:
        raise _Invalid(
            f"marker {i}: time must be a candle's open time (an int, e.g. c.time[i]), "
            f"got {type(time).__name__}"
        ) from None
    if side not in ("buy", "sell") or not isinstance(side, str):
        raise _Invalid(f"marker {i}: side must be 'buy' or 'sell', got {side!r:.40}")
    price = _number(price, f"marker {i} ({side} at {time}): price")
    if math.isnan(price):
        raise _Invalid(f"marker {i} ({side} at {time}): price is NaN")
    if math.isinf(price):
        raise _Invalid(f"marker {i} ({side} at {time}): price is infinite")
    if candles is not None and time not in candles:
        raise _Invalid(_not_a_candle(i, time))
    return time, side, price, _label(label, f"marker {i}: label")


def _not_a_candle(i, time):
    return f"marker {i}: time {time} is not the open time of a candle (use c.time[i])"


def _points(name, values, times):
    n = len(times)
    where = f"line {name!r}"
    if _numpy is not None and isinstance(values, _numpy.ndarray):
        if values.ndim != 1:
            raise _Invalid(f"{where}: values must be one-dimensional, got shape {values.shape}")
        if len(values) != n:
            raise _Invalid(f"{where}: {len(values)} values for {n} candles")
        if values.dtype.kind not in "fiub":
            raise _Invalid(f"{where}: values must be numbers, got dtype {values.dtype}")
        values = values.astype(_numpy.float64)
        present = ~_numpy.isnan(values)
        infinite = _numpy.flatnonzero(_numpy.isinf(values))
        if len(infinite):
            raise _Invalid(f"{where}: the value at candle {int(infinite[0])} is infinite")
        times = _numpy.array(times, dtype=_numpy.int64)
        return [list(p) for p in zip(times[present].tolist(), values[present].tolist())]
    if isinstance(values, (str, bytes, dict, set)) or not hasattr(values, "__len__"):
        raise _Invalid(
            f"{where}: values must be a list or array aligned with the candles, got {type(values).__name__}"
        )
    if len(values) != n:
        raise _Invalid(f"{where}: {len(values)} values for {n} candles")
    points = []
    for i, value in enumerate(values):
        if value is None:
            continue
        value = _number(value, f"{where}: the value at candle {i}")
        if math.isnan(value):
            continue
        if math.isinf(value):
            raise _Invalid(f"{where}: the value at candle {i} is infinite")
        points.append([times[i], value])
    return points


def _unreadable(text):
    """What makes a name unreadable (the first control, bidirectional
    control or invisible character), or None."""
    for place, c in enumerate(text, 1):
        if unicodedata.category(c) == "Cc":
            what = "a control character"
        elif c in _BIDI_CONTROLS:
            what = "a bidirectional control, which makes text read other than it is"
        elif c in _INVISIBLE:
            what = "an invisible character"
        else:
            continue
        return f"holds U+{ord(c):04X}, {what}, at character {place}: names must be plain, visible text"
    return None


def _color(color, where):
    if color is not None and (not isinstance(color, str) or not _COLOR.match(color)):
        raise _Invalid(f"{where}: colour {color!r:.40} is not '#rrggbb'")
    return color


def _pane(pane, where):
    """A pane's name as the script gave it (None: not given)."""
    if pane is None:
        return None
    if not isinstance(pane, str):
        raise _Invalid(f"{where}: pane must be a str (a name such as 'RSI'), got {type(pane).__name__}")
    if not pane.strip() or len(pane) > MAX_LABEL:
        raise _Invalid(f"{where}: pane {pane!r:.80} must be a name of 1 to {MAX_LABEL} characters")
    problem = _unreadable(pane)
    if problem is not None:
        raise _Invalid(f"{where}: pane {pane!r:.80} {problem}")
    return pane


def _line(name, spec, times):
    color = pane = None
    style = "line"
    if isinstance(spec, _Line):
        spec, color, pane, style = spec.values, spec.color, spec.pane, spec.style
        if not isinstance(style, str) or style not in ("line", "histogram"):
            raise _Invalid(f"line {name!r}: style {style!r:.40} is not 'line' or 'histogram'")
        _color(color, f"line {name!r}")
        pane = _pane(pane, f"line {name!r}")
    if pane is None and style == "histogram":
        # Bars from zero beside the candles' prices would be invisible.
        pane = name
    out = {"name": name, "points": _points(name, spec, times)}
    if color is not None:
        out["color"] = color
    if pane is not None:
        out["pane"] = pane
    if style == "histogram":
        out["style"] = "histogram"
    return out


def _level(name, spec, pane_before):
    where = f"level {name!r}"
    value = _number(spec.value, f"{where}: the value")
    if math.isnan(value):
        raise _Invalid(f"{where}: the value is NaN")
    if math.isinf(value):
        raise _Invalid(f"{where}: the value is infinite")
    color = _color(spec.color, where)
    pane = _pane(spec.pane, where)
    if pane is None:
        pane = pane_before
    out = {"name": name, "value": value}
    if pane is not None:
        out["pane"] = pane
    if color is not None:
        out["color"] = color
    return out


def _drawings(entries, times):
    """The lines dict as ``(lines, levels)``, in the dict's order, each
    entry's pane settled."""
    if not isinstance(entries, dict):
        raise _Invalid(f"lines must be a dict of name: values, got {type(entries).__name__}")
    level_count = sum(1 for spec in entries.values() if isinstance(spec, _Level))
    if len(entries) - level_count > MAX_LINES:
        raise _Invalid(f"{len(entries) - level_count} lines: at most {MAX_LINES} fit on a chart")
    if level_count > MAX_LEVELS:
        raise _Invalid(f"{level_count} levels: at most {MAX_LEVELS} fit on a chart")
    lines, levels = [], []
    pane_before = None
    for name, spec in entries.items():
        if not isinstance(name, str):
            raise _Invalid(f"line names must be str, got {type(name).__name__} {name!r:.40}")
        if not name.strip() or len(name) > MAX_LABEL:
            raise _Invalid(f"line {name!r:.80}: a name must be 1 to {MAX_LABEL} characters")
        if isinstance(spec, _Level):
            drawn = _level(name, spec, pane_before)
            levels.append(drawn)
        else:
            drawn = _line(name, spec, times)
            lines.append(drawn)
        pane_before = drawn.get("pane")
    panes = list(dict.fromkeys(d["pane"] for d in lines + levels if "pane" in d))
    if len(panes) > MAX_PANES:
        named = ", ".join(repr(p) for p in panes)
        raise _Invalid(f"{len(panes)} panes ({named:.300}): at most {MAX_PANES} fit under the candles")
    return lines, levels


def _parts(result):
    """``(markers, lines)`` of what ``signals()`` returned."""
    if isinstance(result, dict):
        unknown = [k for k in result if k not in ("markers", "lines")]
        if unknown:
            raise _Invalid(f"signals() returned a dict with key {unknown[0]!r:.40}; the keys are 'markers' and 'lines'")
        markers, lines = result.get("markers"), result.get("lines")
    elif isinstance(result, (tuple, list)):
        if len(result) != 2:
            raise _Invalid(
                f"signals() returned a {type(result).__name__} of {len(result)} items, expected (markers, lines)"
            )
        markers, lines = result
    else:
        raise _Invalid(f"signals() returned a {type(result).__name__}, expected (markers, lines)")
    if markers is None:
        markers = []
    if not isinstance(markers, (list, tuple)):
        raise _Invalid(f"markers must be a list, got {type(markers).__name__}")
    return markers, lines


def _output(result, times):
    """The script's return value as the protocol's Output; ``times`` are the
    candles' open times as the job gave them."""
    markers, lines = _parts(result)
    if len(markers) > MAX_MARKERS:
        raise _Invalid(f"{len(markers)} markers: at most {MAX_MARKERS} fit on a chart")
    candles = set(times) if markers else set()
    markers = [_marker(i, m, candles) for i, m in enumerate(markers)]

    if lines is None:
        lines = {}
    lines, levels = _drawings(lines, times)
    output = {"markers": markers, "lines": lines}
    if levels:
        output["levels"] = levels
    return output


def _encode(value):
    return json.dumps(value, allow_nan=False, separators=(",", ":")).encode()


def run(source, raw_columns, fd, output_limit, log_limit, memory_bytes, backtest=None):
    """Runs ``source`` and sends its log and result to ``fd``. Never raises.
    ``backtest`` is None for a chart run, ``(window, confirm_max)`` for a
    backtest."""
    pipe = _Pipe(fd)
    megabytes = memory_bytes / (1 << 20)
    out_of_memory = _encode(
        {
            "Err": _error(
                "memory_limit", f"MemoryError: the script used more than its {megabytes:g} MB of memory"
            )
        }
    )
    log = _Log(pipe, log_limit)
    try:
        answer = _run(source, raw_columns, log, output_limit, backtest)
        log.flush()
        pipe.send(b"R", answer)
    except MemoryError:
        try:
            pipe.send(b"R", out_of_memory)
        except BaseException:
            pass
    except BaseException as exc:
        # A bug here, or the script broke the sandbox's own Python objects.
        try:
            pipe.send(b"R", _encode({"Err": _error("exception", f"the runner failed: {_describe(exc)}")}))
        except BaseException:
            pass
    finally:
        try:
            os.close(fd)
        except BaseException:
            pass


def _run(source, raw_columns, log, output_limit, backtest):
    if _numpy is not None:
        # The zygote's numpy generator would otherwise start every run in
        # the same state (`random` reseeds itself after a fork).
        _numpy.random.seed()
    lines = source.splitlines()
    sys.stdout = sys.stderr = log

    try:
        code = compile(source, SCRIPT, "exec", dont_inherit=True)
    except SyntaxError as exc:
        number = exc.lineno if isinstance(exc.lineno, int) and exc.lineno > 0 else None
        column = exc.offset if isinstance(exc.offset, int) and exc.offset > 0 else None
        frames = []
        if number is not None:
            text = exc.text.strip() if isinstance(exc.text, str) else _source_line(lines, number)
            frames.append({"line": number, "function": "<module>", "text": text[:200]})
        message = _describe(type(exc)(exc.msg))
        return _encode({"Err": _error("syntax", message, number, column, frames)})
    except MemoryError:
        raise
    except BaseException as exc:  # ValueError (null bytes), RecursionError (deep nesting)
        return _encode({"Err": _error("syntax", _describe(exc))})

    if backtest is None:
        candles = _columns(raw_columns)
    else:
        series = _Series(raw_columns)
        candles = series.fresh(0, len(series))
    namespace = {"__name__": "__script__", "__builtins__": builtins}
    signals = None
    try:
        exec(code, namespace)
        signals = namespace.get("signals")
        if not callable(signals):
            return _encode({"Err": _error("exception", "define a function signals(candles)")})
        result = signals(candles)
    except MemoryError:
        namespace.clear()
        raise
    except BaseException as exc:
        error = _exception(exc, signals, lines)
        del exc
        namespace.clear()
        return _encode({"Err": error})

    if backtest is None:
        answer = _chart_answer(result, raw_columns)
    else:
        del candles
        log.flush()
        # The log is the first call's: re-checks would repeat it.
        sys.stdout = sys.stderr = _Discard()
        answer = _backtest(result, series, code, lines, *backtest)
    if len(answer) > output_limit:
        return _encode(
            {
                "Err": _error(
                    "output_too_large",
                    f"the answer is {len(answer)} bytes, over the limit of {output_limit} bytes",
                )
            }
        )
    return answer


def _exception(exc, signals, lines, prefix=""):
    """The error of an exception the script raised: its message, and its
    own frames and innermost line (or ``signals``' first)."""
    frames = _user_frames(exc.__traceback__, lines)
    message = prefix + _describe(exc)
    line = frames[-1]["line"] if frames else None
    if line is None:
        code_ = getattr(signals, "__code__", None)
        if code_ is not None and code_.co_filename == SCRIPT:
            line = code_.co_firstlineno
    return _error("exception", message, line, None, frames)


def _chart_answer(result, raw_columns):
    try:
        output = _output(result, memoryview(raw_columns[0]).cast("q").tolist())
    except _Invalid as exc:
        return _encode({"Err": _error("invalid_output", str(exc))})
    except MemoryError:
        raise
    except BaseException as exc:
        return _encode({"Err": _error("invalid_output", f"reading what signals() returned: {_describe(exc)}")})
    return _encode({"Ok": output})


class _Series:
    """A backtest's candles as the job gave them. The script never gets
    these: each call gets fresh copies of a stretch of them (a script may
    change its arrays in place)."""

    def __init__(self, raw):
        if _numpy is not None:
            self.columns = [_numpy.frombuffer(raw[0], dtype="<i8")]
            self.columns += [_numpy.frombuffer(b, dtype="<f8") for b in raw[1:]]
            t = self.columns[0]
            self.ascending = bool((t[1:] > t[:-1]).all())
        else:
            self.columns = [memoryview(raw[0]).cast("q")] + [memoryview(b).cast("d") for b in raw[1:]]
            t = self.columns[0]
            self.ascending = all(t[i] < t[i + 1] for i in range(len(t) - 1))
        self.time = self.columns[0]
        self._positions = None

    def __len__(self):
        return len(self.time)

    def fresh(self, lo, hi):
        """Candles ``lo`` to ``hi`` (exclusive), the script's own copies."""
        if _numpy is not None:
            return Candles(*(column[lo:hi].copy() for column in self.columns))
        return Candles(*(column[lo:hi].tolist() for column in self.columns))

    def locate(self, times):
        """The index of the candle that opened at each time (a list of
        ints), -1 where none did."""
        n = len(self.time)
        if n == 0:
            return [-1] * len(times)
        if self.ascending and _numpy is not None:
            wanted = _numpy.array(times, dtype=_numpy.int64)
            at = _numpy.searchsorted(self.time, wanted)
            found = (at < n) & (self.time[_numpy.minimum(at, n - 1)] == wanted)
            return _numpy.where(found, at, -1).tolist()
        if self.ascending:
            out = []
            for t in times:
                i = bisect.bisect_left(self.time, t)
                out.append(i if i < n and self.time[i] == t else -1)
            return out
        if self._positions is None:
            # The first candle of a time, should a series repeat one.
            self._positions = {}
            for i in range(n - 1, -1, -1):
                self._positions[self.time[i]] = i
        return [self._positions.get(t, -1) for t in times]

    def when(self, i):
        """Candle ``i``'s open time as ``2024-05-01 12:00 UTC``."""
        ms = int(self.time[i])
        try:
            return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ms // 1000))
        except (OverflowError, OSError, ValueError):
            return f"{ms} ms"


_INT64 = range(-(1 << 63), 1 << 63)


def _signals(result, series, lo=0, hi=None):
    """The markers of what ``signals()`` returned as ``(index, side)``
    lists, in the script's order, checked as a chart run's are (but not
    capped at a chart's 10,000); each must be at one of candles ``lo`` to
    ``hi`` (exclusive), the candles that call had. Lines are not read."""
    if hi is None:
        hi = len(series)
    markers, _ = _parts(result)
    if len(markers) > MAX_SIGNALS:
        raise _Invalid(f"{len(markers)} signals: at most {MAX_SIGNALS} in a backtest")
    times, sides = [], []
    for i, marker in enumerate(markers):
        t, side, _, _ = _marker_fields(i, marker)
        if t not in _INT64:
            raise _Invalid(_not_a_candle(i, t))
        times.append(t)
        sides.append(side)
    index = series.locate(times)
    for i, at in enumerate(index):
        if not lo <= at < hi:
            raise _Invalid(_not_a_candle(i, times[i]))
    return index, sides


def _to_confirm(candles, budget):
    """Which of ``candles`` (distinct, ascending) to re-check: all of them
    when they are at most ``budget``; else the newest quarter of the
    budget (rounded up) and the rest spread evenly over the older ones."""
    if len(candles) <= budget:
        return list(candles)
    newest = (budget + 3) // 4
    older = candles[: len(candles) - newest]
    rest = budget - newest
    # The middle of each of `rest` equal stretches: distinct, as there are
    # more older candles than picks.
    picks = [older[(2 * j + 1) * len(older) // (2 * rest)] for j in range(rest)]
    return picks + list(candles[len(candles) - newest :])


def _backtest(result, series, code, lines, window, confirm_max):
    """A backtest's answer: the signals of the first call, by candle index
    (stably sorted, so the script's order holds on a candle), and which of
    those re-checked live-style the script does not give again.

    Each re-check runs the script's code afresh, as a live run does, so
    what the first call left in the script's globals or its functions'
    defaults (a cached result, say) cannot answer for a later one."""
    try:
        index, sides = _signals(result, series)
    except _Invalid as exc:
        return _encode({"Err": _error("invalid_output", str(exc))})
    except MemoryError:
        raise
    except BaseException as exc:
        return _encode({"Err": _error("invalid_output", f"reading what signals() returned: {_describe(exc)}")})
    del result
    if _numpy is not None:
        order = _numpy.argsort(_numpy.array(index, dtype=_numpy.int64), kind="stable").tolist()
    else:
        order = sorted(range(len(index)), key=index.__getitem__)
    index = [index[o] for o in order]
    sides = "".join("b" if sides[o] == "buy" else "s" for o in order)
    del order

    candles = sorted(set(index))
    checked = 0
    unconfirmed = []
    for k in _to_confirm(candles, confirm_max):
        lo = max(0, k + 1 - window)
        prefix = f"With the candles up to {series.when(k)} as the newest: "
        namespace = {"__name__": "__script__", "__builtins__": builtins}
        signals = None
        try:
            exec(code, namespace)
            signals = namespace.get("signals")
            if not callable(signals):
                return _encode({"Err": _error("exception", prefix + "define a function signals(candles)")})
            again = signals(series.fresh(lo, k + 1))
        except MemoryError:
            raise
        except BaseException as exc:
            error = _exception(exc, signals, lines, prefix)
            del exc
            return _encode({"Err": error})
        try:
            at, given = _signals(again, series, lo, k + 1)
        except _Invalid as exc:
            return _encode({"Err": _error("invalid_output", prefix + str(exc))})
        except MemoryError:
            raise
        except BaseException as exc:
            message = f"{prefix}reading what signals() returned: {_describe(exc)}"
            return _encode({"Err": _error("invalid_output", message)})
        del again
        live = {side[0] for i, side in zip(at, given) if i == k}
        first, last = bisect.bisect_left(index, k), bisect.bisect_right(index, k)
        checked += last - first
        unconfirmed.extend(p for p in range(first, last) if sides[p] not in live)
    return _encode(
        {"Ok": {"index": index, "side": sides, "checked": checked, "unconfirmed": unconfirmed}}
    )
