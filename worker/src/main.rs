//! `inchart-worker`: runs untrusted Python signal scripts for the InChart
//! server, confined, one at a time, over stdin/stdout (the protocol is
//! the `worker-protocol` crate).
//!
//! ```text
//! inchart-worker [--python-home DIR] [--site DIR]
//! ```
//!
//! The process the server starts only creates the namespaces and waits:
//! its child, PID 1 of a new PID namespace, is the zygote that confines
//! itself and serves jobs (see [`zygote`] and [`sandbox`]). If the sandbox
//! cannot be built the worker says why in one line on stderr and exits
//! with status 2; it never runs a script unconfined.

mod cgroup;
mod interpreter;
mod sandbox;
mod seccomp;
mod zygote;

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use sandbox::{Error, Plan};

const USAGE: &str = "\
usage: inchart-worker [--python-home DIR] [--site DIR]

Runs InChart signal scripts in a sandbox; the server speaks to it over
stdin/stdout (u32 little-endian length + JSON frames).

  --python-home DIR  the CPython installation to embed (default: the one it
                     was built against, {home})
  --site DIR         a directory holding numpy (scripts/setup.sh: setup_python);
                     without it candles are lists and numpy is unavailable
  --allow-missing L  run without these confinement layers when this machine
                     lacks them (comma-separated: cgroups, landlock); by
                     default the worker refuses to start without any layer
";

/// The command line.
#[derive(Debug)]
struct Options {
    python_home: PathBuf,
    site: Option<PathBuf>,
    allow_missing: zygote::AllowMissing,
}

impl Options {
    /// Parses the arguments; `Ok(None)` means `--help`.
    fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Option<Self>, String> {
        let mut options = Self {
            python_home: PathBuf::from(env!("INCHART_PYTHON_HOME")),
            site: None,
            allow_missing: zygote::AllowMissing::default(),
        };
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let arg = arg
                .into_string()
                .map_err(|a| format!("unreadable argument {a:?}"))?;
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) => (flag.to_owned(), Some(OsString::from(value))),
                None => (arg, None),
            };
            let mut value = || {
                inline
                    .clone()
                    .or_else(|| args.next())
                    .map(PathBuf::from)
                    .ok_or_else(|| format!("{flag} needs a directory"))
            };
            match flag.as_str() {
                "--python-home" => options.python_home = value()?,
                "--site" => options.site = Some(value()?),
                "--allow-missing" => {
                    let list = value()?;
                    for layer in list.to_string_lossy().split(',').map(str::trim) {
                        match layer {
                            "cgroups" => options.allow_missing.cgroups = true,
                            "landlock" => options.allow_missing.landlock = true,
                            "" => {}
                            other => {
                                return Err(format!(
                                    "--allow-missing: unknown layer {other:?} (cgroups, landlock)"
                                ));
                            }
                        }
                    }
                }
                "-h" | "--help" => return Ok(None),
                other => return Err(format!("unknown argument {other:?} (see --help)")),
            }
        }
        Ok(Some(options))
    }
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    zygote::log(message);
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let started = Instant::now();
    let options = match Options::parse(std::env::args_os().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            let usage = USAGE.replace("{home}", env!("INCHART_PYTHON_HOME"));
            let _ = std::io::stdout().write_all(usage.as_bytes());
            return ExitCode::SUCCESS;
        }
        Err(message) => return fail(message),
    };
    let plan = match Plan::new(
        &options.python_home,
        std::path::Path::new(env!("INCHART_PYTHON_STDLIB")),
        options.site.as_deref(),
    ) {
        Ok(plan) => plan,
        Err(error) => return fail(error),
    };
    match spawn_zygote(&plan, started, options.allow_missing) {
        Ok(code) => code,
        Err(error) => fail(format_args!("cannot build the sandbox: {error}")),
    }
}

/// Creates the namespaces, forks the zygote and waits for it; the exit
/// status is the zygote's.
fn spawn_zygote(plan: &Plan, started: Instant, allow: zygote::AllowMissing) -> Result<ExitCode, Error> {
    // The server's death ends the worker, and the zygote's death (below)
    // with it: PID 1's end kills everything in its namespace.
    sandbox::die_with_parent()?;
    // Made while this process still sees the host's /sys; removed below
    // once the zygote and all its runs have ended.
    let mut cgroups = cgroup::RunCgroups::create();
    let identity = sandbox::unshare()?;
    // The zygote learns whether this process died before it could ask for
    // the same (PR_SET_PDEATHSIG) through this pipe: EOF means gone.
    let mut alive = [0; 2];
    // SAFETY: pipe2 into a two-element array.
    if unsafe { libc::pipe2(alive.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(Error::os("pipe2"));
    }
    // SAFETY: this process is single-threaded; the child only runs our code.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(Error::os("fork"));
    }
    if pid == 0 {
        // SAFETY: closing our copy of the write end; reading the other one.
        let orphaned = unsafe {
            libc::close(alive[1]);
            let _ = sandbox::die_with_parent();
            libc::fcntl(alive[0], libc::F_SETFL, libc::O_NONBLOCK);
            let mut byte = 0u8;
            libc::read(alive[0], (&mut byte as *mut u8).cast(), 1) == 0
        };
        let code = if orphaned {
            1
        } else {
            match zygote::main(plan, identity, started, cgroups, allow) {
                Ok(()) => 0,
                Err(error) => {
                    zygote::log(format_args!("cannot build the sandbox: {error}"));
                    2
                }
            }
        };
        // SAFETY: ends the zygote without returning into the parent's code.
        unsafe { libc::_exit(code) };
    }
    // The zygote holds stdin and stdout; this process keeps only stderr.
    // SAFETY: closing descriptors this process no longer uses.
    unsafe {
        libc::close(alive[0]);
        libc::close(0);
        libc::close(1);
    }
    // This process keeps only the directories, to remove the cgroups.
    if let Ok(cgroups) = &mut cgroups {
        cgroups.close_files();
    }
    let mut status = 0;
    loop {
        // SAFETY: waitpid on our child.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        if rc == pid {
            break;
        }
        if rc < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return Err(Error::os("waitpid"));
        }
    }
    if let Ok(cgroups) = cgroups {
        cgroups.remove();
    }
    if libc::WIFEXITED(status) {
        return Ok(ExitCode::from(libc::WEXITSTATUS(status) as u8));
    }
    let signal = libc::WTERMSIG(status);
    zygote::log(format_args!("the zygote was killed by signal {signal}"));
    Ok(ExitCode::from(128 + signal as u8))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Options>, String> {
        Options::parse(args.iter().map(OsString::from))
    }

    #[test]
    fn flags_take_a_value_after_a_space_or_an_equals_sign() {
        let options = parse(&["--site", "/s", "--python-home=/p"]).unwrap().unwrap();
        assert_eq!(options.site, Some(PathBuf::from("/s")));
        assert_eq!(options.python_home, PathBuf::from("/p"));
        let options = parse(&[]).unwrap().unwrap();
        assert_eq!(options.python_home, PathBuf::from(env!("INCHART_PYTHON_HOME")));
        assert_eq!(options.site, None);
        assert!(parse(&["--help"]).unwrap().is_none());
        assert!(
            parse(&["--site"])
                .unwrap_err()
                .contains("--site needs a directory")
        );
        assert!(parse(&["--nope"]).unwrap_err().contains("unknown argument"));
    }
}
