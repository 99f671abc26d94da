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

use crate::error::OpenError;
use memmap2::MmapRaw;
use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
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

/// The namespace directory: `$TENSORBUS_SHM_DIR/<ns>` or `/dev/shm/tensorbus-<uid>/<ns>`, where
/// `<ns>` is `namespace` or `$TENSORBUS_NAMESPACE` or `default`.
pub fn namespace_dir(namespace: Option<&str>) -> PathBuf {
    let base = match std::env::var_os("TENSORBUS_SHM_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        // SAFETY: getuid has no preconditions and cannot fail.
        _ => PathBuf::from(format!("/dev/shm/tensorbus-{}", unsafe { libc::getuid() })),
    };
    let ns = namespace
        .map(str::to_string)
        .or_else(|| std::env::var("TENSORBUS_NAMESPACE").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "default".to_string());
    base.join(ns)
}

/// Create `dir` (and its parent) with mode 0700, and refuse a directory owned by someone else.
pub fn ensure_dir(dir: &Path) -> Result<(), OpenError> {
    let io = |e| OpenError::Io { path: dir.to_path_buf(), source: e };
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(io)?;
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    for d in [dir.parent(), Some(dir)].into_iter().flatten() {
        let meta = std::fs::metadata(d).map_err(io)?;
        if d == dir || d.file_name().is_some_and(|n| n.to_string_lossy().starts_with("tensorbus-")) {
            if meta.uid() != uid {
                return Err(io(std::io::Error::new(
                    ErrorKind::PermissionDenied,
                    format!("{} is owned by uid {}, not {}", d.display(), meta.uid(), uid),
                )));
            }
            if meta.permissions().mode() & 0o077 != 0 {
                std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
            }
        }
    }
    Ok(())
}

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

    /// Open the segment at `path`, or create it with `size` bytes, running `init` on the fresh
    /// zeroed memory (after the header is written) before anyone else can see it.
    /// Returns the segment and whether this call created it.
    pub fn open_or_create(
        path: &Path,
        kind: SegmentKind,
        layout: u64,
        size: usize,
        init: impl FnOnce(&Segment),
    ) -> Result<(Segment, bool), OpenError> {
        match Self::open(path, kind, layout) {
            Ok(seg) => return Ok((seg, false)),
            Err(OpenError::Io { source, .. }) if source.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        match Self::create(path, kind, layout, size, init) {
            Ok(seg) => Ok((seg, true)),
            // Lost the race to another creator: open theirs.
            Err(OpenError::Io { source, .. }) if source.kind() == ErrorKind::AlreadyExists => Self::open(path, kind, layout).map(|s| (s, false)),
            Err(e) => Err(e),
        }
    }

    fn create(
        path: &Path,
        kind: SegmentKind,
        layout: u64,
        size: usize,
        init: impl FnOnce(&Segment),
    ) -> Result<Segment, OpenError> {
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        // Relaxed: only uniqueness of the temporary name matters.
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = path.with_extension(format!("tmp.{}.{n}", std::process::id()));
        let io = |p: &Path, e| OpenError::Io { path: p.to_path_buf(), source: e };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| io(&tmp, e))?;
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
            std::fs::hard_link(&tmp, path).map_err(|e| io(path, e))?;
            Ok(seg)
        })();
        let _ = std::fs::remove_file(&tmp);
        result
    }

    /// Open and validate an existing segment.
    pub fn open(path: &Path, kind: SegmentKind, layout: u64) -> Result<Segment, OpenError> {
        let io = |e| OpenError::Io { path: path.to_path_buf(), source: e };
        let file: File = OpenOptions::new().read(true).write(true).open(path).map_err(io)?;
        let actual = file.metadata().map_err(io)?.len();
        let hsize = std::mem::size_of::<SegmentHeader>() as u64;
        if actual < hsize {
            return Err(OpenError::Truncated { path: path.to_path_buf(), expected: hsize, actual });
        }
        let map = MmapRaw::map_raw(&file).map_err(io)?;
        let seg = Segment { map, path: path.to_path_buf(), len: actual as usize };
        // SAFETY: at least 64 bytes are mapped (checked above); SegmentHeader is plain integers.
        let h: SegmentHeader = unsafe { std::ptr::read_volatile(seg.base() as *const SegmentHeader) };
        let p = || path.to_path_buf();
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

/// Reserve `size` bytes for `file` so later page faults cannot hit a full tmpfs.
fn reserve(file: &File, size: u64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: the fd is open for writing for the duration of the call.
    let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, size as libc::off_t) };
    match rc {
        0 => Ok(()),
        // Filesystems without fallocate: fall back to a sparse size (best effort).
        libc::EOPNOTSUPP | libc::EINVAL => file.set_len(size),
        e => Err(std::io::Error::from_raw_os_error(e)),
    }
}
