//! Hostile scripts: each ends with the right error, and the same worker
//! then serves a well-behaved script normally. The last test runs all of
//! them on one worker, one after the other.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::ErrorKind as IoErrorKind;
use std::net::TcpListener;
use std::os::unix::net::UnixListener;

use common::*;
use worker_protocol::{ErrorKind, Limits, MAX_LOG};

/// One hostile script and how its run must end.
struct Case {
    name: &'static str,
    source: String,
    limits: Limits,
    kind: ErrorKind,
    /// A piece of the error message.
    message: &'static str,
}

fn case(name: &'static str, source: &str, kind: ErrorKind, message: &'static str) -> Case {
    Case {
        name,
        source: source.to_owned(),
        limits: hostile(),
        kind,
        message,
    }
}

fn sleeper(name: &'static str, source: &str) -> Case {
    Case {
        limits: Limits {
            cpu_ms: 10_000,
            wall_ms: 1_000,
            ..hostile()
        },
        ..case(name, source, ErrorKind::TimeLimit, "ran longer than its 1000 ms")
    }
}

const CPU: &str = "used more than its 400 ms of CPU time";
const NOT_PERMITTED: &str = "PermissionError: [Errno 1] Operation not permitted";
const NO_FILE: &str = "FileNotFoundError: [Errno 2] No such file or directory";

fn cases() -> Vec<Case> {
    let site = site().display().to_string();
    vec![
        // CPU
        case(
            "python_loop",
            "def signals(c):\n    while True: pass\n",
            ErrorKind::CpuLimit,
            CPU,
        ),
        case(
            "c_loop",
            "import itertools\ndef signals(c):\n    return sum(itertools.repeat(1)), {}\n",
            ErrorKind::CpuLimit,
            CPU,
        ),
        case(
            "catastrophic_regex",
            "import re\ndef signals(c):\n    re.match(r'(a+)+$', 'a' * 64 + 'b')\n",
            ErrorKind::CpuLimit,
            CPU,
        ),
        case(
            "numpy_grind",
            "import numpy as np\ndef signals(c):\n    x = np.ones(10**6)\n    while True: x = np.sqrt(x + 1.0)\n",
            ErrorKind::CpuLimit,
            CPU,
        ),
        case(
            "ignores_sigxcpu",
            "import signal\ndef signals(c):\n    signal.signal(signal.SIGXCPU, signal.SIG_IGN)\n    \
             signal.signal(signal.SIGTERM, signal.SIG_IGN)\n    while True: pass\n",
            ErrorKind::CpuLimit,
            CPU,
        ),
        case(
            "catches_everything",
            "def signals(c):\n    while True:\n        try:\n            while True: pass\n        \
             except BaseException:\n            pass\n",
            ErrorKind::CpuLimit,
            CPU,
        ),
        // Wall clock
        sleeper("sleeps", "import time\ndef signals(c):\n    time.sleep(1000)\n"),
        sleeper(
            "waits",
            "import threading\ndef signals(c):\n    threading.Event().wait()\n",
        ),
        sleeper(
            "closes_its_pipe_and_sleeps",
            "import os, time\ndef signals(c):\n    os.close(3)\n    time.sleep(1000)\n",
        ),
        // Memory
        case(
            "bytearray",
            "def signals(c):\n    x = bytearray(10**10)\n",
            ErrorKind::MemoryLimit,
            "MemoryError",
        ),
        case(
            "growing_list",
            "x = []\ndef signals(c):\n    while True: x.append(' ' * 10**6)\n",
            ErrorKind::MemoryLimit,
            "MemoryError",
        ),
        case(
            "numpy_zeros",
            "import numpy as np\ndef signals(c):\n    return np.zeros(10**10), {}\n",
            ErrorKind::MemoryLimit,
            "MemoryError",
        ),
        // Processes and threads
        case(
            "fork",
            "import os\ndef signals(c):\n    os.fork()\n",
            ErrorKind::Exception,
            NOT_PERMITTED,
        ),
        case(
            "subprocess",
            "import subprocess\ndef signals(c):\n    subprocess.run(['/bin/sh', '-c', 'echo hi'])\n",
            ErrorKind::Exception,
            NOT_PERMITTED,
        ),
        // glibc's system() could not start a shell: status 127 << 8.
        case(
            "system",
            "import os\ndef signals(c):\n    raise RuntimeError(f'system returned {os.system(\"true\")}')\n",
            ErrorKind::Exception,
            "RuntimeError: system returned 32512",
        ),
        case(
            "execv",
            "import os\ndef signals(c):\n    os.execv('/usr/bin/python3', ['python3'])\n",
            ErrorKind::Exception,
            NOT_PERMITTED,
        ),
        case(
            "thread_bomb",
            "import threading, time\ndef signals(c):\n    for _ in range(1000):\n        \
             threading.Thread(target=time.sleep, args=(100,)).start()\n",
            ErrorKind::Exception,
            "RuntimeError: can't start new thread",
        ),
        // Files
        case(
            "etc_passwd",
            "def signals(c):\n    open('/etc/passwd').read()\n",
            ErrorKind::Exception,
            NO_FILE,
        ),
        case(
            "proc_self_environ",
            "def signals(c):\n    open('/proc/self/environ').read()\n",
            ErrorKind::Exception,
            NO_FILE,
        ),
        case(
            "proc_1_environ",
            "def signals(c):\n    open('/proc/1/environ').read()\n",
            ErrorKind::Exception,
            NO_FILE,
        ),
        case(
            "bash_history",
            "def signals(c):\n    open('/root/.bash_history').read()\n",
            ErrorKind::Exception,
            NO_FILE,
        ),
        case(
            "worker_binary",
            &format!("def signals(c):\n    open({BIN:?}, 'rb').read()\n"),
            ErrorKind::Exception,
            NO_FILE,
        ),
        case(
            "pyenv_site_packages",
            "import os\ndef signals(c):\n    raise RuntimeError(os.listdir('/root/.pyenv/versions/3.11.7/lib/python3.11/site-packages'))\n",
            ErrorKind::Exception,
            "RuntimeError: []",
        ),
        case(
            "write_tmp",
            "def signals(c):\n    open('/tmp/x', 'w')\n",
            ErrorKind::Exception,
            NOT_PERMITTED,
        ),
        case(
            "write_site",
            &format!(
                "def signals(c):\n    open({:?}, 'w')\n",
                format!("{site}/numpy/__init__.py")
            ),
            ErrorKind::Exception,
            NOT_PERMITTED,
        ),
        case(
            "mkdir",
            "import os\ndef signals(c):\n    os.mkdir('/x')\n",
            ErrorKind::Exception,
            NOT_PERMITTED,
        ),
        // Native code
        case(
            "ctypes",
            "def signals(c):\n    import ctypes\n    ctypes.CDLL(None).system(b'true')\n",
            ErrorKind::Exception,
            "ImportError: the module '_ctypes' is not available in signal scripts",
        ),
        case(
            "ctypes_from_path",
            "import importlib.util\ndef signals(c):\n    \
             spec = importlib.util.spec_from_file_location('_ctypes', \
             '/root/.pyenv/versions/3.11.7/lib/python3.11/lib-dynload/_ctypes.cpython-311-x86_64-linux-gnu.so')\n    \
             importlib.util.module_from_spec(spec)\n",
            ErrorKind::Exception,
            "is not available in signal scripts",
        ),
        case(
            "mmap_exec",
            "import mmap\ndef signals(c):\n    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)\n",
            ErrorKind::Exception,
            NOT_PERMITTED,
        ),
        // Other processes
        case(
            "kill_zygote",
            "import os\ndef signals(c):\n    os.kill(1, 9)\n",
            ErrorKind::Exception,
            NOT_PERMITTED,
        ),
        case(
            "kill_all",
            "import os\ndef signals(c):\n    os.kill(-1, 9)\n",
            ErrorKind::Exception,
            NOT_PERMITTED,
        ),
        case(
            "kill_group",
            "import os, signal\ndef signals(c):\n    os.kill(0, signal.SIGTERM)\n",
            ErrorKind::Exception,
            NOT_PERMITTED,
        ),
        // Output
        case(
            "print_flood",
            "def signals(c):\n    while True: print('x' * 1000)\n",
            ErrorKind::CpuLimit,
            CPU,
        ),
        Case {
            limits: Limits {
                output_bytes: 10_000,
                ..hostile()
            },
            ..case(
                "huge_output",
                "def signals(c):\n    return [], {f'l{i}': list(c.close) for i in range(16)}\n",
                ErrorKind::OutputTooLarge,
                "over the limit of 10000 bytes",
            )
        },
        case(
            "floods_the_answer_pipe",
            "import os\ndef signals(c):\n    while True: os.write(3, b'R' + (10**8).to_bytes(4, 'little') + b'x' * 65536)\n",
            ErrorKind::OutputTooLarge,
            "over the limit",
        ),
        case(
            "garbage_on_the_answer_pipe",
            "import os\ndef signals(c):\n    os.write(3, b'garbage')\n    os._exit(0)\n",
            ErrorKind::InvalidOutput,
            "answer pipe",
        ),
        case(
            "nan_price",
            "from inchart import buy\ndef signals(c):\n    return [buy(c.time[5], float('nan'))], {}\n",
            ErrorKind::InvalidOutput,
            "marker 0 (buy at 1700000300000): price is NaN",
        ),
        // Recursion and crashes
        case(
            "deep_recursion",
            "def f(n):\n    return f(n + 1)\ndef signals(c):\n    f(0)\n",
            ErrorKind::Exception,
            "RecursionError: maximum recursion depth exceeded",
        ),
        Case {
            limits: Limits {
                cpu_ms: 20_000,
                memory_bytes: 1 << 30,
                ..hostile()
            },
            ..case(
                "c_stack_overflow",
                "import sys\nsys.setrecursionlimit(10**6)\ndef signals(c):\n    x = []\n    \
                 for _ in range(10**6): x = [x]\n    repr(x)\n",
                ErrorKind::Crashed,
                "SIGSEGV",
            )
        },
        case(
            "exits_quietly",
            "import os\ndef signals(c):\n    os._exit(0)\n",
            ErrorKind::Crashed,
            "without an answer",
        ),
        case(
            "sys_exit",
            "import sys\ndef signals(c):\n    sys.exit(3)\n",
            ErrorKind::Exception,
            "SystemExit: 3",
        ),
    ]
}

fn run_case(name: &str) -> worker_protocol::Report {
    let case = cases().into_iter().find(|c| c.name == name).unwrap();
    let mut worker = Worker::start();
    let report = worker.run(&job(&case.source, series(200), case.limits));
    assert_error(&report, case.kind, case.message);
    assert_still_serves(&mut worker);
    report
}

macro_rules! hostile_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                run_case(stringify!($name));
            }
        )*
    };
}

hostile_tests!(
    python_loop,
    c_loop,
    catastrophic_regex,
    numpy_grind,
    ignores_sigxcpu,
    catches_everything,
    sleeps,
    waits,
    closes_its_pipe_and_sleeps,
    bytearray,
    growing_list,
    numpy_zeros,
    fork,
    subprocess,
    system,
    execv,
    thread_bomb,
    etc_passwd,
    proc_self_environ,
    proc_1_environ,
    bash_history,
    worker_binary,
    pyenv_site_packages,
    write_tmp,
    write_site,
    mkdir,
    ctypes,
    ctypes_from_path,
    mmap_exec,
    kill_zygote,
    kill_all,
    kill_group,
    huge_output,
    floods_the_answer_pipe,
    garbage_on_the_answer_pipe,
    nan_price,
    deep_recursion,
    c_stack_overflow,
    exits_quietly,
    sys_exit,
);

#[test]
fn cpu_limits_are_enforced_to_the_millisecond_not_the_second() {
    let report = run_case("python_loop");
    // The zygote stops the child at 400 ms of CPU; RLIMIT_CPU (whole
    // seconds) is only the backstop.
    assert!((400..1000).contains(&report.cpu_ms), "{}", report.cpu_ms);
}

#[test]
fn a_print_flood_keeps_the_log_capped() {
    let report = run_case("print_flood");
    assert!(
        report.log.len() <= MAX_LOG && report.log.len() > MAX_LOG - 1001,
        "{}",
        report.log.len()
    );
}

#[test]
fn the_root_holds_only_what_python_needs() {
    let mut worker = Worker::start();
    let report = worker.run_script(
        "import os\ndef signals(c):\n    print(sorted(os.listdir('/')), os.listdir('/dev'), sorted(os.listdir('/root')))\n    return [], {}\n",
    );
    ok(&report);
    assert_eq!(
        report.log,
        "['dev', 'lib', 'lib64', 'root', 'usr'] ['null'] ['.cache', '.pyenv']\n"
    );
}

#[test]
fn sockets_cannot_be_made_and_nothing_connects() {
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    tcp.set_nonblocking(true).unwrap();
    let port = tcp.local_addr().unwrap().port();
    let dir = std::env::temp_dir().join(format!("inchart-worker-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("socket");
    let _ = std::fs::remove_file(&path);
    let unix = UnixListener::bind(&path).unwrap();
    unix.set_nonblocking(true).unwrap();

    let mut worker = Worker::start();
    for source in [
        format!("import socket\ndef signals(c):\n    socket.create_connection(('127.0.0.1', {port}), timeout=5)\n"),
        format!("import socket\ndef signals(c):\n    socket.socket(socket.AF_UNIX).connect({:?})\n", path.display().to_string()),
        "import socket\ndef signals(c):\n    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('8.8.8.8', 53))\n".into(),
        "import socket\ndef signals(c):\n    socket.socketpair()\n".into(),
    ] {
        let report = worker.run(&job(&source, series(50), hostile()));
        assert_error(&report, ErrorKind::Exception, NOT_PERMITTED);
    }
    assert_still_serves(&mut worker);
    assert_eq!(
        tcp.accept().map(|_| ()).unwrap_err().kind(),
        IoErrorKind::WouldBlock
    );
    assert_eq!(
        unix.accept().map(|_| ()).unwrap_err().kind(),
        IoErrorKind::WouldBlock
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn one_worker_survives_every_hostile_script_in_a_row() {
    let mut worker = Worker::start();
    for case in cases() {
        let report = worker.run(&job(&case.source, series(200), case.limits));
        let error = err(&report);
        assert_eq!(error.kind, case.kind, "{}: {error:?}", case.name);
        assert!(error.message.contains(case.message), "{}: {error:?}", case.name);
        assert!(worker.is_alive(), "{} killed the worker", case.name);
    }
    assert_still_serves(&mut worker);
    assert!(worker.finish().success());
}
