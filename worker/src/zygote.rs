//! The zygote: PID 1 of the worker's namespaces. It confines itself, warms
//! Python up, says Ready, then supervises runs one at a time until stdin
//! closes. It never runs a script, and it never holds a byte of one:
//!
//! - A job is a small frame (the run's limits and its payload's size) and
//!   the payload (the script and its candles). The zygote reads the frame,
//!   forks the run's child, and moves the payload from stdin into a fresh
//!   pipe that only the child reads, with `splice(2)`: the bytes go from
//!   pipe to pipe inside the kernel and never enter the zygote's memory.
//! - The child writes its log and result to another fresh pipe, which the
//!   zygote moves to stdout the same way, behind `Output` frames that say
//!   only how many bytes follow.
//!
//! So the memory every child is forked from holds nothing of any earlier
//! run, by construction: not the job, not the answer, not the log, not on
//! the heap nor on the stack. (What fork shares that cannot be made new
//! without a fresh exec: the address-space layout and Python's hash
//! secret; a child's stack canary is made new. The server replaces a
//! worker after a bounded number of runs.)
//!
//! The zygote decides how a run ended from what it observes: the
//! wall-clock and CPU limits it enforces itself, the byte and write
//! counts on the answer pipe, the child's exit status, the OOM kills of
//! the run's cgroup, and a separate setup pipe on which the child says it
//! is confined (or why it could not be) and which it closes before any
//! script code runs. The verdict carries nothing the script wrote. The
//! child's bytes are judged by the server (`worker_protocol::judge`).

use std::fs::File;
use std::io::{self, Read, Write};
use std::mem::ManuallyDrop;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use landlock::RulesetCreated;
use pyo3::Python;
use pyo3::ffi;
use seccompiler::BpfProgram;
use worker_protocol::judge::ANSWER_OVERHEAD;
use worker_protocol::{Ending, FromWorker, Limits, Stop, ToWorker, Verdict};

use crate::cgroup::{self, RunCgroups};
use crate::interpreter::{self, Interpreter};
use crate::sandbox::{self, DEV_NULL_FD, Error, Identity, PROC_FD, Plan};
use crate::seccomp;

/// Where a child's answer pipe ends up: the only descriptor a script has
/// besides stdin, stdout and stderr (all `/dev/null`).
const ANSWER_FD: RawFd = 3;
/// Where a child's setup pipe is while it confines itself; closed before
/// the script runs.
const SETUP_FD: RawFd = 4;
/// On the setup pipe: confined, the script starts now.
const SETUP_OK: u8 = b'K';
/// On the setup pipe: the child could not confine itself; a message follows.
const SETUP_FAILED: u8 = b'S';
/// The most writes of a child's the zygote forwards; a script that writes
/// to its pipe more often is stopped (its log is batched by the runner).
const MAX_CHUNKS: usize = 2_048;
/// The largest job frame (the payload is not part of it).
const MAX_ORDER: usize = 64 << 10;

/// Writes one line of diagnostics to stderr. A failed write is ignored
/// (`eprintln!` would panic).
pub fn log(message: impl std::fmt::Display) {
    let _ = writeln!(io::stderr(), "inchart-worker: {message}");
}

/// Which confinement layers may be missing on this machine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AllowMissing {
    /// Run without a cgroup per run.
    pub cgroups: bool,
    /// Run with a Landlock layer the kernel enforces only in part.
    pub landlock: bool,
}

/// What the zygote prepares once for all its children: the warm
/// interpreter and each child's Landlock layer and seccomp filters, so a
/// child only has to apply them.
struct Zygote {
    interpreter: Interpreter,
    child_landlock: RulesetCreated,
    child_seccomp: [BpfProgram; 2],
    cgroups: Option<RunCgroups>,
    /// The next run's cgroup slot.
    turn: usize,
}

/// Confines the zygote, warms Python up and serves jobs. Returns when
/// stdin closes; an error means the sandbox could not be built, a layer
/// it must have is missing, or the server broke the protocol.
pub fn main(
    plan: &Plan,
    identity: Identity,
    started: Instant,
    cgroups: Result<RunCgroups, Error>,
    allow: AllowMissing,
) -> Result<(), Error> {
    // SAFETY: getpid has no preconditions.
    if unsafe { libc::getpid() } != 1 {
        return Err(Error::new("the zygote is not PID 1 of a new PID namespace"));
    }
    let (cgroups, cgroup_state) = match cgroups {
        Ok(mut cgroups) => {
            cgroups.forget_parents();
            let state = format!(
                "cgroup {} per run (memory{}, 1 process)",
                if cgroups.version == cgroup::Version::V1 {
                    "v1"
                } else {
                    "v2"
                },
                if cgroups.slots[0].has_swap_limit() {
                    " and swap"
                } else {
                    ""
                },
            );
            (Some(cgroups), state)
        }
        Err(error) if allow.cgroups => (None, format!("no cgroups ({error})")),
        Err(error) => {
            return Err(Error::new(format!(
                "no cgroup per run ({error}); start with --allow-missing cgroups to run without"
            )));
        }
    };
    let proc_dir = sandbox::build_root(plan)?;
    let keep = cgroups.as_ref().map(RunCgroups::fds).unwrap_or_default();
    sandbox::keep_fds(proc_dir, &keep)?;
    sandbox::zygote_rlimits()?;
    sandbox::drop_privileges(plan, identity)?;

    let (interpreter, versions) = interpreter::start(plan)?;

    let threads = sandbox::thread_count()?;
    if threads != 1 {
        return Err(Error::new(format!(
            "the zygote has {threads} threads after warm-up; it must have one to confine itself"
        )));
    }
    let mut zygote = Zygote {
        interpreter,
        child_landlock: sandbox::landlock(plan, None)?,
        child_seccomp: [seccomp::child()?, seccomp::clone3_enosys()?],
        cgroups,
        turn: 0,
    };
    // SAFETY: PROC_FD is open for the zygote's whole life (keep_fds).
    let proc_dir = unsafe { BorrowedFd::borrow_raw(PROC_FD) };
    let landlock = sandbox::enforce_landlock(sandbox::landlock(plan, Some(proc_dir))?)?;
    if !landlock.fully_enforced && !allow.landlock {
        return Err(Error::new(format!(
            "this kernel enforces Landlock {} only in part; start with --allow-missing landlock to run so",
            landlock.abi
        )));
    }
    seccomp::apply(&[seccomp::zygote()?, seccomp::clone3_enosys()?])?;

    write_frame(&FromWorker::Ready {
        python: versions.python.clone(),
        numpy: versions.numpy.clone(),
    })
    .map_err(|e| Error::new(format!("writing Ready: {e}")))?;
    let python = versions.python.split_whitespace().next().unwrap_or("?");
    log(format_args!(
        "ready in {} ms: Python {python}, numpy {}; confined: namespaces (mount, pid, net, ipc, uts{}), \
         uid {}, no capabilities, Landlock {} ({}), seccomp allowlist, {cgroup_state}",
        started.elapsed().as_millis(),
        versions.numpy.as_deref().unwrap_or("not installed"),
        if identity == Identity::UserNamespace {
            ", user"
        } else {
            ""
        },
        plan.sandbox_uid,
        landlock.abi,
        if landlock.fully_enforced {
            "fully enforced"
        } else {
            "partially enforced, allowed by --allow-missing landlock"
        },
    ));

    Python::attach(|py| zygote.serve(py))
}

/// Reads until `buf` is full or EOF; returns how many bytes were read.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn write_frame(message: &FromWorker) -> io::Result<()> {
    let frame = worker_protocol::encode(message).map_err(io::Error::other)?;
    // SAFETY: fd 1 stays open for the process's life; ManuallyDrop keeps
    // this File from closing it.
    let mut stdout = ManuallyDrop::new(unsafe { File::from_raw_fd(1) });
    stdout.write_all(&frame)?;
    stdout.flush()
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Moves exactly `len` bytes from pipe `from` to `to` inside the kernel.
/// Returns how many were moved before `to` closed or failed.
fn splice_exactly(from: RawFd, to: RawFd, len: usize) -> io::Result<usize> {
    let mut moved = 0;
    while moved < len {
        // SAFETY: splice between descriptors we hold, no offsets.
        let n = unsafe {
            libc::splice(
                from,
                std::ptr::null_mut(),
                to,
                std::ptr::null_mut(),
                len - moved,
                libc::SPLICE_F_MOVE,
            )
        };
        if n < 0 {
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return if moved > 0 || error.raw_os_error() == Some(libc::EPIPE) {
                Ok(moved)
            } else {
                Err(error)
            };
        }
        if n == 0 {
            break;
        }
        moved += n as usize;
    }
    Ok(moved)
}

/// A fresh pipe: (read end, write end).
fn pipe() -> Result<(OwnedFd, OwnedFd), Error> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 into a two-element array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(Error::os("pipe2"));
    }
    // SAFETY: pipe2 just returned these descriptors.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A child that answered and may still be on its way out: stopped after
/// the verdict is sent, and reaped whenever it is gone (the next job or
/// the one after), off the runs' critical path.
struct Leftover(libc::pid_t);

impl Leftover {
    fn stop(self) {
        // SAFETY: our own child, not yet reaped.
        unsafe { libc::kill(self.0, libc::SIGKILL) };
        reap_orphans();
    }
}

/// The pipes of one run, the zygote's ends and the child's.
struct Pipes {
    job: (OwnedFd, OwnedFd),
    setup: (OwnedFd, OwnedFd),
    answer: (OwnedFd, OwnedFd),
}

impl Zygote {
    fn serve(&mut self, py: Python<'_>) -> Result<(), Error> {
        // SAFETY: as in write_frame, for stdin.
        let mut stdin = ManuallyDrop::new(unsafe { File::from_raw_fd(0) });
        loop {
            let mut header = [0u8; 4];
            match read_full(&mut *stdin, &mut header) {
                Ok(0) => return Ok(()),
                Ok(4) => {}
                Ok(_) => return Err(Error::new("stdin closed in the middle of a frame header")),
                Err(e) => return Err(Error::new(format!("reading stdin: {e}"))),
            }
            let len = worker_protocol::body_len(header).map_err(|e| Error::new(format!("job frame: {e}")))?;
            if len > MAX_ORDER {
                return Err(Error::new(format!("job frame: {len} bytes, over {MAX_ORDER}")));
            }
            // Only the frame is read here: limits and the payload's size.
            let mut body = vec![0; len];
            stdin
                .read_exact(&mut body)
                .map_err(|e| Error::new(format!("reading a job frame: {e}")))?;
            let received = Instant::now();
            let ToWorker::Run { limits, payload_len } = worker_protocol::decode::<ToWorker>(&body)
                .map_err(|e| Error::new(format!("job frame: {e}")))?;
            if payload_len as usize > worker_protocol::MAX_PAYLOAD {
                return Err(Error::new(format!("job frame: a payload of {payload_len} bytes")));
            }
            let (verdict, leftover) = self.run_job(py, &limits, payload_len as usize, received)?;
            write_frame(&FromWorker::Done(verdict))
                .map_err(|e| Error::new(format!("writing a verdict: {e}")))?;
            if let Some(leftover) = leftover {
                leftover.stop();
            }
        }
    }

    /// Runs one job in a forked child and says how it went. An error is
    /// the zygote's own (it could not pass the payload on).
    fn run_job(
        &mut self,
        py: Python<'_>,
        limits: &Limits,
        payload_len: usize,
        received: Instant,
    ) -> Result<(Verdict, Option<Leftover>), Error> {
        let unwatchable = |what: &str| {
            log(format_args!("{what}: {}", io::Error::last_os_error()));
            Verdict {
                stopped: Some(Stop::Unwatchable),
                wall_ms: millis(received.elapsed()),
                ..Verdict::default()
            }
        };
        let output_limit = usize::try_from(limits.output_bytes)
            .unwrap_or(usize::MAX)
            .min(worker_protocol::MAX_FRAME - ANSWER_OVERHEAD);

        reap_orphans();
        let slot = self.turn;
        self.turn = (self.turn + 1) % 2;
        let oom_before = match self
            .cgroups
            .as_mut()
            .map(|c| c.slots[slot].prepare(limits.memory_bytes))
        {
            Some(Err(error)) => {
                log(format_args!("preparing the run's cgroup: {error}"));
                drain(payload_len)?;
                return Ok((unwatchable("the run's cgroup"), None));
            }
            Some(Ok(kills)) => Some(kills),
            None => None,
        };
        let pipes = match (pipe(), pipe(), pipe()) {
            (Ok(job), Ok(setup), Ok(answer)) => Pipes { job, setup, answer },
            _ => {
                drain(payload_len)?;
                return Ok((unwatchable("pipe2"), None));
            }
        };

        // SAFETY: the zygote is single-threaded and holds the GIL (inside
        // Python::attach); PyOS_BeforeFork/AfterFork_* bracket fork() as
        // the C API requires.
        let pid = unsafe {
            ffi::PyOS_BeforeFork();
            let pid = libc::fork();
            if pid == 0 {
                ffi::PyOS_AfterFork_Child();
                let Pipes { job, setup, answer } = pipes;
                drop((job.1, setup.0, answer.0));
                self.child(py, limits, payload_len, slot, job.0, setup.1, answer.1);
            }
            ffi::PyOS_AfterFork_Parent();
            pid
        };
        let Pipes { job, setup, answer } = pipes;
        drop((job.0, setup.1, answer.1));
        if pid < 0 {
            drain(payload_len)?;
            return Ok((unwatchable("fork"), None));
        }

        // The payload goes to the child, never through this process's memory.
        let moved = splice_exactly(0, job.1.as_raw_fd(), payload_len)
            .map_err(|e| Error::new(format!("passing a payload on: {e}")))?;
        drop(job.1);
        if moved < payload_len {
            // The child is gone; the rest of the payload is nobody's.
            drain(payload_len - moved)?;
        }

        let observed = supervise(pid, setup.0, answer.0, limits, received, output_limit);
        let mut verdict = Verdict {
            stopped: observed.stopped,
            ending: observed.ending,
            sandbox_error: observed.sandbox_error,
            cpu_ms: millis(observed.cpu),
            wall_ms: 0,
            memory_peak_bytes: None,
        };
        if let (Some(cgroups), Some(before)) = (self.cgroups.as_mut(), oom_before) {
            let slot = &mut cgroups.slots[slot];
            verdict.memory_peak_bytes = slot.peak();
            let killed = matches!(verdict.ending, Ending::Signaled { signal } if signal == libc::SIGKILL);
            if killed && verdict.stopped.is_none() && slot.oom_kills() > before {
                verdict.stopped = Some(Stop::Memory);
            }
        }
        verdict.wall_ms = millis(received.elapsed());
        let leftover = (!observed.reaped).then_some(Leftover(pid));
        Ok((verdict, leftover))
    }

    /// A run's child: joins its cgroup, reads its payload, confines itself
    /// further, says so on the setup pipe and closes it, then runs the
    /// script. Never returns.
    #[allow(clippy::too_many_arguments)]
    fn child(
        &self,
        py: Python<'_>,
        limits: &Limits,
        payload_len: usize,
        slot: usize,
        job: OwnedFd,
        setup: OwnedFd,
        answer: OwnedFd,
    ) -> ! {
        // Anything that fails before the script runs is reported on the
        // setup pipe, whichever descriptor it is on by then.
        let mut setup_fd = setup.as_raw_fd();
        std::mem::forget(setup);
        let answer_fd = answer.as_raw_fd();
        std::mem::forget(answer);
        let result = (|| -> Result<(), Error> {
            sandbox::die_with_parent()?;
            // SAFETY: getppid has no preconditions.
            if unsafe { libc::getppid() } != 1 {
                // The zygote died between fork and prctl.
                // SAFETY: _exit ends this process without running anything else.
                unsafe { libc::_exit(1) };
            }
            if let Some(cgroups) = &self.cgroups {
                for fd in cgroups.slots[slot].procs() {
                    // SAFETY: write to a descriptor we hold; "0" is ourselves.
                    if unsafe { libc::write(fd, b"0".as_ptr().cast(), 1) } != 1 {
                        return Err(Error::os("joining the run's cgroup"));
                    }
                }
            }
            reseed_stack_canary();
            let mut bytes = vec![0u8; payload_len];
            let mut job = File::from(job);
            job.read_exact(&mut bytes)
                .map_err(|e| Error::new(format!("reading the payload: {e}")))?;
            drop(job);
            let payload = worker_protocol::payload::decode(&bytes).map_err(|e| Error::new(e.to_string()))?;
            let prepared = self
                .interpreter
                .prepare(py, &payload, ANSWER_FD, limits)
                .map_err(|e| Error::new(format!("preparing the run: {e}")))?;
            // The runner's arguments hold their own copy: a backtest's
            // candles (tens of megabytes) are not kept twice.
            drop(bytes);
            // Measured once the run's arguments exist, so the allowance is
            // the script's own; read before Landlock takes /proc away.
            let address_space = sandbox::address_space_bytes()?;
            let ruleset = self
                .child_landlock
                .try_clone()
                .map_err(|e| Error::new(format!("Landlock: {e}")))?;
            sandbox::enforce_landlock(ruleset)?;
            // SAFETY: dup2/close_range on descriptors this process owns;
            // after this, 0-2 are /dev/null, ANSWER_FD the answer pipe and
            // SETUP_FD the setup pipe (both pipes are above 4, so neither
            // dup2 overwrites the other), nothing else is open.
            unsafe {
                for fd in 0..3 {
                    if libc::dup2(DEV_NULL_FD, fd) < 0 {
                        return Err(Error::os("dup2(/dev/null)"));
                    }
                }
                if libc::dup2(answer_fd, ANSWER_FD) < 0 {
                    return Err(Error::os("dup2(answer pipe)"));
                }
                if libc::dup2(setup_fd, SETUP_FD) < 0 {
                    return Err(Error::os("dup2(setup pipe)"));
                }
                setup_fd = SETUP_FD;
                if libc::close_range(SETUP_FD as libc::c_uint + 1, libc::c_uint::MAX, 0) < 0 {
                    return Err(Error::os("close_range"));
                }
                // A C stack overflow ends the child with SIGSEGV, not in
                // Rust's stack-overflow handler.
                libc::signal(libc::SIGSEGV, libc::SIG_DFL);
                libc::signal(libc::SIGBUS, libc::SIG_DFL);
            }
            sandbox::child_rlimits(&sandbox::ChildLimits {
                cpu_seconds: limits.cpu_ms.div_ceil(1000),
                address_space: address_space.saturating_add(limits.memory_bytes),
            })?;
            seccomp::apply(&self.child_seccomp)?;
            // Confined: from here on only the script's own pipe is open.
            // SAFETY: write one byte to and close our setup pipe.
            unsafe {
                if libc::write(SETUP_FD, [SETUP_OK].as_ptr().cast(), 1) != 1 {
                    return Err(Error::os("writing to the setup pipe"));
                }
                libc::close(SETUP_FD);
            }
            setup_fd = -1;
            // The runner catches everything a script does and never
            // raises; what it would raise is nobody's to read.
            let _ = self.interpreter.run(py, prepared);
            Ok(())
        })();
        if let Err(error) = result
            && setup_fd >= 0
        {
            let mut frame = vec![SETUP_FAILED];
            frame.extend_from_slice(error.to_string().as_bytes());
            frame.truncate(4096);
            // SAFETY: write to our setup pipe; the frame outlives the call.
            unsafe { libc::write(setup_fd, frame.as_ptr().cast(), frame.len()) };
        }
        // SAFETY: ends the child without unwinding into the zygote's code
        // or finalising Python.
        unsafe { libc::_exit(0) }
    }
}

/// Throws away `len` bytes of stdin (a payload no child will read),
/// inside the kernel.
fn drain(len: usize) -> Result<(), Error> {
    let moved =
        splice_exactly(0, DEV_NULL_FD, len).map_err(|e| Error::new(format!("draining a payload: {e}")))?;
    if moved < len {
        return Err(Error::new("stdin closed in the middle of a payload"));
    }
    Ok(())
}

/// Gives the child a stack canary of its own, so that one run cannot
/// learn the value every later run's canary would have. Safe here: the
/// child never returns into a frame that saved the old value.
fn reseed_stack_canary() {
    #[cfg(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu"))]
    {
        let mut value = 0u64;
        // SAFETY: getrandom into a local.
        let got = unsafe { libc::getrandom((&raw mut value).cast(), 8, 0) };
        if got == 8 {
            // glibc keeps the low byte zero, so a string copy cannot leak it.
            let value = value & !0xff;
            // SAFETY: glibc's TLS canary slot on x86_64 (fs:0x28).
            unsafe { std::arch::asm!("mov qword ptr fs:[0x28], {}", in(reg) value, options(nostack)) };
        }
    }
}

/// What the zygote saw of a child.
struct Observed {
    stopped: Option<Stop>,
    ending: Ending,
    sandbox_error: Option<String>,
    /// Whether it was reaped (it was not when it closed its pipe: it is
    /// reaped after the verdict is sent).
    reaped: bool,
    cpu: Duration,
}

/// A child's CPU time so far, from its CPU clock.
fn cpu_time(clock: Option<libc::clockid_t>) -> Option<Duration> {
    let clock = clock?;
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime into a local.
    if unsafe { libc::clock_gettime(clock, &mut now) } < 0 {
        return None;
    }
    Some(Duration::new(now.tv_sec as u64, now.tv_nsec as u32))
}

/// The setup pipe's state.
enum Setup {
    Waiting,
    Confined,
    Failed(String),
}

/// Watches a child until it closes its answer pipe or ends, passing what
/// it writes on to stdout, and stopping it at the wall-clock or CPU limit
/// or when it writes too much or too often.
fn supervise(
    pid: libc::pid_t,
    setup: OwnedFd,
    answer: OwnedFd,
    limits: &Limits,
    received: Instant,
    output_limit: usize,
) -> Observed {
    // A limit too far away to represent is no limit (a year, in practice).
    let deadline = received
        .checked_add(Duration::from_millis(limits.wall_ms))
        .unwrap_or(received + Duration::from_secs(365 * 86_400));
    let cpu_limit = Duration::from_millis(limits.cpu_ms);
    let allowance = output_limit + ANSWER_OVERHEAD;
    let mut forwarded = 0usize;
    let mut chunks = 0usize;
    let mut stopped = None;
    let mut setup_state = Setup::Waiting;
    let mut setup_open = true;

    let mut clock: libc::clockid_t = 0;
    // SAFETY: clock_getcpuclockid into a local.
    let clock = (unsafe { libc::clock_getcpuclockid(pid, &mut clock) } == 0).then_some(clock);
    // SAFETY: pidfd_open of our own child (Linux 5.3; Landlock needs 5.13).
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as RawFd;
    if pidfd < 0 {
        log(format_args!("pidfd_open: {}", io::Error::last_os_error()));
        stopped = Some(Stop::Unwatchable);
    }
    // SAFETY: a valid descriptor from pidfd_open is ours to close.
    let pidfd = (pidfd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(pidfd) });
    let mut answer_open = true;
    let mut exited = false;

    // A child that has written something and closed its pipe is done (it
    // only has _exit left: waiting for its teardown would cost every run a
    // millisecond or more); one that closed it without a word is watched
    // until it ends or its time is up.
    while let Some(pidfd) = pidfd
        .as_ref()
        .filter(|_| (answer_open || (!exited && forwarded == 0)) && !matches!(setup_state, Setup::Failed(_)))
    {
        let now = Instant::now();
        if now >= deadline {
            stopped = Some(Stop::Wall);
            break;
        }
        let mut timeout = deadline - now;
        if !exited && let Some(used) = cpu_time(clock) {
            if used >= cpu_limit {
                stopped = Some(Stop::Cpu);
                break;
            }
            // CPU time cannot grow faster than the wall clock (one thread).
            timeout = timeout.min(cpu_limit - used + Duration::from_millis(1));
        }
        let mut polls = [
            libc::pollfd {
                fd: if setup_open { setup.as_raw_fd() } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: if answer_open { answer.as_raw_fd() } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: if exited { -1 } else { pidfd.as_raw_fd() },
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let timeout_ms = timeout.as_millis().clamp(1, 1000) as libc::c_int;
        // SAFETY: poll on descriptors we own (negative ones are skipped).
        let ready = unsafe { libc::poll(polls.as_mut_ptr(), polls.len() as libc::nfds_t, timeout_ms) };
        if ready <= 0 {
            continue;
        }
        if polls[0].revents != 0 {
            // What the setup pipe carries is the worker's own code's.
            let mut buf = [0u8; 4096];
            // SAFETY: read into a local buffer.
            let n = unsafe { libc::read(setup.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                setup_open = false;
                if matches!(setup_state, Setup::Waiting) {
                    setup_state = Setup::Failed("the run's child ended before it was confined".into());
                }
            } else {
                setup_state = match buf[0] {
                    SETUP_OK => Setup::Confined,
                    _ => Setup::Failed(String::from_utf8_lossy(&buf[1..n as usize]).into_owned()),
                };
            }
        }
        if polls[1].revents != 0 {
            let mut available: libc::c_int = 0;
            // SAFETY: FIONREAD into a local.
            if unsafe { libc::ioctl(answer.as_raw_fd(), libc::FIONREAD, &mut available) } < 0 {
                log(format_args!("FIONREAD: {}", io::Error::last_os_error()));
                stopped = Some(Stop::Unwatchable);
                break;
            }
            let available = available.max(0) as usize;
            if available == 0 {
                // Closed: the child has answered (or given up its pipe).
                answer_open = false;
            } else {
                chunks += 1;
                if forwarded + available > allowance || chunks > MAX_CHUNKS {
                    stopped = Some(Stop::Output);
                    break;
                }
                forwarded += available;
                let header = FromWorker::Output {
                    len: available as u32,
                };
                let sent = write_frame(&header)
                    .and_then(|()| splice_exactly(answer.as_raw_fd(), 1, available))
                    .is_ok_and(|n| n == available);
                if !sent {
                    log(format_args!(
                        "passing an answer on: {}",
                        io::Error::last_os_error()
                    ));
                    stopped = Some(Stop::Unwatchable);
                    break;
                }
            }
        }
        if polls[2].revents != 0 {
            exited = true;
        }
    }

    let sandbox_error = match setup_state {
        Setup::Failed(message) => {
            log(format_args!("a run's sandbox could not be built: {message}"));
            Some(message)
        }
        _ => None,
    };
    if stopped.is_none() && sandbox_error.is_none() && !answer_open && !exited {
        // Closed its pipe: the child only has _exit left, or is a script
        // that gave up its pipe. Its CPU time is read from its clock; it
        // is stopped and reaped after the verdict is sent.
        return Observed {
            stopped,
            ending: Ending::Closed,
            sandbox_error,
            reaped: false,
            cpu: cpu_time(clock).unwrap_or_default(),
        };
    }
    // SAFETY: our own child, not yet reaped (a no-op if it has ended).
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let (status, cpu) = wait(pid);
    let ending = if libc::WIFSIGNALED(status) {
        let signal = libc::WTERMSIG(status);
        // The zygote's own SIGKILL is a stop, said in `stopped`.
        Ending::Signaled { signal }
    } else {
        Ending::Exited {
            code: libc::WEXITSTATUS(status),
        }
    };
    Observed {
        stopped,
        ending,
        sandbox_error,
        reaped: true,
        cpu,
    }
}

/// Reaps a child: its wait status and CPU time.
fn wait(pid: libc::pid_t) -> (libc::c_int, Duration) {
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: wait4 on our own child.
        let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if rc >= 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            break;
        }
    }
    let timeval = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    (status, timeval(usage.ru_utime) + timeval(usage.ru_stime))
}

/// Reaps children that have ended: ones that answered and were stopped
/// (see [`Leftover`]); nothing else, children cannot fork.
fn reap_orphans() {
    loop {
        let mut status = 0;
        // SAFETY: waitpid with WNOHANG.
        if unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) } <= 0 {
            break;
        }
    }
}
