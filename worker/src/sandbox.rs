//! The walls around the worker, built in this order (each step needs the
//! privileges the next one gives up):
//!
//! 1. new mount, PID, network, IPC and UTS namespaces (plus a user
//!    namespace when the worker cannot switch uids itself), the UTS one
//!    named `inchart-sandbox`: [`unshare`];
//! 2. in the new PID namespace's init (the zygote): a root of its own, an
//!    empty read-only tmpfs holding read-only bind mounts of only what
//!    CPython and numpy read once confined: the directories of the C
//!    libraries (where the loaded libc and dynamic loader are, e.g.
//!    `/usr/lib/x86_64-linux-gnu` and `/usr/lib64`, with `/lib` and `/lib64`
//!    as the host's usrmerge links), the standard library (its
//!    `site-packages` covered by an empty tmpfs), the `--site` directory,
//!    `/usr/share/zoneinfo` (when present) and `/dev/null`. Nothing else
//!    of `/usr` (no `/usr/local`, `/usr/bin`, `dist-packages`), no `/proc`,
//!    `/sys`, `/etc`, `/tmp` or home directories: [`build_root`];
//! 3. every file descriptor but stdin, stdout, stderr and two of the
//!    zygote's own closed: [`keep_fds`];
//! 4. resource limits, then the sandbox uid/gid ([`Plan::sandbox_uid`],
//!    65534 unless `--sandbox-uid`) with no groups and no capabilities,
//!    then `PR_SET_NO_NEW_PRIVS`: [`zygote_rlimits`], [`drop_privileges`];
//! 5. (Python starts and warms up here.)
//! 6. Landlock: read-only access to the mounts above ([`Plan::readable`]),
//!    nothing writable but `/dev/null`, no TCP, no signals or abstract
//!    sockets out of the domain: [`landlock`];
//! 7. a seccomp allowlist: [`crate::seccomp`].
//!
//! Each run's child then adds its own limits, Landlock layer and stricter
//! seccomp allowlist before any of the script's code runs.
//!
//! Any step that fails is an [`Error`]: the worker says why on stderr and
//! exits, it never runs a script with a wall missing.

use std::ffi::{CStr, CString};
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use landlock::{
    ABI, Access, AccessFs, AccessNet, CompatLevel, Compatible, PathBeneath, PathFd, Ruleset, RulesetAttr,
    RulesetCreated, RulesetCreatedAttr, RulesetStatus, Scope,
};

/// The user and group a worker runs as once confined: `nobody`.
pub const NOBODY: u32 = 65534;

/// Where the zygote keeps a directory of its PID namespace's procfs (see
/// [`build_root`]) and `/dev/null`, the only descriptors it holds beyond
/// stdin, stdout and stderr.
pub const PROC_FD: RawFd = 3;
/// See [`PROC_FD`].
pub const DEV_NULL_FD: RawFd = 4;

/// Why the sandbox could not be built.
#[derive(Debug)]
pub struct Error(String);

impl Error {
    /// `what` failed with the OS error that is current now.
    pub fn os(what: impl fmt::Display) -> Self {
        Self(format!("{what}: {}", io::Error::last_os_error()))
    }

    /// A failure described by `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

type Result<T, E = Error> = std::result::Result<T, E>;

fn check(rc: libc::c_int, what: impl fmt::Display) -> Result<libc::c_int> {
    if rc < 0 { Err(Error::os(what)) } else { Ok(rc) }
}

fn check_long(rc: libc::c_long, what: impl fmt::Display) -> Result<libc::c_long> {
    if rc < 0 { Err(Error::os(what)) } else { Ok(rc) }
}

fn cstring(path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::new(format!("{} has a NUL byte", path.display())))
}

/// What a confined worker can read and who it runs as. Every path is
/// absolute and canonical, and each is mounted at its own path inside the
/// sandbox.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The CPython installation (`sys.base_prefix`): Python's `home`. Only
    /// its standard library is mounted.
    pub python_home: PathBuf,
    /// Its standard library, e.g. `<home>/lib/python3.11`, with
    /// `lib-dynload` inside.
    pub stdlib: PathBuf,
    /// numpy's directory (`--site`), when there is one.
    pub site: Option<PathBuf>,
    /// The directories of the C libraries that the interpreter and its
    /// extension modules load after the root is replaced: those holding
    /// the loaded libc and dynamic loader, by their canonical path and by
    /// the path they were loaded through (Debian: `/usr/lib/x86_64-linux-gnu`
    /// and `/usr/lib64`).
    pub libraries: Vec<PathBuf>,
    /// The time zone database ([`ZONEINFO`]) when the host has one: the
    /// `zoneinfo` module reads it when a script asks for a zone.
    pub zoneinfo: Option<PathBuf>,
    /// The uid and gid scripts run as: `--sandbox-uid`, 65534 by default.
    /// On the host when the worker can switch uids (root, or
    /// `CAP_SETUID`/`CAP_SETGID`/`CAP_SYS_ADMIN`); otherwise only inside
    /// the worker's user namespace, where it is always 65534.
    pub sandbox_uid: u32,
}

/// Where CPython's `zoneinfo` looks first (its `TZPATH`).
pub const ZONEINFO: &str = "/usr/share/zoneinfo";

impl Plan {
    /// Checks that the directories exist, resolves them, finds the C
    /// libraries' directories and checks the sandbox uid (`None`: the
    /// default) against who the worker is.
    pub fn new(
        python_home: &Path,
        stdlib: &Path,
        site: Option<&Path>,
        sandbox_uid: Option<u32>,
    ) -> Result<Self> {
        let canonical = |path: &Path, what: &str| {
            let resolved = path
                .canonicalize()
                .map_err(|e| Error::new(format!("{what} {}: {e}", path.display())))?;
            if !resolved.is_dir() {
                return Err(Error::new(format!(
                    "{what} {} is not a directory",
                    path.display()
                )));
            }
            Ok(resolved)
        };
        let python_home = canonical(python_home, "the Python home")?;
        let stdlib = canonical(&python_home.join(stdlib), "the Python standard library")?;
        if !stdlib.starts_with(&python_home) {
            return Err(Error::new(format!(
                "the standard library {} is outside the Python home",
                stdlib.display()
            )));
        }
        let site = site
            .map(|site| canonical(site, "the site directory"))
            .transpose()?;
        for path in std::iter::once(&stdlib).chain(site.as_ref()) {
            if path.parent().is_none() || path.starts_with("/dev") {
                return Err(Error::new(format!(
                    "{} cannot be mounted into the sandbox",
                    path.display()
                )));
            }
        }
        let zoneinfo = Path::new(ZONEINFO).is_dir().then(|| PathBuf::from(ZONEINFO));
        Ok(Self {
            python_home,
            stdlib,
            site,
            libraries: library_dirs()?,
            zoneinfo,
            sandbox_uid: sandbox_uid_for(sandbox_uid)?,
        })
    }

    /// `lib-dynload`, where the standard library's extension modules are.
    pub fn lib_dynload(&self) -> PathBuf {
        self.stdlib.join("lib-dynload")
    }

    /// The interpreter's own `site-packages`, hidden inside the sandbox.
    pub fn site_packages(&self) -> PathBuf {
        self.stdlib.join("site-packages")
    }

    /// What the confined worker may read: exactly what [`build_root`]
    /// mounts (paths inside the sandbox, the same as outside).
    pub fn readable(&self) -> Vec<&Path> {
        let mut paths: Vec<&Path> = self.libraries.iter().map(PathBuf::as_path).collect();
        paths.push(&self.stdlib);
        paths.extend(self.site.as_deref());
        paths.extend(self.zoneinfo.as_deref());
        paths
    }
}

/// The file holding `address`, as the dynamic loader names it (the path
/// it was loaded through, not necessarily canonical).
fn loaded_from(address: *const libc::c_void, what: &str) -> Result<PathBuf> {
    let mut info = std::mem::MaybeUninit::<libc::Dl_info>::zeroed();
    // SAFETY: dladdr only reads the loader's tables and fills `info`.
    let found = unsafe { libc::dladdr(address, info.as_mut_ptr()) };
    // SAFETY: zero-initialised, and filled in by dladdr when it succeeds.
    let info = unsafe { info.assume_init() };
    if found == 0 || info.dli_fname.is_null() {
        return Err(Error::new(format!(
            "cannot tell which file {what} was loaded from"
        )));
    }
    // SAFETY: a non-null dli_fname is a C string owned by the loader.
    let name = unsafe { CStr::from_ptr(info.dli_fname) };
    Ok(PathBuf::from(std::ffi::OsStr::from_bytes(name.to_bytes())))
}

/// The directories holding this process's libc and dynamic loader, each
/// both as loaded (resolved: Debian's `/lib64/ld-linux-x86-64.so.2` is in
/// `/usr/lib64`) and where the file really is (`/usr/lib/x86_64-linux-gnu`).
/// Every library the interpreter, `lib-dynload` and numpy link against is
/// in one of them or in the `--site` directory (numpy's own `numpy.libs`).
fn library_dirs() -> Result<Vec<PathBuf>> {
    // SAFETY: dlsym with a constant name; getauxval with a constant.
    let (libc_symbol, loader_base) = unsafe {
        (
            libc::dlsym(libc::RTLD_DEFAULT, c"getpid".as_ptr()),
            libc::getauxval(libc::AT_BASE),
        )
    };
    if libc_symbol.is_null() {
        return Err(Error::new("cannot find libc's getpid"));
    }
    let mut files = vec![loaded_from(libc_symbol, "libc")?];
    // AT_BASE is 0 when the worker was started by running the loader itself.
    if loader_base != 0 {
        files.push(loaded_from(
            loader_base as *const libc::c_void,
            "the dynamic loader",
        )?);
    }
    let mut dirs = Vec::new();
    for file in files {
        let resolved = |path: &Path| {
            path.canonicalize()
                .map_err(|e| Error::new(format!("resolving {}: {e}", path.display())))
        };
        let real = resolved(&file)?;
        let candidates = [
            file.parent().map(resolved),
            real.parent().map(Path::to_path_buf).map(Ok),
        ];
        for dir in candidates.into_iter().flatten() {
            let dir = dir?;
            if dir.parent().is_none() {
                return Err(Error::new(format!(
                    "{} is in /: its directory cannot be mounted on its own",
                    file.display()
                )));
            }
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
    }
    Ok(dirs)
}

/// Whether this process can become another user on the host: root, or a
/// process given `CAP_SYS_ADMIN`, `CAP_SETUID` and `CAP_SETGID` (in a
/// container: file capabilities on the worker binary). Otherwise the
/// worker confines itself in a user namespace, as its own uid.
fn switches_uid() -> Result<bool> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return Ok(true);
    }
    let effective = capabilities()?.map(|set| set.effective);
    let has = |cap: u32| effective[(cap / 32) as usize] & (1 << (cap % 32)) != 0;
    Ok([CAP_SYS_ADMIN, CAP_SETUID, CAP_SETGID].into_iter().all(has))
}

/// The uid (and gid, the same number) scripts will run as, given
/// `--sandbox-uid` (`requested`). Refused: root; `-1` (to `setresuid`, "no
/// change"); and, when the worker switches uids itself, the uid or gid it
/// was started as (the server's, whose processes and files a script must
/// not share). A worker that cannot switch uids runs scripts as its own
/// uid, seen as 65534 in its user namespace: it refuses an explicit
/// `--sandbox-uid` it cannot honour rather than silently share the
/// server's uid.
fn sandbox_uid_for(requested: Option<u32>) -> Result<u32> {
    if !switches_uid()? {
        return match requested {
            None => Ok(NOBODY),
            Some(uid) => Err(Error::new(format!(
                "cannot run scripts as uid {uid}: the worker is neither root nor has CAP_SYS_ADMIN, \
                 CAP_SETUID and CAP_SETGID (file capabilities in the container); without \
                 --sandbox-uid it confines itself in a user namespace as its own uid"
            ))),
        };
    }
    let uid = requested.unwrap_or(NOBODY);
    if uid == 0 || uid == u32::MAX {
        return Err(Error::new(format!("the sandbox cannot run as uid {uid}")));
    }
    // SAFETY: plain getters with no preconditions.
    let own = unsafe { [libc::getuid(), libc::geteuid(), libc::getgid(), libc::getegid()] };
    if own.contains(&uid) {
        return Err(Error::new(format!(
            "the sandbox uid {uid} is the worker's own uid or gid: give scripts a uid of their own"
        )));
    }
    Ok(uid)
}

/// How the worker gets rid of its privileges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity {
    /// Started as root or with `CAP_SYS_ADMIN`, `CAP_SETUID` and
    /// `CAP_SETGID`: the zygote becomes [`Plan::sandbox_uid`] in the
    /// host's user namespace.
    Root,
    /// Started unprivileged: a new user namespace maps 65534 to the
    /// caller's uid, and the zygote drops every capability it holds there.
    UserNamespace,
}

/// The host name (and NIS domain name) of the sandbox's UTS namespace.
pub const HOSTNAME: &str = "inchart-sandbox";

/// Moves the calling process into new mount, network, IPC and UTS
/// namespaces (the UTS one named [`HOSTNAME`]) and makes its next child
/// PID 1 of a new PID namespace.
pub fn unshare() -> Result<Identity> {
    let namespaces =
        libc::CLONE_NEWNS | libc::CLONE_NEWPID | libc::CLONE_NEWNET | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS;
    // SAFETY: plain syscalls on this process.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    let identity = if switches_uid()? {
        // SAFETY: as above.
        check(
            unsafe { libc::unshare(namespaces) },
            "unshare(mount, pid, net, ipc, uts)",
        )?;
        Identity::Root
    } else {
        // SAFETY: as above.
        check(
            unsafe { libc::unshare(namespaces | libc::CLONE_NEWUSER) },
            "unshare(user, mount, pid, net, ipc, uts) (not root, and unprivileged user namespaces are unavailable)",
        )?;
        let write = |file: &str, text: String| {
            std::fs::write(file, text).map_err(|e| Error::new(format!("writing {file}: {e}")))
        };
        write("/proc/self/setgroups", "deny".into())?;
        write("/proc/self/uid_map", format!("{NOBODY} {uid} 1"))?;
        write("/proc/self/gid_map", format!("{NOBODY} {gid} 1"))?;
        Identity::UserNamespace
    };
    // Scripts see this name, not the host's.
    // SAFETY: sethostname/setdomainname with a buffer and its length.
    unsafe {
        check(
            libc::sethostname(HOSTNAME.as_ptr().cast(), HOSTNAME.len()),
            "sethostname",
        )?;
        check(
            libc::setdomainname(HOSTNAME.as_ptr().cast(), HOSTNAME.len()),
            "setdomainname",
        )?;
    }
    Ok(identity)
}

/// Makes this process die with its parent. The flag is cleared when the
/// process's credentials change, so it is set again after that.
pub fn die_with_parent() -> Result<()> {
    // SAFETY: prctl with integer arguments.
    check(
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) },
        "prctl(PR_SET_PDEATHSIG)",
    )?;
    Ok(())
}

const OPEN_TREE_CLONE: libc::c_uint = 1;
const AT_RECURSIVE: libc::c_uint = 0x8000;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 4;
const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;
const MOUNT_ATTR_NODEV: u64 = 0x4;
const MOUNT_ATTR_NOEXEC: u64 = 0x8;

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// A detached copy of the mount at `path` (a bind mount not attached
/// anywhere yet), with `attrs` set on it and everything mounted below it.
fn clone_mount(path: &Path, recursive: bool, attrs: u64) -> Result<OwnedFd> {
    let c_path = cstring(path)?;
    let flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint | if recursive { AT_RECURSIVE } else { 0 };
    // SAFETY: open_tree with a valid path; the result is a new descriptor.
    let fd = check_long(
        unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, c_path.as_ptr(), flags) },
        format_args!("open_tree({})", path.display()),
    )?;
    // SAFETY: the kernel just returned this descriptor to us.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
    let attr = MountAttr {
        attr_set: attrs,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    let at_flags = libc::AT_EMPTY_PATH as libc::c_uint | if recursive { AT_RECURSIVE } else { 0 };
    // SAFETY: mount_setattr on our descriptor with a correctly sized struct.
    check_long(
        unsafe {
            libc::syscall(
                libc::SYS_mount_setattr,
                fd.as_raw_fd(),
                c"".as_ptr(),
                at_flags,
                &attr as *const MountAttr,
                std::mem::size_of::<MountAttr>(),
            )
        },
        format_args!("making the mount of {} read-only", path.display()),
    )?;
    Ok(fd)
}

fn attach_mount(mount: &OwnedFd, target: &Path) -> Result<()> {
    let c_target = cstring(target)?;
    // SAFETY: move_mount of our detached mount onto an existing path.
    check_long(
        unsafe {
            libc::syscall(
                libc::SYS_move_mount,
                mount.as_raw_fd(),
                c"".as_ptr(),
                libc::AT_FDCWD,
                c_target.as_ptr(),
                MOVE_MOUNT_F_EMPTY_PATH,
            )
        },
        format_args!("mounting onto {}", target.display()),
    )?;
    Ok(())
}

fn mount(
    source: &CStr,
    target: &Path,
    fstype: Option<&CStr>,
    flags: libc::c_ulong,
    data: Option<&CStr>,
) -> Result<()> {
    let c_target = cstring(target)?;
    // SAFETY: mount(2) with valid C strings or null pointers.
    check(
        unsafe {
            libc::mount(
                source.as_ptr(),
                c_target.as_ptr(),
                fstype.map_or(std::ptr::null(), CStr::as_ptr),
                flags,
                data.map_or(std::ptr::null(), |d| d.as_ptr().cast()),
            )
        },
        format_args!("mount {:?} on {}", source, target.display()),
    )?;
    Ok(())
}

/// `path` (absolute) under `root`.
fn under(root: &Path, path: &Path) -> PathBuf {
    let mut out = root.to_path_buf();
    out.extend(path.components().filter(|c| matches!(c, Component::Normal(_))));
    out
}

fn create_dirs(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).map_err(|e| Error::new(format!("creating {}: {e}", path.display())))
}

/// Replaces the mount namespace's root with a minimal read-only tree and
/// returns a directory of a procfs of the new PID namespace that is not
/// mounted anywhere (the zygote reads a child's memory size from it; no
/// script can reach it by a path). Runs as PID 1 of the new PID namespace.
pub fn build_root(plan: &Plan) -> Result<OwnedFd> {
    // SAFETY: umask only changes this process's file creation mask.
    unsafe { libc::umask(0o022) };
    mount(
        c"none",
        Path::new("/"),
        None,
        libc::MS_REC | libc::MS_PRIVATE,
        None,
    )?;

    // Take every source before anything is mounted over a path; parents
    // before what may be mounted inside them.
    let read_only = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
    let mut paths = plan.readable();
    paths.sort_by_key(|path| path.components().count());
    let sources = paths
        .into_iter()
        .map(|path| Ok((path, clone_mount(path, true, read_only)?)))
        .collect::<Result<Vec<_>>>()?;
    // Debian's /lib and /lib64 are links into /usr (usrmerge): kept where
    // they lead to something mounted, so the libraries' usual names work.
    let mut links = Vec::new();
    for name in ["lib", "lib64"] {
        let path = Path::new("/").join(name);
        if let (Ok(target), Ok(resolved)) = (std::fs::read_link(&path), path.canonicalize())
            && sources
                .iter()
                .any(|(mounted, _)| mounted.starts_with(&resolved) || resolved.starts_with(mounted))
        {
            links.push((name, target));
        }
    }
    let dev_null = clone_mount(
        Path::new("/dev/null"),
        false,
        MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC,
    )?;

    let root = Path::new("/tmp");
    if !root.is_dir() {
        return Err(Error::new("/tmp is missing: the sandbox's root is built there"));
    }
    mount(
        c"tmpfs",
        root,
        Some(c"tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        Some(c"mode=0755,size=256k,nr_inodes=256"),
    )?;
    for (path, mount) in &sources {
        let target = under(root, path);
        create_dirs(&target)?;
        attach_mount(mount, &target)?;
    }
    for (name, target) in links {
        let link = root.join(name);
        std::os::unix::fs::symlink(&target, &link)
            .map_err(|e| Error::new(format!("linking {} to {}: {e}", link.display(), target.display())))?;
    }
    create_dirs(&root.join("dev"))?;
    let null = root.join("dev/null");
    std::fs::File::create(&null).map_err(|e| Error::new(format!("creating {}: {e}", null.display())))?;
    attach_mount(&dev_null, &null)?;

    // The interpreter's own site-packages (boto3, IPython, ...) stays out.
    let site_packages = under(root, &plan.site_packages());
    if site_packages.is_dir() {
        mount(
            c"tmpfs",
            &site_packages,
            Some(c"tmpfs"),
            libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            Some(c"mode=0555,size=4k,nr_inodes=1"),
        )?;
    }

    let proc_dir = open_detached_procfs(root)?;

    let old = root.join(".old");
    create_dirs(&old)?;
    let (c_root, c_old) = (cstring(root)?, cstring(&old)?);
    // SAFETY: pivot_root with valid paths; both are in our mount namespace.
    check_long(
        unsafe { libc::syscall(libc::SYS_pivot_root, c_root.as_ptr(), c_old.as_ptr()) },
        "pivot_root",
    )?;
    std::env::set_current_dir("/").map_err(|e| Error::new(format!("chdir /: {e}")))?;
    // SAFETY: umount2 of a path we just created.
    check(
        unsafe { libc::umount2(c"/.old".as_ptr(), libc::MNT_DETACH) },
        "unmounting the old root",
    )?;
    std::fs::remove_dir("/.old").map_err(|e| Error::new(format!("removing /.old: {e}")))?;
    mount(
        c"none",
        Path::new("/"),
        None,
        libc::MS_REMOUNT
            | libc::MS_BIND
            | libc::MS_RDONLY
            | libc::MS_NOSUID
            | libc::MS_NODEV
            | libc::MS_NOEXEC,
        None,
    )?;
    Ok(proc_dir)
}

/// Mounts a procfs of this PID namespace (showing only processes), opens
/// it and detaches it again: the descriptor keeps it alive, no path leads
/// to it.
fn open_detached_procfs(root: &Path) -> Result<OwnedFd> {
    let dir = root.join("proc");
    create_dirs(&dir)?;
    let flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    if mount(c"proc", &dir, Some(c"proc"), flags, Some(c"subset=pid")).is_err() {
        // Kernels before 5.8 have no subset=pid.
        mount(c"proc", &dir, Some(c"proc"), flags, None)?;
    }
    let c_dir = cstring(&dir)?;
    // SAFETY: open a directory we just mounted.
    let fd = check(
        unsafe { libc::open(c_dir.as_ptr(), libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) },
        "opening the new procfs",
    )?;
    // SAFETY: the descriptor was just returned by open.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: umount2 of the path we just mounted.
    check(
        unsafe { libc::umount2(c_dir.as_ptr(), libc::MNT_DETACH) },
        "detaching the new procfs",
    )?;
    std::fs::remove_dir(&dir).map_err(|e| Error::new(format!("removing {}: {e}", dir.display())))?;
    Ok(fd)
}

/// Puts `proc_dir` at [`PROC_FD`], `/dev/null` at [`DEV_NULL_FD`] and
/// closes every other descriptor above stderr but those in `keep` (all at
/// or above [`crate::cgroup::FIRST_FD`]).
pub fn keep_fds(proc_dir: OwnedFd, keep: &[RawFd]) -> Result<()> {
    // SAFETY: open a path with a constant C string.
    let null = check(
        unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) },
        "opening /dev/null",
    )?;
    // SAFETY: the descriptor was just returned by open.
    let null = unsafe { OwnedFd::from_raw_fd(null) };
    // Copy both out of the way and close the originals first, so that
    // neither dup2 nor a drop can close the other's new number.
    // SAFETY: fcntl on descriptors we own.
    let (proc_high, null_high) = unsafe {
        (
            check(libc::fcntl(proc_dir.as_raw_fd(), libc::F_DUPFD, 100), "dup")?,
            check(libc::fcntl(null.as_raw_fd(), libc::F_DUPFD, 100), "dup")?,
        )
    };
    drop((proc_dir, null));
    // SAFETY: dup2 of descriptors we own; the copies above 100 are closed below.
    unsafe {
        check(libc::dup2(proc_high, PROC_FD), "dup2")?;
        check(libc::dup2(null_high, DEV_NULL_FD), "dup2")?;
    }
    let mut keep = keep.to_vec();
    keep.sort_unstable();
    let mut from = DEV_NULL_FD as libc::c_uint + 1;
    for fd in keep.into_iter().chain(std::iter::once(libc::c_int::MAX)) {
        let fd = fd as libc::c_uint;
        if fd > from {
            // SAFETY: closes descriptors between the kept ones; nothing
            // else holds them.
            check(unsafe { libc::close_range(from, fd - 1, 0) }, "close_range")?;
        }
        from = from.max(fd.saturating_add(1));
    }
    if from <= libc::c_int::MAX as libc::c_uint {
        // SAFETY: as above, for the last descriptor number.
        check(
            unsafe { libc::close_range(from, libc::c_uint::MAX, 0) },
            "close_range",
        )?;
    }
    Ok(())
}

fn set_rlimit(resource: libc::__rlimit_resource_t, soft: u64, hard: u64, name: &str) -> Result<()> {
    let limit = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: setrlimit with a valid struct.
    check(
        unsafe { libc::setrlimit(resource, &limit) },
        format_args!("setrlimit({name})"),
    )?;
    Ok(())
}

/// The zygote's limits. CPU time and address space stay unlimited here:
/// each child sets its own from the job, and could not raise them. File
/// size too: stderr may be a file, and the zygote cannot open any file
/// for writing anyway (seccomp, Landlock, read-only mounts).
pub fn zygote_rlimits() -> Result<()> {
    set_rlimit(libc::RLIMIT_CORE, 0, 0, "RLIMIT_CORE")?;
    set_rlimit(libc::RLIMIT_MEMLOCK, 0, 0, "RLIMIT_MEMLOCK")?;
    set_rlimit(libc::RLIMIT_MSGQUEUE, 0, 0, "RLIMIT_MSGQUEUE")?;
    set_rlimit(libc::RLIMIT_NOFILE, 64, 64, "RLIMIT_NOFILE")?;
    Ok(())
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const CAPABILITY_VERSION_3: u32 = 0x2008_0522;
const CAP_SETGID: u32 = 6;
const CAP_SETUID: u32 = 7;
const CAP_SYS_ADMIN: u32 = 21;

fn capabilities() -> Result<[CapData; 2]> {
    let mut header = CapHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: capget with a v3 header and room for two data structs.
    check_long(
        unsafe { libc::syscall(libc::SYS_capget, &mut header as *mut CapHeader, data.as_mut_ptr()) },
        "capget",
    )?;
    Ok(data)
}

/// Becomes [`Plan::sandbox_uid`] (uid and gid) with no supplementary
/// groups and no capabilities, dies with the parent, may start at most a
/// few processes and can never gain privileges again
/// (`PR_SET_NO_NEW_PRIVS`).
pub fn drop_privileges(plan: &Plan, identity: Identity) -> Result<()> {
    let id = plan.sandbox_uid;
    if id == 0 {
        return Err(Error::new("the sandbox cannot run as root"));
    }
    // SAFETY: prctl with integer arguments.
    check(
        unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
                0,
                0,
                0,
            )
        },
        "clearing ambient capabilities",
    )?;
    // No capability can come back, even through a bug elsewhere. Capability
    // numbers the kernel does not know end the loop (EINVAL); anything
    // else (no CAP_SETPCAP) is a wall missing.
    for cap in 0..64 {
        // SAFETY: as above.
        if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) } < 0 {
            if io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL) {
                break;
            }
            return Err(Error::os(format_args!(
                "emptying the capability bounding set (capability {cap}; CAP_SETPCAP is needed)"
            )));
        }
    }
    if identity == Identity::Root {
        // In a user namespace setgroups is denied, and there are none.
        // SAFETY: setgroups with an empty list.
        check(unsafe { libc::setgroups(0, std::ptr::null()) }, "setgroups([])")?;
    }
    // In a user namespace the process is 65534 already.
    // SAFETY: as above.
    unsafe {
        check(libc::setresgid(id, id, id), format_args!("setresgid({id})"))?;
        check(libc::setresuid(id, id, id), format_args!("setresuid({id})"))?;
    }
    let (mut r, mut e, mut s) = (0, 0, 0);
    // SAFETY: getresuid into three locals.
    check(unsafe { libc::getresuid(&mut r, &mut e, &mut s) }, "getresuid")?;
    if [r, e, s] != [id; 3] {
        return Err(Error::new(format!("still uid {r}/{e}/{s} after setresuid({id})")));
    }
    // Leaving root clears the capabilities; leaving another uid with
    // capabilities (file capabilities) or a user namespace does not.
    let mut header = CapHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    let none = [CapData::default(); 2];
    // SAFETY: capset with a v3 header and two zeroed data structs.
    check_long(
        unsafe { libc::syscall(libc::SYS_capset, &mut header as *mut CapHeader, none.as_ptr()) },
        "dropping capabilities",
    )?;
    let caps = capabilities()?;
    if caps
        .iter()
        .any(|c| c.effective | c.permitted | c.inheritable != 0)
    {
        return Err(Error::new("capabilities are left after dropping privileges"));
    }
    die_with_parent()?;
    // Counted per uid: the zygote and its one child at a time, with room
    // for other workers running as the same uid on this machine.
    set_rlimit(libc::RLIMIT_NPROC, 4096, 4096, "RLIMIT_NPROC")?;
    // SAFETY: prctl with integer arguments.
    unsafe {
        check(
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0),
            "prctl(PR_SET_NO_NEW_PRIVS)",
        )?;
        check(
            libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0),
            "prctl(PR_SET_DUMPABLE)",
        )?;
    }
    Ok(())
}

/// How many threads this process has, read from [`PROC_FD`]. Landlock and
/// seccomp apply to the calling thread only: the zygote must have one.
pub fn thread_count() -> Result<usize> {
    let status = read_proc("self/status")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| Error::new("no thread count in /proc/self/status"))
}

/// This process's address space size in bytes, read from [`PROC_FD`].
pub fn address_space_bytes() -> Result<u64> {
    let statm = read_proc("self/statm")?;
    let pages: u64 = statm
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| Error::new(format!("unreadable /proc/self/statm: {statm:?}")))?;
    // SAFETY: sysconf with a constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Ok(pages * page.max(4096) as u64)
}

fn read_proc(name: &str) -> Result<String> {
    let c_name = CString::new(name).map_err(|_| Error::new("NUL in a procfs path"))?;
    // SAFETY: openat relative to our procfs descriptor.
    let fd = check(
        unsafe { libc::openat(PROC_FD, c_name.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) },
        format_args!("opening /proc/{name}"),
    )?;
    // SAFETY: the descriptor was just returned by openat.
    let file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    io::read_to_string(file).map_err(|e| Error::new(format!("reading /proc/{name}: {e}")))
}

/// What a Landlock layer enforced, for the worker's ready line.
pub struct LandlockReport {
    /// The highest ABI both the kernel and the crate know.
    pub abi: String,
    /// Whether every requested restriction is in force.
    pub fully_enforced: bool,
}

/// A Landlock layer, ready to enforce with [`enforce_landlock`]: the whole
/// (minimal) tree may be listed, the files of `plan` read, `/dev/null`
/// read and written, and, for the zygote (`proc_dir`), its procfs read.
/// Nothing else: no writes, no TCP bind or connect, no signals to or
/// abstract sockets of processes outside the layer. The filesystem part is
/// required; the newer parts (network, scopes) are applied where the
/// kernel has them.
pub fn landlock(plan: &Plan, proc_dir: Option<BorrowedFd<'_>>) -> Result<RulesetCreated> {
    let abi = ABI::V7;
    let failed = |e: landlock::RulesetError| Error::new(format!("Landlock: {e}"));
    let path_fd = |path: &Path| {
        PathFd::new(path).map_err(|e| Error::new(format!("Landlock: opening {}: {e}", path.display())))
    };
    let read = AccessFs::ReadFile | AccessFs::ReadDir;
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(AccessFs::from_all(ABI::V1))
        .map_err(failed)?
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(AccessFs::from_all(abi))
        .map_err(failed)?
        .handle_access(AccessNet::from_all(abi))
        .map_err(failed)?
        .scope(Scope::from_all(abi))
        .map_err(failed)?
        .create()
        .map_err(failed)?
        .add_rule(PathBeneath::new(path_fd(Path::new("/"))?, AccessFs::ReadDir))
        .map_err(failed)?
        .add_rule(PathBeneath::new(
            path_fd(Path::new("/dev/null"))?,
            AccessFs::ReadFile | AccessFs::WriteFile,
        ))
        .map_err(failed)?;
    for path in plan.readable() {
        ruleset = ruleset
            .add_rule(PathBeneath::new(path_fd(path)?, read))
            .map_err(failed)?;
    }
    if let Some(proc_dir) = proc_dir {
        ruleset = ruleset
            .add_rule(PathBeneath::new(proc_dir.as_fd(), read))
            .map_err(failed)?;
    }
    Ok(ruleset)
}

/// Restricts the calling thread with a layer made by [`landlock`].
pub fn enforce_landlock(ruleset: RulesetCreated) -> Result<LandlockReport> {
    let status = ruleset
        .restrict_self()
        .map_err(|e| Error::new(format!("Landlock: {e}")))?;
    if status.ruleset == RulesetStatus::NotEnforced {
        return Err(Error::new("Landlock is not enforced by this kernel"));
    }
    let abi = match status.landlock {
        landlock::LandlockStatus::Available { effective_abi, .. } => format!("{effective_abi:?}"),
        other => format!("{other:?}"),
    };
    Ok(LandlockReport {
        abi,
        fully_enforced: status.ruleset == RulesetStatus::FullyEnforced,
    })
}

/// A run's limits, set by the child on itself before the script starts.
pub struct ChildLimits {
    /// CPU seconds: `SIGXCPU` at the soft limit, `SIGKILL` a second later.
    /// The zygote stops the child at the exact millisecond limit itself;
    /// this is the backstop.
    pub cpu_seconds: u64,
    /// Address space: the child's size when the script starts plus the
    /// job's memory allowance.
    pub address_space: u64,
}

/// Sets a run's limits on the calling (child) process.
pub fn child_rlimits(limits: &ChildLimits) -> Result<()> {
    let cpu = limits.cpu_seconds.max(1);
    set_rlimit(libc::RLIMIT_CPU, cpu, cpu + 1, "RLIMIT_CPU")?;
    set_rlimit(
        libc::RLIMIT_AS,
        limits.address_space,
        limits.address_space,
        "RLIMIT_AS",
    )?;
    set_rlimit(libc::RLIMIT_NOFILE, 32, 32, "RLIMIT_NOFILE")?;
    set_rlimit(libc::RLIMIT_NPROC, 0, 0, "RLIMIT_NPROC")?;
    set_rlimit(libc::RLIMIT_FSIZE, 0, 0, "RLIMIT_FSIZE")?;
    set_rlimit(libc::RLIMIT_CORE, 0, 0, "RLIMIT_CORE")?;
    Ok(())
}
