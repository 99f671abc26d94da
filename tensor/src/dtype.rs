//! Element types: [`DType`] with its stable descriptor code, item size, NumPy name and DLPack
//! `(code, bits, lanes)` triple.
//!
//! The descriptor's `dtype` byte holds [`DType::code`]. Codes are part of the wire format and
//! never change; `0` is reserved (no element type), so a zeroed descriptor is never a valid
//! tensor.
//!
//! ```text
//! code name      size  DLPack (code, bits)
//!  1   uint8      1    (1 kDLUInt, 8)
//!  2   int8       1    (0 kDLInt, 8)
//!  3   uint16     2    (1, 16)
//!  4   int16      2    (0, 16)
//!  5   uint32     4    (1, 32)
//!  6   int32      4    (0, 32)
//!  7   uint64     8    (1, 64)
//!  8   int64      8    (0, 64)
//!  9   float16    2    (2 kDLFloat, 16)
//! 10   bfloat16   2    (4 kDLBfloat, 16)
//! 11   float32    4    (2, 32)
//! 12   float64    8    (2, 64)
//! 13   bool       1    (6 kDLBool, 8)
//! ```

use std::fmt;
use std::str::FromStr;

/// DLPack type codes (`DLDataTypeCode`).
pub mod dl_code {
    pub const INT: u8 = 0;
    pub const UINT: u8 = 1;
    pub const FLOAT: u8 = 2;
    pub const BFLOAT: u8 = 4;
    pub const BOOL: u8 = 6;
}

/// The element type of a payload.
///
/// ```
/// use tensorbus_tensor::DType;
/// assert_eq!(DType::F32.itemsize(), 4);
/// assert_eq!("f4".parse::<DType>().unwrap(), DType::F32);
/// assert_eq!(DType::from_code(DType::BF16.code()), Some(DType::BF16));
/// assert_eq!(DType::U8.to_dlpack(), (1, 8, 1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum DType {
    U8 = 1,
    I8 = 2,
    U16 = 3,
    I16 = 4,
    U32 = 5,
    I32 = 6,
    U64 = 7,
    I64 = 8,
    F16 = 9,
    BF16 = 10,
    F32 = 11,
    F64 = 12,
    Bool = 13,
}

impl DType {
    /// Every dtype, in code order.
    pub const ALL: [DType; 13] =
        [DType::U8, DType::I8, DType::U16, DType::I16, DType::U32, DType::I32, DType::U64, DType::I64, DType::F16, DType::BF16, DType::F32, DType::F64, DType::Bool];

    /// The stable code carried in the descriptor's `dtype` byte.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The dtype for a descriptor code, or None for an unknown code (including 0).
    pub fn from_code(code: u8) -> Option<DType> {
        match code {
            1..=13 => Some(DType::ALL[code as usize - 1]),
            _ => None,
        }
    }

    /// Bytes per element.
    pub const fn itemsize(self) -> usize {
        match self {
            DType::U8 | DType::I8 | DType::Bool => 1,
            DType::U16 | DType::I16 | DType::F16 | DType::BF16 => 2,
            DType::U32 | DType::I32 | DType::F32 => 4,
            DType::U64 | DType::I64 | DType::F64 => 8,
        }
    }

    /// The NumPy name (`"uint8"`, `"float32"`, ...; `"bfloat16"` as in ml_dtypes).
    pub const fn name(self) -> &'static str {
        match self {
            DType::U8 => "uint8",
            DType::I8 => "int8",
            DType::U16 => "uint16",
            DType::I16 => "int16",
            DType::U32 => "uint32",
            DType::I32 => "int32",
            DType::U64 => "uint64",
            DType::I64 => "int64",
            DType::F16 => "float16",
            DType::BF16 => "bfloat16",
            DType::F32 => "float32",
            DType::F64 => "float64",
            DType::Bool => "bool",
        }
    }

    /// Parse a NumPy-style name or alias: `"uint8"`, `"u1"`, `"|u1"`, `"<f4"`, `"float"`
    /// (float64, as in NumPy), `"double"`, `"half"`, `"bool_"`, `"?"`, ... Byte-order prefixes `<`, `=` and `|` are
    /// accepted (payloads are little-endian); `>` is not.
    pub fn parse(name: &str) -> Option<DType> {
        let n = name.trim();
        let n = n.strip_prefix(['<', '=', '|']).unwrap_or(n);
        let n = n.strip_prefix("numpy.").or_else(|| n.strip_prefix("np.")).or_else(|| n.strip_prefix("torch.")).unwrap_or(n);
        if n.len() == 1 {
            return DType::parse_char(n);
        }
        // NumPy's "u8"/"i8" are 8-byte types (uint64/int64), as in `np.dtype("u8")`.
        Some(match n.to_ascii_lowercase().as_str() {
            "uint8" | "u1" | "ubyte" => DType::U8,
            "int8" | "i1" | "byte" => DType::I8,
            "uint16" | "u2" | "u16" | "ushort" => DType::U16,
            "int16" | "i2" | "i16" | "short" => DType::I16,
            "uint32" | "u4" | "u32" | "uintc" => DType::U32,
            "int32" | "i4" | "i32" | "intc" => DType::I32,
            "uint64" | "u8" | "u64" | "uint" | "ulonglong" => DType::U64,
            "int64" | "i8" | "i64" | "int" | "long" | "longlong" => DType::I64,
            "float16" | "f2" | "f16" | "half" => DType::F16,
            "bfloat16" | "bf16" => DType::BF16,
            "float32" | "f4" | "f32" | "single" => DType::F32,
            "float64" | "f8" | "f64" | "double" | "float" => DType::F64,
            "bool" | "bool_" | "b1" => DType::Bool,
            _ => return None,
        })
    }

    /// NumPy single-character codes whose meaning depends on case (`"B"` uint8 vs `"b"` int8).
    fn parse_char(n: &str) -> Option<DType> {
        Some(match n {
            "?" => DType::Bool,
            "e" => DType::F16,
            "f" => DType::F32,
            "d" => DType::F64,
            "B" => DType::U8,
            "b" => DType::I8,
            "H" => DType::U16,
            "h" => DType::I16,
            "I" => DType::U32,
            "i" => DType::I32,
            "Q" | "L" => DType::U64,
            "q" | "l" => DType::I64,
            _ => return None,
        })
    }

    /// The DLPack `(code, bits, lanes)` triple.
    pub const fn to_dlpack(self) -> (u8, u8, u16) {
        let code = match self {
            DType::U8 | DType::U16 | DType::U32 | DType::U64 => dl_code::UINT,
            DType::I8 | DType::I16 | DType::I32 | DType::I64 => dl_code::INT,
            DType::F16 | DType::F32 | DType::F64 => dl_code::FLOAT,
            DType::BF16 => dl_code::BFLOAT,
            DType::Bool => dl_code::BOOL,
        };
        (code, (self.itemsize() * 8) as u8, 1)
    }

    /// The dtype for a DLPack triple; None for vector lanes or unsupported types.
    pub fn from_dlpack(code: u8, bits: u8, lanes: u16) -> Option<DType> {
        if lanes != 1 {
            return None;
        }
        Some(match (code, bits) {
            (dl_code::UINT, 8) => DType::U8,
            (dl_code::UINT, 16) => DType::U16,
            (dl_code::UINT, 32) => DType::U32,
            (dl_code::UINT, 64) => DType::U64,
            (dl_code::INT, 8) => DType::I8,
            (dl_code::INT, 16) => DType::I16,
            (dl_code::INT, 32) => DType::I32,
            (dl_code::INT, 64) => DType::I64,
            (dl_code::FLOAT, 16) => DType::F16,
            (dl_code::FLOAT, 32) => DType::F32,
            (dl_code::FLOAT, 64) => DType::F64,
            (dl_code::BFLOAT, 16) => DType::BF16,
            (dl_code::BOOL, 8) => DType::Bool,
            _ => return None,
        })
    }

    /// True for float16, bfloat16, float32, float64.
    pub const fn is_float(self) -> bool {
        matches!(self, DType::F16 | DType::BF16 | DType::F32 | DType::F64)
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown dtype name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown dtype {0:?} (expected a NumPy name such as uint8, float32, bfloat16)")]
pub struct ParseDTypeError(pub String);

impl FromStr for DType {
    type Err = ParseDTypeError;
    fn from_str(s: &str) -> Result<DType, ParseDTypeError> {
        DType::parse(s).ok_or_else(|| ParseDTypeError(s.to_string()))
    }
}

/// Rust element types that match a [`DType`] (for typed slices of a payload).
///
/// # Safety
/// `DTYPE.itemsize() == size_of::<Self>()`, and every bit pattern of that size is a valid `Self`
/// (so `bool` is deliberately not an `Element`).
pub unsafe trait Element: Copy + Send + Sync + 'static {
    const DTYPE: DType;
}

macro_rules! element {
    ($($t:ty => $d:ident),*) => {$(
        // SAFETY: a plain integer/float of exactly the dtype's size; any bit pattern is valid.
        unsafe impl Element for $t { const DTYPE: DType = DType::$d; }
    )*};
}
element!(u8 => U8, i8 => I8, u16 => U16, i16 => I16, u32 => U32, i32 => I32, u64 => U64, i64 => I64, f32 => F32, f64 => F64);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_names_and_dlpack_round_trip() {
        for d in DType::ALL {
            assert_eq!(DType::from_code(d.code()), Some(d));
            assert_eq!(DType::parse(d.name()), Some(d), "{d}");
            let (c, b, l) = d.to_dlpack();
            assert_eq!(DType::from_dlpack(c, b, l), Some(d));
            assert_eq!(b as usize, d.itemsize() * 8);
        }
        assert_eq!(DType::from_code(0), None);
        assert_eq!(DType::from_code(14), None);
        assert_eq!(DType::from_code(255), None);
    }

    #[test]
    fn numpy_aliases() {
        for (s, d) in [
            ("u1", DType::U8),
            ("|u1", DType::U8),
            ("<f4", DType::F32),
            ("float", DType::F64),
            ("f", DType::F32),
            ("u8", DType::U64),
            ("i4", DType::I32),
            ("double", DType::F64),
            ("f2", DType::F16),
            ("bf16", DType::BF16),
            ("?", DType::Bool),
            ("B", DType::U8),
            ("b", DType::I8),
            ("<i8", DType::I64),
            ("torch.float32", DType::F32),
        ] {
            assert_eq!(DType::parse(s), Some(d), "{s}");
        }
        assert!(DType::parse(">f4").is_none());
        assert!("complex64".parse::<DType>().is_err());
    }

    #[test]
    fn dlpack_rejects_lanes_and_odd_bits() {
        assert_eq!(DType::from_dlpack(2, 32, 4), None);
        assert_eq!(DType::from_dlpack(6, 1, 1), None);
        assert_eq!(DType::from_dlpack(5, 64, 1), None);
    }
}
