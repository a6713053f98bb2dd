//! A script can reach its answer pipe (fd 3) and the runner's module, so
//! it can write anything there. What it writes can never be a verdict:
//! the run is recorded as what really happened, what is kept of the
//! script's words is bounded, and none of them reaches the worker's log.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use worker_protocol::{ErrorKind, Limits};

/// Writes one answer frame to fd 3 from inside a script.
const SEND: &str = r#"
import json, os
def send(tag, payload):
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    frame = tag + len(data).to_bytes(4, "little") + data
    while frame:
        frame = frame[os.write(3, frame):]
"#;

fn script(body: &str) -> String {
    format!("{SEND}\ndef signals(c):\n{body}")
}

#[test]
fn forged_verdicts_are_refused_and_what_really_happened_is_reported() {
    let mut worker = Worker::start();
    let cases = [
        // Claims the sandbox failed, so the run would not be recorded.
        (
            "    send(b'R', {'Err': {'kind': 'unavailable', 'message': 'FORGED-503 call 555'}})\n    os._exit(0)\n",
            ErrorKind::InvalidOutput,
        ),
        // Claims a limit, with an unbounded message and traceback.
        (
            "    send(b'R', {'Err': {'kind': 'cpu_limit', 'message': 'FORGED' * 10000, \
             'traceback': [{'line': 1, 'function': 'f' * 2000, 'text': ''}] * 200}})\n    os._exit(0)\n",
            ErrorKind::InvalidOutput,
        ),
        (
            "    send(b'R', {'Err': {'kind': 'time_limit', 'message': 'FORGED'}})\n    os._exit(0)\n",
            ErrorKind::InvalidOutput,
        ),
        (
            "    send(b'R', {'Err': {'kind': 'crashed', 'message': 'FORGED'}})\n    os._exit(0)\n",
            ErrorKind::InvalidOutput,
        ),
        // The old sandbox-failure tag.
        (
            "    send(b'S', b'FORGED sandbox failure')\n    os._exit(0)\n",
            ErrorKind::InvalidOutput,
        ),
        // A forged answer, then the runner's own: two results.
        (
            "    send(b'R', {'Ok': {}})\n    return [], {}\n",
            ErrorKind::InvalidOutput,
        ),
        // Through the runner's module rather than by hand.
        (
            "    import sys\n    r = sys.modules['_inchart_runner']\n    \
             r._Pipe(3).send(b'R', r._encode({'Err': r._error('unavailable', 'FORGED')}))\n    os._exit(0)\n",
            ErrorKind::InvalidOutput,
        ),
    ];
    for (body, kind) in cases {
        let report = worker.run(&job(&script(body), series(50), hostile()));
        let error = err(&report);
        assert_eq!(error.kind, kind, "{body}: {error:?}");
        assert!(!error.message.contains("FORGED"), "{body}: {error:?}");
        assert!(error.message.len() <= 4096);
        assert!(error.traceback.len() <= 50);
    }

    // A memory limit claimed by the script keeps the server's words.
    let report = worker.run(&job(
        &script("    send(b'R', {'Err': {'kind': 'memory_limit', 'message': 'FORGED'}})\n    os._exit(0)\n"),
        series(50),
        hostile(),
    ));
    assert_error(&report, ErrorKind::MemoryLimit, "more than its 128 MB");
    assert!(!err(&report).message.contains("FORGED"));

    // A forged result cannot hide a limit the supervisor saw: it answers
    // early, then sleeps past its time.
    let report = worker.run(&job(
        &script("    send(b'R', {'Ok': {}})\n    import time\n    time.sleep(100)\n"),
        series(50),
        Limits {
            wall_ms: 1_000,
            cpu_ms: 10_000,
            ..hostile()
        },
    ));
    assert_error(&report, ErrorKind::TimeLimit, "ran longer than its 1000 ms");

    // Nor can a claim of success hide a CPU limit.
    let report = worker.run(&job(
        &script("    send(b'R', {'Ok': {}})\n    while True: pass\n"),
        series(50),
        hostile(),
    ));
    assert_error(&report, ErrorKind::CpuLimit, "400 ms");

    // A script's exception keeps its (bounded, cleaned) message.
    let report = worker.run(&job(
        &script("    raise ValueError('shown \\u202e' + 'x' * 100000)\n"),
        series(50),
        hostile(),
    ));
    let error = err(&report);
    assert_eq!(error.kind, ErrorKind::Exception);
    assert!(
        error.message.starts_with("ValueError: shown \u{FFFD}"),
        "{}",
        error.message
    );
    assert!(error.message.chars().count() <= worker_protocol::judge::MAX_MESSAGE);

    assert_still_serves(&mut worker);
    let lines = worker.stderr.lock().unwrap().clone();
    assert!(
        lines
            .iter()
            .all(|line| !line.contains("FORGED") && !line.contains("shown")),
        "the worker's log holds script text: {lines:?}"
    );
}

#[test]
fn a_script_that_writes_to_its_pipe_too_often_is_stopped() {
    let mut worker = Worker::start();
    let report = worker.run(&job(
        "import os, time\ndef signals(c):\n    for _ in range(100000):\n        os.write(3, b'L')\n        \
         time.sleep(0.0001)\n",
        series(50),
        Limits {
            cpu_ms: 20_000,
            wall_ms: 60_000,
            ..hostile()
        },
    ));
    let error = err(&report);
    assert!(matches!(error.kind, ErrorKind::OutputTooLarge), "{error:?}");
    assert_still_serves(&mut worker);
}
