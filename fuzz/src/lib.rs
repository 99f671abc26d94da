//! Fuzz targets for every parser of bytes that another process controls. Each `pub fn` is one
//! libFuzzer target (`fuzz_targets/<name>.rs` is a one-line wrapper), and `tests/replay.rs`
//! drives the same functions from a seeded RNG and the saved corpora, so the targets also run
//! as a plain `cargo test` where no nightly toolchain is available.
//!
//! The contract under test (DESIGN.md, "Shared memory is untrusted input"): whatever the bytes,
//! the call returns (`Ok` or `Err`), never panics, never reads out of bounds, never SIGBUSes,
//! and — where the target can check it — leaks no slot.
//!
//! - [`segment_open`]: segment files (registry, pool, topic) with patched or arbitrary bytes,
//!   opened through every entry point up to a whole `Namespace` that reaps and receives;
//! - [`descriptor`]: an arbitrary 64-byte descriptor (and slot metadata area) resolved against a
//!   real namespace by the pool and by `tensorbus_tensor::Payload`;
//! - [`ring_entry`]: a live topic ring whose entries, stamps, head, lock, subscriber table and
//!   holder sets — or the live pool under it — are scribbled on before receiving, sending and
//!   reaping;
//! - [`msgpack_dict`]: MessagePack dict decode (rmp-serde / rmpv) of arbitrary bytes;
//! - [`dlpack_import`]: `view_foreign` over a `DLTensor` built from arbitrary fields;
//! - [`mcap_read`]: an arbitrary MCAP file read and every message decoded into a namespace
//!   (tensorbus-record's reader path: summary, channels, CDR, JSON, tensors);
//! - [`ros2_cdr`]: arbitrary bytes as the CDR of every mapped ROS 2 type (tensorbus-ros2).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;
use tensorbus_pool::{Descriptor, Namespace, PoolConfig, TopicOptions};

/// Pool geometry of every fuzz namespace: small, two classes.
pub const CLASSES: &str = "4Kx4,64Kx2";

/// A per-process scratch directory on tmpfs (falls back to the temp dir).
pub fn scratch(tag: &str) -> PathBuf {
    let base = if Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() };
    base.join(format!("tb-fuzz-{}", std::process::id())).join(tag)
}

fn config() -> PoolConfig {
    PoolConfig::parse(CLASSES).expect("valid classes")
}

/// Reads the fuzz input front to back; running out yields zeros.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Input<'a> {
        Input { data }
    }
    pub fn u8(&mut self) -> u8 {
        let (&b, rest) = self.data.split_first().unwrap_or((&0, &[]));
        self.data = rest;
        b
    }
    pub fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let n = N.min(self.data.len());
        out[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        out
    }
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.bytes())
    }
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.bytes())
    }
    pub fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.bytes())
    }
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

/// Apply `(offset u16, len u8, bytes)` records from `inp` to `buf` (offsets wrap at its length).
fn apply_patches(buf: &mut [u8], inp: &mut Input<'_>, base: usize) {
    if buf.len() <= base {
        return;
    }
    while !inp.is_empty() {
        let at = base + inp.u16() as usize % (buf.len() - base);
        let n = (inp.u8() % 17) as usize;
        for i in 0..n {
            let b = inp.u8();
            if at + i < buf.len() {
                buf[at + i] = b;
            }
        }
    }
}

/// Write patch records from `inp` into the live file at `path` (visible to every mapping).
fn patch_live(path: &Path, inp: &mut Input<'_>, base: usize) {
    use std::os::unix::fs::FileExt;
    let Ok(f) = std::fs::OpenOptions::new().write(true).open(path) else { return };
    let len = f.metadata().map(|m| m.len() as usize).unwrap_or(0);
    let mut buf = vec![0u8; len];
    // Only the patched bytes are written back, one record at a time, so the victim sees a
    // scribble over live state rather than a rewrite of the whole file.
    let mut records = Vec::new();
    while !inp.is_empty() && len > base {
        let at = base + inp.u16() as usize % (len - base);
        let n = (inp.u8() % 17) as usize;
        let bytes: Vec<u8> = (0..n).map(|_| inp.u8()).collect();
        records.push((at, bytes));
    }
    for (at, bytes) in records {
        let end = (at + bytes.len()).min(buf.len());
        buf[at..end].copy_from_slice(&bytes[..end - at]);
        let _ = f.write_all_at(&buf[at..end], at as u64);
    }
}

// ---- segment_open -----------------------------------------------------------------------------

const SEGMENTS: [&str; 4] = ["registry", "pool-0", "pool-1", "topic-t"];

/// Valid segment files of a namespace that was used (entries written, slots recycled).
fn template() -> &'static Vec<(String, Vec<u8>)> {
    static T: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    T.get_or_init(|| {
        let dir = scratch("template");
        let _ = std::fs::remove_dir_all(&dir);
        {
            let ns = Namespace::open_dir(&dir, config()).expect("template namespace");
            let t = ns.topic("t", &TopicOptions::default()).expect("template topic");
            let p = t.publisher();
            let _s = t.subscriber().expect("subscriber");
            for i in 0..6u64 {
                // One 64 KiB-class frame (that class has 2 slots), the rest 4 KiB.
                let mut m = ns.try_acquire(if i == 3 { 10_000 } else { 100 }).expect("slot");
                m.as_mut_slice().fill(i as u8);
                let r = m.freeze();
                p.send(Descriptor { timestamp_ns: i, ..r.descriptor() }, &r).expect("send");
            }
            p.send_inline(b"hello").expect("inline");
        }
        let out = SEGMENTS.iter().map(|n| (n.to_string(), std::fs::read(dir.join(n)).expect("template file"))).collect();
        let _ = std::fs::remove_dir_all(&dir);
        out
    })
}

/// Segment files with patched or arbitrary bytes, opened through every entry point.
///
/// Input: byte 0 picks the file (`% 4`) and the mode (bit 2: replace the whole file by the
/// rest of the input, else patch the valid template with `(offset, len, bytes)` records).
pub fn segment_open(data: &[u8]) {
    use tensorbus_pool::pool::Pool;
    use tensorbus_pool::registry::Registry;
    use tensorbus_pool::ring::RingSeg;
    let tpl = template();
    let dir = scratch("segment");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let mut inp = Input::new(data);
    let mode = inp.u8();
    let which = (mode % 4) as usize;
    for (i, (name, bytes)) in tpl.iter().enumerate() {
        let content = if i != which {
            bytes.clone()
        } else if mode & 4 != 0 {
            inp.rest().to_vec()
        } else {
            let mut b = bytes.clone();
            // Bit 3 keeps the 64-byte segment header intact so the body gets the attention.
            apply_patches(&mut b, &mut inp, if mode & 8 != 0 { 64 } else { 0 });
            b
        };
        std::fs::write(dir.join(name), content).expect("write segment");
    }
    let _ = Pool::open(&dir, 0).map(|p| p.usage());
    let _ = Pool::open(&dir, 1).map(|p| p.usage());
    let _ = RingSeg::open_existing(&dir, "t").map(|r| r.stats());
    if let Ok(reg) = Registry::open(&dir) {
        let _ = reg.snapshots();
        let _ = reg.reap_dead_entries(None);
    }
    if let Ok(ns) = Namespace::open_dir(&dir, config()) {
        exercise_namespace(&ns);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Everything a process does with a namespace whose segments may be hostile.
fn exercise_namespace(ns: &Namespace) {
    let _ = ns.stats();
    let _ = ns.reap();
    if let Ok(t) = ns.topic("t", &TopicOptions::default()) {
        let _ = t.latest();
        if let Ok(mut s) = t.subscriber() {
            for _ in 0..8 {
                if !matches!(s.try_recv(), Ok(Some(_))) {
                    break;
                }
            }
            let _ = s.latest();
        }
        let p = t.publisher();
        let _ = p.send_inline(b"x");
        if let Ok(m) = ns.try_acquire(64) {
            let r = m.freeze();
            let _ = p.send(r.descriptor(), &r);
        }
    }
    let _ = ns.reap();
    let _ = ns.stats();
}

// ---- descriptor -------------------------------------------------------------------------------

struct DescState {
    ns: Namespace,
}

fn desc_state() -> &'static Mutex<DescState> {
    static S: OnceLock<Mutex<DescState>> = OnceLock::new();
    S.get_or_init(|| {
        let dir = scratch("descriptor");
        let _ = std::fs::remove_dir_all(&dir);
        let ns = Namespace::open_dir(&dir, config()).expect("namespace");
        // Create both pools so descriptors can name them.
        drop(ns.try_acquire(1).expect("pool 0"));
        drop(ns.try_acquire(5000).expect("pool 1"));
        Mutex::new(DescState { ns })
    })
}

/// An arbitrary descriptor resolved by the pool and by every payload type.
///
/// Input: byte 0 flags (bit 0: aim the descriptor at a real, freshly written slot, bit 1: keep
/// the fuzzed generation, bit 2: keep the fuzzed length), u16 payload length, 64 descriptor
/// bytes, then up to 192 bytes for the slot's metadata area.
pub fn descriptor(data: &[u8]) {
    use tensorbus_tensor::{DepthImage, Image, Payload, PointCloud, Tensor};
    let st = desc_state().lock().unwrap_or_else(|e| e.into_inner());
    let ns = &st.ns;
    let mut inp = Input::new(data);
    let flags = inp.u8();
    let len = inp.u16() as u64;
    let raw: [u8; 64] = inp.bytes();
    let meta = inp.rest();
    let mut words = [0u64; 8];
    for (w, c) in words.iter_mut().zip(raw.chunks_exact(8)) {
        *w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
    }
    let mut d = Descriptor::from_words(words);
    let mut real = None;
    if flags & 1 != 0 {
        if let Ok(mut m) = ns.try_acquire(len) {
            let n = meta.len().min(m.meta_mut().len());
            m.meta_mut()[..n].copy_from_slice(&meta[..n]);
            m.as_mut_slice().fill(0xa5);
            let r = m.freeze();
            d.pool = r.pool();
            d.slot = r.slot();
            if flags & 2 == 0 {
                d.generation = r.generation();
            }
            if flags & 4 == 0 {
                d.len = r.len();
            }
            real = Some(r);
        }
    }
    if let Ok(h) = ns.resolve(&d) {
        assert_eq!((h.pool(), h.slot(), h.generation()), (d.pool, d.slot, d.generation));
        let s = h.as_slice();
        assert_eq!(s.len() as u64, d.len);
        std::hint::black_box(s.first().copied().zip(s.last().copied()));
    }
    if let Ok(p) = Payload::from_descriptor(ns, &d) {
        let b = p.data();
        assert_eq!(b.len() as u64, p.meta().nbytes());
        std::hint::black_box((b.first(), b.last(), p.shape().to_vec(), p.frame_id().len()));
    }
    let _ = Image::from_descriptor(ns, &d).map(|i| std::hint::black_box(i.shape().to_vec()));
    let _ = DepthImage::from_descriptor(ns, &d).map(|i| std::hint::black_box(i.shape().to_vec()));
    let _ = PointCloud::from_descriptor(ns, &d).map(|i| std::hint::black_box(i.shape().to_vec()));
    let _ = Tensor::from_descriptor(ns, &d).map(|i| std::hint::black_box(i.shape().to_vec()));
    drop(real);
    // Every hold taken above was released: nothing leaks, whatever the descriptor said.
    let used = ns.stats().used_slots();
    assert_eq!(used, 0, "a descriptor leaked a slot hold: {d:?}");
}

// ---- ring_entry -------------------------------------------------------------------------------

/// A live topic ring scribbled on (entries, stamps, head, lock, holder, subscriber table, the
/// opener and publisher holder sets), or the live 4 KiB pool under it (slot words, generations,
/// holder sets), then received from, sent into and reaped.
///
/// Input: byte 0: frames sent before the scribble (`% 8`); byte 1 bit 0: reliable policy, bit 1:
/// history 0, bit 2: scribble the pool instead of the ring;
/// then `(offset, len, bytes)` patch records over that segment past its segment header.
pub fn ring_entry(data: &[u8]) {
    let dir = scratch("ring");
    let _ = std::fs::remove_dir_all(&dir);
    let mut inp = Input::new(data);
    let frames = inp.u8() % 8;
    let flags = inp.u8();
    let policy = if flags & 1 != 0 { tensorbus_pool::Policy::Reliable } else { tensorbus_pool::Policy::Latest };
    let opts = TopicOptions { depth: 4, policy, history: u32::from(flags & 2 == 0), ..Default::default() };
    {
        let ns = Namespace::open_dir(&dir, config()).expect("namespace");
        let t = ns.topic("t", &opts).expect("topic");
        let mut p = t.publisher();
        p.set_timeout(Duration::from_millis(1));
        let mut s = t.subscriber().expect("subscriber");
        let send = |i: u64| {
            if i % 3 == 2 {
                let _ = p.send_inline(&i.to_le_bytes());
            } else if let Ok(mut m) = ns.try_acquire(if i % 2 == 0 { 100 } else { 10_000 }) {
                m.as_mut_slice().fill(i as u8);
                let r = m.freeze();
                let _ = p.send(Descriptor { timestamp_ns: i, ..r.descriptor() }, &r);
            }
        };
        for i in 0..frames as u64 {
            send(i);
        }
        patch_live(&dir.join(if flags & 4 != 0 { "pool-0" } else { "topic-t" }), &mut inp, 64);
        for _ in 0..12 {
            match s.try_recv().map(|m| m.map(tensorbus_pool::Delivered::into_parts)) {
                Ok(Some((d, Some(h)))) => {
                    // The scribble may have rewritten the descriptor itself (its length, its
                    // slot), so the bytes may be another frame's: what must hold is that the
                    // hold names a real slot and every byte of it is readable.
                    let b = h.as_slice();
                    assert_eq!(b.len() as u64, d.len);
                    std::hint::black_box(b.iter().fold(0u8, |a, &x| a ^ x));
                }
                Ok(Some(_)) => {}
                _ => break,
            }
        }
        let _ = s.latest();
        let _ = t.latest();
        for i in 100..103 {
            send(i);
        }
        let _ = t.subscriber().map(|mut s2| s2.try_recv().is_ok());
        let _ = ns.reap();
        let _ = ns.stats();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- msgpack_dict -----------------------------------------------------------------------------

/// MessagePack decode of arbitrary bytes (what a dict topic receives from another process):
/// rmp-serde into a dynamic value and into a string-keyed map, and rmpv's own reader. A value
/// that decodes re-encodes to bytes that decode to the same encoding.
pub fn msgpack_dict(data: &[u8]) {
    use std::collections::BTreeMap;
    if let Ok(v) = rmp_serde::from_slice::<rmpv::Value>(data) {
        let enc = rmp_serde::to_vec(&v).expect("a decoded value re-encodes");
        let again: rmpv::Value = rmp_serde::from_slice(&enc).expect("re-encoded bytes decode");
        assert_eq!(rmp_serde::to_vec(&again).expect("encodes"), enc);
    }
    let _ = rmp_serde::from_slice::<BTreeMap<String, rmpv::Value>>(data);
    let mut r = data;
    let _ = rmpv::decode::read_value(&mut r);
}

// ---- dlpack_import ----------------------------------------------------------------------------

/// `view_foreign` over a `DLTensor` whose every field comes from the input; `shape` and
/// `strides` point to 8 readable `i64`s (the import contract), or are null.
pub fn dlpack_import(data: &[u8]) {
    use tensorbus_tensor::dlpack::{view_foreign, DLDataType, DLDevice, DLTensor};
    let mut inp = Input::new(data);
    let flags = inp.u8();
    let data_ptr = inp.u64() as usize;
    let device = DLDevice { device_type: inp.u32() as i32 % 20, device_id: inp.u32() as i32 };
    let ndim_raw = inp.u32() as i32;
    // Mostly small ndims (the interesting ones), sometimes the raw value.
    let ndim = if flags & 8 != 0 { ndim_raw } else { ndim_raw.rem_euclid(11) - 1 };
    let dtype = DLDataType { code: inp.u8() % 8, bits: inp.u8(), lanes: inp.u16() };
    let byte_offset = inp.u64();
    let mut shape = [0i64; 8];
    let mut strides = [0i64; 8];
    for s in &mut shape {
        let b = inp.u8();
        // Small dims mostly; a 0x80 byte pulls a full arbitrary i64.
        *s = if b & 0x80 != 0 { inp.u64() as i64 } else { b as i64 };
    }
    for s in &mut strides {
        let b = inp.u8();
        *s = if b & 0x80 != 0 { inp.u64() as i64 } else { b as i64 };
    }
    let t = DLTensor {
        data: data_ptr as *mut std::ffi::c_void,
        device,
        ndim,
        dtype,
        shape: if flags & 1 != 0 { std::ptr::null_mut() } else { shape.as_mut_ptr() },
        strides: if flags & 2 != 0 { std::ptr::null_mut() } else { strides.as_mut_ptr() },
        byte_offset,
    };
    // SAFETY: `t` is a valid DLTensor on our stack; shape and strides are null or point to 8
    // readable i64s, and view_foreign rejects ndim > 8 before reading them.
    if let Ok(v) = unsafe { view_foreign(&t) } {
        assert!((0..=8).contains(&ndim));
        assert_eq!(v.shape.len(), ndim as usize);
        assert_eq!(v.strides.len(), ndim as usize);
        // An empty tensor (a zero dim anywhere) has 0 bytes, whatever the other dims.
        let nbytes = if v.shape.contains(&0) { Some(0) } else { v.shape.iter().try_fold(v.dtype.itemsize(), |a, &d| a.checked_mul(d)) };
        assert!(nbytes.is_some_and(|n| n <= isize::MAX as usize), "accepted an overflowing size");
        assert_eq!(v.nbytes(), nbytes.unwrap());
        assert_eq!(v.data as usize, data_ptr + byte_offset as usize);
        // Negative strides are accepted (flipped views), but every reachable element lies in
        // the address space: neither end of the span wraps.
        if v.numel() > 0 {
            let item = v.dtype.itemsize() as i128;
            let (mut low, mut high) = (0i128, 0i128);
            for (&n, &st) in v.shape.iter().zip(&v.strides) {
                let reach = st as i128 * (n as i128 - 1);
                if reach < 0 { low += reach } else { high += reach }
            }
            let base = v.data as usize as i128;
            assert!(base + low * item >= 0, "span reaches below address 0");
            assert!(base + (high + 1) * item <= usize::MAX as i128 + 1, "span wraps past the top of the address space");
        }
    }
}

// ---- mcap_read, ros2_cdr ----------------------------------------------------------------------

/// One namespace per target, opened on first use (small pools: a decode that needs more than
/// 64 KiB fails with a clean exhaustion error, which is fine).
fn shared_ns(tag: &'static str) -> Namespace {
    static NS: OnceLock<Mutex<Vec<(&'static str, Namespace)>>> = OnceLock::new();
    let mut g = NS.get_or_init(|| Mutex::new(Vec::new())).lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, ns)) = g.iter().find(|(t, _)| *t == tag) {
        return ns.clone();
    }
    let dir = scratch(tag);
    let _ = std::fs::remove_dir_all(&dir);
    let ns = Namespace::open_dir(&dir, config()).expect("namespace");
    g.push((tag, ns.clone()));
    ns
}

/// A recording from another machine is untrusted input: read and decode all of it.
pub fn mcap_read(data: &[u8]) {
    let ns = shared_ns("mcap_read");
    let _ = tensorbus_record::decode_all(&ns, data);
    assert_eq!(ns.stats().used_slots(), 0, "a decoded payload leaked its slot");
}

// ---- ros2_cdr ---------------------------------------------------------------------------------

/// Bytes from the network as each mapped ROS 2 type, and as a `tensorbus_msgs/msg/Tensor`.
pub fn ros2_cdr(data: &[u8]) {
    let ns = shared_ns("ros2_cdr");
    let _ = tensorbus_ros2::decode_image(&ns, data, None);
    let _ = tensorbus_ros2::decode_depth(&ns, data, None);
    let _ = tensorbus_ros2::decode_points(&ns, data, None);
    let _ = tensorbus_ros2::Twist::decode(data);
    let _ = tensorbus_record::codec::decode_tensor(data);
    assert_eq!(ns.stats().used_slots(), 0, "a decoded payload leaked its slot");
}

/// A Zenoh sample as the bridge receives it (tensorbus-bridge): the first byte splits the input
/// into an attachment and a payload. The header is decoded and checked; a payload header lands
/// in a slot exactly as the bridge's importer does (validated shape, one copy or a bounded
/// decompression), and the slot is released; POD/dict bodies decompress into a bounded buffer.
pub fn bridge_wire(data: &[u8]) {
    use tensorbus_bridge::wire::{Form, Header};
    let ns = shared_ns("bridge_wire");
    let (att, body) = match data.split_first() {
        Some((&n, rest)) => rest.split_at((n as usize).min(rest.len())),
        None => return,
    };
    // Also try the attachment in its full length when the input is one (a header + no body).
    for a in [att, data] {
        let Ok(h) = Header::decode(a) else { continue };
        let _ = h.encode();
        match h.form {
            Some(Form::Payload) => {
                // Two chunks, as a fragmented sample arrives.
                let (x, y) = body.split_at(body.len() / 2);
                if let Ok(p) = tensorbus_bridge::import::payload_from_wire(&ns, &h, &[x, y], Duration::ZERO) {
                    assert_eq!(p.data().len() as u64, h.raw_len);
                }
            }
            _ if h.raw_len <= 1 << 20 => {
                if let Ok(v) = h.decompress(body) {
                    assert_eq!(v.len() as u64, h.raw_len);
                }
            }
            _ => {}
        }
    }
    assert_eq!(ns.stats().used_slots(), 0, "a landed payload leaked its slot");
}
