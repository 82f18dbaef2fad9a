//! A request built from fuzzer bytes, seen through the core's
//! [`RequestView`].
//!
//! Header names are drawn mostly from the ones the policies read (so that
//! rules and classifiers have something to match), values are any bytes
//! (not necessarily UTF-8), a value may be repeated up to a megabyte, and
//! filler headers can make the map thousands of entries long.

use arbitrary::{Arbitrary, Unstructured};
use sluice_core::request::RequestView;

/// Names the throttle and router read, and the pseudo-headers.
const KNOWN: &[&str] = &[
    ":path",
    ":method",
    ":authority",
    ":scheme",
    "host",
    "cookie",
    "x-sluice-priority",
    "x-priority",
    "x-tenant",
    "x-user",
    "x-session",
    "x-sluice-cluster",
    "content-type",
    "user-agent",
];

/// Property paths the policies read (dotted).
const PROPERTIES: &[&str] = &[
    "source.address",
    "connection.uri_san_peer_certificate",
    "xds.route_name",
    "request.path",
    "upstream.address",
];

#[derive(Clone, Debug)]
pub struct FuzzRequest {
    pub headers: Vec<(String, Vec<u8>)>,
    pub properties: Vec<(String, Vec<u8>)>,
}

fn name(u: &mut Unstructured<'_>, known: &[&str]) -> arbitrary::Result<String> {
    Ok(if u.ratio(7, 8)? {
        known[u.choose_index(known.len())?].to_string()
    } else {
        // Any bytes, as Envoy would hand them (lossily readable).
        String::from_utf8_lossy(<&[u8]>::arbitrary(u)?).into_owned()
    })
}

fn value(u: &mut Unstructured<'_>) -> arbitrary::Result<Vec<u8>> {
    let mut v = <&[u8]>::arbitrary(u)?.to_vec();
    if u.ratio(1, 32)? && !v.is_empty() {
        // A huge value: the bytes repeated up to about 1 MiB.
        let times = (1 << 20) / v.len();
        v = v.repeat(times.clamp(1, 1 << 20));
    }
    Ok(v)
}

impl<'a> Arbitrary<'a> for FuzzRequest {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let mut headers = Vec::new();
        for _ in 0..u.int_in_range(0..=24u8)? {
            headers.push((name(u, KNOWN)?, value(u)?));
        }
        if u.ratio(1, 16)? {
            // Many headers before the ones that matter.
            let n = u.int_in_range(1..=5_000u16)?;
            let mut filler: Vec<(String, Vec<u8>)> = (0..n)
                .map(|i| (format!("x-filler-{i}"), b"v".to_vec()))
                .collect();
            filler.append(&mut headers);
            headers = filler;
        }
        let mut properties = Vec::new();
        for _ in 0..u.int_in_range(0..=4u8)? {
            properties.push((name(u, PROPERTIES)?, value(u)?));
        }
        Ok(FuzzRequest {
            headers,
            properties,
        })
    }
}

impl RequestView for FuzzRequest {
    fn header(&self, name: &str) -> Option<Vec<u8>> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }

    fn property(&self, path: &[&str]) -> Option<Vec<u8>> {
        let dotted = path.join(".");
        self.properties
            .iter()
            .find(|(p, _)| *p == dotted)
            .map(|(_, v)| v.clone())
    }
}
