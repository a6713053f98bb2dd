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
usage: inchart-worker [--python-home DIR] [--site DIR] [--sandbox-uid UID]

Runs InChart signal scripts in a sandbox; the server speaks to it over
stdin/stdout (u32 little-endian length + JSON frames).

  --python-home DIR  the CPython installation to embed (default: the one it
                     was built against, {home})
  --site DIR         a directory holding numpy (scripts/setup.sh: setup_python);
                     without it candles are lists and numpy is unavailable
  --allow-missing L  run without these confinement layers when this machine
                     lacks them (comma-separated: cgroups, landlock); by
                     default the worker refuses to start without any layer
  --sandbox-uid UID  the host uid and gid scripts run as (default 65534); never
                     0 or the worker's own uid or gid. Needs root or
                     CAP_SYS_ADMIN, CAP_SETUID, CAP_SETGID and CAP_SETPCAP;
                     without them the worker runs scripts as its own uid in a
                     user namespace and refuses this flag
";

/// The command line.
#[derive(Debug)]
struct Options {
    python_home: PathBuf,
    site: Option<PathBuf>,
    allow_missing: zygote::AllowMissing,
    /// `--sandbox-uid`; `None`: the default (see [`Plan::sandbox_uid`]).
    sandbox_uid: Option<u32>,
}

impl Options {
    /// Parses the arguments; `Ok(None)` means `--help`.
    fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Option<Self>, String> {
        let mut options = Self {
            python_home: PathBuf::from(env!("INCHART_PYTHON_HOME")),
            site: None,
            allow_missing: zygote::AllowMissing::default(),
            sandbox_uid: None,
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
            let mut value = |what: &str| {
                inline
                    .clone()
                    .or_else(|| args.next())
                    .ok_or_else(|| format!("{flag} needs {what}"))
            };
            match flag.as_str() {
                "--python-home" => options.python_home = value("a directory")?.into(),
                "--site" => options.site = Some(value("a directory")?.into()),
                "--sandbox-uid" => {
                    let uid = value("a uid")?;
                    let uid = uid
                        .to_str()
                        .and_then(|uid| uid.parse::<u32>().ok())
                        .filter(|&uid| uid != 0 && uid != u32::MAX)
                        .ok_or_else(|| {
                            format!("--sandbox-uid {uid:?} is not a uid scripts may run as (1 to 4294967294)")
                        })?;
                    options.sandbox_uid = Some(uid);
                }
                "--allow-missing" => {
                    let list = value("a list of layers")?;
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
        options.sandbox_uid,
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

    #[test]
    fn the_sandbox_uid_is_a_number_and_never_root() {
        assert_eq!(parse(&[]).unwrap().unwrap().sandbox_uid, None);
        let options = parse(&["--sandbox-uid", "10001"]).unwrap().unwrap();
        assert_eq!(options.sandbox_uid, Some(10001));
        assert_eq!(parse(&["--sandbox-uid=7"]).unwrap().unwrap().sandbox_uid, Some(7));
        for bad in ["0", "-1", "4294967295", "nobody", ""] {
            assert!(
                parse(&["--sandbox-uid", bad])
                    .unwrap_err()
                    .contains("is not a uid"),
                "{bad}"
            );
        }
        assert!(parse(&["--sandbox-uid"]).unwrap_err().contains("needs a uid"));
    }
}
