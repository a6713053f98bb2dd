//! Runs do not see each other, the worker's identity and namespaces are
//! what the sandbox promises (checked from the host's /proc as well as
//! from inside), and the worker's life is tied to its parent's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
#[allow(unused_imports)]
use std::io::Read as _;
use worker_protocol::{ErrorKind, Limits, ToWorker, encode};

#[test]
fn a_run_sees_nothing_an_earlier_run_left() {
    let mut worker = Worker::start();
    let first = r#"
import builtins, sys, math, os, json
import numpy as np
import inchart
builtins.stash = "secret from run 1"
sys.modules["json"] = None
sys.path.append("/tmp")
inchart.sma = lambda *a: "patched"
math.pi = 3
os.environ["LEFT"] = "behind"
np.random.seed(1234)
left_behind = list(range(1000))
def signals(c):
    return [], {}
"#;
    ok(&worker.run_script(first));
    let second = r#"
import builtins, sys, math, os
import numpy as np
import inchart
def signals(c):
    assert not hasattr(builtins, "stash"), builtins.stash
    import json
    assert json.dumps([1]) == "[1]"
    assert "/tmp" not in sys.path, sys.path
    assert inchart.sma([1.0, 2.0], 2)[1] == 1.5
    assert math.pi > 3.14
    assert "LEFT" not in os.environ
    assert "left_behind" not in globals()
    np.random.seed(1234)
    seeded = np.random.random()
    np.random.seed()
    return [], {}
"#;
    ok(&worker.run_script(second));
    // Unseeded random numbers differ from run to run (each child reseeds).
    let draw = "import random\nimport numpy as np\ndef signals(c):\n    print(random.random(), np.random.random())\n    return [], {}\n";
    let a = worker.run_script(draw).log;
    let b = worker.run_script(draw).log;
    assert_ne!(a, b);
}

#[test]
fn scripts_run_as_nobody_with_an_empty_environment_and_a_fixed_sys_path() {
    let site = site();
    // Even a server that forgot to clear its environment leaks nothing.
    let mut worker = Worker::start_with_env(&[("INCHART_TEST_SECRET", "hunter2")]);
    let source = format!(
        r#"
import os, sys
def signals(c):
    assert os.environ == {{}}, dict(os.environ)
    assert os.getenv("INCHART_TEST_SECRET") is None
    assert (os.getuid(), os.geteuid(), os.getgid(), os.getegid()) == (65534,) * 4
    assert os.getgroups() == []
    assert os.getppid() == 1 and os.getpid() > 1
    assert sys.path == ["/root/.pyenv/versions/3.11.7/lib/python3.11",
                        "/root/.pyenv/versions/3.11.7/lib/python3.11/lib-dynload", {site:?}], sys.path
    assert sys.flags.isolated and sys.flags.no_user_site and sys.dont_write_bytecode
    assert "site" not in sys.modules
    assert "ctypes" not in sys.modules and "_ctypes" not in sys.modules
    try:
        import boto3
    except ModuleNotFoundError:
        pass
    else:
        raise AssertionError("the interpreter's own site-packages is visible")
    for call in (lambda: os.setuid(0), lambda: os.setgid(0), lambda: os.chroot("/"), lambda: os.unshare(0x10000000)):
        try:
            call()
        except (PermissionError, AttributeError):
            pass
        else:
            raise AssertionError("a privileged call worked")
    return [], {{}}
"#,
        site = site.display().to_string()
    );
    ok(&worker.run_script(&source));
}

fn status(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap()
}

fn field<'a>(status: &'a str, name: &str) -> &'a str {
    status
        .lines()
        .find_map(|line| line.strip_prefix(name).and_then(|rest| rest.strip_prefix(':')))
        .unwrap_or_else(|| panic!("no {name} in {status}"))
        .trim()
}

fn namespace(pid: &str, kind: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .unwrap()
        .display()
        .to_string()
}

fn sole_child(pid: u32) -> Option<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[test]
fn from_the_host_the_zygote_and_its_child_are_confined() {
    let mut worker = Worker::start();
    let zygote = worker.zygote_pid();
    let status = status(zygote);
    assert_eq!(field(&status, "Uid"), "65534\t65534\t65534\t65534");
    assert_eq!(field(&status, "Gid"), "65534\t65534\t65534\t65534");
    assert_eq!(field(&status, "Groups"), "");
    for caps in ["CapInh", "CapPrm", "CapEff", "CapAmb", "CapBnd"] {
        assert_eq!(field(&status, caps), "0000000000000000", "{caps}");
    }
    assert_eq!(field(&status, "NoNewPrivs"), "1");
    assert_eq!(field(&status, "Seccomp"), "2");
    assert_eq!(field(&status, "Seccomp_filters"), "2");
    assert_eq!(field(&status, "Threads"), "1");
    for kind in ["mnt", "pid", "net", "ipc", "uts"] {
        assert_ne!(
            namespace(&zygote.to_string(), kind),
            namespace("self", kind),
            "{kind}"
        );
    }
    // The zygote is PID 1 of its namespace.
    assert_eq!(field(&status, "NSpid").split_whitespace().last(), Some("1"));

    // The network namespace has a loopback device, down, and nothing else.
    let devices = std::fs::read_to_string(format!("/proc/{zygote}/net/dev")).unwrap();
    let names: Vec<&str> = devices
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    assert_eq!(names, ["lo"]);
    let links = Command::new("nsenter")
        .args([
            format!("--net=/proc/{zygote}/ns/net"),
            "ip".into(),
            "-o".into(),
            "link".into(),
        ])
        .output()
        .expect("nsenter and ip (util-linux, iproute2)");
    let links = String::from_utf8(links.stdout).unwrap();
    assert_eq!(links.lines().count(), 1, "{links}");
    assert!(links.contains("lo:") && links.contains("state DOWN"), "{links}");

    // A running script's process: same identity, its own filters on top.
    let sleeping = job(
        "import time\ndef signals(c):\n    time.sleep(30)\n",
        series(10),
        Limits {
            wall_ms: 60_000,
            ..generous()
        },
    );
    worker.send(&sleeping);
    let started = Instant::now();
    let child = loop {
        if let Some(child) = sole_child(zygote) {
            let status = self::status(child);
            // Confined, and its setup pipe (fd 4) closed: the script runs.
            let setup_closed = !std::path::Path::new(&format!("/proc/{child}/fd/4")).exists();
            if field(&status, "Seccomp_filters") == "4" && setup_closed {
                break child;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no confined child appeared"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let status = self::status(child);
    assert_eq!(field(&status, "Uid"), "65534\t65534\t65534\t65534");
    assert_eq!(field(&status, "CapEff"), "0000000000000000");
    assert_eq!(field(&status, "NoNewPrivs"), "1");
    assert_eq!(field(&status, "Threads"), "1");
    assert_eq!(field(&status, "PPid"), zygote.to_string());
    let fds: Vec<String> = std::fs::read_dir(format!("/proc/{child}/fd"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let mut fds: Vec<u32> = fds.iter().map(|f| f.parse().unwrap()).collect();
    fds.sort();
    assert_eq!(fds, [0, 1, 2, 3], "stdin/out/err (/dev/null) and the answer pipe");
    for fd in 0..3 {
        assert_eq!(
            std::fs::read_link(format!("/proc/{child}/fd/{fd}"))
                .unwrap()
                .to_str(),
            Some("/dev/null")
        );
    }
}

#[test]
fn killing_the_worker_takes_the_zygote_and_a_running_script_with_it() {
    let mut worker = Worker::start();
    let zygote = worker.zygote_pid();
    worker.send(&job(
        "import time\ndef signals(c):\n    time.sleep(60)\n",
        series(10),
        Limits {
            wall_ms: 120_000,
            ..generous()
        },
    ));
    let started = Instant::now();
    let child = loop {
        if let Some(child) = sole_child(zygote) {
            break child;
        }
        assert!(started.elapsed() < Duration::from_secs(30));
        std::thread::sleep(Duration::from_millis(20));
    };
    worker.process.kill().unwrap();
    worker.process.wait().unwrap();
    let gone = |pid: u32| {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .map_or(true, |s| field(&s, "State").starts_with('Z'))
    };
    let started = Instant::now();
    while !(gone(zygote) && gone(child)) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the zygote or its child outlived the worker"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_worker_exits_cleanly_when_stdin_closes_and_says_it_is_ready() {
    let worker = Worker::start();
    let stderr = std::sync::Arc::clone(&worker.stderr);
    assert!(worker.finish().success());
    let lines = stderr.lock().unwrap().clone();
    let ready = lines
        .iter()
        .find(|l| l.contains("ready in"))
        .expect("a ready line");
    for part in [
        "inchart-worker: ready in ",
        "Python 3.11.7",
        "numpy 2.",
        "uid 65534",
        "Landlock",
        "seccomp",
        "per run (memory",
    ] {
        assert!(ready.contains(part), "{ready}");
    }
}

/// The run cgroups of worker `pid` that exist now, in any hierarchy.
fn run_cgroups(pid: u32) -> Vec<String> {
    let prefix = format!("inchart-run-{pid}-");
    let mut found = Vec::new();
    let mut stack = vec![std::path::PathBuf::from("/sys/fs/cgroup")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                if entry.file_name().to_string_lossy().starts_with(&prefix) {
                    found.push(path.display().to_string());
                } else if path.components().count() < 12 {
                    stack.push(path);
                }
            }
        }
    }
    found
}

#[test]
fn each_run_is_in_a_cgroup_of_its_own_which_goes_with_the_worker() {
    let mut worker = Worker::start();
    let pid = worker.process.id();
    assert!(!run_cgroups(pid).is_empty(), "no run cgroups for worker {pid}");
    let zygote = worker.zygote_pid();
    worker.send(&job(
        "import time\ndef signals(c):\n    time.sleep(3)\n    return [], {}\n",
        series(10),
        Limits {
            wall_ms: 60_000,
            ..generous()
        },
    ));
    let started = Instant::now();
    let child = loop {
        if let Some(child) = sole_child(zygote) {
            let cgroups = std::fs::read_to_string(format!("/proc/{child}/cgroup")).unwrap_or_default();
            if cgroups.contains(&format!("inchart-run-{pid}-")) {
                break child;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the run never joined its cgroup"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    // The zygote itself stays where the worker was started.
    let zygote_cgroups = std::fs::read_to_string(format!("/proc/{zygote}/cgroup")).unwrap();
    assert!(!zygote_cgroups.contains("inchart-run-"), "{zygote_cgroups}");
    let memory_line = std::fs::read_to_string(format!("/proc/{child}/cgroup")).unwrap();
    assert!(memory_line.contains("inchart-run-"), "{memory_line}");
    drop(worker.report());
    assert!(worker.finish().success());
    let left = run_cgroups(pid);
    assert!(left.is_empty(), "cgroups left behind: {left:?}");
}

#[test]
fn a_sandbox_that_cannot_be_built_is_a_one_line_error_and_status_2() {
    let output = Command::new(BIN)
        .args(["--site", "/nonexistent/site"])
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("inchart-worker: the site directory /nonexistent/site"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());

    let output = Command::new(BIN).arg("--bogus").env_clear().output().unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn a_malformed_job_frame_ends_the_worker_with_a_message() {
    let mut worker = Worker::start();
    let mut frame = encode(&ToWorker::Run {
        limits: generous(),
        payload_len: 0,
    })
    .unwrap();
    frame.truncate(4);
    frame[..4].copy_from_slice(&5u32.to_le_bytes());
    frame.extend_from_slice(b"{nope");
    let stdin = worker.stdin_mut();
    stdin.write_all(&frame).unwrap();
    stdin.flush().unwrap();
    let status = worker.process.wait().unwrap();
    assert_eq!(status.code(), Some(2));
    std::thread::sleep(Duration::from_millis(100));
    let lines = worker.stderr.lock().unwrap().clone();
    assert!(lines.iter().any(|l| l.contains("job frame")), "{lines:?}");
}

#[test]
fn malformed_payloads_are_refused_without_running() {
    let mut worker = Worker::start();
    // Ten candles announced, nine sent: the child refuses before any script.
    let mut payload = worker_protocol::payload::encode(
        worker_protocol::Mode::Chart,
        "def signals(c):\n    return [], {}\n",
        &series(10),
    )
    .unwrap();
    payload.truncate(payload.len() - 8);
    let mut wire = encode(&ToWorker::Run {
        limits: generous(),
        payload_len: payload.len() as u32,
    })
    .unwrap();
    wire.extend_from_slice(&payload);
    worker.send_raw(&wire);
    let (verdict, bytes) = worker.verdict();
    assert!(bytes.is_empty());
    let message = verdict.sandbox_error.clone().unwrap();
    assert!(message.contains("malformed payload"), "{message}");
    let report = worker_protocol::judge::report(&job("", series(10), generous()), &verdict, &bytes);
    assert_error(&report, ErrorKind::Unavailable, "could not be set up");
    assert_still_serves(&mut worker);
}

/// Removes a directory when dropped, also when the test fails.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn without_root_the_worker_confines_itself_in_a_user_namespace() {
    // uid 65534 cannot enter /root: Python, numpy and the binary are
    // hard-linked where it can.
    let copy = Unprivileged::new("userns");
    let nobody = ["--reuid=65534", "--regid=65534", "--clear-groups"];
    // Without root there is no cgroup of its own: the worker refuses to
    // start unless told it may run without.
    let refused = copy.command_requiring_every_layer(&nobody, &[]).output().unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("--allow-missing cgroups"), "{said}");
    let mut worker = Worker::start_command(copy.command(&nobody, &[]));
    assert_still_serves(&mut worker);
    let report = worker.run_script(
        r#"
import os
def signals(c):
    assert (os.getuid(), os.getgid()) == (65534, 65534)
    assert os.environ == {}, dict(os.environ)
    for call in (os.fork, lambda: open("/etc/passwd"), lambda: os.setuid(0)):
        try:
            call()
        except OSError:
            pass
        else:
            raise AssertionError(call)
    try:
        import boto3
    except ModuleNotFoundError:
        pass
    else:
        raise AssertionError("the interpreter's own site-packages is visible")
    return [], {}
"#,
    );
    ok(&report);
    let report = worker.run(&job(
        "def signals(c):\n    while True: pass\n",
        series(10),
        hostile(),
    ));
    assert_error(&report, ErrorKind::CpuLimit, "CPU time");

    // setpriv execs the worker: its child is the zygote.
    let zygote = worker.zygote_pid();
    let status = status(zygote);
    assert_eq!(field(&status, "Uid"), "65534\t65534\t65534\t65534");
    assert_eq!(field(&status, "CapEff"), "0000000000000000");
    assert_eq!(field(&status, "CapPrm"), "0000000000000000");
    assert_eq!(field(&status, "CapBnd"), "0000000000000000");
    assert_eq!(field(&status, "Seccomp"), "2");
    assert_ne!(namespace(&zygote.to_string(), "user"), namespace("self", "user"));
    let stderr = std::sync::Arc::clone(&worker.stderr);
    assert!(worker.finish().success());
    let lines = stderr.lock().unwrap();
    assert!(
        lines.iter().any(|l| l.contains("ready in")
            && l.contains(", user)")
            && l.contains("no cgroups (the worker is not root")),
        "{lines:?}"
    );
}

/// Python, numpy and the worker where a user other than root can reach
/// them (`/root` is closed to others): hard links in a directory of the
/// test's own.
struct Unprivileged {
    _dir: TempDir,
    home: std::path::PathBuf,
    site: std::path::PathBuf,
    bin: std::path::PathBuf,
}

impl Unprivileged {
    fn new(test: &str) -> Self {
        let dir = TempDir(std::env::temp_dir().join(format!("inchart-worker-{test}-{}", std::process::id())));
        let _ = std::fs::remove_dir_all(&dir.0);
        std::fs::create_dir(&dir.0).unwrap();
        let home = dir.0.join("python");
        let site_copy = dir.0.join("site");
        let bin = dir.0.join("inchart-worker");
        for (from, to) in [
            (std::path::PathBuf::from(env!("INCHART_PYTHON_HOME")), &home),
            (site(), &site_copy),
        ] {
            let status = Command::new("cp").arg("-al").arg(&from).arg(to).status().unwrap();
            assert!(status.success(), "cp -al {}", from.display());
        }
        std::fs::hard_link(BIN, &bin).unwrap();
        Self {
            _dir: dir,
            home,
            site: site_copy,
            bin,
        }
    }

    /// The worker started by `setpriv` with `setpriv_args` (who to be),
    /// then `worker_args`.
    fn command(&self, setpriv_args: &[&str], worker_args: &[&str]) -> Command {
        let mut command = self.command_requiring_every_layer(setpriv_args, worker_args);
        // Without root the worker makes no cgroups (crate::cgroup).
        command.args(["--allow-missing", "cgroups"]);
        command
    }

    /// As [`Unprivileged::command`], without allowing any layer to be
    /// missing.
    fn command_requiring_every_layer(&self, setpriv_args: &[&str], worker_args: &[&str]) -> Command {
        let mut command = Command::new("setpriv");
        command
            .args(setpriv_args)
            .arg("--")
            .arg(&self.bin)
            .arg("--python-home")
            .arg(&self.home)
            .arg("--site")
            .arg(&self.site)
            .args(worker_args)
            .env_clear()
            // The binary's rpath points into /root.
            .env("LD_LIBRARY_PATH", self.home.join("lib"));
        command
    }
}

/// `setpriv` arguments for a process of uid/gid `uid` holding the
/// capabilities a container gives the worker (file capabilities there,
/// ambient ones here, so that `LD_LIBRARY_PATH` still counts).
fn with_worker_capabilities(uid: u32) -> Vec<String> {
    let caps = "+sys_admin,+setuid,+setgid,+setpcap";
    vec![
        format!("--reuid={uid}"),
        format!("--regid={uid}"),
        "--clear-groups".into(),
        format!("--inh-caps={caps}"),
        format!("--ambient-caps={caps}"),
    ]
}

#[test]
fn a_script_sees_only_what_python_needs_of_usr() {
    // Without these on the host the checks below would prove nothing.
    for path in [
        "/usr/local/bin",
        "/usr/bin/python3",
        "/usr/lib/python3/dist-packages/six.py",
    ] {
        assert!(
            std::path::Path::new(path).exists(),
            "{path} is missing on the host"
        );
    }
    let mut worker = Worker::start();
    let report = worker.run_script(
        r#"
import os, sys
from datetime import datetime
from zoneinfo import ZoneInfo
def signals(c):
    assert not os.path.exists("/usr/local"), os.listdir("/usr")
    assert sorted(os.listdir("/usr")) == ["lib", "lib64", "share"], os.listdir("/usr")
    assert os.listdir("/usr/share") == ["zoneinfo"], os.listdir("/usr/share")
    for path in ("/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/lib/python3", "/usr/local/bin"):
        assert not os.path.exists(path), path
    for read in (lambda: open("/usr/bin/python3", "rb"), lambda: os.listdir("/usr/bin")):
        try:
            read()
        except FileNotFoundError:
            pass
        else:
            raise AssertionError("/usr/bin is readable")
    for name in os.listdir("/usr/lib"):
        assert not os.path.exists(f"/usr/lib/{name}/dist-packages"), name
    sys.path.append("/usr/lib/python3/dist-packages")
    try:
        import six
    except ImportError:
        pass
    else:
        raise AssertionError("Debian's dist-packages is importable")
    berlin = ZoneInfo("Europe/Berlin")
    offsets = [datetime(2024, month, 1, 12, tzinfo=berlin).utcoffset().total_seconds() for month in (1, 7)]
    assert offsets == [3600, 7200], offsets
    return [], {}
"#,
    );
    ok(&report);
}

#[test]
fn the_sandbox_has_a_host_name_of_its_own() {
    let mut worker = Worker::start();
    let report = worker.run_script(
        "import os\ndef signals(c):\n    assert os.uname().nodename == 'inchart-sandbox', os.uname()\n    return [], {}\n",
    );
    ok(&report);
    let zygote = worker.zygote_pid();
    let names = Command::new("nsenter")
        .args([
            format!("--uts=/proc/{zygote}/ns/uts"),
            "cat".into(),
            "/proc/sys/kernel/hostname".into(),
            "/proc/sys/kernel/domainname".into(),
        ])
        .output()
        .expect("nsenter (util-linux)");
    assert_eq!(
        String::from_utf8(names.stdout).unwrap(),
        "inchart-sandbox\ninchart-sandbox\n"
    );
}

#[test]
fn scripts_run_as_the_sandbox_uid_when_one_is_given() {
    let site = site().into_os_string().into_string().unwrap();
    let mut worker = Worker::start_with(&["--site".into(), site, "--sandbox-uid".into(), "4242".into()]);
    let report = worker.run_script(
        "import os\ndef signals(c):\n    assert (os.getuid(), os.geteuid(), os.getgid(), os.getegid()) == (4242,) * 4\n    assert os.getgroups() == []\n    return [], {}\n",
    );
    ok(&report);
    let status = status(worker.zygote_pid());
    assert_eq!(field(&status, "Uid"), "4242\t4242\t4242\t4242");
    assert_eq!(field(&status, "Gid"), "4242\t4242\t4242\t4242");
    assert_eq!(field(&status, "CapBnd"), "0000000000000000");
}

/// Runs the worker with `command` and returns its status and stderr; it
/// must refuse to start.
fn refused(mut command: Command) -> String {
    let output = command.output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(output.stdout.is_empty());
    stderr
}

#[test]
fn the_sandbox_uid_is_never_root_nor_the_workers_own() {
    let mut root = Command::new(BIN);
    root.args(["--sandbox-uid", "0"]).env_clear();
    assert!(refused(root).contains("--sandbox-uid \"0\" is not a uid"));

    let copy = Unprivileged::new("own-uid");
    // A worker that can switch uids refuses to give scripts its own.
    let capable = with_worker_capabilities(4300);
    let capable: Vec<&str> = capable.iter().map(String::as_str).collect();
    let stderr = refused(copy.command(&capable, &["--sandbox-uid", "4300"]));
    assert!(stderr.contains("the worker's own uid"), "{stderr}");
    // One that cannot switch uids refuses a uid it could not honour.
    let plain = ["--reuid=4300", "--regid=4300", "--clear-groups"];
    let stderr = refused(copy.command(&plain, &["--sandbox-uid", "4301"]));
    assert!(stderr.contains("cannot run scripts as uid 4301"), "{stderr}");
}

#[test]
fn with_capabilities_instead_of_root_scripts_get_a_host_uid_of_their_own() {
    let copy = Unprivileged::new("capable");
    let capable = with_worker_capabilities(4400);
    let capable: Vec<&str> = capable.iter().map(String::as_str).collect();
    let mut worker = Worker::start_command(copy.command(&capable, &["--sandbox-uid", "4401"]));
    assert_still_serves(&mut worker);
    let report = worker.run_script(
        r#"
import os
def signals(c):
    assert (os.getuid(), os.geteuid(), os.getgid(), os.getegid()) == (4401,) * 4
    assert os.getgroups() == []
    assert os.uname().nodename == "inchart-sandbox"
    for call in (os.fork, lambda: open("/etc/passwd"), lambda: os.setuid(4400), lambda: os.setuid(0)):
        try:
            call()
        except OSError:
            pass
        else:
            raise AssertionError(call)
    return [], {}
"#,
    );
    ok(&report);
    let report = worker.run(&job(
        "def signals(c):\n    while True: pass\n",
        series(10),
        hostile(),
    ));
    assert_error(&report, ErrorKind::CpuLimit, "CPU time");

    // The worker itself stays the server's uid; the zygote is the sandbox's
    // on the host (no user namespace), with nothing left of its privileges.
    let worker_status = status(worker.process.id());
    assert_eq!(field(&worker_status, "Uid"), "4400\t4400\t4400\t4400");
    let zygote = worker.zygote_pid();
    let status = status(zygote);
    assert_eq!(field(&status, "Uid"), "4401\t4401\t4401\t4401");
    assert_eq!(field(&status, "Gid"), "4401\t4401\t4401\t4401");
    assert_eq!(field(&status, "Groups"), "");
    for caps in ["CapInh", "CapPrm", "CapEff", "CapAmb", "CapBnd"] {
        assert_eq!(field(&status, caps), "0000000000000000", "{caps}");
    }
    assert_eq!(field(&status, "NoNewPrivs"), "1");
    assert_eq!(field(&status, "Seccomp"), "2");
    assert_eq!(namespace(&zygote.to_string(), "user"), namespace("self", "user"));
    assert_ne!(namespace(&zygote.to_string(), "mnt"), namespace("self", "mnt"));
    let stderr = std::sync::Arc::clone(&worker.stderr);
    assert!(worker.finish().success());
    let lines = stderr.lock().unwrap();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("ready in") && !l.contains(", user)")),
        "{lines:?}"
    );
}
