//! Message support for topics: the POD layout hash shared with Rust (`pod_type_hash`) and the
//! MessagePack codec for dict topics (Python dict/list/str/bytes/int/float/bool/None <-> bytes).
//!
//! Decoding reads bytes another process wrote: every length is checked against what is left,
//! nesting is bounded, and a malformed blob is a `ValueError`-derived error, never a panic.

use crate::errors::exc;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType};

/// The layout hash of a POD message (same as Rust's `tensorbus::message::type_hash`).
#[pyfunction]
pub fn pod_type_hash(fields: &str, size: usize, offsets: Vec<usize>) -> u64 {
    tensorbus::message::type_hash(fields, size, &offsets)
}

const MAX_DEPTH: usize = 64;

fn enc(obj: &Bound<'_, PyAny>, out: &mut Vec<u8>, depth: usize) -> PyResult<()> {
    use rmp::encode::*;
    fn io<E>(_: E) -> PyErr {
        exc::TensorbusError::new_err("MessagePack encoding failed")
    }
    if depth > MAX_DEPTH {
        return Err(exc::ShapeError::new_err("dict message nested deeper than 64 levels"));
    }
    if obj.is_none() {
        write_nil(out).map_err(io)?;
    } else if let Ok(b) = obj.cast::<PyBool>() {
        write_bool(out, b.is_true()).map_err(io)?;
    } else if let Ok(i) = obj.cast::<PyInt>() {
        if let Ok(v) = i.extract::<i64>() {
            write_sint(out, v).map_err(io)?;
        } else if let Ok(v) = i.extract::<u64>() {
            write_uint(out, v).map_err(io)?;
        } else {
            return Err(exc::DTypeError::new_err(format!("integer {i} does not fit in 64 bits")));
        }
    } else if let Ok(f) = obj.cast::<PyFloat>() {
        write_f64(out, f.value()).map_err(io)?;
    } else if let Ok(s) = obj.cast::<PyString>() {
        write_str(out, &s.to_cow()?).map_err(io)?;
    } else if let Ok(b) = obj.cast::<PyBytes>() {
        write_bin(out, b.as_bytes()).map_err(io)?;
    } else if let Ok(b) = obj.cast::<PyByteArray>() {
        write_bin(out, &b.to_vec()).map_err(io)?;
    } else if let Ok(d) = obj.cast::<PyDict>() {
        write_map_len(out, d.len() as u32).map_err(io)?;
        for (k, v) in d.iter() {
            // Keys must come back as dict keys: scalars only (a list/dict key would be
            // unhashable on every receiver).
            if k.cast::<PyDict>().is_ok() || k.cast::<PyList>().is_ok() || k.cast::<PyTuple>().is_ok() {
                return Err(exc::DTypeError::new_err(format!("dict keys must be str, int, float, bool, bytes or None, not {}", k.get_type().name()?)));
            }
            enc(&k, out, depth + 1)?;
            enc(&v, out, depth + 1)?;
        }
    } else if let Ok(l) = obj.cast::<PyList>() {
        write_array_len(out, l.len() as u32).map_err(io)?;
        for v in l.iter() {
            enc(&v, out, depth + 1)?;
        }
    } else if let Ok(t) = obj.cast::<PyTuple>() {
        write_array_len(out, t.len() as u32).map_err(io)?;
        for v in t.iter() {
            enc(&v, out, depth + 1)?;
        }
    } else if obj.hasattr("item")? && obj.hasattr("dtype")? && obj.getattr("ndim").and_then(|n| n.extract::<usize>()).unwrap_or(1) == 0 {
        // NumPy scalars (np.float32(1.0), np.int64(3)): their Python value. Arrays are refused
        // (see below): send them as payloads (tb.Tensor), or .tolist() them explicitly.
        enc(&obj.call_method0("item")?, out, depth)?;
    } else {
        return Err(exc::DTypeError::new_err(format!(
            "cannot send {} in a dict message: use dict, list, tuple, str, bytes, int, float, bool or None (arrays: a tb.Tensor topic, or .tolist())",
            obj.get_type().name()?
        )));
    }
    Ok(())
}

/// Encode a Python value as MessagePack.
pub fn encode(obj: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    let mut out = Vec::with_capacity(64);
    enc(obj, &mut out, 0)?;
    Ok(out)
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn bad(&self, what: &str) -> PyErr {
        exc::InvalidDescriptorError::new_err(format!("malformed MessagePack at byte {}: {what}", self.pos))
    }
    fn take(&mut self, n: usize) -> PyResult<&'a [u8]> {
        if self.b.len() - self.pos < n {
            return Err(self.bad("truncated"));
        }
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self) -> PyResult<u8> {
        Ok(self.take(1)?[0])
    }
    fn be(&mut self, n: usize) -> PyResult<u64> {
        Ok(self.take(n)?.iter().fold(0u64, |a, &b| (a << 8) | b as u64))
    }
    fn value<'py>(&mut self, py: Python<'py>, depth: usize) -> PyResult<Bound<'py, PyAny>> {
        if depth > MAX_DEPTH {
            return Err(self.bad("nested deeper than 64 levels"));
        }
        let m = self.u8()?;
        let v: Bound<'py, PyAny> = match m {
            0x00..=0x7f => (m as i64).into_pyobject(py)?.into_any(),
            0xe0..=0xff => (m as i8 as i64).into_pyobject(py)?.into_any(),
            0xc0 => py.None().into_bound(py),
            0xc2 => PyBool::new(py, false).to_owned().into_any(),
            0xc3 => PyBool::new(py, true).to_owned().into_any(),
            0xcc..=0xcf => {
                let n = 1usize << (m - 0xcc);
                self.be(n)?.into_pyobject(py)?.into_any()
            }
            0xd0..=0xd3 => {
                let n = 1usize << (m - 0xd0);
                let raw = self.be(n)?;
                let shift = 64 - 8 * n as u32;
                (((raw << shift) as i64) >> shift).into_pyobject(py)?.into_any()
            }
            0xca => (f32::from_bits(self.be(4)? as u32) as f64).into_pyobject(py)?.into_any(),
            0xcb => f64::from_bits(self.be(8)?).into_pyobject(py)?.into_any(),
            0xa0..=0xbf | 0xd9 | 0xda | 0xdb => {
                let n = match m {
                    0xd9 => self.be(1)?,
                    0xda => self.be(2)?,
                    0xdb => self.be(4)?,
                    _ => (m & 0x1f) as u64,
                } as usize;
                let s = self.take(n)?;
                let s = std::str::from_utf8(s).map_err(|_| self.bad("string is not UTF-8"))?;
                PyString::new(py, s).into_any()
            }
            0xc4..=0xc6 => {
                let n = self.be(1 << (m - 0xc4))? as usize;
                PyBytes::new(py, self.take(n)?).into_any()
            }
            0x90..=0x9f | 0xdc | 0xdd => {
                let n = match m {
                    0xdc => self.be(2)?,
                    0xdd => self.be(4)?,
                    _ => (m & 0x0f) as u64,
                } as usize;
                if n > self.b.len() - self.pos {
                    return Err(self.bad("array longer than the message"));
                }
                let l = PyList::empty(py);
                for _ in 0..n {
                    l.append(self.value(py, depth + 1)?)?;
                }
                l.into_any()
            }
            0x80..=0x8f | 0xde | 0xdf => {
                let n = match m {
                    0xde => self.be(2)?,
                    0xdf => self.be(4)?,
                    _ => (m & 0x0f) as u64,
                } as usize;
                if n.saturating_mul(2) > self.b.len() - self.pos {
                    return Err(self.bad("map longer than the message"));
                }
                let d = PyDict::new(py);
                for _ in 0..n {
                    let k = self.value(py, depth + 1)?;
                    let v = self.value(py, depth + 1)?;
                    d.set_item(k, v).map_err(|e| self.bad(&format!("unhashable key: {e}")))?;
                }
                d.into_any()
            }
            _ => return Err(self.bad(&format!("unsupported marker {m:#04x} (ext types are not used by tensorbus)"))),
        };
        Ok(v)
    }
}

/// Decode one MessagePack value (the whole buffer).
pub fn decode<'py>(py: Python<'py>, b: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    let mut r = Reader { b, pos: 0 };
    let v = r.value(py, 0)?;
    if r.pos != b.len() {
        return Err(r.bad("trailing bytes"));
    }
    Ok(v)
}

/// `packb(obj) -> bytes` and `unpackb(bytes) -> obj`: the codec dict topics use.
#[pyfunction]
pub fn packb<'py>(py: Python<'py>, obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    Ok(PyBytes::new(py, &encode(obj)?))
}

#[pyfunction]
pub fn unpackb<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    decode(py, data)
}

/// Field element types of a POD message (the `tb.u8`..`tb.f64` names).
#[derive(Clone, Copy)]
enum Prim {
    U8,
    U16,
    U32,
    U64,
    I8,
    I16,
    I32,
    I64,
    F32,
    F64,
}

impl Prim {
    fn parse(s: &str) -> Option<Prim> {
        Some(match s {
            "u8" => Prim::U8,
            "u16" => Prim::U16,
            "u32" => Prim::U32,
            "u64" => Prim::U64,
            "i8" => Prim::I8,
            "i16" => Prim::I16,
            "i32" => Prim::I32,
            "i64" => Prim::I64,
            "f32" => Prim::F32,
            "f64" => Prim::F64,
            _ => return None,
        })
    }
    fn size(self) -> usize {
        match self {
            Prim::U8 | Prim::I8 => 1,
            Prim::U16 | Prim::I16 => 2,
            Prim::U32 | Prim::I32 | Prim::F32 => 4,
            Prim::U64 | Prim::I64 | Prim::F64 => 8,
        }
    }
    fn write(self, v: &Bound<'_, PyAny>, out: &mut impl Out, field: &Bound<'_, PyString>) -> PyResult<()> {
        // The field name is only turned into a Rust string on the error path.
        let range = |e: PyErr| exc::DTypeError::new_err(format!("field {}: {e}", field.to_string_lossy()));
        match self {
            Prim::F32 => out.put(&(v.extract::<f64>().map_err(range)? as f32).to_le_bytes()),
            Prim::F64 => out.put(&v.extract::<f64>().map_err(range)?.to_le_bytes()),
            Prim::U8 => out.put(&v.extract::<u8>().map_err(range)?.to_le_bytes()),
            Prim::U16 => out.put(&v.extract::<u16>().map_err(range)?.to_le_bytes()),
            Prim::U32 => out.put(&v.extract::<u32>().map_err(range)?.to_le_bytes()),
            Prim::U64 => out.put(&v.extract::<u64>().map_err(range)?.to_le_bytes()),
            Prim::I8 => out.put(&v.extract::<i8>().map_err(range)?.to_le_bytes()),
            Prim::I16 => out.put(&v.extract::<i16>().map_err(range)?.to_le_bytes()),
            Prim::I32 => out.put(&v.extract::<i32>().map_err(range)?.to_le_bytes()),
            Prim::I64 => out.put(&v.extract::<i64>().map_err(range)?.to_le_bytes()),
        }
        Ok(())
    }
    fn read<'py>(self, py: Python<'py>, b: &[u8]) -> PyResult<Bound<'py, PyAny>> {
        let a = |n: usize| -> [u8; 8] {
            let mut x = [0u8; 8];
            x[..n].copy_from_slice(&b[..n]);
            x
        };
        Ok(match self {
            Prim::F32 => (f32::from_le_bytes(a(4)[..4].try_into().expect("4")) as f64).into_pyobject(py)?.into_any(),
            Prim::F64 => f64::from_le_bytes(a(8)).into_pyobject(py)?.into_any(),
            Prim::U8 => (b[0] as u64).into_pyobject(py)?.into_any(),
            Prim::U16 => (u16::from_le_bytes(a(2)[..2].try_into().expect("2")) as u64).into_pyobject(py)?.into_any(),
            Prim::U32 => (u32::from_le_bytes(a(4)[..4].try_into().expect("4")) as u64).into_pyobject(py)?.into_any(),
            Prim::U64 => u64::from_le_bytes(a(8)).into_pyobject(py)?.into_any(),
            Prim::I8 => (b[0] as i8 as i64).into_pyobject(py)?.into_any(),
            Prim::I16 => (i16::from_le_bytes(a(2)[..2].try_into().expect("2")) as i64).into_pyobject(py)?.into_any(),
            Prim::I32 => (i32::from_le_bytes(a(4)[..4].try_into().expect("4")) as i64).into_pyobject(py)?.into_any(),
            Prim::I64 => i64::from_le_bytes(a(8)).into_pyobject(py)?.into_any(),
        })
    }
}

/// Where a message is packed: a `Vec`, or a buffer on the stack for small messages.
trait Out {
    fn put(&mut self, b: &[u8]);
}
impl Out for Vec<u8> {
    fn put(&mut self, b: &[u8]) {
        self.extend_from_slice(b);
    }
}
/// A packing buffer on the stack, for messages of at most `STACK_MSG` bytes (every inline one).
struct StackBuf {
    buf: [u8; STACK_MSG],
    len: usize,
}
const STACK_MSG: usize = 128;
impl Out for StackBuf {
    fn put(&mut self, b: &[u8]) {
        // Bounds-checked: a message longer than its class's size is a bug, a panic, not a write
        // past the buffer.
        self.buf[self.len..self.len + b.len()].copy_from_slice(b);
        self.len += b.len();
    }
}

/// Packs and unpacks one `@tb.message` class in Rust (attribute reads and writes only), the
/// fast path of typed topics. Built from the class's validated `_tb_fields`.
pub struct PodCodec {
    cls: Py<PyType>,
    new: Py<PyAny>,
    /// (attribute name, element type, array length or 0 for a scalar, is timestamp_ns)
    fields: Vec<(Py<PyString>, Prim, usize, bool)>,
    size: usize,
    /// The class takes `object.__new__` and has `__slots__`: allocate it directly.
    plain_slots: bool,
    /// Byte offset of each field's slot in an instance, in `fields` order, when the class is a
    /// plain `__slots__` class with the default attribute protocol (`slot_offsets`): packing
    /// and unpacking then read and write the slots directly instead of going through
    /// `getattr`/`setattr` (a type lookup and a descriptor call per field per message).
    slots: Option<Vec<usize>>,
    /// The class is exactly one of the native standard messages (`stdmsg.rs`): instances of
    /// exactly that class are packed and built in Rust without Python objects per field.
    native: Option<crate::stdmsg::NativeOps>,
}

/// Where each field's slot lives in an instance of `cls`, found by experiment: on a fresh
/// instance, each field in turn is set to a sentinel object through the normal `setattr`, and the
/// instance's own memory (`__basicsize__` bytes past the object header) is searched for that
/// pointer. None (use `getattr`/`setattr`) unless every field is found exactly once, at distinct
/// offsets, and the class leaves `__getattribute__`/`__setattr__` to `object`.
fn slot_offsets(cls: &Bound<'_, PyType>, fields: &[(Py<PyString>, Prim, usize, bool)], plain_slots: bool) -> PyResult<Option<Vec<usize>>> {
    let py = cls.py();
    let object = py.get_type::<PyAny>();
    if !plain_slots
        || !cls.getattr("__setattr__")?.is(&object.getattr("__setattr__")?)
        || !cls.getattr("__getattribute__")?.is(&object.getattr("__getattribute__")?)
        || cls.hasattr("__getattr__")?
    {
        return Ok(None);
    }
    let basic: usize = cls.getattr("__basicsize__")?.extract()?;
    let word = std::mem::size_of::<usize>();
    let header = std::mem::size_of::<pyo3::ffi::PyObject>();
    // SAFETY: `cls` is a live type object; GenericAlloc returns a new, zeroed instance of
    // `__basicsize__` bytes, or NULL with an exception set (turned into a PyErr).
    let probe = unsafe { Bound::from_owned_ptr_or_err(py, pyo3::ffi::PyType_GenericAlloc(cls.as_type_ptr(), 0))? };
    let mut offsets = Vec::with_capacity(fields.len());
    for (name, ..) in fields {
        let sentinel = pyo3::types::PyList::empty(py);
        probe.setattr(name.bind(py), &sentinel)?;
        let base = probe.as_ptr() as *const u8;
        let mut found = (header..basic).step_by(word).filter(|&off| {
            // SAFETY: `off + word <= basic` (step_by from `header`, a multiple of the word, below
            // `basic`, itself a multiple of the word for a slots class): inside the instance.
            let p = unsafe { std::ptr::read_unaligned(base.add(off) as *const *mut pyo3::ffi::PyObject) };
            p == sentinel.as_ptr()
        });
        match (found.next(), found.next()) {
            (Some(off), None) if off + word <= basic && !offsets.contains(&off) => offsets.push(off),
            _ => return Ok(None),
        }
    }
    Ok(Some(offsets))
}

impl PodCodec {
    pub fn from_class(cls: &Bound<'_, PyType>) -> PyResult<PodCodec> {
        let py = cls.py();
        let mut fields = Vec::new();
        let mut size = 0;
        for f in cls.getattr("_tb_fields")?.try_iter()? {
            let (name, ftype): (String, Bound<'_, PyAny>) = f?.extract()?;
            let tname: String = ftype.getattr("name")?.extract()?;
            let (prim, n) = if let Some(inner) = tname.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
                let (e, n) = inner.split_once(';').ok_or_else(|| exc::TensorbusError::new_err(format!("bad field type {tname}")))?;
                (Prim::parse(e.trim()), n.trim().parse::<usize>().ok().filter(|&n| n > 0).ok_or_else(|| exc::TensorbusError::new_err(format!("bad field type {tname}")))?)
            } else {
                (Prim::parse(&tname), 0)
            };
            let prim = prim.ok_or_else(|| exc::TensorbusError::new_err(format!("bad field type {tname}")))?;
            size += prim.size() * n.max(1);
            let is_ts = name == "timestamp_ns" && n == 0;
            // Interned: CPython interns attribute names on every getattr/setattr with a
            // non-interned key (a dict lookup per field per message, seen in a perf profile).
            fields.push((PyString::intern(py, &name).unbind(), prim, n, is_ts));
        }
        // GenericAlloc stands in for `object.__new__` only when that is what the class uses.
        let object_new = py.get_type::<pyo3::types::PyAny>().getattr("__new__")?;
        let plain_slots = cls.getattr("__new__")?.is(&object_new) && cls.hasattr("__slots__")?;
        let slots = slot_offsets(cls, &fields, plain_slots)?;
        let native = crate::stdmsg::ops_for(cls).filter(|n| n.size == size);
        Ok(PodCodec { cls: cls.clone().unbind(), new: cls.getattr("__new__")?.unbind(), fields, size, plain_slots, slots, native })
    }

    /// True if `obj` is an instance of exactly this class.
    pub fn is_instance(&self, obj: &Bound<'_, PyAny>) -> bool {
        obj.get_type().is(self.cls.bind(obj.py()))
    }

    /// Run `f` on the message's bytes; a `timestamp_ns` of 0 is stamped with the current time.
    /// A message of up to `STACK_MSG` bytes is built on the stack, a larger one in a `Vec` (a
    /// `malloc` + `free` per send showed in perf, and so did the thread-local buffer that
    /// replaced it).
    pub fn with_packed<R>(&self, obj: &Bound<'_, PyAny>, f: impl FnOnce(&[u8]) -> R) -> PyResult<R> {
        if self.size <= STACK_MSG {
            let mut out = StackBuf { buf: [0; STACK_MSG], len: 0 };
            // A standard message of exactly its class: packed natively into the same buffer.
            if self.native.is_some_and(|n| (n.pack)(obj, &mut out.buf[..self.size])) {
                return Ok(f(&out.buf[..self.size]));
            }
            self.pack_into(obj, &mut out)?;
            Ok(f(&out.buf[..out.len]))
        } else {
            let mut out = Vec::with_capacity(self.size);
            self.pack_into(obj, &mut out)?;
            Ok(f(&out))
        }
    }

    /// Field `i` of `obj`: read from its slot when the offsets are known and `obj` is exactly
    /// this class, else through `getattr` (which also raises for an unset field).
    fn field<'py>(&self, obj: &Bound<'py, PyAny>, exact: bool, i: usize) -> PyResult<Bound<'py, PyAny>> {
        if let (true, Some(slots)) = (exact, &self.slots) {
            // SAFETY: `obj` is an instance of exactly `self.cls` (`exact`), whose field `i` lives
            // at `slots[i]` (`slot_offsets`): a PyObject pointer, NULL while unset. A non-NULL
            // pointer is a strong reference the instance owns; we take a new one.
            unsafe {
                let p = std::ptr::read((obj.as_ptr() as *const u8).add(slots[i]) as *const *mut pyo3::ffi::PyObject);
                if !p.is_null() {
                    return Ok(Bound::from_borrowed_ptr(obj.py(), p));
                }
            }
        }
        obj.getattr(self.fields[i].0.bind(obj.py()))
    }

    fn pack_into(&self, obj: &Bound<'_, PyAny>, out: &mut impl Out) -> PyResult<()> {
        let exact = self.is_instance(obj);
        for (i, (name, prim, n, is_ts)) in self.fields.iter().enumerate() {
            let name = name.bind(obj.py());
            let v = self.field(obj, exact, i)?;
            if *n == 0 {
                if *is_ts && v.extract::<u64>().is_ok_and(|t| t == 0) {
                    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
                    out.put(&now.to_le_bytes());
                } else {
                    prim.write(&v, out, name)?;
                }
            } else {
                let items: Vec<Bound<'_, PyAny>> = v.try_iter()?.collect::<PyResult<_>>()?;
                if items.len() != *n {
                    return Err(exc::ShapeError::new_err(format!("field {} needs {n} values, got {}", name.to_cow()?, items.len())));
                }
                for it in &items {
                    prim.write(it, out, name)?;
                }
            }
        }
        Ok(())
    }

    /// A new, empty instance: the type's allocation without `__init__` (every field is set by
    /// the caller). `PyType_GenericAlloc` is what `object.__new__` does for a `__slots__` class,
    /// minus the argument tuple and the call; fall back to `__new__` for any other class.
    fn alloc<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let cls = self.cls.bind(py);
        if self.plain_slots {
            // SAFETY: `cls` is a live type object (we hold a reference); PyType_GenericAlloc
            // returns a new reference or NULL with an exception set, which from_owned_ptr_or_err
            // turns into a PyErr.
            unsafe { Bound::from_owned_ptr_or_err(py, pyo3::ffi::PyType_GenericAlloc(cls.as_type_ptr(), 0)) }
        } else {
            self.new.bind(py).call1((cls,))
        }
    }

    /// A new instance from exactly `size` bytes.
    pub fn unpack<'py>(&self, py: Python<'py>, b: &[u8]) -> PyResult<Bound<'py, PyAny>> {
        if b.len() != self.size {
            return Err(exc::InvalidDescriptorError::new_err(format!("message of {} bytes, the type needs {}", b.len(), self.size)));
        }
        if let Some(native) = self.native {
            return (native.unpack)(py, b);
        }
        let obj = self.alloc(py)?;
        let mut at = 0;
        for (i, (name, prim, n, _)) in self.fields.iter().enumerate() {
            let w = prim.size();
            let v = if *n == 0 {
                at += w;
                prim.read(py, &b[at - w..at])?
            } else {
                let mut vals = Vec::with_capacity(*n);
                for _ in 0..*n {
                    vals.push(prim.read(py, &b[at..at + w])?);
                    at += w;
                }
                PyTuple::new(py, vals)?.into_any()
            };
            match &self.slots {
                // SAFETY: `obj` was just allocated as exactly `self.cls` (`plain_slots` holds
                // whenever `slots` is set), zeroed, so field `i`'s slot at `slots[i]` is NULL and
                // nothing is overwritten; the slot takes over `v`'s reference.
                Some(slots) => unsafe { std::ptr::write((obj.as_ptr() as *mut u8).add(slots[i]) as *mut *mut pyo3::ffi::PyObject, v.into_ptr()) },
                None => obj.setattr(name.bind(py), v)?,
            }
        }
        Ok(obj)
    }
}
