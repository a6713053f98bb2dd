//! How a run ended, decided outside the sandbox from two things: the
//! supervisor's [`Verdict`] (what it observed of the child) and the bytes
//! the child wrote (untrusted: whatever a script wrote to its pipe).
//!
//! Policy:
//! - Limits, time-outs, crashes and sandbox failures come from the verdict
//!   alone, with messages written here; no byte of the child's can claim
//!   one. A child that answers `cpu_limit`, `time_limit`, `crashed` or
//!   `unavailable` has written something that is not an answer
//!   (`invalid_output`).
//! - The child may report its script's result, or one of the script's own
//!   errors: `syntax`, `exception`, `invalid_output`, and `memory_limit` or
//!   `output_too_large` (seen inside the child: an allocation refused at
//!   its `RLIMIT_AS`, an answer too big to send), whose messages are
//!   written here from the job's limits, never taken from the child.
//! - Everything taken from the child is bounded before it is stored or
//!   shown: a message of at most [`MAX_MESSAGE`] characters, at most
//!   [`MAX_TRACEBACK`] frames with short names and lines, line numbers
//!   within the script, the log at [`MAX_LOG`] bytes; control, bidi and
//!   invisible characters are replaced; the output is checked against the
//!   series ([`Output::check`]).
//! - A backtest's signals ([`backtest`]) are held to the series too: at
//!   most [`MAX_SIGNALS`], by candle index, each index a candle of the
//!   series, and the unconfirmed ones among them.
//!
//! The child's bytes are frames of a one-byte tag, a little-endian `u32`
//! length and the payload: [`TAG_LOG`] (printed text) and one
//! [`TAG_RESULT`] (JSON `{"Ok": Output}` or `{"Err": error}`), read with a
//! cursor, at most [`MAX_ANSWER_FRAMES`] of them. A backtest's `Ok` holds
//! its signals as columns, small enough for a million of them:
//!
//! ```text
//! {"Ok": {"index": [12, 40, 40], "side": "bsb", "checked": 3, "unconfirmed": [1]}}
//! ```
//!
//! `index` are candle indices, ascending; `side` one letter per signal
//! (`b` buy, `s` sell); `checked` how many signals were re-checked;
//! `unconfirmed` positions in the signal list, ascending.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

use crate::check::{is_bidi_control, is_invisible};
use crate::{
    BacktestReport, ErrorKind, Frame, Job, Limits, MAX_LOG, MAX_SIGNALS, Output, Report, RunError, Side,
    Signal, Signals, Stop, Verdict,
};

/// A child's printed text.
pub const TAG_LOG: u8 = b'L';
/// A child's result.
pub const TAG_RESULT: u8 = b'R';
/// The most frames one child's answer may have.
pub const MAX_ANSWER_FRAMES: usize = 4096;
/// What a supervisor lets a child write beyond its output allowance (the
/// log and the framing).
pub const ANSWER_OVERHEAD: usize = MAX_LOG * 2 + (64 << 10);
/// The longest error message kept, in characters.
pub const MAX_MESSAGE: usize = 1_000;
/// The most traceback frames kept.
pub const MAX_TRACEBACK: usize = 50;
/// The longest function name and source line of a frame, in characters.
pub const MAX_FRAME_TEXT: usize = 200;

/// A child's answer, read under the caps above.
#[derive(Debug, Default)]
pub struct Answer {
    log: Vec<u8>,
    result: Option<Vec<u8>>,
    malformed: Option<&'static str>,
}

impl Answer {
    /// Reads everything a child wrote.
    pub fn parse(bytes: &[u8]) -> Self {
        let mut answer = Self::default();
        let mut at = 0;
        let mut frames = 0;
        while at < bytes.len() {
            frames += 1;
            if frames > MAX_ANSWER_FRAMES {
                answer.malformed = Some("too many frames");
                break;
            }
            let Some(header) = bytes.get(at..at + 5) else {
                answer.malformed = Some("a frame cut short");
                break;
            };
            let len = u32::from_le_bytes([header[1], header[2], header[3], header[4]]) as usize;
            let Some(body) = bytes.get(at + 5..(at + 5).saturating_add(len)) else {
                answer.malformed = Some("a frame cut short");
                break;
            };
            at += 5 + len;
            match header[0] {
                TAG_LOG => {
                    let room = MAX_LOG - answer.log.len();
                    answer.log.extend_from_slice(&body[..body.len().min(room)]);
                }
                TAG_RESULT if answer.result.is_none() => answer.result = Some(body.to_vec()),
                TAG_RESULT => {
                    answer.malformed = Some("two results");
                    break;
                }
                _ => {
                    answer.malformed = Some("an unknown frame");
                    break;
                }
            }
        }
        answer
    }

    /// The log as text, cut at [`MAX_LOG`] bytes on a character boundary.
    pub fn log_text(&self) -> String {
        let text = String::from_utf8_lossy(&self.log);
        let mut end = text.len().min(MAX_LOG);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text[..end].to_owned()
    }
}

/// The run's report: see the module policy.
pub fn report(job: &Job, verdict: &Verdict, child_bytes: &[u8]) -> Report {
    let answer = Answer::parse(child_bytes);
    Report {
        result: outcome(job, verdict, &answer).and_then(|result| chart_result(job, result)),
        log: answer.log_text(),
        cpu_ms: verdict.cpu_ms,
        wall_ms: verdict.wall_ms,
    }
}

/// The report of a backtest (a job in [`Mode::Backtest`](crate::Mode)):
/// limits, time-outs and crashes as for [`report`], the signals read
/// under caps and checked against the series.
pub fn backtest(job: &Job, verdict: &Verdict, child_bytes: &[u8]) -> BacktestReport {
    let answer = Answer::parse(child_bytes);
    BacktestReport {
        result: outcome(job, verdict, &answer).and_then(|result| backtest_result(job, result)),
        log: answer.log_text(),
        cpu_ms: verdict.cpu_ms,
        wall_ms: verdict.wall_ms,
    }
}

fn failure<T>(kind: ErrorKind, message: impl Into<String>) -> Result<T, RunError> {
    Err(RunError::new(kind, message))
}

fn cpu_limit(limits: &Limits) -> RunError {
    RunError::new(
        ErrorKind::CpuLimit,
        format!("the script used more than its {} ms of CPU time", limits.cpu_ms),
    )
}

fn memory_limit(limits: &Limits) -> RunError {
    let megabytes = limits.memory_bytes as f64 / f64::from(1 << 20);
    RunError::new(
        ErrorKind::MemoryLimit,
        format!("MemoryError: the script used more than its {megabytes} MB of memory"),
    )
}

fn output_too_large(limits: &Limits) -> RunError {
    RunError::new(
        ErrorKind::OutputTooLarge,
        format!(
            "the script's answer is over the limit of {} bytes",
            limits.output_bytes
        ),
    )
}

/// What the verdict alone decides, or else the child's result: its bytes,
/// within the output limit.
fn outcome<'a>(job: &Job, verdict: &Verdict, answer: &'a Answer) -> Result<&'a [u8], RunError> {
    let limits = &job.limits;
    if verdict.sandbox_error.is_some() {
        return failure(
            ErrorKind::Unavailable,
            "the sandbox could not be set up for this run",
        );
    }
    let cpu_exceeded = verdict.cpu_ms >= limits.cpu_ms;
    match verdict.stopped {
        Some(Stop::Unwatchable) => {
            return failure(ErrorKind::Unavailable, "the worker could not watch the run");
        }
        Some(Stop::Cpu) => return Err(cpu_limit(limits)),
        Some(Stop::Wall) if cpu_exceeded => return Err(cpu_limit(limits)),
        Some(Stop::Wall) => {
            return failure(
                ErrorKind::TimeLimit,
                format!(
                    "the script ran longer than its {} ms (it may be waiting or sleeping)",
                    limits.wall_ms
                ),
            );
        }
        Some(Stop::Output) => return Err(output_too_large(limits)),
        Some(Stop::Memory) => return Err(memory_limit(limits)),
        None => {}
    }
    if let Some(why) = answer.malformed {
        return failure(
            ErrorKind::InvalidOutput,
            format!("the script wrote to the sandbox's answer pipe ({why})"),
        );
    }
    if let Some(result) = &answer.result {
        if result.len() as u64 > limits.output_bytes {
            return Err(output_too_large(limits));
        }
        return Ok(result);
    }
    let signal = match verdict.ending {
        crate::Ending::Signaled { signal } => Some(signal),
        _ => None,
    };
    // SIGXCPU (24) is RLIMIT_CPU's soft limit; SIGKILL (9) past its hard one.
    if signal == Some(24) || (signal == Some(9) && cpu_exceeded) {
        return Err(cpu_limit(limits));
    }
    match verdict.ending {
        crate::Ending::Signaled { signal } => {
            let hint = if signal == 11 {
                " (often recursion too deep for the C stack)"
            } else {
                ""
            };
            failure(
                ErrorKind::Crashed,
                format!("the script crashed with {}{hint}", signal_name(signal)),
            )
        }
        crate::Ending::Exited { code } => failure(
            ErrorKind::Crashed,
            format!("the script ended (exit status {code}) without an answer"),
        ),
        crate::Ending::Closed => failure(
            ErrorKind::Crashed,
            "the script closed its answer pipe without an answer",
        ),
    }
}

/// What a child may say of its script: a result or one of these errors.
#[derive(Deserialize)]
enum ChildResult<T> {
    Ok(T),
    Err(ChildError),
}

#[derive(Deserialize)]
struct ChildError {
    kind: ChildKind,
    #[serde(default)]
    message: String,
    #[serde(default)]
    line: Option<u64>,
    #[serde(default)]
    column: Option<u64>,
    #[serde(default)]
    traceback: Vec<Frame>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum ChildKind {
    Syntax,
    Exception,
    InvalidOutput,
    MemoryLimit,
    OutputTooLarge,
}

/// A backtest's signals as the child writes them (see the module doc).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChildSignals {
    #[serde(deserialize_with = "at_most_signals")]
    index: Vec<u32>,
    side: String,
    checked: u32,
    #[serde(deserialize_with = "at_most_signals")]
    unconfirmed: Vec<u32>,
}

/// A list of at most [`MAX_SIGNALS`] numbers, refused as soon as it is
/// longer (before it is all in memory).
fn at_most_signals<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u32>, D::Error> {
    struct Capped;
    impl<'de> Visitor<'de> for Capped {
        type Value = Vec<u32>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a list of at most {MAX_SIGNALS} numbers")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u32>, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(MAX_SIGNALS));
            while let Some(value) = seq.next_element()? {
                if out.len() == MAX_SIGNALS {
                    return Err(de::Error::custom("over the signal cap"));
                }
                out.push(value);
            }
            Ok(out)
        }
    }
    deserializer.deserialize_seq(Capped)
}

fn parse<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<ChildResult<T>, RunError> {
    serde_json::from_slice(bytes).map_err(|_| {
        RunError::new(
            ErrorKind::InvalidOutput,
            "the script wrote to the sandbox's answer pipe (not an answer)",
        )
    })
}

fn chart_result(job: &Job, bytes: &[u8]) -> Result<Output, RunError> {
    match parse::<Output>(bytes)? {
        ChildResult::Ok(output) => match output.check(&job.candles) {
            Ok(()) => Ok(output),
            Err(problem) => failure(ErrorKind::InvalidOutput, clean(&problem, MAX_MESSAGE, false)),
        },
        ChildResult::Err(error) => Err(child_error(job, error)),
    }
}

fn backtest_result(job: &Job, bytes: &[u8]) -> Result<Signals, RunError> {
    match parse::<ChildSignals>(bytes)? {
        ChildResult::Ok(signals) => signals
            .check(job.candles.len())
            .map_err(|problem| RunError::new(ErrorKind::InvalidOutput, problem)),
        ChildResult::Err(error) => Err(child_error(job, error)),
    }
}

impl ChildSignals {
    /// The signals, if they hold together and fit a series of `candles`
    /// candles. The runner sends nothing else; a message here means the
    /// script wrote to the pipe itself.
    fn check(self, candles: usize) -> Result<Signals, String> {
        let invalid = |why: &str| Err(format!("the script wrote to the sandbox's answer pipe ({why})"));
        if self.side.len() != self.index.len() {
            return invalid("signals and sides do not pair up");
        }
        let mut signals = Vec::with_capacity(self.index.len());
        for (&index, side) in self.index.iter().zip(self.side.bytes()) {
            let side = match side {
                b'b' => Side::Buy,
                b's' => Side::Sell,
                _ => return invalid("a side that is neither buy nor sell"),
            };
            if index as usize >= candles {
                return invalid("a signal after the last candle");
            }
            if signals.last().is_some_and(|last: &Signal| last.index > index) {
                return invalid("signals out of order");
            }
            signals.push(Signal { index, side });
        }
        if self.checked as usize > signals.len() || self.unconfirmed.len() > self.checked as usize {
            return invalid("more signals re-checked than given");
        }
        let mut unconfirmed = Vec::with_capacity(self.unconfirmed.len());
        let mut previous = None;
        for &at in &self.unconfirmed {
            let Some(&signal) = signals.get(at as usize) else {
                return invalid("an unconfirmed signal that was not given");
            };
            if previous.is_some_and(|p| p >= at) {
                return invalid("unconfirmed signals out of order");
            }
            previous = Some(at);
            unconfirmed.push(signal);
        }
        Ok(Signals {
            signals,
            checked: self.checked,
            unconfirmed,
        })
    }
}

/// A script's own error, as the child reported it, bounded and cleaned.
fn child_error(job: &Job, error: ChildError) -> RunError {
    let kind = match error.kind {
        ChildKind::MemoryLimit => return memory_limit(&job.limits),
        ChildKind::OutputTooLarge => return output_too_large(&job.limits),
        ChildKind::Syntax => ErrorKind::Syntax,
        ChildKind::Exception => ErrorKind::Exception,
        ChildKind::InvalidOutput => ErrorKind::InvalidOutput,
    };
    // A syntax error may point just past the last line.
    let lines = job.source.lines().count() as u64 + 1;
    let line = error.line.filter(|&n| (1..=lines).contains(&n)).map(|n| n as u32);
    let mut traceback = error.traceback;
    traceback.retain(|frame| (1..=lines).contains(&u64::from(frame.line)));
    if traceback.len() > MAX_TRACEBACK {
        traceback.drain(MAX_TRACEBACK / 2..traceback.len() - MAX_TRACEBACK / 2);
    }
    for frame in &mut traceback {
        frame.function = clean(&frame.function, MAX_FRAME_TEXT, false);
        frame.text = clean(&frame.text, MAX_FRAME_TEXT, false);
    }
    let message = clean(&error.message, MAX_MESSAGE, true);
    RunError {
        kind,
        message: if message.trim().is_empty() {
            "the script failed without a message".into()
        } else {
            message
        },
        line,
        column: error
            .column
            .filter(|&c| (1..=100_000).contains(&c))
            .map(|c| c as u32),
        traceback,
    }
}

/// `text` with control and invisible characters replaced by U+FFFD
/// (newlines and tabs kept when `multiline`), cut at `max` characters.
pub fn clean(text: &str, max: usize, multiline: bool) -> String {
    let mut out = String::with_capacity(text.len().min(max * 4));
    for (i, c) in text.chars().enumerate() {
        if i == max {
            out.pop();
            out.push('…');
            break;
        }
        let kept = multiline && (c == '\n' || c == '\t');
        out.push(
            if (c.is_control() && !kept) || is_bidi_control(c) || is_invisible(c) {
                '\u{FFFD}'
            } else {
                c
            },
        );
    }
    out
}

fn signal_name(signal: i32) -> String {
    let name = match signal {
        11 => "SIGSEGV (segmentation fault)",
        7 => "SIGBUS (bus error)",
        6 => "SIGABRT (aborted)",
        8 => "SIGFPE (arithmetic error)",
        4 => "SIGILL (illegal instruction)",
        9 => "SIGKILL",
        15 => "SIGTERM",
        24 => "SIGXCPU",
        25 => "SIGXFSZ",
        14 => "SIGALRM (alarm)",
        13 => "SIGPIPE",
        31 => "SIGSYS (bad system call)",
        5 => "SIGTRAP",
        _ => return format!("signal {signal}"),
    };
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Columns, Ending, Mode};

    fn frame(tag: u8, payload: &[u8]) -> Vec<u8> {
        let mut frame = vec![tag];
        frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        frame.extend_from_slice(payload);
        frame
    }

    fn job() -> Job {
        Job {
            source: "def signals(c):\n    return [], {}\n".into(),
            candles: Columns {
                time: vec![1, 2],
                open: vec![1.0; 2],
                high: vec![1.0; 2],
                low: vec![1.0; 2],
                close: vec![1.0; 2],
                volume: vec![1.0; 2],
            },
            limits: Limits::default(),
            mode: Mode::Chart,
        }
    }

    fn verdict(stopped: Option<Stop>, ending: Ending, cpu_ms: u64) -> Verdict {
        Verdict {
            stopped,
            ending,
            cpu_ms,
            ..Verdict::default()
        }
    }

    fn kind(verdict: &Verdict, bytes: &[u8]) -> ErrorKind {
        report(&job(), verdict, bytes).result.unwrap_err().kind
    }

    #[test]
    fn the_supervisor_alone_decides_limits_and_crashes() {
        let closed = Ending::Closed;
        let signaled = |signal| Ending::Signaled { signal };
        assert_eq!(
            kind(&verdict(Some(Stop::Cpu), closed, 2000), b""),
            ErrorKind::CpuLimit
        );
        assert_eq!(
            kind(&verdict(Some(Stop::Wall), closed, 10), b""),
            ErrorKind::TimeLimit
        );
        // Stopped at the wall clock, but it had used its CPU time.
        assert_eq!(
            kind(&verdict(Some(Stop::Wall), closed, 2000), b""),
            ErrorKind::CpuLimit
        );
        assert_eq!(
            kind(&verdict(Some(Stop::Output), closed, 1), b""),
            ErrorKind::OutputTooLarge
        );
        assert_eq!(
            kind(&verdict(Some(Stop::Memory), signaled(9), 1), b""),
            ErrorKind::MemoryLimit
        );
        assert_eq!(kind(&verdict(None, signaled(24), 1000), b""), ErrorKind::CpuLimit);
        assert_eq!(kind(&verdict(None, signaled(9), 2500), b""), ErrorKind::CpuLimit);
        let crash = report(&job(), &verdict(None, signaled(11), 5), b"")
            .result
            .unwrap_err();
        assert_eq!(crash.kind, ErrorKind::Crashed);
        assert!(crash.message.contains("SIGSEGV"));
        assert_eq!(
            kind(&verdict(None, Ending::Exited { code: 3 }, 5), b""),
            ErrorKind::Crashed
        );
        let sandbox = Verdict {
            sandbox_error: Some("Landlock: not supported".into()),
            ..Verdict::default()
        };
        let error = report(&job(), &sandbox, b"").result.unwrap_err();
        assert_eq!(error.kind, ErrorKind::Unavailable);
        assert!(!error.message.contains("Landlock"), "{}", error.message);
        // A limit the supervisor saw wins over any answer.
        let answer = frame(TAG_RESULT, br#"{"Ok":{}}"#);
        assert_eq!(
            kind(&verdict(Some(Stop::Wall), closed, 1), &answer),
            ErrorKind::TimeLimit
        );
    }

    #[test]
    fn a_child_cannot_claim_what_only_the_supervisor_sees() {
        let clean_end = verdict(None, Ending::Closed, 1);
        for claimed in ["cpu_limit", "time_limit", "crashed", "unavailable", "nonsense"] {
            let body = format!(r#"{{"Err":{{"kind":"{claimed}","message":"I say so"}}}}"#);
            let error = report(&job(), &clean_end, &frame(TAG_RESULT, body.as_bytes()))
                .result
                .unwrap_err();
            assert_eq!(error.kind, ErrorKind::InvalidOutput, "{claimed}");
            assert!(!error.message.contains("I say so"));
        }
        // Memory and output limits seen by the child keep the server's words.
        let body = br#"{"Err":{"kind":"memory_limit","message":"pwned \u001b[31m","line":999}}"#;
        let error = report(&job(), &clean_end, &frame(TAG_RESULT, body))
            .result
            .unwrap_err();
        assert_eq!(error.kind, ErrorKind::MemoryLimit);
        assert_eq!(
            error.message,
            "MemoryError: the script used more than its 256 MB of memory"
        );
        assert_eq!(error.line, None);
    }

    #[test]
    fn what_the_child_says_is_bounded_and_cleaned() {
        let frames: Vec<String> = (0..500)
            .map(|i| {
                format!(
                    r#"{{"line":{},"function":"{}","text":"x"}}"#,
                    1 + i % 2,
                    "f".repeat(1_000)
                )
            })
            .collect();
        let body = format!(
            r#"{{"Err":{{"kind":"exception","message":"{}\u202e\u0000end","line":2,"column":4000000000,"traceback":[{}]}}}}"#,
            "m".repeat(50_000),
            frames.join(",")
        );
        let clean_end = verdict(None, Ending::Closed, 1);
        let error = report(&job(), &clean_end, &frame(TAG_RESULT, body.as_bytes()))
            .result
            .unwrap_err();
        assert_eq!(error.kind, ErrorKind::Exception);
        assert_eq!(error.message.chars().count(), MAX_MESSAGE);
        assert_eq!(error.traceback.len(), MAX_TRACEBACK);
        assert!(
            error
                .traceback
                .iter()
                .all(|f| f.function.chars().count() <= MAX_FRAME_TEXT)
        );
        assert_eq!((error.line, error.column), (Some(2), None));
        let body = br#"{"Err":{"kind":"exception","message":"a\u202eb\u0007c\nd","line":77}}"#;
        let error = report(&job(), &clean_end, &frame(TAG_RESULT, body))
            .result
            .unwrap_err();
        assert_eq!(error.message, "a\u{FFFD}b\u{FFFD}c\nd");
        assert_eq!(error.line, None);
    }

    #[test]
    fn answers_are_read_with_a_cursor_under_caps() {
        let clean_end = verdict(None, Ending::Closed, 1);
        let mut bytes = frame(TAG_LOG, "é".repeat(MAX_LOG / 2).as_bytes());
        bytes.extend(frame(TAG_LOG, b"more"));
        bytes.extend(frame(TAG_RESULT, br#"{"Ok":{}}"#));
        let answered = report(&job(), &clean_end, &bytes);
        assert_eq!(answered.result, Ok(Output::default()));
        assert_eq!(answered.log.len(), MAX_LOG);
        assert!(answered.log.chars().all(|c| c == 'é'));

        // A flood of empty frames is cut at the cap, in one pass.
        let flood: Vec<u8> = (0..1_000_000).flat_map(|_| frame(TAG_LOG, b"")).collect();
        assert_eq!(kind(&clean_end, &flood), ErrorKind::InvalidOutput);
        assert_eq!(kind(&clean_end, b"Xjunk"), ErrorKind::InvalidOutput);
        let mut two = frame(TAG_RESULT, br#"{"Ok":{}}"#);
        two.extend(frame(TAG_RESULT, br#"{"Ok":{}}"#));
        assert_eq!(kind(&clean_end, &two), ErrorKind::InvalidOutput);
        assert_eq!(
            kind(&clean_end, &frame(TAG_RESULT, b"{\"Ok\":nope")),
            ErrorKind::InvalidOutput
        );
        // Markers off the series.
        let off = frame(
            TAG_RESULT,
            br#"{"Ok":{"markers":[{"time":3,"side":"buy","price":1}]}}"#,
        );
        let error = report(&job(), &clean_end, &off).result.unwrap_err();
        assert!(error.message.contains("marker 0: time 3"), "{}", error.message);
        // No answer at all.
        assert_eq!(kind(&clean_end, b""), ErrorKind::Crashed);
    }

    /// A backtest over `n` candles.
    fn backtest_job(n: usize) -> Job {
        Job {
            candles: Columns {
                time: (0..n as i64).collect(),
                open: vec![1.0; n],
                high: vec![1.0; n],
                low: vec![1.0; n],
                close: vec![1.0; n],
                volume: vec![1.0; n],
            },
            mode: Mode::Backtest {
                window: 100,
                confirm_max: 10,
            },
            ..job()
        }
    }

    fn signals(n: usize, answer: &str) -> Result<Signals, RunError> {
        let clean_end = verdict(None, Ending::Closed, 1);
        backtest(
            &backtest_job(n),
            &clean_end,
            &frame(TAG_RESULT, answer.as_bytes()),
        )
        .result
    }

    #[test]
    fn a_backtest_answers_its_signals_by_candle_index() {
        let got = signals(
            50,
            r#"{"Ok":{"index":[3,17,17,49],"side":"bsbs","checked":3,"unconfirmed":[2]}}"#,
        )
        .unwrap();
        let signal = |index, side| Signal { index, side };
        assert_eq!(
            got,
            Signals {
                signals: vec![
                    signal(3, Side::Buy),
                    signal(17, Side::Sell),
                    signal(17, Side::Buy),
                    signal(49, Side::Sell),
                ],
                checked: 3,
                unconfirmed: vec![signal(17, Side::Buy)],
            }
        );
        let none = signals(
            50,
            r#"{"Ok":{"index":[],"side":"","checked":0,"unconfirmed":[]}}"#,
        );
        assert_eq!(none, Ok(Signals::default()));
    }

    #[test]
    fn a_backtest_is_judged_like_a_run_where_the_verdict_decides() {
        let job = backtest_job(10);
        let answer = frame(
            TAG_RESULT,
            br#"{"Ok":{"index":[1],"side":"b","checked":1,"unconfirmed":[]}}"#,
        );
        let kind = |verdict: &Verdict, bytes: &[u8]| backtest(&job, verdict, bytes).result.unwrap_err().kind;
        assert_eq!(
            kind(&verdict(Some(Stop::Cpu), Ending::Closed, 2000), &answer),
            ErrorKind::CpuLimit
        );
        assert_eq!(
            kind(&verdict(Some(Stop::Wall), Ending::Closed, 1), &answer),
            ErrorKind::TimeLimit
        );
        assert_eq!(
            kind(
                &verdict(Some(Stop::Memory), Ending::Signaled { signal: 9 }, 1),
                b""
            ),
            ErrorKind::MemoryLimit
        );
        assert_eq!(
            kind(&verdict(Some(Stop::Output), Ending::Closed, 1), b""),
            ErrorKind::OutputTooLarge
        );
        assert_eq!(
            kind(&verdict(None, Ending::Signaled { signal: 11 }, 1), b""),
            ErrorKind::Crashed
        );
        assert_eq!(kind(&verdict(None, Ending::Closed, 1), b""), ErrorKind::Crashed);
        // A chart answer is not a backtest's.
        let chart = frame(TAG_RESULT, br#"{"Ok":{"markers":[],"lines":[]}}"#);
        assert_eq!(
            kind(&verdict(None, Ending::Closed, 1), &chart),
            ErrorKind::InvalidOutput
        );
        // The script's own errors keep their line; the limits keep the server's words.
        let error = backtest(
            &job,
            &verdict(None, Ending::Closed, 1),
            &frame(
                TAG_RESULT,
                br#"{"Err":{"kind":"exception","message":"With the candles up to x: E","line":2}}"#,
            ),
        )
        .result
        .unwrap_err();
        assert_eq!((error.kind, error.line), (ErrorKind::Exception, Some(2)));
        let error = backtest(
            &job,
            &verdict(None, Ending::Closed, 1),
            &frame(TAG_RESULT, br#"{"Err":{"kind":"memory_limit","message":"mine"}}"#),
        )
        .result
        .unwrap_err();
        assert_eq!(
            error.message,
            "MemoryError: the script used more than its 256 MB of memory"
        );
        // Over the output limit, however well formed.
        let mut small = job.clone();
        small.limits.output_bytes = 10;
        assert_eq!(
            backtest(&small, &verdict(None, Ending::Closed, 1), &answer)
                .result
                .unwrap_err()
                .kind,
            ErrorKind::OutputTooLarge
        );
    }

    #[test]
    fn hostile_signals_are_refused() {
        for (answer, why) in [
            (
                r#"{"Ok":{"index":[10],"side":"b","checked":0,"unconfirmed":[]}}"#,
                "after the last candle",
            ),
            (
                r#"{"Ok":{"index":[4294967295],"side":"b","checked":0,"unconfirmed":[]}}"#,
                "after the last candle",
            ),
            (
                r#"{"Ok":{"index":[-1],"side":"b","checked":0,"unconfirmed":[]}}"#,
                "not an answer",
            ),
            (
                r#"{"Ok":{"index":[1e3],"side":"b","checked":0,"unconfirmed":[]}}"#,
                "not an answer",
            ),
            (
                r#"{"Ok":{"index":[5,4],"side":"bb","checked":0,"unconfirmed":[]}}"#,
                "out of order",
            ),
            (
                r#"{"Ok":{"index":[5],"side":"x","checked":0,"unconfirmed":[]}}"#,
                "neither buy nor sell",
            ),
            (
                r#"{"Ok":{"index":[5],"side":"é","checked":0,"unconfirmed":[]}}"#,
                "do not pair up",
            ),
            (
                r#"{"Ok":{"index":[5],"side":"bs","checked":0,"unconfirmed":[]}}"#,
                "do not pair up",
            ),
            (
                r#"{"Ok":{"index":[5],"side":"b","checked":2,"unconfirmed":[]}}"#,
                "re-checked",
            ),
            (
                r#"{"Ok":{"index":[5],"side":"b","checked":0,"unconfirmed":[0]}}"#,
                "re-checked",
            ),
            (
                r#"{"Ok":{"index":[5,6],"side":"bb","checked":2,"unconfirmed":[2]}}"#,
                "not given",
            ),
            (
                r#"{"Ok":{"index":[5,6],"side":"bb","checked":2,"unconfirmed":[1,1]}}"#,
                "out of order",
            ),
            (r#"{"Ok":{"index":[5],"side":"b","checked":0}}"#, "not an answer"),
            (
                r#"{"Ok":{"index":[5],"side":"b","checked":0,"unconfirmed":[],"lines":[]}}"#,
                "not an answer",
            ),
        ] {
            let error = signals(10, answer).unwrap_err();
            assert_eq!(error.kind, ErrorKind::InvalidOutput, "{answer}");
            assert!(error.message.contains(why), "{answer}: {}", error.message);
        }
    }

    #[test]
    fn a_backtest_answer_holds_at_most_a_million_signals() {
        let n = 2_000_000;
        let at_most = |count: usize| {
            let index = vec!["1"; count].join(",");
            let side = "b".repeat(count);
            format!(r#"{{"Ok":{{"index":[{index}],"side":"{side}","checked":0,"unconfirmed":[]}}}}"#)
        };
        assert_eq!(
            signals(n, &at_most(MAX_SIGNALS)).unwrap().signals.len(),
            MAX_SIGNALS
        );
        let error = signals(n, &at_most(MAX_SIGNALS + 1)).unwrap_err();
        assert_eq!(error.kind, ErrorKind::InvalidOutput);
    }
}
