//! Seccomp allowlists: the system calls the zygote may make, and the
//! smaller set a run's child may make. Anything else fails with `EPERM`
//! (not a kill: a script sees a clean `PermissionError`), except `clone3`,
//! which fails with `ENOSYS` so that glibc falls back to `clone` and that
//! fails with `EPERM` (threads end in "can't start new thread").
//!
//! Filters stack: a child keeps the zygote's filter and adds its own, so a
//! call must pass both. The lists were found by tracing the worker's test
//! suite with `strace -f`; a call missing here shows up as an `EPERM` in a
//! script or a failing test, never as a hole.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule,
    TargetArch,
};

use crate::sandbox::Error;

type Rules = BTreeMap<i64, Vec<SeccompRule>>;

/// Calls a confined Python needs to run a script: memory, reading the
/// (read-only, Landlock-limited) files of the standard library, time,
/// signals to itself, waiting.
const CHILD: &[libc::c_long] = &[
    libc::SYS_read,
    libc::SYS_readv,
    libc::SYS_pread64,
    libc::SYS_write,
    libc::SYS_writev,
    libc::SYS_lseek,
    libc::SYS_close,
    libc::SYS_fstat,
    libc::SYS_newfstatat,
    libc::SYS_stat,
    libc::SYS_lstat,
    libc::SYS_statx,
    libc::SYS_getdents64,
    libc::SYS_readlink,
    libc::SYS_readlinkat,
    libc::SYS_access,
    libc::SYS_faccessat,
    libc::SYS_faccessat2,
    libc::SYS_getcwd,
    libc::SYS_chdir,
    libc::SYS_fchdir,
    libc::SYS_fcntl,
    libc::SYS_dup,
    libc::SYS_dup2,
    libc::SYS_dup3,
    libc::SYS_pipe2,
    libc::SYS_munmap,
    libc::SYS_mremap,
    libc::SYS_brk,
    libc::SYS_madvise,
    libc::SYS_rt_sigaction,
    libc::SYS_rt_sigprocmask,
    libc::SYS_rt_sigreturn,
    libc::SYS_rt_sigpending,
    libc::SYS_rt_sigsuspend,
    libc::SYS_rt_sigtimedwait,
    libc::SYS_sigaltstack,
    libc::SYS_pause,
    libc::SYS_alarm,
    libc::SYS_setitimer,
    libc::SYS_getitimer,
    libc::SYS_getpid,
    libc::SYS_gettid,
    libc::SYS_getppid,
    libc::SYS_getpgrp,
    libc::SYS_getpgid,
    libc::SYS_getsid,
    libc::SYS_getuid,
    libc::SYS_geteuid,
    libc::SYS_getgid,
    libc::SYS_getegid,
    libc::SYS_getgroups,
    libc::SYS_getresuid,
    libc::SYS_getresgid,
    libc::SYS_uname,
    libc::SYS_getrandom,
    libc::SYS_clock_gettime,
    libc::SYS_clock_getres,
    libc::SYS_clock_nanosleep,
    libc::SYS_nanosleep,
    libc::SYS_gettimeofday,
    libc::SYS_time,
    libc::SYS_times,
    libc::SYS_getrusage,
    libc::SYS_getrlimit,
    libc::SYS_futex,
    libc::SYS_sched_yield,
    libc::SYS_sched_getaffinity,
    libc::SYS_poll,
    libc::SYS_ppoll,
    libc::SYS_select,
    libc::SYS_pselect6,
    libc::SYS_epoll_create1,
    libc::SYS_epoll_ctl,
    libc::SYS_epoll_wait,
    libc::SYS_epoll_pwait,
    libc::SYS_exit,
    libc::SYS_exit_group,
];

/// What the zygote needs on top: fork (as `clone` without threads or
/// namespaces), waiting for and stopping its child, and what a child does
/// to confine itself before its own filter is in place.
const ZYGOTE: &[libc::c_long] = &[
    libc::SYS_wait4,
    libc::SYS_pidfd_open,
    libc::SYS_close_range,
    libc::SYS_landlock_create_ruleset,
    libc::SYS_landlock_add_rule,
    libc::SYS_landlock_restrict_self,
    libc::SYS_seccomp,
    libc::SYS_set_robust_list,
    libc::SYS_rseq,
    // Moving a payload to its child and an answer to the server without
    // reading either (see the zygote's module doc).
    libc::SYS_splice,
];

fn condition(
    arg: u8,
    len: SeccompCmpArgLen,
    op: SeccompCmpOp,
    value: u64,
) -> Result<SeccompCondition, Error> {
    SeccompCondition::new(arg, len, op, value).map_err(|e| Error::new(format!("seccomp condition: {e}")))
}

fn rule(conditions: Vec<SeccompCondition>) -> Result<SeccompRule, Error> {
    SeccompRule::new(conditions).map_err(|e| Error::new(format!("seccomp rule: {e}")))
}

/// `arg & mask == 0` for a 32-bit argument.
fn none_of(arg: u8, mask: u64) -> Result<SeccompRule, Error> {
    rule(vec![condition(
        arg,
        SeccompCmpArgLen::Dword,
        SeccompCmpOp::MaskedEq(mask),
        0,
    )?])
}

/// `arg == value` for a 32-bit argument.
fn equals(arg: u8, value: u64) -> Result<SeccompRule, Error> {
    rule(vec![condition(
        arg,
        SeccompCmpArgLen::Dword,
        SeccompCmpOp::Eq,
        value,
    )?])
}

/// Rules both filters share: memory may never become executable, and
/// files open read-only.
fn common(rules: &mut Rules) -> Result<(), Error> {
    for &call in CHILD {
        rules.insert(call, Vec::new());
    }
    let exec = libc::PROT_EXEC as u64;
    rules.insert(libc::SYS_mmap, vec![none_of(2, exec)?]);
    rules.insert(libc::SYS_mprotect, vec![none_of(2, exec)?]);
    // O_TMPFILE includes O_DIRECTORY: only its own bit counts here.
    let tmpfile = (libc::O_TMPFILE & !libc::O_DIRECTORY) as u64;
    let writing =
        (libc::O_WRONLY | libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC | libc::O_APPEND) as u64 | tmpfile;
    rules.insert(libc::SYS_openat, vec![none_of(2, writing)?]);
    // Python asks whether each file it opens is a terminal.
    rules.insert(libc::SYS_ioctl, vec![equals(1, libc::TCGETS)?]);
    rules.insert(libc::SYS_open, vec![none_of(1, writing)?]);
    Ok(())
}

fn compile(rules: Rules, mismatch: SeccompAction) -> Result<BpfProgram, Error> {
    let arch = TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|e| Error::new(format!("seccomp on {}: {e}", std::env::consts::ARCH)))?;
    let filter = SeccompFilter::new(rules, mismatch, SeccompAction::Allow, arch)
        .map_err(|e| Error::new(format!("seccomp filter: {e}")))?;
    filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| Error::new(format!("seccomp filter: {e}")))
}

/// The zygote's allowlist.
pub fn zygote() -> Result<BpfProgram, Error> {
    let mut rules = Rules::new();
    common(&mut rules)?;
    for &call in ZYGOTE {
        rules.insert(call, Vec::new());
    }
    // fork() only: no threads, no shared memory, no new namespaces.
    let fork_flags = (libc::CSIGNAL | libc::CLONE_CHILD_SETTID | libc::CLONE_CHILD_CLEARTID) as u64;
    rules.insert(
        libc::SYS_clone,
        vec![rule(vec![condition(
            0,
            SeccompCmpArgLen::Qword,
            SeccompCmpOp::MaskedEq(!fork_flags),
            0,
        )?])?],
    );
    // Its own children: a pid above 1 (not itself, init), not a process
    // group or -1 (negative numbers compare as large unsigned ones).
    rules.insert(
        libc::SYS_kill,
        vec![rule(vec![
            condition(0, SeccompCmpArgLen::Dword, SeccompCmpOp::Gt, 1)?,
            condition(0, SeccompCmpArgLen::Dword, SeccompCmpOp::Lt, i32::MAX as u64)?,
        ])?],
    );
    // How much a child's answer pipe holds, besides Python's TCGETS.
    rules.insert(
        libc::SYS_ioctl,
        vec![equals(1, libc::TCGETS)?, equals(1, libc::FIONREAD)?],
    );
    // Its own limits only (a child sets its own before its filter).
    rules.insert(libc::SYS_prlimit64, vec![equals(0, 0)?]);
    // abort() of itself (tgkill/tkill of its own pid, 1).
    for call in [libc::SYS_tgkill, libc::SYS_tkill] {
        rules.insert(
            call,
            vec![rule(vec![
                condition(0, SeccompCmpArgLen::Dword, SeccompCmpOp::Gt, 0)?,
                condition(0, SeccompCmpArgLen::Dword, SeccompCmpOp::Lt, i32::MAX as u64)?,
            ])?],
        );
    }
    let prctl_ok = [
        libc::PR_SET_PDEATHSIG,
        libc::PR_SET_NO_NEW_PRIVS,
        libc::PR_GET_SECCOMP,
    ];
    rules.insert(
        libc::SYS_prctl,
        prctl_ok
            .iter()
            .map(|&op| equals(0, op as u64))
            .collect::<Result<_, _>>()?,
    );
    compile(rules, SeccompAction::Errno(libc::EPERM as u32))
}

/// A run's allowlist. It sends no signals at all, not even to itself
/// (`abort()` still ends it: glibc falls back to a faulting instruction).
pub fn child() -> Result<BpfProgram, Error> {
    let mut rules = Rules::new();
    common(&mut rules)?;
    // Adding filters only ever takes more away (the last one installed
    // here is the clone3 one).
    rules.insert(
        libc::SYS_prctl,
        vec![equals(0, libc::PR_SET_NO_NEW_PRIVS as u64)?],
    );
    rules.insert(
        libc::SYS_seccomp,
        vec![equals(0, libc::SECCOMP_SET_MODE_FILTER as u64)?],
    );
    // Reading its limits (resource.getrlimit), never setting them.
    rules.insert(
        libc::SYS_prlimit64,
        vec![rule(vec![
            condition(0, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, 0)?,
            condition(2, SeccompCmpArgLen::Qword, SeccompCmpOp::Eq, 0)?,
        ])?],
    );
    compile(rules, SeccompAction::Errno(libc::EPERM as u32))
}

/// `clone3` fails with `ENOSYS`; installed after an allowlist so that its
/// answer wins over the allowlist's `EPERM`.
pub fn clone3_enosys() -> Result<BpfProgram, Error> {
    let mut rules = Rules::new();
    rules.insert(libc::SYS_clone3, Vec::new());
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        TargetArch::try_from(std::env::consts::ARCH)
            .map_err(|e| Error::new(format!("seccomp on {}: {e}", std::env::consts::ARCH)))?,
    )
    .map_err(|e| Error::new(format!("seccomp filter: {e}")))?;
    filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| Error::new(format!("seccomp filter: {e}")))
}

/// Installs `programs` on the calling thread, in order.
pub fn apply(programs: &[BpfProgram]) -> Result<(), Error> {
    for program in programs {
        seccompiler::apply_filter(program).map_err(|e| Error::new(format!("installing seccomp: {e}")))?;
    }
    Ok(())
}
