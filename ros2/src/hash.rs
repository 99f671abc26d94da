//! ROS 2 type hashes (`RIHS01_<sha256>`, REP 2011) of the mapped types: what rmw_zenoh puts in
//! its key expressions and what rosbag2 (Jazzy+) records as a topic's type description hash.
//!
//! The hash is the SHA-256 of a canonical JSON text of the type's description: its fields (name,
//! type id, capacity, string capacity, nested type name) and those of every type it references,
//! sorted by name, written as Python's `json.dumps` writes it (`", "` and `": "` separators, keys in
//! declaration order). Field type ids: the element's id, plus 48 for a fixed array, 96 for a
//! bounded and 144 for an unbounded sequence; 1 is a nested message. SHA-256 itself is below
//! (FIPS 180-4), so the crate needs no hashing dependency.

/// A field's type.
#[derive(Clone, Copy)]
enum Ty {
    Prim(u32),
    Nested(&'static str),
    /// An unbounded sequence of the element.
    Seq(&'static Ty),
}

const INT32: Ty = Ty::Prim(6);
const UINT8: Ty = Ty::Prim(3);
const UINT32: Ty = Ty::Prim(7);
const FLOAT64: Ty = Ty::Prim(11);
const BOOL: Ty = Ty::Prim(15);
const STRING: Ty = Ty::Prim(17);
const POINT_FIELD: Ty = Ty::Nested("sensor_msgs/msg/PointField");

/// The fields of every type this crate maps (and of what they reference).
fn fields(type_name: &str) -> Option<&'static [(&'static str, Ty)]> {
    Some(match type_name {
        "builtin_interfaces/msg/Time" => &[("sec", INT32), ("nanosec", UINT32)],
        "std_msgs/msg/Header" => &[("stamp", Ty::Nested("builtin_interfaces/msg/Time")), ("frame_id", STRING)],
        "sensor_msgs/msg/Image" => &[
            ("header", Ty::Nested("std_msgs/msg/Header")),
            ("height", UINT32),
            ("width", UINT32),
            ("encoding", STRING),
            ("is_bigendian", UINT8),
            ("step", UINT32),
            ("data", Ty::Seq(&UINT8)),
        ],
        "sensor_msgs/msg/PointField" => &[("name", STRING), ("offset", UINT32), ("datatype", UINT8), ("count", UINT32)],
        "sensor_msgs/msg/PointCloud2" => &[
            ("header", Ty::Nested("std_msgs/msg/Header")),
            ("height", UINT32),
            ("width", UINT32),
            ("fields", Ty::Seq(&POINT_FIELD)),
            ("is_bigendian", BOOL),
            ("point_step", UINT32),
            ("row_step", UINT32),
            ("data", Ty::Seq(&UINT8)),
            ("is_dense", BOOL),
        ],
        "geometry_msgs/msg/Vector3" => &[("x", FLOAT64), ("y", FLOAT64), ("z", FLOAT64)],
        "geometry_msgs/msg/Twist" => &[("linear", Ty::Nested("geometry_msgs/msg/Vector3")), ("angular", Ty::Nested("geometry_msgs/msg/Vector3"))],
        _ => return None,
    })
}

/// One type's description as JSON; the nested types it names go into `refs`.
fn describe(type_name: &str, refs: &mut Vec<&'static str>) -> Option<String> {
    let mut out = format!("{{\"type_name\": \"{type_name}\", \"fields\": [");
    for (i, (name, ty)) in fields(type_name)?.iter().enumerate() {
        let (id, nested) = match ty {
            Ty::Prim(id) => (*id, ""),
            Ty::Nested(n) => (1, *n),
            Ty::Seq(Ty::Prim(id)) => (144 + id, ""),
            Ty::Seq(Ty::Nested(n)) => (145, *n),
            Ty::Seq(Ty::Seq(_)) => return None,
        };
        if !nested.is_empty() && !refs.contains(&nested) {
            refs.push(nested);
        }
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&format!("{{\"name\": \"{name}\", \"type\": {{\"type_id\": {id}, \"capacity\": 0, \"string_capacity\": 0, \"nested_type_name\": \"{nested}\"}}}}"));
    }
    out.push_str("]}");
    Some(out)
}

/// The `RIHS01_...` type hash of `type_name` (`sensor_msgs/msg/Image`, `sensor_msgs/msg/PointCloud2`,
/// `geometry_msgs/msg/Twist`, or a type they reference); None for a type this crate does not map.
pub fn type_hash(type_name: &str) -> Option<String> {
    let mut refs: Vec<&'static str> = Vec::new();
    let main = describe(type_name, &mut refs)?;
    // Every type reachable from the main one, each described once.
    let mut done: Vec<(&'static str, String)> = Vec::new();
    let mut i = 0;
    while i < refs.len() {
        let r = refs[i];
        if r != type_name && !done.iter().any(|(n, _)| *n == r) {
            let d = describe(r, &mut refs)?;
            done.push((r, d));
        }
        i += 1;
    }
    done.sort_by(|a, b| a.0.cmp(b.0));
    let listed: Vec<String> = done.into_iter().map(|(_, d)| d).collect();
    let json = format!("{{\"type_description\": {main}, \"referenced_type_descriptions\": [{}]}}", listed.join(", "));
    let digest = sha256(json.as_bytes());
    Some(format!("RIHS01_{}", digest.iter().map(|b| format!("{b:02x}")).collect::<String>()))
}

/// SHA-256 (FIPS 180-4) of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ];
    let mut h: [u32; 8] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
    let mut msg = data.to_vec();
    let bits = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bits.to_be_bytes());
    for block in msg.chunks_exact(64) {
        let mut w = [0u32; 64];
        for (i, c) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16].wrapping_add(s0).wrapping_add(w[i - 7]).wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh.wrapping_add(s1).wrapping_add(ch).wrapping_add(K[i]).wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            (hh, g, f, e, d, c, b, a) = (g, f, e, d.wrapping_add(t1), c, b, a, t1.wrapping_add(t2));
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 32];
    for (i, x) in h.iter().enumerate() {
        out[4 * i..4 * i + 4].copy_from_slice(&x.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn sha256_known_answers() {
        assert_eq!(hex(&sha256(b"")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(hex(&sha256(b"abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        let long = vec![b'a'; 1000];
        assert_eq!(hex(&sha256(&long)), "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
    }

    #[test]
    fn image_hash_matches_the_published_one() {
        // rosbags (Jazzy store) and ROS 2 Jazzy's sensor_msgs agree on this value.
        assert_eq!(type_hash("sensor_msgs/msg/Image").unwrap(), "RIHS01_d31d41a9a4c4bc8eae9be757b0beed306564f7526c88ea6a4588fb9582527d47");
        assert!(type_hash("std_msgs/msg/String").is_none());
    }
}
