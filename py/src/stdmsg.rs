//! The standard messages (`tb.CmdVel`, `tb.Twist`, `tb.Pose2D`, `tb.Imu`, `tb.Detection`,
//! `tb.Heartbeat`) as native classes: the same wire layout as Rust's `src/msgs.rs`, one PyO3
//! class each with typed fields and a free list, so constructing, sending and receiving one
//! makes no per-field Python objects (a typed topic packs it and builds it in Rust,
//! `message::PodCodec`'s native fast path).
//!
//! What stays as it was for `@tb.message` classes: f32 fields hold the float they were given
//! (stored as f64, rounded only on the wire), array fields read back as tuples and take any
//! sequence of the right length, `timestamp_ns` is the last constructor argument and a 0 is
//! stamped at send. `messages.py` adds the class attributes the rest of the package reads
//! (`_tb_fields`, `_tb_spec`, `_tb_hash`, `topic_name`, ...) and `__repr__`, `__eq__`,
//! `__reduce__`, computed the same way as for a declared class. Subclasses are allowed; their
//! instances are packed through their attributes (a property of theirs is honoured).

use crate::errors::exc;
use pyo3::prelude::*;
use pyo3::pyclass_init::PyClassInitializer;
use pyo3::types::{PyBytes, PyTuple, PyType};
use pyo3::PyClass;

/// A field's place on the wire: little-endian, packed in declaration order.
trait Wire: Sized {
    fn put(&self, out: &mut [u8], at: &mut usize);
    fn take(b: &[u8], at: &mut usize) -> Self;
}

fn put_bytes(out: &mut [u8], at: &mut usize, b: &[u8]) {
    out[*at..*at + b.len()].copy_from_slice(b);
    *at += b.len();
}

fn take_bytes<const N: usize>(b: &[u8], at: &mut usize) -> [u8; N] {
    let mut x = [0u8; N];
    x.copy_from_slice(&b[*at..*at + N]);
    *at += N;
    x
}

macro_rules! plain_wire {
    ($($t:ty),*) => {$(
        impl Wire for $t {
            fn put(&self, out: &mut [u8], at: &mut usize) {
                put_bytes(out, at, &self.to_le_bytes());
            }
            fn take(b: &[u8], at: &mut usize) -> Self {
                <$t>::from_le_bytes(take_bytes(b, at))
            }
        }
    )*};
}
plain_wire!(u32, u64, f64);

/// An f32 field: the Python float as given, an f32 on the wire.
#[derive(Clone, Copy, Default, PartialEq, Debug)]
pub struct F32(f64);

impl Wire for F32 {
    fn put(&self, out: &mut [u8], at: &mut usize) {
        put_bytes(out, at, &(self.0 as f32).to_le_bytes());
    }
    fn take(b: &[u8], at: &mut usize) -> Self {
        F32(f32::from_le_bytes(take_bytes(b, at)) as f64)
    }
}

impl<'py> IntoPyObject<'py> for F32 {
    type Target = pyo3::types::PyFloat;
    type Output = Bound<'py, pyo3::types::PyFloat>;
    type Error = std::convert::Infallible;
    fn into_pyobject(self, py: Python<'py>) -> Result<Self::Output, Self::Error> {
        self.0.into_pyobject(py)
    }
}

impl<'a, 'py> FromPyObject<'a, 'py> for F32 {
    type Error = PyErr;
    fn extract(obj: pyo3::Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        Ok(F32(obj.extract::<f64>()?))
    }
}

/// An `[f64; N]` field: a tuple when read; any sequence of exactly `N` numbers when written.
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct Arr<const N: usize>([f64; N]);

impl<const N: usize> Default for Arr<N> {
    fn default() -> Self {
        Arr([0.0; N])
    }
}

impl<const N: usize> Wire for Arr<N> {
    fn put(&self, out: &mut [u8], at: &mut usize) {
        for v in &self.0 {
            v.put(out, at);
        }
    }
    fn take(b: &[u8], at: &mut usize) -> Self {
        let mut a = [0.0; N];
        for v in &mut a {
            *v = f64::take(b, at);
        }
        Arr(a)
    }
}

impl<'py, const N: usize> IntoPyObject<'py> for Arr<N> {
    type Target = PyTuple;
    type Output = Bound<'py, PyTuple>;
    type Error = PyErr;
    fn into_pyobject(self, py: Python<'py>) -> PyResult<Self::Output> {
        PyTuple::new(py, self.0)
    }
}

impl<'a, 'py, const N: usize> FromPyObject<'a, 'py> for Arr<N> {
    type Error = PyErr;
    fn extract(obj: pyo3::Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        let items = obj
            .try_iter()
            .map_err(|_| exc::DTypeError::new_err(format!("expected a sequence of {N} numbers, not {}", obj.get_type().name().map(|n| n.to_string()).unwrap_or_default())))?;
        let mut a = [0.0; N];
        let mut n = 0;
        for item in items {
            let item = item?;
            if n == N {
                return Err(exc::ShapeError::new_err(format!("expected {N} values, got more")));
            }
            a[n] = item.extract::<f64>().map_err(|e| exc::DTypeError::new_err(format!("value {n}: {e}")))?;
            n += 1;
        }
        if n != N {
            return Err(exc::ShapeError::new_err(format!("expected {N} values, got {n}")));
        }
        Ok(Arr(a))
    }
}

/// What a typed topic needs of a standard message class.
pub trait StdMessage: PyClass + Sized {
    const SIZE: usize;
    /// The wire bytes into `out` (exactly `SIZE` long); a `timestamp_ns` of 0 is stamped now.
    fn pack(&self, out: &mut [u8]);
    /// From exactly `SIZE` wire bytes.
    fn unpack(b: &[u8]) -> Self;
}

fn stamp(t: u64) -> u64 {
    if t != 0 {
        return t;
    }
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

fn size_error(name: &str, got: usize, want: usize) -> PyErr {
    exc::InvalidDescriptorError::new_err(format!("message of {got} bytes, {name} needs {want}"))
}

macro_rules! std_message {
    ($(#[$doc:meta])* $name:ident, $size:expr, { $($f:ident : $t:ty = $d:expr),* $(,)? }) => {
        $(#[$doc])*
        #[pyclass(module = "tensorbus._native", subclass, freelist = 64)]
        pub struct $name {
            #[pyo3(get, set)]
            timestamp_ns: u64,
            $(
                #[pyo3(get, set)]
                $f: $t,
            )*
        }

        #[pymethods]
        impl $name {
            #[new]
            #[pyo3(signature = ($($f = $d,)* timestamp_ns = 0))]
            fn new($($f: $t,)* timestamp_ns: u64) -> Self {
                $name { timestamp_ns, $($f),* }
            }

            /// The wire bytes (a `timestamp_ns` of 0 is stamped with the current time).
            fn _tb_pack<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
                let mut out = [0u8; $size];
                self.pack(&mut out);
                PyBytes::new(py, &out)
            }

            /// A message of this class (or a subclass: built through its attributes) from its
            /// wire bytes.
            #[classmethod]
            fn _tb_unpack<'py>(cls: &Bound<'py, PyType>, data: &[u8]) -> PyResult<Bound<'py, PyAny>> {
                let py = cls.py();
                if data.len() != $size {
                    return Err(size_error(stringify!($name), data.len(), $size));
                }
                let m = <$name as StdMessage>::unpack(data);
                if cls.is(py.get_type::<$name>()) {
                    return Ok(Bound::new(py, m)?.into_any());
                }
                let obj = cls.call0()?;
                obj.setattr("timestamp_ns", m.timestamp_ns)?;
                $( obj.setattr(stringify!($f), m.$f)?; )*
                Ok(obj)
            }
        }

        impl StdMessage for $name {
            const SIZE: usize = $size;
            fn pack(&self, out: &mut [u8]) {
                let mut at = 0;
                stamp(self.timestamp_ns).put(out, &mut at);
                $( self.$f.put(out, &mut at); )*
                debug_assert_eq!(at, $size);
            }
            fn unpack(b: &[u8]) -> Self {
                let mut at = 0;
                let timestamp_ns = u64::take(b, &mut at);
                $( let $f = <$t as Wire>::take(b, &mut at); )*
                debug_assert_eq!(at, $size);
                $name { timestamp_ns, $($f),* }
            }
        }
    };
}

std_message!(
    /// A velocity command for a planar base: forward speed (m/s) and turn rate (rad/s).
    CmdVel, 16, { linear: F32 = F32(0.0), angular: F32 = F32(0.0) }
);
std_message!(
    /// A 3-D velocity: linear (m/s) and angular (rad/s) parts.
    Twist, 56, { linear: Arr<3> = Arr([0.0; 3]), angular: Arr<3> = Arr([0.0; 3]) }
);
std_message!(
    /// A planar pose: x, y (m), heading theta (rad).
    Pose2D, 32, { x: f64 = 0.0, y: f64 = 0.0, theta: f64 = 0.0 }
);
std_message!(
    /// An inertial measurement: orientation quaternion (x, y, z, w), angular velocity, linear acceleration.
    Imu, 88, { orientation: Arr<4> = Arr([0.0; 4]), angular_velocity: Arr<3> = Arr([0.0; 3]), linear_acceleration: Arr<3> = Arr([0.0; 3]) }
);
std_message!(
    /// One detected object: class id, score, and bounding box (x, y, w, h) in pixels.
    Detection, 32, { class_id: u32 = 0, score: F32 = F32(0.0), x: F32 = F32(0.0), y: F32 = F32(0.0), w: F32 = F32(0.0), h: F32 = F32(0.0) }
);
std_message!(
    /// A liveness signal: beat counter, uptime (s), pid and a state code (0 = ok).
    Heartbeat, 32, { seq: u64 = 0, uptime_s: f64 = 0.0, pid: u32 = 0, state: u32 = 0 }
);

/// A typed topic's native fast path for one standard class: pack an instance of exactly that
/// class, build one from wire bytes.
#[derive(Clone, Copy)]
pub struct NativeOps {
    pub size: usize,
    /// False (and nothing written) unless `obj` is exactly the class.
    pub pack: fn(&Bound<'_, PyAny>, &mut [u8]) -> bool,
    pub unpack: for<'py> fn(Python<'py>, &[u8]) -> PyResult<Bound<'py, PyAny>>,
}

fn pack_exact<T: StdMessage>(obj: &Bound<'_, PyAny>, out: &mut [u8]) -> bool {
    // A message borrowed mutably elsewhere (only possible without the GIL) takes the attribute
    // path, which raises PyO3's borrow error.
    match obj.cast_exact::<T>().ok().and_then(|m| m.try_borrow().ok()) {
        Some(m) => {
            m.pack(out);
            true
        }
        None => false,
    }
}

fn unpack_new<'py, T: StdMessage + Into<PyClassInitializer<T>>>(py: Python<'py>, b: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    Ok(Bound::new(py, T::unpack(b))?.into_any())
}

fn ops<T: StdMessage + Into<PyClassInitializer<T>>>() -> NativeOps {
    NativeOps { size: T::SIZE, pack: pack_exact::<T>, unpack: unpack_new::<T> }
}

/// The native fast path of `cls`, if it is exactly one of the standard classes.
pub fn ops_for(cls: &Bound<'_, PyType>) -> Option<NativeOps> {
    let py = cls.py();
    [
        (py.get_type::<CmdVel>(), ops::<CmdVel>()),
        (py.get_type::<Twist>(), ops::<Twist>()),
        (py.get_type::<Pose2D>(), ops::<Pose2D>()),
        (py.get_type::<Imu>(), ops::<Imu>()),
        (py.get_type::<Detection>(), ops::<Detection>()),
        (py.get_type::<Heartbeat>(), ops::<Heartbeat>()),
    ]
    .into_iter()
    .find(|(t, _)| cls.is(t))
    .map(|(_, o)| o)
}

/// Register the classes in the extension module.
pub fn add_classes(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<CmdVel>()?;
    m.add_class::<Twist>()?;
    m.add_class::<Pose2D>()?;
    m.add_class::<Imu>()?;
    m.add_class::<Detection>()?;
    m.add_class::<Heartbeat>()?;
    Ok(())
}
