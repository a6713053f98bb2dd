//! What the server and a script worker say to each other, and what a
//! signal script produces.
//!
//! A frame is a little-endian `u32` length followed by that many bytes of
//! JSON. The worker says [`FromWorker::Ready`] once it is confined and
//! warm. For each run the server writes a [`ToWorker::Run`] frame (the
//! run's limits and the size of its payload) followed by the payload
//! itself, the script and its candles ([`payload`]). The worker's
//! supervisor (the zygote) reads only the frame: it passes the payload on
//! to the run's child without ever holding it in its own memory, so
//! nothing of one run can be in the memory a later run is forked from.
//! For the same reason what the child writes back reaches the server
//! untouched, as [`FromWorker::Output`] frames each followed by that many
//! raw bytes, and the run ends with [`FromWorker::Done`]: the
//! supervisor's [`Verdict`], what it observed of the child.
//!
//! The server then decides the run's outcome with [`judge::report`]:
//! limits, time-outs, crashes and sandbox failures come from the verdict
//! alone; the child's bytes may only carry its script's own result or
//! error, which is parsed under caps, bounded, and checked against the
//! series with [`Output::check`].
//!
//! A job runs in one of two [`Mode`]s: a chart run answers markers and
//! lines ([`Report`]); a backtest runs the script once over a long series
//! and answers only its signals as candle indices, each re-checked as a
//! live run would have seen it ([`BacktestReport`], judged by
//! [`judge::backtest`]).

use serde::{Deserialize, Serialize};

mod check;
pub mod judge;
pub mod payload;
pub mod utc;

/// The largest frame either side accepts, in bytes.
pub const MAX_FRAME: usize = 16 << 20;
/// The largest payload (the script and its candles, 48 bytes a candle)
/// a job may carry, in bytes: room for 1.5 million candles and more. A
/// payload is not a frame: it follows its [`ToWorker::Run`] frame raw.
pub const MAX_PAYLOAD: usize = 96 << 20;

/// The most markers one run may return.
pub const MAX_MARKERS: usize = 10_000;
/// The most signals one backtest may return.
pub const MAX_SIGNALS: usize = 1_000_000;
/// The most lines one run may return.
pub const MAX_LINES: usize = 16;
/// The longest line name or marker label, in characters.
pub const MAX_LABEL: usize = 64;
/// The most horizontal levels one run may return.
pub const MAX_LEVELS: usize = 16;
/// The most panes under the candles one run may fill.
pub const MAX_PANES: usize = 4;
/// The most bytes of printed output a run keeps.
pub const MAX_LOG: usize = 16 << 10;

/// What the server sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToWorker {
    /// Run a script once: `payload_len` bytes of [`payload`] follow this
    /// frame on the stream.
    Run { limits: Limits, payload_len: u32 },
}

/// One run of a script over a series of candles, as the server holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// The script's Python source.
    pub source: String,
    pub candles: Columns,
    pub limits: Limits,
    /// A chart run or a backtest.
    #[serde(default)]
    pub mode: Mode,
}

/// What a run is for, and so what it answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Mode {
    /// Markers and lines to draw on a chart ([`Report`]).
    #[default]
    Chart,
    /// The script's signals over the whole series, as candle indices
    /// ([`BacktestReport`]). `signals()` is called once on all the
    /// candles; then, for up to `confirm_max` of the candles it signalled
    /// on, again on only the `window` candles a live run would have had
    /// with that candle as the newest, and a signal it does not give
    /// there too is unconfirmed (it needed candles after its own).
    Backtest {
        /// How many closed candles a live run of the script sees.
        window: u32,
        /// The most signal candles re-checked.
        confirm_max: u32,
    },
}

impl Job {
    /// The bytes that ask a worker to run this job: the [`ToWorker::Run`]
    /// frame, then the payload.
    pub fn to_wire(&self) -> Result<Vec<u8>, FrameError> {
        let payload = payload::encode(self.mode, &self.source, &self.candles)?;
        let payload_len =
            u32::try_from(payload.len()).map_err(|_| FrameError::PayloadTooLarge(payload.len()))?;
        let mut wire = encode(&ToWorker::Run {
            limits: self.limits,
            payload_len,
        })?;
        wire.extend_from_slice(&payload);
        Ok(wire)
    }
}

/// Candles as columns, oldest first. `time` is the open time in
/// milliseconds since the Unix epoch. Every column has the same length.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Columns {
    pub time: Vec<i64>,
    pub open: Vec<f64>,
    pub high: Vec<f64>,
    pub low: Vec<f64>,
    pub close: Vec<f64>,
    pub volume: Vec<f64>,
}

impl Columns {
    pub fn len(&self) -> usize {
        self.time.len()
    }

    pub fn is_empty(&self) -> bool {
        self.time.is_empty()
    }

    /// Whether every column has as many values as `time`.
    pub fn is_rectangular(&self) -> bool {
        let n = self.time.len();
        [&self.open, &self.high, &self.low, &self.close, &self.volume]
            .iter()
            .all(|column| column.len() == n)
    }
}

/// What one run may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// CPU time, in milliseconds.
    pub cpu_ms: u64,
    /// Time from start to answer, in milliseconds: a script that sleeps
    /// or waits is stopped here.
    pub wall_ms: u64,
    /// Memory the script may allocate on top of the warm interpreter, in
    /// bytes.
    pub memory_bytes: u64,
    /// The largest answer, in bytes of JSON.
    pub output_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            cpu_ms: 2_000,
            wall_ms: 5_000,
            memory_bytes: 256 << 20,
            output_bytes: 4 << 20,
        }
    }
}

/// What a worker sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FromWorker {
    /// The worker is confined, Python is loaded and it waits for a job.
    Ready {
        /// `sys.version` of the embedded interpreter.
        python: String,
        /// numpy's version, when numpy is available.
        numpy: Option<String>,
    },
    /// `len` bytes the run's child wrote follow this frame, untouched:
    /// untrusted, read with [`judge::Answer`].
    Output { len: u32 },
    /// The run is over: what the supervisor saw.
    Done(Verdict),
}

/// What a worker's supervisor observed of a run's child. Only the
/// supervisor writes it; nothing in it comes from the script.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// Why the supervisor stopped the child, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<Stop>,
    /// How the child ended.
    pub ending: Ending,
    /// The child could not confine itself, in the worker's own words (no
    /// script code had run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_error: Option<String>,
    /// CPU time the child used, in milliseconds.
    pub cpu_ms: u64,
    /// Time from receiving the job to the verdict, in milliseconds.
    pub wall_ms: u64,
    /// The most memory the run's cgroup held, in bytes, where the worker
    /// has cgroups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_peak_bytes: Option<u64>,
}

/// Why a supervisor stopped a child.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stop {
    /// Its wall-clock time was up.
    Wall,
    /// Its CPU time was up.
    Cpu,
    /// It wrote more than its output allowance, or too many times.
    Output,
    /// The kernel killed it at its cgroup's memory limit.
    Memory,
    /// The supervisor could not watch it (a system call failed).
    Unwatchable,
}

/// How a child ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "how", rename_all = "snake_case")]
pub enum Ending {
    /// It closed its answer pipe and was stopped after (the normal end).
    #[default]
    Closed,
    /// It exited with this status before closing its pipe.
    Exited { code: i32 },
    /// A signal ended it.
    Signaled { signal: i32 },
}

/// How a run went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub result: Result<Output, RunError>,
    /// What the script printed, cut at [`MAX_LOG`] bytes.
    #[serde(default)]
    pub log: String,
    /// CPU time the run used, in milliseconds.
    pub cpu_ms: u64,
    /// Time from receiving the job to answering, in milliseconds.
    pub wall_ms: u64,
}

/// What a script returns: markers and named lines.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Output {
    #[serde(default)]
    pub markers: Vec<Marker>,
    #[serde(default)]
    pub lines: Vec<Line>,
    /// Horizontal levels (an RSI's 30 and 70), in the order the script
    /// listed them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub levels: Vec<Level>,
}

/// A buy or sell signal at a candle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Marker {
    /// The open time of the candle it belongs to.
    pub time: i64,
    pub side: Side,
    pub price: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Buy,
    Sell,
}

/// A signal as a backtest trades it: the index of its candle in the
/// series the script ran on, and its side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signal {
    pub index: u32,
    pub side: Side,
}

/// What a backtest's script signalled over the whole series.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signals {
    /// Every signal, by candle index; signals on the same candle in the
    /// order the script gave them.
    pub signals: Vec<Signal>,
    /// How many of the signals were re-checked as a live run would have
    /// seen them (every signal on each re-checked candle).
    pub checked: u32,
    /// The re-checked signals the script did not give again with only
    /// the candles up to theirs: they needed later candles (look-ahead).
    /// In the order of `signals`.
    pub unconfirmed: Vec<Signal>,
}

/// How a backtest run went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BacktestReport {
    pub result: Result<Signals, RunError>,
    /// What the script printed, cut at [`MAX_LOG`] bytes.
    #[serde(default)]
    pub log: String,
    /// CPU time the run used, in milliseconds.
    pub cpu_ms: u64,
    /// Time from receiving the job to answering, in milliseconds.
    pub wall_ms: u64,
}

/// A named series of values drawn over the candles, such as a moving
/// average. Candles without a value (an average's first candles) are left
/// out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    pub name: String,
    /// A CSS colour as `#rrggbb`; the chart picks one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    /// `(open time, value)`, ascending.
    pub points: Vec<(i64, f64)>,
    /// The pane under the candles it is drawn in, with its own scale;
    /// `None` draws it over the candles, on the price scale. Lines and
    /// levels naming the same pane share it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pane: Option<String>,
    /// A line, or bars from zero (a MACD histogram).
    #[serde(default, skip_serializing_if = "LineStyle::is_line")]
    pub style: LineStyle,
}

/// How a [`Line`]'s values are drawn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineStyle {
    #[default]
    Line,
    /// A bar from zero to each value.
    Histogram,
}

impl LineStyle {
    fn is_line(&self) -> bool {
        *self == LineStyle::Line
    }
}

/// A horizontal line at one value across the whole chart, such as an
/// RSI's 70.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Level {
    pub name: String,
    pub value: f64,
    /// The pane it is drawn in; `None` is the price chart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pane: Option<String>,
    /// A CSS colour as `#rrggbb`; the chart picks one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
}

/// Why a run produced no output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunError {
    pub kind: ErrorKind,
    /// One sentence for the trader, e.g. `ZeroDivisionError: division by zero`.
    pub message: String,
    /// Where in the script, 1-based, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    /// The script's own frames of the traceback, outermost first; frames
    /// of the sandbox and of library code are left out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub traceback: Vec<Frame>,
}

impl RunError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            line: None,
            column: None,
            traceback: Vec::new(),
        }
    }
}

/// One frame of the script's traceback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frame {
    pub line: u32,
    /// The function, or `<module>` for top-level code.
    pub function: String,
    /// The source line, trimmed.
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The script does not parse.
    Syntax,
    /// The script raised an exception, or defines no `signals` function.
    Exception,
    /// It used more CPU time than its limit.
    CpuLimit,
    /// It ran longer than its wall-clock limit.
    TimeLimit,
    /// It tried to allocate more memory than its limit.
    MemoryLimit,
    /// Its answer was larger than the output limit.
    OutputTooLarge,
    /// It returned something that is not markers and lines, or markers at
    /// times that are not candles of the series.
    InvalidOutput,
    /// The worker process died for another reason, e.g. a crash in C code.
    Crashed,
    /// No worker could take the run (the sandbox is unavailable here, or
    /// the server is shutting down).
    Unavailable,
}

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {0} bytes is over the {MAX_FRAME}-byte limit")]
    TooLarge(usize),
    #[error("payload of {0} bytes is over the {MAX_PAYLOAD}-byte limit")]
    PayloadTooLarge(usize),
    #[error("malformed frame: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the job's candle columns have different lengths")]
    Ragged,
    #[error("a backtest's window must be at least one candle")]
    EmptyWindow,
}

/// Encodes a message as one frame: length, then JSON.
pub fn encode<T: Serialize>(message: &T) -> Result<Vec<u8>, FrameError> {
    let mut frame = vec![0; 4];
    serde_json::to_writer(&mut frame, message)?;
    let len = frame.len() - 4;
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge(len));
    }
    frame[..4].copy_from_slice(&(len as u32).to_le_bytes());
    Ok(frame)
}

/// The body length a frame header announces, refusing frames over
/// [`MAX_FRAME`] before anything is allocated for them.
pub fn body_len(header: [u8; 4]) -> Result<usize, FrameError> {
    let len = u32::from_le_bytes(header) as usize;
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge(len));
    }
    Ok(len)
}

/// Decodes a frame's body.
pub fn decode<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, FrameError> {
    Ok(serde_json::from_slice(body)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_refuse_oversized_headers() {
        let message = FromWorker::Ready {
            python: "3.11.7".into(),
            numpy: None,
        };
        let frame = encode(&message).unwrap();
        let len = body_len(frame[..4].try_into().unwrap()).unwrap();
        assert_eq!(len, frame.len() - 4);
        assert_eq!(decode::<FromWorker>(&frame[4..]).unwrap(), message);
        assert!(matches!(
            body_len(((MAX_FRAME + 1) as u32).to_le_bytes()),
            Err(FrameError::TooLarge(_))
        ));
    }

    #[test]
    fn reports_read_as_documented() {
        let report: Report = decode(
            br#"{"result":{"Err":{"kind":"syntax","message":"invalid syntax","line":3,"column":7}},"cpu_ms":1,"wall_ms":2}"#,
        )
        .unwrap();
        let error = report.result.unwrap_err();
        assert_eq!(
            (error.kind, error.line, error.column),
            (ErrorKind::Syntax, Some(3), Some(7))
        );
        // JSON has no NaN: a worker that sends one sends null, which is refused.
        assert!(decode::<Marker>(br#"{"time":1,"side":"buy","price":null}"#).is_err());
    }
}
