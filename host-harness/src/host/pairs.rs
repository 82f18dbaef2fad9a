//! The proxy-wasm serialized map format: `u32 count`, `count` pairs of
//! `(u32 key_len, u32 value_len)`, then each key and value followed by NUL.
//! Little-endian. Used for header maps in both directions.

/// A header map: lower-case names, byte values, order preserved.
pub type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

pub fn serialize(pairs: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let size = 4 + pairs
        .iter()
        .map(|(k, v)| 10 + k.len() + v.len())
        .sum::<usize>();
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(&(pairs.len() as u32).to_le_bytes());
    for (k, v) in pairs {
        out.extend_from_slice(&(k.len() as u32).to_le_bytes());
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
    }
    for (k, v) in pairs {
        out.extend_from_slice(k);
        out.push(0);
        out.extend_from_slice(v);
        out.push(0);
    }
    out
}

/// Parses a serialized map; `None` if the bytes are not one (a guest may pass
/// anything).
pub fn deserialize(bytes: &[u8]) -> Option<Pairs> {
    if bytes.is_empty() {
        return Some(Vec::new());
    }
    let n = u32::from_le_bytes(bytes.get(0..4)?.try_into().ok()?) as usize;
    // Each pair needs at least 8 bytes of sizes and 2 NULs.
    if n > bytes.len() / 10 + 1 {
        return None;
    }
    let mut sizes = Vec::with_capacity(n);
    let mut at = 4usize;
    for _ in 0..n {
        let k = u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?) as usize;
        let v = u32::from_le_bytes(bytes.get(at + 4..at + 8)?.try_into().ok()?) as usize;
        sizes.push((k, v));
        at += 8;
    }
    let mut pairs = Vec::with_capacity(n);
    for (k, v) in sizes {
        let key = bytes.get(at..at.checked_add(k)?)?.to_vec();
        at += k + 1;
        let value = bytes.get(at..at.checked_add(v)?)?.to_vec();
        at += v + 1;
        if at > bytes.len() {
            return None;
        }
        pairs.push((key, value));
    }
    Some(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let p = vec![
            (b"a".to_vec(), b"1".to_vec()),
            (b":path".to_vec(), b"/x".to_vec()),
            (b"e".to_vec(), Vec::new()),
        ];
        assert_eq!(deserialize(&serialize(&p)), Some(p));
        assert_eq!(deserialize(&[]), Some(vec![]));
    }

    #[test]
    fn garbage_is_refused_not_a_panic() {
        assert_eq!(deserialize(&[1, 0, 0, 0]), None);
        assert_eq!(deserialize(&[255, 255, 255, 255, 0, 0]), None);
        assert_eq!(deserialize(&[1, 0, 0, 0, 9, 0, 0, 0, 9, 0, 0, 0, 1]), None);
    }
}
