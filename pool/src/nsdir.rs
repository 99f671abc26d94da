//! Namespace directories, opened so that nobody else can redirect them.
//!
//! The layout is `<base>/<namespace>/<segment>`, where `<base>` is `$TENSORBUS_SHM_DIR` or
//! `/dev/shm/tensorbus-<uid>`. Every component is opened by file descriptor, never re-resolved
//! by path for a decision:
//!
//! - a base named `tensorbus-*` (the default one, or one given explicitly) belongs to tensorbus:
//!   its parent (`/dev/shm`, a system directory) is opened as given, the base itself with
//!   `O_NOFOLLOW|O_DIRECTORY`; it must be owned by us (the effective uid) and is made 0700 with
//!   `fchmod` on the descriptor;
//! - any other base is the user's own choice (e.g. `/tmp`, a shared group directory): its last
//!   component must not be a symbolic link (`O_NOFOLLOW`; links above it, chosen by the user,
//!   are followed); its owner and mode are left alone;
//! - the namespace directory is opened relative to the base (`openat`, `O_NOFOLLOW`), must be
//!   owned by us and is made 0700 with `fchmod`;
//! - segment files are opened relative to the namespace directory (`openat`, `O_NOFOLLOW`) and
//!   must be regular files owned by us with no group/other bits (see `segment.rs`).
//!
//! A symbolic link anywhere tensorbus decides on is refused ([`OpenError::Symlink`]), so a link
//! planted at `/dev/shm/tensorbus-<victim>` can neither make the victim `chmod` what it points at
//! nor map an attacker's file.
//!
//! Each namespace directory holds a marker file ([`MARKER`]) so that `tensorbus clean` removes
//! only directories that are tensorbus namespaces. Temporary files of segment creation
//! (`<name>.tmp.<pid>.<n>`) left by a creator that was killed are reclaimed on join
//! ([`NsDir::reclaim_leftovers`]): only when that pid is not alive and nobody holds the file's
//! creation lock (`flock`), so a live creator's file is never removed, not even one in another
//! PID namespace.

use crate::error::OpenError;
use std::ffi::CString;
use std::io::ErrorKind;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// Name of the marker file written into every namespace directory.
pub const MARKER: &str = ".tensorbus-namespace";

/// Validate a namespace name: one plain path component (not empty, `.` or `..`, no `/`, no
/// control characters, at most 255 bytes).
pub fn check_namespace(name: &str) -> Result<(), OpenError> {
    let bad = |why: &'static str| Err(OpenError::BadNamespace { name: name.to_string(), why });
    if name.is_empty() {
        return bad("it is empty");
    }
    if name == "." || name == ".." {
        return bad("`.` and `..` name directories outside the base");
    }
    if name.contains('/') {
        return bad("it contains `/` (a namespace is one directory under TENSORBUS_SHM_DIR)");
    }
    if name.chars().any(char::is_control) {
        return bad("it contains control characters");
    }
    if name.len() > 255 {
        return bad("it is longer than 255 bytes");
    }
    Ok(())
}

/// The base directory: `$TENSORBUS_SHM_DIR` or `/dev/shm/tensorbus-<uid>`.
pub fn base_dir() -> PathBuf {
    match std::env::var_os("TENSORBUS_SHM_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        // SAFETY: getuid has no preconditions and cannot fail.
        _ => PathBuf::from(format!("/dev/shm/tensorbus-{}", unsafe { libc::getuid() })),
    }
}

/// The namespace directory `<base>/<ns>`, where `<ns>` is `namespace`, `$TENSORBUS_NAMESPACE`
/// or `default`. A name that is not one plain directory name is [`OpenError::BadNamespace`].
pub fn namespace_dir(namespace: Option<&str>) -> Result<PathBuf, OpenError> {
    let ns = namespace.map(str::to_string).or_else(|| std::env::var("TENSORBUS_NAMESPACE").ok().filter(|s| !s.is_empty())).unwrap_or_else(|| "default".to_string());
    check_namespace(&ns)?;
    Ok(base_dir().join(ns))
}

/// Create `dir` (a namespace directory) if needed, private and owned by us, with its marker.
pub fn ensure_dir(dir: &Path) -> Result<(), OpenError> {
    NsDir::create(dir).map(drop)
}

/// The effective uid: what files we create are owned by, so what we accept.
pub(crate) fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

pub(crate) fn c_name(path: &Path, name: &std::ffi::OsStr) -> Result<CString, OpenError> {
    CString::new(name.as_bytes()).map_err(|_| OpenError::Io { path: path.to_path_buf(), source: ErrorKind::InvalidInput.into() })
}

pub(crate) fn fstat(fd: BorrowedFd<'_>) -> std::io::Result<libc::stat> {
    // SAFETY: an all-zero `stat` is a valid value of this plain C struct.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is open for the duration of the call; `st` is ours to write.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(st)
}

/// `openat(dirfd, name, flags)` (`AT_FDCWD` when `dirfd` is None) as an owned descriptor.
pub(crate) fn open_at(dirfd: Option<BorrowedFd<'_>>, name: &CString, flags: libc::c_int, mode: libc::mode_t) -> std::io::Result<OwnedFd> {
    let at = dirfd.map_or(libc::AT_FDCWD, |d| d.as_raw_fd());
    // SAFETY: `name` is a NUL-terminated string and `at` an open directory (or AT_FDCWD).
    let fd = unsafe { libc::openat(at, name.as_ptr(), flags | libc::O_CLOEXEC, mode as libc::c_uint) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by openat and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Open the directory `name` relative to `dirfd` without following a final symlink.
/// `ELOOP`/`ENOTDIR` on a link become [`OpenError::Symlink`].
fn open_dir_nofollow(dirfd: Option<BorrowedFd<'_>>, path: &Path, name: &CString, flags: libc::c_int) -> Result<OwnedFd, OpenError> {
    match open_at(dirfd, name, flags | libc::O_DIRECTORY | libc::O_NOFOLLOW, 0) {
        Ok(fd) => {
            let st = fstat(fd.as_fd()).map_err(|e| io(path, e))?;
            match st.st_mode & libc::S_IFMT {
                libc::S_IFDIR => Ok(fd),
                libc::S_IFLNK => Err(OpenError::Symlink { path: path.to_path_buf() }),
                _ => Err(OpenError::NotRegular { path: path.to_path_buf(), expected: "directory" }),
            }
        }
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => Err(OpenError::Symlink { path: path.to_path_buf() }),
        Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => {
            // Either the link case on kernels that report ENOTDIR, or a plain file.
            let is_link = std::fs::symlink_metadata(path).map(|m| m.file_type().is_symlink()).unwrap_or(false);
            if is_link {
                Err(OpenError::Symlink { path: path.to_path_buf() })
            } else {
                Err(OpenError::NotRegular { path: path.to_path_buf(), expected: "directory" })
            }
        }
        Err(e) => Err(io(path, e)),
    }
}

fn io(path: &Path, source: std::io::Error) -> OpenError {
    OpenError::Io { path: path.to_path_buf(), source }
}

/// `mkdirat(dirfd, name, 0700)`; an existing entry is fine (it is checked when opened).
fn mkdir_at(dirfd: BorrowedFd<'_>, path: &Path, name: &CString) -> Result<(), OpenError> {
    // SAFETY: `name` is NUL-terminated, `dirfd` an open directory.
    if unsafe { libc::mkdirat(dirfd.as_raw_fd(), name.as_ptr(), 0o700) } != 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EEXIST) {
            return Err(io(path, e));
        }
    }
    Ok(())
}

/// The opened directory must be ours; when `tighten`, group/other bits are removed with `fchmod`
/// (only on the paths that create: inspecting a directory never changes it).
fn check_owner(fd: &OwnedFd, path: &Path, tighten: bool) -> Result<(), OpenError> {
    let st = fstat(fd.as_fd()).map_err(|e| io(path, e))?;
    if st.st_uid != euid() {
        return Err(OpenError::NotOwned { path: path.to_path_buf(), owner: st.st_uid, uid: euid() });
    }
    if tighten && st.st_mode & 0o077 != 0 {
        // SAFETY: `fd` is an open directory descriptor (not O_PATH), owned by us.
        if unsafe { libc::fchmod(fd.as_raw_fd(), 0o700) } != 0 {
            return Err(io(path, std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

/// True when nothing at all (not even a dangling link) exists at `p`.
fn missing(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_err_and(|e| e.kind() == ErrorKind::NotFound)
}

/// An opened, verified namespace directory.
#[derive(Debug)]
pub struct NsDir {
    fd: OwnedFd,
    path: PathBuf,
}

impl NsDir {
    /// Open the existing namespace directory `dir` (see the module docs for what is checked);
    /// changes nothing on disk.
    pub fn open(dir: &Path) -> Result<NsDir, OpenError> {
        Self::open_impl(dir, false)
    }

    /// Open `dir`, creating it (and its base) with mode 0700 where missing, tighten the modes of
    /// the directories tensorbus owns to 0700, and write the marker.
    pub fn create(dir: &Path) -> Result<NsDir, OpenError> {
        Self::open_impl(dir, true)
    }

    fn open_impl(dir: &Path, create: bool) -> Result<NsDir, OpenError> {
        let (base, ns) = match (dir.parent(), dir.components().next_back()) {
            (Some(b), Some(Component::Normal(n))) => (if b.as_os_str().is_empty() { Path::new(".") } else { b }, n),
            _ => return Err(OpenError::NotRegular { path: dir.to_path_buf(), expected: "namespace directory (a plain name under the base)" }),
        };
        let base_fd = open_base(base, create)?;
        let ns_c = c_name(dir, ns)?;
        if create {
            mkdir_at(base_fd.as_fd(), dir, &ns_c)?;
        }
        let fd = open_dir_nofollow(Some(base_fd.as_fd()), dir, &ns_c, libc::O_RDONLY)?;
        check_owner(&fd, dir, create)?;
        let d = NsDir { fd, path: dir.to_path_buf() };
        if create {
            // Best effort: a registry identifies a namespace as well (older ones have no marker).
            let _ = open_at(Some(d.fd()), &CString::new(MARKER).expect("no NUL"), libc::O_WRONLY | libc::O_CREAT | libc::O_NOFOLLOW, 0o600);
        }
        Ok(d)
    }

    /// The directory's descriptor (for `openat`).
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The path this directory was opened by (for messages).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True when the directory has the marker file.
    pub fn has_marker(&self) -> bool {
        let name = CString::new(MARKER).expect("no NUL");
        open_at(Some(self.fd()), &name, libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK, 0)
            .ok()
            .and_then(|f| fstat(f.as_fd()).ok())
            .is_some_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFREG)
    }

    /// Remove temporary files (`<name>.tmp.<pid>.<n>`) whose creator is dead; returns their names.
    /// A file is kept while its pid is alive or while anyone holds its creation lock.
    pub fn reclaim_leftovers(&self) -> Vec<String> {
        let mut removed = Vec::new();
        let Ok(rd) = std::fs::read_dir(&self.path) else { return removed };
        for e in rd.flatten() {
            let name = e.file_name();
            let Some(pid) = name.to_str().and_then(temp_creator) else { continue };
            if crate::process::is_alive(pid, 0) {
                continue; // its creator (or a process that reuses its pid) still runs
            }
            let Ok(c) = c_name(&self.path, &name) else { continue };
            let Ok(f) = open_at(Some(self.fd()), &c, libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK, 0) else { continue };
            let ours = fstat(f.as_fd()).is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFREG && st.st_uid == euid());
            // SAFETY: `f` is an open descriptor; flock has no memory effects.
            if !ours || unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
                continue; // a live creator (perhaps in another PID namespace) holds it
            }
            // SAFETY: `c` is NUL-terminated, the dir fd is open; unlinkat never follows links.
            if unsafe { libc::unlinkat(self.fd.as_raw_fd(), c.as_ptr(), 0) } == 0 {
                removed.push(name.to_string_lossy().into_owned());
            }
            drop(f); // releases the lock
        }
        removed.sort();
        removed
    }
}

/// Pid in a temporary segment name `<name>.tmp.<pid>.<n>`, or None for any other name.
pub fn temp_creator(name: &str) -> Option<u32> {
    let mut parts = name.rsplitn(4, '.');
    let n = parts.next()?;
    let pid = parts.next()?;
    let tag = parts.next()?;
    let stem = parts.next()?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    (tag == "tmp" && !stem.is_empty() && digits(n) && digits(pid)).then(|| pid.parse().ok()).flatten()
}

/// Open the base directory (see the module docs), creating it when `create`.
fn open_base(base: &Path, create: bool) -> Result<OwnedFd, OpenError> {
    let name = base.components().next_back();
    let tensorbus_owned = matches!(name, Some(Component::Normal(n)) if n.as_bytes().starts_with(b"tensorbus-"));
    if tensorbus_owned {
        let Some(Component::Normal(n)) = name else { unreachable!("matched above") };
        let parent = base.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if create && missing(parent) {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new().recursive(true).mode(0o700).create(parent).map_err(|e| io(parent, e))?;
        }
        // The system directory above (e.g. /dev/shm) is taken as it is, links included.
        let pc = c_name(parent, parent.as_os_str())?;
        let pfd = open_at(None, &pc, libc::O_PATH | libc::O_DIRECTORY, 0).map_err(|e| io(parent, e))?;
        let nc = c_name(base, n)?;
        if create {
            mkdir_at(pfd.as_fd(), base, &nc)?;
        }
        let fd = open_dir_nofollow(Some(pfd.as_fd()), base, &nc, libc::O_RDONLY)?;
        check_owner(&fd, base, create)?;
        return Ok(fd);
    }
    if create && missing(base) {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(base).map_err(|e| io(base, e))?;
    }
    // A trailing slash would make the kernel follow a final link: drop it.
    let trimmed: PathBuf = base.components().collect();
    let bc = c_name(&trimmed, trimmed.as_os_str())?;
    // Its owner and mode are the user's business (a shared group directory is fine): whoever
    // controls its entries can at most rename our namespace away, never make us use theirs,
    // because the namespace directory itself is checked through its descriptor.
    open_dir_nofollow(None, base, &bc, libc::O_PATH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_are_recognised() {
        assert_eq!(temp_creator("registry.tmp.123.0"), Some(123));
        assert_eq!(temp_creator("topic-camera.tmp.77.12"), Some(77));
        assert_eq!(temp_creator("pool-0"), None);
        assert_eq!(temp_creator("topic-a.tmp.x.1"), None);
        assert_eq!(temp_creator(".tmp.1.2"), None);
        assert_eq!(temp_creator("tmp.1.2"), None);
    }

    #[test]
    fn namespace_names_are_plain_components() {
        for bad in ["", ".", "..", "a/b", "/etc", "../x", "a\nb", "a\0b"] {
            assert!(matches!(check_namespace(bad), Err(OpenError::BadNamespace { .. })), "{bad:?}");
        }
        for good in ["default", "robot-1", "ns.2", "..x", "a b"] {
            check_namespace(good).unwrap();
        }
    }
}
