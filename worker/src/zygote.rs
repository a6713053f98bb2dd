//! The zygote: PID 1 of the worker's namespaces. It confines itself, warms
//! Python up, says Ready, then serves jobs one at a time until stdin
//! closes. It never runs a script: each job runs in a child forked from
//! the warm interpreter (a pristine copy every time), which confines itself
//! further and sends its log and result back over a pipe. The zygote
//! enforces the wall-clock, CPU and output limits from outside, answers
//! with one `Done` frame and reaps the child. Nothing a child does can stop
//! the zygote: it reads the child's pipe under a cap, and it survives the
//! child's death however it comes.

use std::fs::File;
use std::io::{self, Read, Write};
use std::mem::ManuallyDrop;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use landlock::RulesetCreated;
use pyo3::Python;
use pyo3::ffi;
use seccompiler::BpfProgram;
use worker_protocol::{ErrorKind, FromWorker, Job, Output, Report, RunError, ToWorker};

use crate::interpreter::{self, Interpreter};
use crate::sandbox::{self, DEV_NULL_FD, Error, Identity, PROC_FD, Plan};
use crate::seccomp;

/// Where a child's answer pipe ends up: the only descriptor a script has
/// besides stdin, stdout and stderr (all `/dev/null`).
const ANSWER_FD: RawFd = 3;
/// A child's log frames, at most MAX_LOG bytes in all.
const TAG_LOG: u8 = b'L';
/// A child's result frame.
const TAG_RESULT: u8 = b'R';
/// A child could not confine itself (sent before any script code runs).
const TAG_SANDBOX: u8 = b'S';
/// Room in a `Done` frame for everything but the output.
const REPORT_OVERHEAD: usize = worker_protocol::MAX_LOG * 2 + (64 << 10);

/// Writes one line of diagnostics to stderr. A failed write is ignored
/// (`eprintln!` would panic).
pub fn log(message: impl std::fmt::Display) {
    let _ = writeln!(io::stderr(), "inchart-worker: {message}");
}

/// What the zygote prepares once for all its children: the warm
/// interpreter and each child's Landlock layer and seccomp filters, so a
/// child only has to apply them.
struct Zygote {
    interpreter: Interpreter,
    child_landlock: RulesetCreated,
    child_seccomp: [BpfProgram; 2],
}

/// Confines the zygote, warms Python up and serves jobs. Returns when
/// stdin closes; an error means the sandbox could not be built or the
/// server broke the protocol.
pub fn main(plan: &Plan, identity: Identity, started: Instant) -> Result<(), Error> {
    // SAFETY: getpid has no preconditions.
    if unsafe { libc::getpid() } != 1 {
        return Err(Error::new("the zygote is not PID 1 of a new PID namespace"));
    }
    let proc_dir = sandbox::build_root(plan)?;
    sandbox::keep_fds(proc_dir)?;
    sandbox::zygote_rlimits()?;
    sandbox::drop_privileges(identity)?;

    let (interpreter, versions) = interpreter::start(plan)?;

    let threads = sandbox::thread_count()?;
    if threads != 1 {
        return Err(Error::new(format!(
            "the zygote has {threads} threads after warm-up; it must have one to confine itself"
        )));
    }
    let zygote = Zygote {
        interpreter,
        child_landlock: sandbox::landlock(plan, None)?,
        child_seccomp: [seccomp::child()?, seccomp::clone3_enosys()?],
    };
    // SAFETY: PROC_FD is open for the zygote's whole life (keep_fds).
    let proc_dir = unsafe { BorrowedFd::borrow_raw(PROC_FD) };
    let landlock = sandbox::enforce_landlock(sandbox::landlock(plan, Some(proc_dir))?)?;
    seccomp::apply(&[seccomp::zygote()?, seccomp::clone3_enosys()?])?;

    write_frame(&FromWorker::Ready {
        python: versions.python.clone(),
        numpy: versions.numpy.clone(),
    })
    .map_err(|e| Error::new(format!("writing Ready: {e}")))?;
    let python = versions.python.split_whitespace().next().unwrap_or("?");
    log(format_args!(
        "ready in {} ms: Python {python}, numpy {}; confined: namespaces (mount, pid, net, ipc, uts{}), \
         uid 65534, no capabilities, Landlock {} ({}), seccomp allowlist",
        started.elapsed().as_millis(),
        versions.numpy.as_deref().unwrap_or("not installed"),
        if identity == Identity::UserNamespace {
            ", user"
        } else {
            ""
        },
        landlock.abi,
        if landlock.fully_enforced {
            "fully enforced"
        } else {
            "partially enforced"
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

fn failure(kind: ErrorKind, message: impl Into<String>) -> Result<Output, RunError> {
    Err(RunError::new(kind, message))
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// A child that answered and may still be on its way out: stopped after
/// the answer is sent, and reaped whenever it is gone (the next job or the
/// one after), off the runs' critical path.
struct Leftover(libc::pid_t);

impl Leftover {
    fn stop(self) {
        // SAFETY: our own child, not yet reaped.
        unsafe { libc::kill(self.0, libc::SIGKILL) };
        reap_orphans();
    }
}

impl Zygote {
    fn serve(&self, py: Python<'_>) -> Result<(), Error> {
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
            let mut body = vec![0; len];
            stdin
                .read_exact(&mut body)
                .map_err(|e| Error::new(format!("reading a job frame: {e}")))?;
            let received = Instant::now();
            let ToWorker::Run(job) = worker_protocol::decode::<ToWorker>(&body)
                .map_err(|e| Error::new(format!("job frame: {e}")))?;
            drop(body);
            let (report, leftover) = self.run_job(py, &job, received);
            write_frame(&FromWorker::Done(report))
                .map_err(|e| Error::new(format!("writing a report: {e}")))?;
            if let Some(leftover) = leftover {
                leftover.stop();
            }
        }
    }

    /// Runs one job in a forked child and reports how it went.
    fn run_job(&self, py: Python<'_>, job: &Job, received: Instant) -> (Report, Option<Leftover>) {
        let report = |result, log: String, cpu: Duration| Report {
            result,
            log,
            cpu_ms: millis(cpu),
            wall_ms: millis(received.elapsed()),
        };
        let unavailable = |message: String| {
            log(&message);
            (
                report(
                    failure(ErrorKind::Unavailable, message),
                    String::new(),
                    Duration::ZERO,
                ),
                None,
            )
        };
        if !job.candles.is_rectangular() {
            return (
                report(
                    failure(
                        ErrorKind::Unavailable,
                        "the job's candle columns have different lengths",
                    ),
                    String::new(),
                    Duration::ZERO,
                ),
                None,
            );
        }
        let output_limit = usize::try_from(job.limits.output_bytes)
            .unwrap_or(usize::MAX)
            .min(worker_protocol::MAX_FRAME - REPORT_OVERHEAD);

        reap_orphans();
        let mut fds = [0; 2];
        // SAFETY: pipe2 into a two-element array.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
            return unavailable(format!("pipe2: {}", io::Error::last_os_error()));
        }
        // SAFETY: pipe2 just returned these descriptors.
        let (reader, writer) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };

        // SAFETY: the zygote is single-threaded and holds the GIL (inside
        // Python::attach); PyOS_BeforeFork/AfterFork_* bracket fork() as
        // the C API requires.
        let pid = unsafe {
            ffi::PyOS_BeforeFork();
            let pid = libc::fork();
            if pid == 0 {
                ffi::PyOS_AfterFork_Child();
                drop(reader);
                self.child(py, job, writer, output_limit);
            }
            ffi::PyOS_AfterFork_Parent();
            pid
        };
        drop(writer);
        if pid < 0 {
            return unavailable(format!("fork: {}", io::Error::last_os_error()));
        }

        let outcome = supervise(pid, reader, job, received, output_limit);
        let result = judge(job, &outcome);
        let leftover = (!outcome.reaped).then_some(Leftover(pid));
        (report(result, outcome.answer.log_text(), outcome.cpu), leftover)
    }

    /// A run's child: confines itself further, then runs the script.
    /// Never returns.
    fn child(&self, py: Python<'_>, job: &Job, answer: OwnedFd, output_limit: usize) -> ! {
        // Anything that fails before the script runs is reported on the
        // answer pipe, whichever descriptor it is on by then.
        let mut answer_fd = answer.as_raw_fd();
        std::mem::forget(answer);
        let result = (|| -> Result<(), Error> {
            sandbox::die_with_parent()?;
            // SAFETY: getppid has no preconditions.
            if unsafe { libc::getppid() } != 1 {
                // The zygote died between fork and prctl.
                // SAFETY: _exit ends this process without running anything else.
                unsafe { libc::_exit(1) };
            }
            let prepared = self
                .interpreter
                .prepare(py, job, ANSWER_FD, output_limit as u64)
                .map_err(|e| Error::new(format!("preparing the run: {e}")))?;
            // Measured once the run's arguments exist, so the allowance is
            // the script's own; read before Landlock takes /proc away.
            let address_space = sandbox::address_space_bytes()?;
            let ruleset = self
                .child_landlock
                .try_clone()
                .map_err(|e| Error::new(format!("Landlock: {e}")))?;
            sandbox::enforce_landlock(ruleset)?;
            // SAFETY: dup2/close_range on descriptors this process owns;
            // after this, 0-2 are /dev/null and ANSWER_FD is the pipe
            // (replacing the procfs descriptor), nothing else is open.
            unsafe {
                for fd in 0..3 {
                    if libc::dup2(DEV_NULL_FD, fd) < 0 {
                        return Err(Error::os("dup2(/dev/null)"));
                    }
                }
                if libc::dup2(answer_fd, ANSWER_FD) < 0 {
                    return Err(Error::os("dup2(answer pipe)"));
                }
                answer_fd = ANSWER_FD;
                if libc::close_range(ANSWER_FD as libc::c_uint + 1, libc::c_uint::MAX, 0) < 0 {
                    return Err(Error::os("close_range"));
                }
                // A C stack overflow ends the child with SIGSEGV, not in
                // Rust's stack-overflow handler.
                libc::signal(libc::SIGSEGV, libc::SIG_DFL);
                libc::signal(libc::SIGBUS, libc::SIG_DFL);
            }
            sandbox::child_rlimits(&sandbox::ChildLimits {
                cpu_seconds: job.limits.cpu_ms.div_ceil(1000),
                address_space: address_space.saturating_add(job.limits.memory_bytes),
            })?;
            seccomp::apply(&self.child_seccomp)?;

            if let Err(error) = self.interpreter.run(py, prepared) {
                // The runner catches everything a script does; this is a bug.
                return Err(Error::new(format!("the runner failed: {error}")));
            }
            Ok(())
        })();
        if let Err(error) = result {
            let message = error.to_string();
            let mut frame = vec![TAG_SANDBOX];
            frame.extend_from_slice(&(message.len() as u32).to_le_bytes());
            frame.extend_from_slice(message.as_bytes());
            // SAFETY: write to our answer pipe; the frame outlives the call.
            unsafe { libc::write(answer_fd, frame.as_ptr().cast(), frame.len()) };
        }
        // SAFETY: ends the child without unwinding into the zygote's code
        // or finalising Python.
        unsafe { libc::_exit(0) }
    }
}

/// Why the zygote stopped a child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stopped {
    Wall,
    Cpu,
    Output,
    Malformed,
    Unavailable,
}

/// What a child sent and how it ended.
struct Outcome {
    answer: Answer,
    stopped: Option<Stopped>,
    /// The wait status, when the child was reaped (it was not when it
    /// answered: it is reaped after the answer is sent).
    status: libc::c_int,
    reaped: bool,
    cpu: Duration,
}

/// The frames a child sent, bounded.
struct Answer {
    buffer: Vec<u8>,
    log: Vec<u8>,
    result: Option<Vec<u8>>,
    sandbox_error: Option<String>,
    received: usize,
    output_limit: usize,
    malformed: Option<String>,
}

impl Answer {
    fn new(output_limit: usize) -> Self {
        Self {
            buffer: Vec::new(),
            log: Vec::new(),
            result: None,
            sandbox_error: None,
            received: 0,
            output_limit,
            malformed: None,
        }
    }

    /// Takes bytes from the pipe; `Err` stops the child.
    fn feed(&mut self, data: &[u8]) -> Result<(), Stopped> {
        self.received += data.len();
        if self.received > self.output_limit + REPORT_OVERHEAD {
            return Err(Stopped::Output);
        }
        self.buffer.extend_from_slice(data);
        loop {
            let Some(header) = self.buffer.get(..5) else {
                return Ok(());
            };
            let tag = header[0];
            let len = u32::from_le_bytes([header[1], header[2], header[3], header[4]]) as usize;
            let malformed = |answer: &mut Self, why: &str| {
                answer.malformed = Some(why.to_owned());
                Err(Stopped::Malformed)
            };
            match tag {
                TAG_RESULT if len > self.output_limit => return Err(Stopped::Output),
                TAG_RESULT if self.result.is_some() => return malformed(self, "two results"),
                TAG_LOG if len > worker_protocol::MAX_LOG => {
                    return malformed(self, "a log frame over MAX_LOG");
                }
                TAG_SANDBOX if len > 4096 => return malformed(self, "a long sandbox error"),
                TAG_RESULT | TAG_LOG | TAG_SANDBOX => {}
                _ => return malformed(self, "an unknown frame"),
            }
            if self.buffer.len() < 5 + len {
                return Ok(());
            }
            let payload: Vec<u8> = self.buffer.drain(..5 + len).skip(5).collect();
            match tag {
                TAG_RESULT => self.result = Some(payload),
                TAG_LOG => {
                    let room = worker_protocol::MAX_LOG - self.log.len();
                    self.log.extend_from_slice(&payload[..payload.len().min(room)]);
                }
                _ => self.sandbox_error = Some(String::from_utf8_lossy(&payload).into_owned()),
            }
        }
    }

    /// The log as text, cut at MAX_LOG bytes on a character boundary.
    fn log_text(&self) -> String {
        let text = String::from_utf8_lossy(&self.log);
        let mut end = text.len().min(worker_protocol::MAX_LOG);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text[..end].to_owned()
    }
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

/// Reads the child's pipe until it has answered or ended, stopping it at
/// the wall-clock or CPU limit or when it sends too much.
fn supervise(
    pid: libc::pid_t,
    reader: OwnedFd,
    job: &Job,
    received: Instant,
    output_limit: usize,
) -> Outcome {
    // A limit too far away to represent is no limit (a year, in practice).
    let deadline = received
        .checked_add(Duration::from_millis(job.limits.wall_ms))
        .unwrap_or(received + Duration::from_secs(365 * 86_400));
    let cpu_limit = Duration::from_millis(job.limits.cpu_ms);
    let mut answer = Answer::new(output_limit);
    let mut stopped = None;

    let mut clock: libc::clockid_t = 0;
    // SAFETY: clock_getcpuclockid into a local.
    let clock = (unsafe { libc::clock_getcpuclockid(pid, &mut clock) } == 0).then_some(clock);
    // SAFETY: pidfd_open of our own child (Linux 5.3; Landlock needs 5.13).
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as RawFd;
    if pidfd < 0 {
        log(format_args!("pidfd_open: {}", io::Error::last_os_error()));
        stopped = Some(Stopped::Unavailable);
    }
    // SAFETY: a valid descriptor from pidfd_open is ours to close.
    let pidfd = (pidfd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(pidfd) });
    let mut pipe_open = true;
    let mut exited = false;
    let mut buf = vec![0u8; 64 << 10];

    while let Some(pidfd) = pidfd
        .as_ref()
        .filter(|_| (pipe_open || !exited) && answer.result.is_none())
    {
        let now = Instant::now();
        if now >= deadline {
            stopped = Some(Stopped::Wall);
            break;
        }
        let mut timeout = deadline - now;
        if !exited && let Some(used) = cpu_time(clock) {
            if used >= cpu_limit {
                stopped = Some(Stopped::Cpu);
                break;
            }
            // CPU time cannot grow faster than the wall clock (one thread).
            timeout = timeout.min(cpu_limit - used + Duration::from_millis(1));
        }
        let mut polls = [
            libc::pollfd {
                fd: if pipe_open { reader.as_raw_fd() } else { -1 },
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
            // SAFETY: read into our buffer.
            let n = unsafe { libc::read(reader.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n == 0 || (n < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted) {
                pipe_open = false;
            } else if n > 0
                && let Err(why) = answer.feed(&buf[..n as usize])
            {
                stopped = Some(why);
                break;
            }
        }
        if polls[1].revents != 0 {
            exited = true;
        }
    }

    if stopped.is_none() && answer.result.is_some() {
        // Answered: the child only has _exit left. Its CPU time is read
        // from its clock, and it is reaped after the answer is sent.
        return Outcome {
            answer,
            stopped,
            status: 0,
            reaped: false,
            cpu: cpu_time(clock).unwrap_or_default(),
        };
    }
    if stopped.is_some() {
        // SAFETY: our own child, not yet reaped.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    let (status, cpu) = wait(pid);
    Outcome {
        answer,
        stopped,
        status,
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

fn signal_name(signal: libc::c_int) -> String {
    let name = match signal {
        libc::SIGSEGV => "SIGSEGV (segmentation fault)",
        libc::SIGBUS => "SIGBUS (bus error)",
        libc::SIGABRT => "SIGABRT (aborted)",
        libc::SIGFPE => "SIGFPE (arithmetic error)",
        libc::SIGILL => "SIGILL (illegal instruction)",
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        libc::SIGALRM => "SIGALRM (alarm)",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGSYS => "SIGSYS (bad system call)",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        _ => return format!("signal {signal}"),
    };
    name.to_owned()
}

/// Turns what happened to a child into the run's result and log.
fn judge(job: &Job, outcome: &Outcome) -> Result<Output, RunError> {
    let Outcome {
        answer,
        stopped,
        status,
        cpu,
        ..
    } = outcome;
    let (status, cpu) = (*status, *cpu);
    let limits = &job.limits;
    let cpu_exceeded = cpu >= Duration::from_millis(limits.cpu_ms);
    let signal = libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status));

    match stopped {
        Some(Stopped::Unavailable) => failure(ErrorKind::Unavailable, "the worker could not watch the run"),
        Some(Stopped::Cpu) => failure(
            ErrorKind::CpuLimit,
            format!("the script used more than its {} ms of CPU time", limits.cpu_ms),
        ),
        Some(Stopped::Wall) if cpu_exceeded => failure(
            ErrorKind::CpuLimit,
            format!("the script used more than its {} ms of CPU time", limits.cpu_ms),
        ),
        Some(Stopped::Wall) => failure(
            ErrorKind::TimeLimit,
            format!(
                "the script ran longer than its {} ms (it may be waiting or sleeping)",
                limits.wall_ms
            ),
        ),
        Some(Stopped::Output) => failure(
            ErrorKind::OutputTooLarge,
            format!(
                "the script's answer is over the limit of {} bytes",
                limits.output_bytes
            ),
        ),
        Some(Stopped::Malformed) => failure(
            ErrorKind::InvalidOutput,
            format!(
                "the script wrote to the sandbox's answer pipe ({})",
                answer.malformed.as_deref().unwrap_or("malformed")
            ),
        ),
        None => {
            if let Some(message) = &answer.sandbox_error {
                log(format_args!("a run's sandbox could not be built: {message}"));
                failure(
                    ErrorKind::Unavailable,
                    "the sandbox could not be set up for this run",
                )
            } else if let Some(result) = &answer.result {
                parse_result(job, result)
            } else if signal == Some(libc::SIGXCPU) || (signal == Some(libc::SIGKILL) && cpu_exceeded) {
                failure(
                    ErrorKind::CpuLimit,
                    format!("the script used more than its {} ms of CPU time", limits.cpu_ms),
                )
            } else if let Some(signal) = signal {
                let hint = if signal == libc::SIGSEGV {
                    " (often recursion too deep for the C stack)"
                } else {
                    ""
                };
                failure(
                    ErrorKind::Crashed,
                    format!("the script crashed with {}{hint}", signal_name(signal)),
                )
            } else {
                let code = libc::WEXITSTATUS(status);
                failure(
                    ErrorKind::Crashed,
                    format!("the script ended (exit status {code}) without an answer"),
                )
            }
        }
    }
}

fn parse_result(job: &Job, bytes: &[u8]) -> Result<Output, RunError> {
    let result: Result<Output, RunError> = match serde_json::from_slice(bytes) {
        Ok(result) => result,
        Err(error) => return failure(ErrorKind::InvalidOutput, format!("the script's answer: {error}")),
    };
    let output = result?;
    if let Err(message) = output.check(&job.candles.time) {
        return failure(ErrorKind::InvalidOutput, message);
    }
    Ok(output)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use worker_protocol::{Columns, Limits};

    use super::*;

    fn frame(tag: u8, payload: &[u8]) -> Vec<u8> {
        let mut frame = vec![tag];
        frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        frame.extend_from_slice(payload);
        frame
    }

    fn job() -> Job {
        Job {
            source: String::new(),
            candles: Columns {
                time: vec![1, 2],
                open: vec![1.0; 2],
                high: vec![1.0; 2],
                low: vec![1.0; 2],
                close: vec![1.0; 2],
                volume: vec![1.0; 2],
            },
            limits: Limits::default(),
        }
    }

    fn outcome(answer: Answer, stopped: Option<Stopped>, status: libc::c_int, cpu_ms: u64) -> Outcome {
        Outcome {
            answer,
            stopped,
            status,
            reaped: true,
            cpu: Duration::from_millis(cpu_ms),
        }
    }

    #[test]
    fn frames_split_anywhere_are_put_back_together_and_the_log_is_capped() {
        let mut answer = Answer::new(1000);
        let mut bytes = frame(TAG_LOG, "é".repeat(worker_protocol::MAX_LOG / 2).as_bytes());
        bytes.extend(frame(TAG_LOG, b"more"));
        bytes.extend(frame(TAG_RESULT, br#"{"Ok":{}}"#));
        for chunk in bytes.chunks(7) {
            answer.feed(chunk).unwrap();
        }
        assert_eq!(answer.result.as_deref(), Some(&br#"{"Ok":{}}"#[..]));
        let log = answer.log_text();
        assert_eq!(log.len(), worker_protocol::MAX_LOG);
        assert!(log.chars().all(|c| c == 'é'));
    }

    #[test]
    fn oversized_or_unknown_frames_stop_the_child() {
        let mut answer = Answer::new(10);
        assert_eq!(answer.feed(&frame(TAG_RESULT, &[b'x'; 11])), Err(Stopped::Output));
        let mut answer = Answer::new(10);
        assert_eq!(answer.feed(b"Xjunk"), Err(Stopped::Malformed));
        let mut answer = Answer::new(10);
        answer.feed(&frame(TAG_RESULT, b"{}")).unwrap();
        assert_eq!(answer.feed(&frame(TAG_RESULT, b"{}")), Err(Stopped::Malformed));
        let mut answer = Answer::new(10);
        let flood = frame(TAG_LOG, &[b'x'; 1000]);
        let result = (0..200).try_for_each(|_| answer.feed(&flood));
        assert_eq!(result, Err(Stopped::Output));
    }

    #[test]
    fn how_a_child_ended_decides_the_error() {
        let job = job();
        let kind = |outcome: Outcome| judge(&job, &outcome).unwrap_err().kind;
        let signaled = |signal: libc::c_int| signal;
        assert_eq!(
            kind(outcome(Answer::new(10), Some(Stopped::Cpu), 0, 2000)),
            ErrorKind::CpuLimit
        );
        assert_eq!(
            kind(outcome(Answer::new(10), Some(Stopped::Wall), 0, 10)),
            ErrorKind::TimeLimit
        );
        // Stopped at the wall clock, but it had used its CPU time.
        assert_eq!(
            kind(outcome(Answer::new(10), Some(Stopped::Wall), 0, 2000)),
            ErrorKind::CpuLimit
        );
        assert_eq!(
            kind(outcome(Answer::new(10), Some(Stopped::Output), 0, 1)),
            ErrorKind::OutputTooLarge
        );
        assert_eq!(
            kind(outcome(Answer::new(10), None, signaled(libc::SIGXCPU), 1000)),
            ErrorKind::CpuLimit
        );
        assert_eq!(
            kind(outcome(Answer::new(10), None, signaled(libc::SIGKILL), 2500)),
            ErrorKind::CpuLimit
        );
        let crash = judge(&job, &outcome(Answer::new(10), None, signaled(libc::SIGSEGV), 5)).unwrap_err();
        assert_eq!(crash.kind, ErrorKind::Crashed);
        assert!(crash.message.contains("SIGSEGV"));
        assert_eq!(
            kind(outcome(Answer::new(10), None, 3 << 8, 5)),
            ErrorKind::Crashed
        );

        let mut answer = Answer::new(1000);
        answer
            .feed(&frame(
                TAG_RESULT,
                br#"{"Ok":{"markers":[{"time":3,"side":"buy","price":1}]}}"#,
            ))
            .unwrap();
        let error = judge(&job, &outcome(answer, None, 0, 1)).unwrap_err();
        assert_eq!(error.kind, ErrorKind::InvalidOutput);
        assert!(error.message.contains("marker 0: time 3"), "{}", error.message);

        let mut answer = Answer::new(1000);
        answer.feed(&frame(TAG_RESULT, b"{\"Ok\":nope")).unwrap();
        let error = judge(&job, &outcome(answer, None, 0, 1)).unwrap_err();
        assert_eq!(error.kind, ErrorKind::InvalidOutput);

        let mut answer = Answer::new(1000);
        answer
            .feed(&frame(
                TAG_RESULT,
                br#"{"Ok":{"lines":[{"name":"a","points":[[1,2.5]]}]}}"#,
            ))
            .unwrap();
        assert_eq!(
            judge(&job, &outcome(answer, None, 0, 1)).unwrap().lines[0].points,
            [(1, 2.5)]
        );
    }
}
