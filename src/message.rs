//! Fixed-size plain-old-data messages ([`Pod`]) and the [`pod_message!`](crate::pod_message)
//! macro that declares them.
//!
//! A POD message is a `#[repr(C)]` struct of numbers and arrays of numbers with no padding, so
//! every byte is initialized and every bit pattern is a valid value. It travels as its raw
//! bytes: inline in the topic's ring entry when it fits ([`INLINE_MAX`] = 104 bytes: 48 in the
//! descriptor, the rest after it), otherwise in a pool slot. Its topic carries `TYPE_NAME`, `size_of` and `LAYOUT_HASH`, so a
//! reader with another layout is refused when it opens the topic.
//!
//! The layout hash ([`type_hash`]) is computed from the field list as written in Rust
//! (`"name:type;"` for every field, e.g. `"timestamp_ns:u64;linear:f32;angular:f32;"`, array types
//! spelled `[f64; 3]`), the struct size and the field offsets. A binding that declares messages at
//! run time (Python) computes the same value with the same inputs.
//!
//! [`INLINE_MAX`]: tensorbus_pool::ring::INLINE_MAX

use tensorbus_pool::segment::layout_hash;

/// A fixed-size message that travels as its bytes.
///
/// # Safety
/// Implementors must be `#[repr(C)]`, contain no padding bytes, no pointers or references,
/// and be valid for every bit pattern (integers, floats, arrays of them, other `Pod` types).
/// Use [`pod_message!`](crate::pod_message), which checks all of this at compile time.
pub unsafe trait Pod: Copy + Send + Sync + 'static {
    /// Type name carried by the topic (e.g. `CmdVel`).
    const TYPE_NAME: &'static str;
    /// Layout hash ([`type_hash`]) carried by the topic.
    const LAYOUT_HASH: u64;
    /// The field list the hash is computed from (`"name:type;"` per field, in order; types as
    /// written in Rust, arrays `[f64; 3]`): what a recorder needs to describe the bytes. Empty
    /// for a hand-written impl that does not say.
    const FIELDS: &'static str = "";

    /// Default topic name: `TYPE_NAME` in snake_case (`CmdVel` → `cmd_vel`).
    fn topic_name() -> String {
        snake_case(Self::TYPE_NAME)
    }

    /// The message's bytes (no copy).
    fn as_bytes(&self) -> &[u8] {
        // SAFETY: `Pod` guarantees no padding, so all size_of::<Self>() bytes are initialized.
        unsafe { std::slice::from_raw_parts(self as *const Self as *const u8, std::mem::size_of::<Self>()) }
    }

    /// Read a message from exactly `size_of::<Self>()` bytes (any alignment), or None.
    fn from_bytes(b: &[u8]) -> Option<Self> {
        if b.len() != std::mem::size_of::<Self>() {
            return None;
        }
        // SAFETY: the length matches and `Pod` types are valid for every bit pattern;
        // read_unaligned has no alignment requirement.
        Some(unsafe { std::ptr::read_unaligned(b.as_ptr() as *const Self) })
    }
}

/// Field types a [`pod_message!`](crate::pod_message) may contain: valid for every bit pattern,
/// no padding.
///
/// # Safety
/// Only for types with no padding that are valid for every bit pattern.
pub unsafe trait PodField: Copy + Send + Sync + 'static {}

macro_rules! pod_field {
    ($($t:ty),*) => { $(
        // SAFETY: primitive integers and floats: no padding, every bit pattern valid.
        unsafe impl PodField for $t {}
    )* };
}
pod_field!(u8, u16, u32, u64, i8, i16, i32, i64, f32, f64);
// SAFETY: an array of padding-free, all-bit-patterns-valid elements is the same.
unsafe impl<T: PodField, const N: usize> PodField for [T; N] {}
// SAFETY: a Pod message is padding-free and valid for every bit pattern (its contract).
unsafe impl<T: Pod> PodField for T {}

/// The layout hash of a POD message: FNV-1a over `fields` (the `"name:type;"` list), seeded
/// with [`layout_hash`] of `[size, offsets...]`.
pub const fn type_hash(fields: &str, size: usize, offsets: &[usize]) -> u64 {
    let mut items = [0usize; 65];
    items[0] = size;
    let mut i = 0;
    while i < offsets.len() && i < 64 {
        items[i + 1] = offsets[i];
        i += 1;
    }
    let (head, _) = items.split_at(offsets.len() + 1);
    let mut h = layout_hash(head);
    let b = fields.as_bytes();
    let mut j = 0;
    while j < b.len() {
        h ^= b[j] as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
        j += 1;
    }
    h
}

/// `CmdVel` → `cmd_vel`, `IMUData` → `imu_data`, `Pose2D` → `pose2d`.
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev = if i > 0 { Some(chars[i - 1]) } else { None };
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            let boundary = match prev {
                Some(p) if p.is_ascii_lowercase() => true,
                Some(p) if p.is_ascii_uppercase() => next_lower,
                _ => false,
            };
            if boundary {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Declare POD messages: a `#[repr(C)]` struct plus its [`Pod`] impl, with the layout (no
/// padding, field types) checked at compile time.
///
/// ```
/// tensorbus::pod_message! {
///     /// Wheel speeds.
///     pub struct WheelSpeeds {
///         /// Capture time, ns since the Unix epoch.
///         pub timestamp_ns: u64,
///         pub left: f32,
///         pub right: f32,
///     }
/// }
/// use tensorbus::Pod;
/// assert_eq!(WheelSpeeds::topic_name(), "wheel_speeds");
/// assert_eq!(std::mem::size_of::<WheelSpeeds>(), 16);
/// ```
#[macro_export]
macro_rules! pod_message {
    ($(
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $( $(#[$fmeta:meta])* $fvis:vis $field:ident : $fty:ty ),* $(,)?
        }
    )*) => { $(
        $(#[$meta])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default, PartialEq)]
        $vis struct $name {
            $( $(#[$fmeta])* $fvis $field : $fty ),*
        }

        const _: () = {
            const fn field<T: $crate::message::PodField>() -> usize { ::core::mem::size_of::<T>() }
            // No padding: the field sizes add up to the struct size.
            assert!(0 $( + field::<$fty>() )* == ::core::mem::size_of::<$name>(), concat!(stringify!($name), " has padding; reorder or pad its fields explicitly"));
        };

        // SAFETY: repr(C), fields are PodField (checked above), no padding (asserted above).
        unsafe impl $crate::message::Pod for $name {
            const TYPE_NAME: &'static str = stringify!($name);
            const FIELDS: &'static str = concat!($( stringify!($field), ":", stringify!($fty), ";" ),*);
            const LAYOUT_HASH: u64 = $crate::message::type_hash(
                concat!($( stringify!($field), ":", stringify!($fty), ";" ),*),
                ::core::mem::size_of::<$name>(),
                &[$( ::core::mem::offset_of!($name, $field) ),*],
            );
        }
    )* };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_names() {
        assert_eq!(snake_case("CmdVel"), "cmd_vel");
        assert_eq!(snake_case("Pose2D"), "pose2d");
        assert_eq!(snake_case("IMUData"), "imu_data");
        assert_eq!(snake_case("Imu"), "imu");
        assert_eq!(snake_case("Twist"), "twist");
    }

    crate::pod_message! {
        struct A { t: u64, x: f32, y: f32 }
        struct B { t: u64, x: f32, z: f32 }
        struct C { t: u64, x: [f32; 2] }
    }

    #[test]
    fn layout_hash_depends_on_names_and_types() {
        assert_ne!(A::LAYOUT_HASH, B::LAYOUT_HASH);
        assert_ne!(A::LAYOUT_HASH, C::LAYOUT_HASH);
        assert_eq!(A::LAYOUT_HASH, type_hash("t:u64;x:f32;y:f32;", 16, &[0, 8, 12]));
        assert_eq!(C::LAYOUT_HASH, type_hash("t:u64;x:[f32; 2];", 16, &[0, 8]));
    }

    #[test]
    fn bytes_round_trip() {
        let a = A { t: 5, x: 1.5, y: -2.0 };
        assert_eq!(A::from_bytes(a.as_bytes()), Some(a));
        assert_eq!(A::from_bytes(&a.as_bytes()[1..]), None);
    }
}
