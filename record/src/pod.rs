//! POD messages as JSON: a field list (`"name:type;"`, as `Pod::FIELDS` and Python's
//! `@tb.message` write it) parsed into a layout, the bytes of a message turned into a JSON object
//! and back, and the JSON Schema of the type (what Foxglove shows and `mcap` readers decode).
//!
//! The layout is C's with no padding (what `pod_message!` enforces): each field follows the
//! previous one. The standard messages' field lists come from their `Pod` impls.

use serde_json::{json, Map, Value};
use tensorbus::msgs::{CmdVel, Detection, Heartbeat, Imu, Pose2D, Twist};
use tensorbus::Pod;

/// A field's element type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prim {
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
        Some(match s.trim() {
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
    pub fn size(self) -> usize {
        match self {
            Prim::U8 | Prim::I8 => 1,
            Prim::U16 | Prim::I16 => 2,
            Prim::U32 | Prim::I32 | Prim::F32 => 4,
            Prim::U64 | Prim::I64 | Prim::F64 => 8,
        }
    }
    fn read(self, b: &[u8]) -> Value {
        let a = |n: usize| -> [u8; 8] {
            let mut x = [0u8; 8];
            x[..n].copy_from_slice(&b[..n]);
            x
        };
        match self {
            Prim::U8 => json!(b[0]),
            Prim::I8 => json!(b[0] as i8),
            Prim::U16 => json!(u16::from_le_bytes([b[0], b[1]])),
            Prim::I16 => json!(i16::from_le_bytes([b[0], b[1]])),
            Prim::U32 => json!(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            Prim::I32 => json!(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            Prim::F32 => json!(f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64),
            Prim::U64 => json!(u64::from_le_bytes(a(8))),
            Prim::I64 => json!(i64::from_le_bytes(a(8))),
            Prim::F64 => json!(f64::from_le_bytes(a(8))),
        }
    }
    fn write(self, v: &Value, out: &mut Vec<u8>) -> Option<()> {
        match self {
            Prim::U8 => out.push(u8::try_from(v.as_u64()?).ok()?),
            Prim::I8 => out.push(i8::try_from(v.as_i64()?).ok()? as u8),
            Prim::U16 => out.extend(u16::try_from(v.as_u64()?).ok()?.to_le_bytes()),
            Prim::I16 => out.extend(i16::try_from(v.as_i64()?).ok()?.to_le_bytes()),
            Prim::U32 => out.extend(u32::try_from(v.as_u64()?).ok()?.to_le_bytes()),
            Prim::I32 => out.extend(i32::try_from(v.as_i64()?).ok()?.to_le_bytes()),
            Prim::U64 => out.extend(v.as_u64()?.to_le_bytes()),
            Prim::I64 => out.extend(v.as_i64()?.to_le_bytes()),
            Prim::F32 => out.extend((v.as_f64()? as f32).to_le_bytes()),
            Prim::F64 => out.extend(v.as_f64()?.to_le_bytes()),
        }
        Some(())
    }
}

/// One field: name, element type, count (1 for a scalar).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub prim: Prim,
    pub count: usize,
    pub array: bool,
}

/// A POD message's layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub fields: Vec<Field>,
}

impl Layout {
    /// Parse `"a:u64;b:[f64; 3];"`; None for anything else.
    pub fn parse(fields: &str) -> Option<Layout> {
        let mut out = Vec::new();
        // Fields end with `;`, except the `;` inside an array type's brackets.
        let mut parts = Vec::new();
        let (mut depth, mut start) = (0usize, 0usize);
        for (i, c) in fields.char_indices() {
            match c {
                '[' => depth += 1,
                ']' => depth = depth.checked_sub(1)?,
                ';' if depth == 0 => {
                    parts.push(&fields[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        parts.push(&fields[start..]);
        for part in parts.into_iter().map(str::trim).filter(|p| !p.is_empty()) {
            let (name, ty) = part.split_once(':')?;
            let ty = ty.trim();
            let field = if let Some(inner) = ty.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
                let (elem, n) = inner.split_once(';')?;
                Field { name: name.trim().to_string(), prim: Prim::parse(elem)?, count: n.trim().parse().ok().filter(|&n: &usize| n > 0)?, array: true }
            } else {
                Field { name: name.trim().to_string(), prim: Prim::parse(ty)?, count: 1, array: false }
            };
            out.push(field);
        }
        (!out.is_empty()).then_some(Layout { fields: out })
    }

    /// Bytes of one message.
    pub fn size(&self) -> usize {
        self.fields.iter().map(|f| f.prim.size() * f.count).sum()
    }

    /// The message as a JSON object (None when `b` has another size).
    pub fn to_json(&self, b: &[u8]) -> Option<Value> {
        if b.len() != self.size() {
            return None;
        }
        let mut m = Map::new();
        let mut at = 0;
        for f in &self.fields {
            let vals: Vec<Value> = (0..f.count).map(|i| f.prim.read(&b[at + i * f.prim.size()..])).collect();
            at += f.prim.size() * f.count;
            m.insert(f.name.clone(), if f.array { Value::Array(vals) } else { vals.into_iter().next().expect("count >= 1") });
        }
        Some(Value::Object(m))
    }

    /// The bytes of a JSON object with every field (None when one is missing or out of range).
    pub fn from_json(&self, v: &Value) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(self.size());
        for f in &self.fields {
            let x = v.get(&f.name)?;
            if f.array {
                let a = x.as_array().filter(|a| a.len() == f.count)?;
                for e in a {
                    f.prim.write(e, &mut out)?;
                }
            } else {
                f.prim.write(x, &mut out)?;
            }
        }
        Some(out)
    }

    /// The JSON Schema of the type named `title`.
    pub fn json_schema(&self, title: &str) -> Value {
        let mut props = Map::new();
        for f in &self.fields {
            let elem = if matches!(f.prim, Prim::F32 | Prim::F64) { json!({"type": "number"}) } else { json!({"type": "integer"}) };
            let s = if f.array { json!({"type": "array", "items": elem, "minItems": f.count, "maxItems": f.count}) } else { elem };
            props.insert(f.name.clone(), s);
        }
        json!({"title": title, "type": "object", "properties": props, "required": self.fields.iter().map(|f| f.name.clone()).collect::<Vec<_>>()})
    }
}

/// The field list of a standard message (by its topic's type name and layout hash).
pub fn standard_fields(type_name: &str, hash: u64) -> Option<&'static str> {
    fn of<T: Pod>() -> (&'static str, u64, &'static str) {
        (T::TYPE_NAME, T::LAYOUT_HASH, T::FIELDS)
    }
    [of::<CmdVel>(), of::<Twist>(), of::<Pose2D>(), of::<Imu>(), of::<Detection>(), of::<Heartbeat>()]
        .into_iter()
        .find(|(n, h, _)| *n == type_name && *h == hash)
        .map(|(_, _, f)| f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_messages_round_trip_through_json() {
        let t = Twist { timestamp_ns: 7, linear: [1.0, 2.0, 3.0], angular: [-1.0, 0.5, 0.25] };
        let l = Layout::parse(standard_fields("Twist", Twist::LAYOUT_HASH).unwrap()).unwrap();
        assert_eq!(l.size(), std::mem::size_of::<Twist>());
        let j = l.to_json(t.as_bytes()).unwrap();
        assert_eq!(j, json!({"timestamp_ns": 7, "linear": [1.0, 2.0, 3.0], "angular": [-1.0, 0.5, 0.25]}));
        assert_eq!(l.from_json(&j).unwrap(), t.as_bytes());
        assert!(standard_fields("Twist", 1).is_none(), "another layout of the same name");
        for (name, hash) in [(CmdVel::TYPE_NAME, CmdVel::LAYOUT_HASH), (Imu::TYPE_NAME, Imu::LAYOUT_HASH), (Detection::TYPE_NAME, Detection::LAYOUT_HASH)] {
            assert!(Layout::parse(standard_fields(name, hash).unwrap()).is_some(), "{name}");
        }
        assert!(Layout::parse("a:u7;").is_none() && Layout::parse("a:[f32; 0];").is_none() && Layout::parse("").is_none());
        assert!(l.to_json(&[0u8; 3]).is_none());
        assert!(l.from_json(&json!({"timestamp_ns": -1})).is_none());
    }
}
