//! Dict messages between MessagePack (what dict topics carry) and JSON (what a recording holds by
//! default). Bytes become arrays of numbers, non-string map keys their text, NaN and the
//! infinities `null`: JSON has none of them (record with `DictEncoding::Msgpack` to keep them).

use rmpv::Value as Mp;
use serde_json::Value as Js;

/// A MessagePack value as JSON.
pub fn from_msgpack(v: &Mp) -> Js {
    match v {
        Mp::Nil => Js::Null,
        Mp::Boolean(b) => Js::Bool(*b),
        Mp::Integer(i) => i.as_i64().map(Js::from).or_else(|| i.as_u64().map(Js::from)).unwrap_or(Js::Null),
        Mp::F32(f) => serde_json::Number::from_f64(*f as f64).map_or(Js::Null, Js::Number),
        Mp::F64(f) => serde_json::Number::from_f64(*f).map_or(Js::Null, Js::Number),
        Mp::String(s) => Js::String(s.as_str().map(str::to_string).unwrap_or_else(|| String::from_utf8_lossy(s.as_bytes()).into_owned())),
        Mp::Binary(b) => Js::Array(b.iter().map(|&x| Js::from(x)).collect()),
        Mp::Array(a) => Js::Array(a.iter().map(from_msgpack).collect()),
        Mp::Map(m) => Js::Object(
            m.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Mp::String(s) => s.as_str().map(str::to_string).unwrap_or_default(),
                        other => other.to_string(),
                    };
                    (key, from_msgpack(v))
                })
                .collect(),
        ),
        Mp::Ext(_, b) => Js::Array(b.iter().map(|&x| Js::from(x)).collect()),
    }
}

/// A JSON value as MessagePack.
pub fn to_msgpack(v: &Js) -> Mp {
    match v {
        Js::Null => Mp::Nil,
        Js::Bool(b) => Mp::Boolean(*b),
        Js::Number(n) => {
            if let Some(i) = n.as_i64() {
                Mp::from(i)
            } else if let Some(u) = n.as_u64() {
                Mp::from(u)
            } else {
                Mp::F64(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Js::String(s) => Mp::from(s.as_str()),
        Js::Array(a) => Mp::Array(a.iter().map(to_msgpack).collect()),
        Js::Object(o) => Mp::Map(o.iter().map(|(k, v)| (Mp::from(k.as_str()), to_msgpack(v))).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dicts_survive_the_round_trip_json_can_hold() {
        let v = Mp::Map(vec![
            (Mp::from("fps"), Mp::F64(29.5)),
            (Mp::from("ok"), Mp::Boolean(true)),
            (Mp::from("n"), Mp::from(-3)),
            (Mp::from("names"), Mp::Array(vec![Mp::from("a")])),
        ]);
        let j = from_msgpack(&v);
        assert_eq!(j, serde_json::json!({"fps": 29.5, "ok": true, "n": -3, "names": ["a"]}));
        assert_eq!(from_msgpack(&to_msgpack(&j)), j);
        assert_eq!(from_msgpack(&Mp::Binary(vec![1, 2])), serde_json::json!([1, 2]));
        assert_eq!(from_msgpack(&Mp::F64(f64::NAN)), Js::Null);
    }
}
