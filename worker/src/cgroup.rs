//! Each run's own cgroup: memory with no swap, and one process.
//!
//! The worker process (root, before any namespace) creates two run
//! cgroups beside itself, `inchart-run-<pid>-a` and `-b`, in cgroup v2
//! when its memory and pids controllers can be delegated there, else in
//! v1's memory and pids hierarchies (as on a machine that mounts them
//! under `/sys/fs/cgroup/{memory,pids}`). Runs alternate between the two,
//! so a child that has answered and is still being torn down is never
//! counted against the next run. The files the zygote needs are opened
//! here, before it loses its privileges and its view of `/sys`: each
//! child joins its slot by writing to `cgroup.procs`, and the zygote sets
//! the slot's memory limit, resets its peak and reads its OOM kills.
//!
//! Where neither version can be used (not root, no controllers) the
//! worker says so in its ready line, and refuses to start unless told
//! `--allow-missing cgroups`. The worker process removes both cgroups when
//! its zygote ends; ones left by a worker that was killed are removed by
//! the next worker that starts.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use crate::sandbox::Error;

/// What a run may hold beyond its memory allowance: the pages of the warm
/// interpreter it writes to (copied on write) and its payload.
pub const HEADROOM: u64 = 128 << 20;

/// Which cgroup version the runs are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

/// One run cgroup's open files.
pub struct Slot {
    /// `cgroup.procs` of each hierarchy the run joins.
    procs: Vec<File>,
    limit: File,
    swap_limit: Option<File>,
    peak: Option<File>,
    /// `memory.events` (v2) or `memory.oom_control` (v1).
    events: File,
    limit_set: u64,
}

/// The run cgroups, as the worker process made them.
pub struct RunCgroups {
    pub version: Version,
    pub slots: [Slot; 2],
    /// The directories holding them, kept to remove them at the end.
    parents: Vec<(OwnedFd, [String; 2])>,
}

fn io_error(what: impl std::fmt::Display, error: std::io::Error) -> Error {
    Error::new(format!("{what}: {error}"))
}

fn write_at(file: &mut File, text: &str, what: &str) -> Result<(), Error> {
    file.seek(SeekFrom::Start(0)).map_err(|e| io_error(what, e))?;
    file.write_all(text.as_bytes()).map_err(|e| io_error(what, e))
}

fn read_from(file: &mut File) -> Option<String> {
    file.seek(SeekFrom::Start(0)).ok()?;
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    Some(text)
}

/// This process's cgroup in hierarchy `controller` (`""` for v2) from
/// `/proc/self/cgroup`.
fn own_cgroup(controller: &str) -> Option<String> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    text.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let matches = if controller.is_empty() {
            controllers.is_empty()
        } else {
            controllers.split(',').any(|c| c == controller)
        };
        matches.then(|| path.to_owned())
    })
}

fn open_dir(path: &Path) -> Result<OwnedFd, Error> {
    File::open(path)
        .map(OwnedFd::from)
        .map_err(|e| io_error(format_args!("opening {}", path.display()), e))
}

/// Removes run cgroups in `parent` left by workers that are gone.
fn sweep(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("inchart-run-"))
            .and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir(entry.path());
        }
    }
}

fn names() -> [String; 2] {
    let pid = std::process::id();
    [format!("inchart-run-{pid}-a"), format!("inchart-run-{pid}-b")]
}

fn make(dir: &Path) -> Result<(), Error> {
    match std::fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io_error(format_args!("creating {}", dir.display()), e)),
    }
}

/// Where the zygote's cgroup descriptors live: out of the way of the
/// numbers the sandbox gives its own (see [`crate::sandbox::keep_fds`]).
pub const FIRST_FD: i32 = 200;

fn open(path: PathBuf, write: bool) -> Result<File, Error> {
    let file = OpenOptions::new()
        .read(!write || path.ends_with("memory.max_usage_in_bytes") || path.ends_with("memory.peak"))
        .write(write)
        .open(&path)
        .map_err(|e| io_error(format_args!("opening {}", path.display()), e))?;
    // SAFETY: fcntl on a descriptor we own; the copy is ours to own.
    let high = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_DUPFD_CLOEXEC, FIRST_FD) };
    if high < 0 {
        return Err(Error::os(format_args!("moving {}", path.display())));
    }
    // SAFETY: fcntl just returned this descriptor.
    Ok(unsafe { File::from_raw_fd(high) })
}

impl RunCgroups {
    /// Creates the run cgroups; `Err` says why there are none.
    pub fn create() -> Result<Self, Error> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err(Error::new("the worker is not root, so it cannot make cgroups"));
        }
        let v2_error = match Self::create_v2() {
            Ok(cgroups) => return Ok(cgroups),
            Err(error) => error,
        };
        Self::create_v1().map_err(|v1| Error::new(format!("cgroup v2: {v2_error}; cgroup v1: {v1}")))
    }

    fn create_v2() -> Result<Self, Error> {
        let root = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
            .into_iter()
            .map(Path::new)
            .find(|p| p.join("cgroup.controllers").exists())
            .ok_or_else(|| Error::new("not mounted"))?;
        let own = own_cgroup("").ok_or_else(|| Error::new("no v2 entry in /proc/self/cgroup"))?;
        let parent = root.join(own.trim_start_matches('/'));
        let controllers = std::fs::read_to_string(parent.join("cgroup.controllers")).unwrap_or_default();
        for needed in ["memory", "pids"] {
            if !controllers.split_whitespace().any(|c| c == needed) {
                return Err(Error::new(format!(
                    "the {needed} controller is not available here"
                )));
            }
        }
        let mut subtree = open(parent.join("cgroup.subtree_control"), true)?;
        write_at(&mut subtree, "+memory +pids", "delegating memory and pids")?;
        sweep(&parent);
        let names = names();
        let mut slots = Vec::new();
        for name in &names {
            let dir = parent.join(name);
            make(&dir)?;
            write_at(&mut open(dir.join("pids.max"), true)?, "1", "pids.max")?;
            slots.push(Slot {
                procs: vec![open(dir.join("cgroup.procs"), true)?],
                limit: open(dir.join("memory.max"), true)?,
                swap_limit: open(dir.join("memory.swap.max"), true).ok(),
                peak: open(dir.join("memory.peak"), true)
                    .or_else(|_| open(dir.join("memory.peak"), false))
                    .ok(),
                events: open(dir.join("memory.events"), false)?,
                limit_set: 0,
            });
        }
        let parents = vec![(open_dir(&parent)?, names)];
        Self::assemble(Version::V2, slots, parents)
    }

    fn create_v1() -> Result<Self, Error> {
        let mut parents = Vec::new();
        let mut dirs = Vec::new();
        let names = names();
        for controller in ["memory", "pids"] {
            let root = Path::new("/sys/fs/cgroup").join(controller);
            if !root.join("cgroup.procs").exists() {
                return Err(Error::new(format!(
                    "no {controller} hierarchy at {}",
                    root.display()
                )));
            }
            let own = own_cgroup(controller)
                .ok_or_else(|| Error::new(format!("no {controller} entry in /proc/self/cgroup")))?;
            let parent = root.join(own.trim_start_matches('/'));
            sweep(&parent);
            for name in &names {
                make(&parent.join(name))?;
            }
            parents.push((open_dir(&parent)?, names.clone()));
            dirs.push(parent);
        }
        let mut slots = Vec::new();
        for name in &names {
            let memory = dirs[0].join(name);
            let pids = dirs[1].join(name);
            write_at(&mut open(pids.join("pids.max"), true)?, "1", "pids.max")?;
            slots.push(Slot {
                procs: vec![
                    open(memory.join("cgroup.procs"), true)?,
                    open(pids.join("cgroup.procs"), true)?,
                ],
                limit: open(memory.join("memory.limit_in_bytes"), true)?,
                swap_limit: open(memory.join("memory.memsw.limit_in_bytes"), true).ok(),
                peak: open(memory.join("memory.max_usage_in_bytes"), true).ok(),
                events: open(memory.join("memory.oom_control"), false)?,
                limit_set: 0,
            });
        }
        Self::assemble(Version::V1, slots, parents)
    }

    fn assemble(
        version: Version,
        slots: Vec<Slot>,
        parents: Vec<(OwnedFd, [String; 2])>,
    ) -> Result<Self, Error> {
        let slots: [Slot; 2] = slots
            .try_into()
            .map_err(|_| Error::new("expected two run cgroups"))?;
        Ok(Self {
            version,
            slots,
            parents,
        })
    }

    /// Every descriptor the zygote must keep open.
    pub fn fds(&self) -> Vec<i32> {
        self.slots
            .iter()
            .flat_map(|slot| {
                slot.procs
                    .iter()
                    .chain([&slot.limit, &slot.events])
                    .chain(slot.swap_limit.iter())
                    .chain(slot.peak.iter())
                    .map(AsRawFd::as_raw_fd)
            })
            .collect()
    }

    /// Drops the directories: the zygote never needs them (the worker
    /// process keeps its own copy to remove the cgroups).
    pub fn forget_parents(&mut self) {
        self.parents.clear();
    }

    /// Closes the cgroup files (the worker process keeps only the
    /// directories, to remove the cgroups at the end).
    pub fn close_files(&mut self) {
        for slot in &mut self.slots {
            slot.procs.clear();
            slot.swap_limit = None;
            slot.peak = None;
        }
    }

    /// Removes the run cgroups (the worker process, once its zygote and
    /// every run have ended).
    pub fn remove(self) {
        let Self { slots, parents, .. } = self;
        drop(slots);
        for (dir, names) in parents {
            for name in names {
                let Ok(c_name) = std::ffi::CString::new(name) else {
                    continue;
                };
                for _ in 0..50 {
                    // SAFETY: unlinkat relative to a directory we hold.
                    if unsafe { libc::unlinkat(dir.as_raw_fd(), c_name.as_ptr(), libc::AT_REMOVEDIR) } == 0 {
                        break;
                    }
                    // A run's last process may still be leaving it.
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
            }
        }
    }
}

impl Slot {
    /// Prepares the slot for a run allowed `memory_bytes`: sets its limit
    /// (no swap) and resets its peak. Returns the OOM kills so far.
    pub fn prepare(&mut self, memory_bytes: u64) -> Result<u64, Error> {
        let limit = memory_bytes.saturating_add(HEADROOM);
        if limit != self.limit_set {
            let text = limit.to_string();
            // v1 keeps memory.limit <= memsw.limit at every step.
            if limit > self.limit_set {
                if let Some(swap) = &mut self.swap_limit {
                    let _ = write_at(swap, &text, "the swap limit");
                }
                write_at(&mut self.limit, &text, "the memory limit")?;
            } else {
                write_at(&mut self.limit, &text, "the memory limit")?;
                if let Some(swap) = &mut self.swap_limit {
                    let _ = write_at(swap, &text, "the swap limit");
                }
            }
            self.limit_set = limit;
        }
        if let Some(peak) = &mut self.peak {
            let _ = write_at(peak, "0", "resetting the memory peak");
        }
        Ok(self.oom_kills())
    }

    /// The OOM kills in this cgroup so far.
    pub fn oom_kills(&mut self) -> u64 {
        read_from(&mut self.events)
            .and_then(|text| {
                text.lines()
                    .find_map(|line| line.strip_prefix("oom_kill ").and_then(|n| n.trim().parse().ok()))
            })
            .unwrap_or(0)
    }

    /// The most memory the cgroup held since [`Slot::prepare`].
    pub fn peak(&mut self) -> Option<u64> {
        read_from(self.peak.as_mut()?)?.trim().parse().ok()
    }

    /// The `cgroup.procs` descriptors a child writes `0` to, to join.
    pub fn procs(&self) -> impl Iterator<Item = i32> + '_ {
        self.procs.iter().map(AsRawFd::as_raw_fd)
    }

    /// The swap state, for the ready line.
    pub fn has_swap_limit(&self) -> bool {
        self.swap_limit.is_some()
    }
}
