//! Named shared-memory segments: files under the namespace directory, mapped with memmap2.
//!
//! Every segment starts with a 64-byte [`SegmentHeader`] (magic, version, kind, layout hash,
//! total size). Creation is race-free across processes: the creator builds the whole segment
//! in a private temporary file (space reserved with `posix_fallocate`, so a full tmpfs is an
//! error here instead of a SIGBUS later), initializes it, and only then `link`s it under its
//! real name. A concurrent creator that loses the `link` race discards its copy and opens the
//! winner's. A segment is therefore never visible half-initialized.
//!
//! Opening validates everything read from the file: size, magic, version, kind, layout hash
//! and the declared size. A mismatch is an [`OpenError`], never a wild access.
//!
//! Files are never reached through a link: the namespace directory is opened and checked first
//! (see `nsdir.rs`), every segment and temporary file is opened relative to it (`openat` with
//! `O_NOFOLLOW`), and a segment that is not a regular file owned by us with mode 0600 (no
//! group/other bits) is refused before it is mapped.

use crate::error::OpenError;
use crate::nsdir::{c_name, euid, fstat, open_at, NsDir};
use memmap2::MmapRaw;
use std::ffi::CString;
use std::fs::File;
use std::io::ErrorKind;
use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};

/// `b"TNSRBUS1"` as a little-endian u64.
pub const MAGIC: u64 = u64::from_le_bytes(*b"TNSRBUS1");
/// Bumped whenever any shared layout changes incompatibly.
pub const VERSION: u32 = 1;

/// What a segment holds.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentKind {
    Registry = 1,
    Pool = 2,
    Topic = 3,
}

/// The first 64 bytes of every segment.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SegmentHeader {
    /// [`MAGIC`].
    pub magic: u64,
    /// [`VERSION`].
    pub version: u32,
    /// [`SegmentKind`] as u32.
    pub kind: u32,
    /// Hash of the sizes and offsets of the kind's layout (see [`layout_hash`]).
    pub layout_hash: u64,
    /// Size of the whole segment in bytes; must equal the file size.
    pub total_size: u64,
    /// Pid of the creating process (informational).
    pub creator_pid: u32,
    pub _pad: u32,
    pub _reserved: [u64; 3],
}
const _: () = assert!(std::mem::size_of::<SegmentHeader>() == 64);

/// FNV-1a over a list of layout numbers (sizes, offsets, capacities): two builds that agree on
/// every number agree on the hash.
pub const fn layout_hash(items: &[usize]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < items.len() {
        let mut v = items[i] as u64;
        let mut b = 0;
        while b < 8 {
            h ^= v & 0xff;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
            v >>= 8;
            b += 1;
        }
        i += 1;
    }
    h
}

pub use crate::nsdir::{base_dir, check_namespace, ensure_dir, namespace_dir};

/// A mapped segment. The mapping lives as long as this value.
pub struct Segment {
    map: MmapRaw,
    path: PathBuf,
    len: usize,
}

// SAFETY: the mapping is plain shared memory; all concurrent access to it goes through atomics
// or through leases that grant exclusive/read-only access by protocol.
unsafe impl Send for Segment {}
// SAFETY: as above.
unsafe impl Sync for Segment {}

impl std::fmt::Debug for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segment").field("path", &self.path).field("len", &self.len).finish()
    }
}

impl Segment {
    /// Base pointer of the mapping (page aligned).
    pub fn base(&self) -> *mut u8 {
        self.map.as_mut_ptr()
    }
    /// Length of the mapping in bytes.
    pub fn len(&self) -> usize {
        self.len
    }
    /// Always false: a segment holds at least its header.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Path of the backing file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reference to a `T` at `offset`, checked against the mapping's bounds and alignment.
    ///
    /// # Safety
    /// The bytes at `offset` must be a valid `T` (all bit patterns of the shared-layout types
    /// used with this are valid: integers and atomics).
    pub unsafe fn at<T>(&self, offset: usize) -> &T {
        assert!(offset + std::mem::size_of::<T>() <= self.len, "offset within segment");
        assert_eq!((self.base() as usize + offset) % std::mem::align_of::<T>(), 0);
        // SAFETY: in bounds and aligned (asserted above); validity is the caller's contract.
        unsafe { &*(self.base().add(offset) as *const T) }
    }

    /// [`Segment::at`] for the hot paths, whose offsets were proven in bounds when the segment
    /// was validated on open (a header at a fixed offset, an index reduced modulo a validated
    /// count): the two checks run in debug builds only. Release builds skip them because they
    /// were ~70 instructions of an inline send + receive (callgrind, issue 14).
    ///
    /// # Safety
    /// As [`Segment::at`], and `offset + size_of::<T>()` must be within the mapping, with the
    /// address aligned for `T`.
    #[inline]
    pub unsafe fn at_validated<T>(&self, offset: usize) -> &T {
        debug_assert!(offset + std::mem::size_of::<T>() <= self.len, "offset within segment");
        debug_assert_eq!((self.base() as usize + offset) % std::mem::align_of::<T>(), 0);
        // SAFETY: in bounds and aligned by the caller's contract; validity likewise.
        unsafe { &*(self.base().add(offset) as *const T) }
    }

    /// Open the segment at `path`, or create it with `size` bytes, running `init` on the fresh
    /// zeroed memory (after the header is written) before anyone else can see it.
    /// Returns the segment and whether this call created it.
    pub fn open_or_create(path: &Path, kind: SegmentKind, layout: u64, size: usize, init: impl FnOnce(&Segment)) -> Result<(Segment, bool), OpenError> {
        let (dir, name) = split(path)?;
        match Self::open_in(&dir, &name, path, kind, layout) {
            Ok(seg) => return Ok((seg, false)),
            Err(OpenError::Io { source, .. }) if source.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        match Self::create_in(&dir, &name, path, kind, layout, size, init) {
            Ok(seg) => Ok((seg, true)),
            // Lost the race to another creator: open theirs.
            Err(OpenError::Io { source, .. }) if source.kind() == ErrorKind::AlreadyExists => Self::open_in(&dir, &name, path, kind, layout).map(|s| (s, false)),
            Err(e) => Err(e),
        }
    }

    fn create_in(dir: &NsDir, name: &CString, path: &Path, kind: SegmentKind, layout: u64, size: usize, init: impl FnOnce(&Segment)) -> Result<Segment, OpenError> {
        let (file, tmp, tmp_c) = Self::temp_file(dir, path)?;
        let io = |p: &Path, e| OpenError::Io { path: p.to_path_buf(), source: e };
        let result = (|| {
            reserve(&file, size as u64).map_err(|e| {
                if e.raw_os_error() == Some(libc::ENOSPC) {
                    OpenError::NoSpace { path: path.to_path_buf(), needed: size as u64, source: e }
                } else {
                    io(&tmp, e)
                }
            })?;
            let map = MmapRaw::map_raw(&file).map_err(|e| io(&tmp, e))?;
            let seg = Segment { map, path: path.to_path_buf(), len: size };
            let header = SegmentHeader {
                magic: MAGIC,
                version: VERSION,
                kind: kind as u32,
                layout_hash: layout,
                total_size: size as u64,
                creator_pid: std::process::id(),
                _pad: 0,
                _reserved: [0; 3],
            };
            // SAFETY: the mapping is at least 64 bytes (size >= header), page aligned, and no
            // other process can see the temporary file yet.
            unsafe { std::ptr::write(seg.base() as *mut SegmentHeader, header) };
            init(&seg);
            // Make the initialized contents durable in the page cache before publishing.
            seg.map.flush_async().ok();
            let d = dir.fd().as_raw_fd();
            // SAFETY: both names are NUL-terminated and relative to the open directory `d`;
            // flags 0: a link at `tmp_c` would not be followed (and cannot exist: O_EXCL).
            if unsafe { libc::linkat(d, tmp_c.as_ptr(), d, name.as_ptr(), 0) } != 0 {
                return Err(io(path, std::io::Error::last_os_error()));
            }
            Ok(seg)
        })();
        // SAFETY: `tmp_c` is NUL-terminated, the directory fd is open; unlinkat never follows.
        unsafe { libc::unlinkat(dir.fd().as_raw_fd(), tmp_c.as_ptr(), 0) };
        // SAFETY: `file` is open; dropping the creation lock lets nobody mistake us for dead.
        unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_UN) };
        result
    }

    /// A fresh, private, locked temporary file `<name>.tmp.<pid>.<n>` in `dir`. The `flock`
    /// tells `NsDir::reclaim_leftovers` that its creator is alive (whatever its pid says).
    fn temp_file(dir: &NsDir, path: &Path) -> Result<(File, PathBuf, CString), OpenError> {
        static COUNTER: crate::sync::AtomicU64 = crate::sync::AtomicU64::new(0);
        for _ in 0..8 {
            // Relaxed: only uniqueness of the temporary name matters.
            let n = COUNTER.fetch_add(1, crate::sync::Ordering::Relaxed);
            let tmp = path.with_extension(format!("tmp.{}.{n}", std::process::id()));
            let tmp_c = c_name(&tmp, tmp.file_name().unwrap_or_default())?;
            let flags = libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW;
            let fd = match open_at(Some(dir.fd()), &tmp_c, flags, 0o600) {
                Ok(fd) => fd,
                // A leftover of an earlier process that had our pid: take the next name.
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => continue,
                Err(e) => return Err(OpenError::Io { path: tmp, source: e }),
            };
            // Blocks only while a reclaimer inspects the file. Where flock is unsupported the
            // reclaimer falls back to the pid alone, so a failure here is not fatal.
            // SAFETY: `fd` is open; flock has no memory effects.
            let _ = unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_EX) };
            // A reclaimer that could not tell us alive (another PID namespace) may have removed
            // the name between create and lock: then take another one.
            match fstat(fd.as_fd()) {
                Ok(st) if st.st_nlink > 0 => return Ok((File::from(fd), tmp, tmp_c)),
                Ok(_) => continue,
                Err(e) => return Err(OpenError::Io { path: tmp, source: e }),
            }
        }
        Err(OpenError::Io { path: path.to_path_buf(), source: std::io::Error::other("temporary files kept disappearing") })
    }

    /// Open and validate an existing segment.
    pub fn open(path: &Path, kind: SegmentKind, layout: u64) -> Result<Segment, OpenError> {
        let (dir, name) = split(path)?;
        Self::open_in(&dir, &name, path, kind, layout)
    }

    /// Open `name` relative to `dir` (never through a link), check it is a regular file owned by
    /// us with no group/other bits, then map and validate it.
    fn open_in(dir: &NsDir, name: &CString, path: &Path, kind: SegmentKind, layout: u64) -> Result<Segment, OpenError> {
        let io = |e| OpenError::Io { path: path.to_path_buf(), source: e };
        let p = || path.to_path_buf();
        let fd = match open_at(Some(dir.fd()), name, libc::O_RDWR | libc::O_NOFOLLOW | libc::O_NONBLOCK, 0) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Err(OpenError::Symlink { path: p() }),
            Err(e) => return Err(io(e)),
        };
        let st = fstat(fd.as_fd()).map_err(io)?;
        if st.st_mode & libc::S_IFMT != libc::S_IFREG {
            return Err(OpenError::NotRegular { path: p(), expected: "regular file" });
        }
        if st.st_uid != euid() {
            return Err(OpenError::NotOwned { path: p(), owner: st.st_uid, uid: euid() });
        }
        if st.st_mode & 0o077 != 0 {
            return Err(OpenError::NotPrivate { path: p(), mode: st.st_mode & 0o7777 });
        }
        let file = File::from(fd);
        let actual = st.st_size as u64;
        let hsize = std::mem::size_of::<SegmentHeader>() as u64;
        if actual < hsize {
            return Err(OpenError::Truncated { path: p(), expected: hsize, actual });
        }
        let map = MmapRaw::map_raw(&file).map_err(io)?;
        let seg = Segment { map, path: p(), len: actual as usize };
        // SAFETY: at least 64 bytes are mapped (checked above); SegmentHeader is plain integers.
        let h: SegmentHeader = unsafe { std::ptr::read_volatile(seg.base() as *const SegmentHeader) };
        if h.magic != MAGIC {
            return Err(OpenError::BadMagic { path: p(), found: h.magic });
        }
        if h.version != VERSION {
            return Err(OpenError::BadVersion { path: p(), found: h.version, expected: VERSION });
        }
        if h.kind != kind as u32 {
            return Err(OpenError::BadHeader { path: p(), field: "kind", value: h.kind as u64 });
        }
        if h.layout_hash != layout {
            return Err(OpenError::LayoutMismatch { path: p(), found: h.layout_hash, expected: layout });
        }
        if h.total_size != actual {
            return Err(OpenError::Truncated { path: p(), expected: h.total_size, actual });
        }
        Ok(seg)
    }
}

/// The verified directory of `path` and its file name.
fn split(path: &Path) -> Result<(NsDir, CString), OpenError> {
    let name = path.file_name().ok_or_else(|| OpenError::NotRegular { path: path.to_path_buf(), expected: "segment file name" })?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    Ok((NsDir::open(dir)?, c_name(path, name)?))
}

/// Reserve `size` bytes for `file` so later page faults cannot hit a full tmpfs.
fn reserve(file: &File, size: u64) -> std::io::Result<()> {
    // SAFETY: the fd is open for writing for the duration of the call.
    let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, size as libc::off_t) };
    match rc {
        0 => Ok(()),
        // Filesystems without fallocate: fall back to a sparse size (best effort).
        libc::EOPNOTSUPP | libc::EINVAL => file.set_len(size),
        e => Err(std::io::Error::from_raw_os_error(e)),
    }
}

/// Defined here rather than in `nsdir.rs` (which `segment.rs` builds on): it reads a segment
/// header.
impl NsDir {
    /// True when the directory holds a `registry` file with a tensorbus registry header (any
    /// version or layout: older namespaces count). Reads the header; maps nothing.
    pub fn has_registry(&self) -> bool {
        let Ok(f) = open_at(Some(self.fd()), &CString::new("registry").expect("no NUL"), libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK, 0) else {
            return false;
        };
        let ok = fstat(f.as_fd()).is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFREG && st.st_uid == euid());
        let mut h = [0u8; 64];
        ok && std::io::Read::read_exact(&mut File::from(f), &mut h).is_ok()
            && u64::from_le_bytes(h[0..8].try_into().expect("8 bytes")) == MAGIC
            && u32::from_le_bytes(h[12..16].try_into().expect("4 bytes")) == SegmentKind::Registry as u32
    }
}
