//! The proxy-wasm serialized map format, for headers sent to the host:
//! `u32 count`, then `count` pairs of `(u32 key_len, u32 value_len)`, then each
//! key and value followed by a NUL byte. All integers little-endian.

pub(crate) fn serialize(pairs: &[(&str, &[u8])]) -> Vec<u8> {
    let mut size = 4;
    for (k, v) in pairs {
        size += 8 + k.len() + v.len() + 2;
    }
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(&(pairs.len() as u32).to_le_bytes());
    for (k, v) in pairs {
        out.extend_from_slice(&(k.len() as u32).to_le_bytes());
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
    }
    for (k, v) in pairs {
        out.extend_from_slice(k.as_bytes());
        out.push(0);
        out.extend_from_slice(v);
        out.push(0);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn layout_matches_the_abi() {
        let out = super::serialize(&[("a", b"xy")]);
        assert_eq!(
            out,
            [1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, b'a', 0, b'x', b'y', 0]
        );
    }
}
