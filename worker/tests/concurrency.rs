//! A script burning CPU on one worker does not hold up another worker's
//! well-behaved runs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use worker_protocol::{ErrorKind, Limits};

#[test]
fn a_busy_worker_does_not_slow_another_one_down() {
    let mut busy = Worker::start();
    let mut calm = Worker::start();
    let good = job(MA_CROSS, series(1000), generous());
    // Warm: the solo time, for the record.
    let solo = Instant::now();
    ok(&calm.run(&good));
    let solo = solo.elapsed();

    let burn = Limits {
        cpu_ms: 6_000,
        wall_ms: 60_000,
        ..hostile()
    };
    let started = Instant::now();
    busy.send(&job("def signals(c):\n    while True: pass\n", series(10), burn));
    // Let the busy script get going.
    std::thread::sleep(Duration::from_millis(300));
    let mut slowest = Duration::ZERO;
    for _ in 0..10 {
        let run = Instant::now();
        ok(&calm.run(&good));
        slowest = slowest.max(run.elapsed());
    }
    let calm_done = started.elapsed();
    let report = busy.report();
    let busy_done = started.elapsed();

    assert_error(&report, ErrorKind::CpuLimit, "6000 ms of CPU time");
    // Ten good runs finish long before the busy one is stopped at 6 s of
    // CPU; each takes milliseconds alone, so even a loaded machine leaves
    // a wide margin.
    assert!(
        calm_done < Duration::from_secs(3) && calm_done < busy_done,
        "ten good runs took {calm_done:?} while the busy run took {busy_done:?} (solo {solo:?}, slowest {slowest:?})"
    );
}
