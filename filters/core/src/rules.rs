//! Classification rules: conditions on a request that, when they all hold,
//! put it in a priority class.
//!
//! A rule matches when every condition it states holds: the path (exact or
//! prefix, query string ignored), the method (one of a list), each header
//! (present, exact value, or value prefix; pseudo-headers such as
//! `:authority` included), and the source address (inside one of a list of
//! CIDR blocks, from Envoy's `source.address` property). A rule with no
//! conditions matches every request. Rules are tried in order; the first
//! match wins.

use crate::priority::ClassId;
use crate::request::RequestView;
use std::net::{IpAddr, SocketAddr};

/// A validated classification rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub class: ClassId,
    pub when: Conditions,
}

/// Conditions on a request; all that are given must hold.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Conditions {
    pub path: Option<PathMatch>,
    /// Upper-case method names; empty means any method.
    pub methods: Vec<String>,
    pub headers: Vec<HeaderMatch>,
    /// Empty means any source.
    pub sources: Vec<Cidr>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathMatch {
    Exact(String),
    Prefix(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderMatch {
    pub name: String,
    pub value: ValueMatch,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ValueMatch {
    Present,
    Exact(Vec<u8>),
    Prefix(Vec<u8>),
}

impl ValueMatch {
    pub fn matches(&self, value: &[u8]) -> bool {
        match self {
            ValueMatch::Present => true,
            ValueMatch::Exact(v) => value == v.as_slice(),
            ValueMatch::Prefix(p) => value.starts_with(p),
        }
    }
}

/// An address block: `10.0.0.0/8`, `::1/128`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix_len: u8,
}

impl Cidr {
    /// Parses `address/len` or a bare address (a block of one). The error
    /// says what is wrong.
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let (addr, len) = match text.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (text, None),
        };
        let network: IpAddr = addr
            .parse()
            .map_err(|_| format!("'{addr}' is not an IPv4 or IPv6 address"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix_len = match len {
            None => max,
            Some(l) => l
                .parse::<u8>()
                .ok()
                .filter(|l| *l <= max)
                .ok_or_else(|| format!("prefix length '{l}' is not in [0, {max}]"))?,
        };
        Ok(Cidr {
            network,
            prefix_len,
        })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let (net, ip, bits) = match (self.network, ip) {
            (IpAddr::V4(n), IpAddr::V4(i)) => {
                (u128::from(n.to_bits()), u128::from(i.to_bits()), 32)
            }
            (IpAddr::V6(n), IpAddr::V6(i)) => (n.to_bits(), i.to_bits(), 128),
            (IpAddr::V6(n), IpAddr::V4(i)) => (n.to_bits(), i.to_ipv6_mapped().to_bits(), 128),
            (IpAddr::V4(_), IpAddr::V6(i)) => match i.to_ipv4_mapped() {
                Some(v4) => return self.contains(IpAddr::V4(v4)),
                None => return false,
            },
        };
        let host_bits = bits - u32::from(self.prefix_len);
        let mask = if host_bits >= 128 {
            0
        } else {
            u128::MAX << host_bits
        };
        net & mask == ip & mask
    }
}

/// The IP of Envoy's `source.address` (`1.2.3.4:5678`, `[::1]:5678`, or a
/// bare address); `None` for anything else, such as a pipe path.
pub fn source_ip(address: &[u8]) -> Option<IpAddr> {
    let text = std::str::from_utf8(address).ok()?;
    text.parse::<SocketAddr>()
        .map(|s| s.ip())
        .or_else(|_| text.parse::<IpAddr>())
        .ok()
}

/// The request facts conditions look at, fetched at most once per request.
#[derive(Debug)]
pub struct Facts<'r, R: RequestView> {
    request: &'r R,
    path: Option<Option<Vec<u8>>>,
    method: Option<Option<Vec<u8>>>,
    source: Option<Option<IpAddr>>,
}

impl<'r, R: RequestView> Facts<'r, R> {
    pub fn new(request: &'r R) -> Self {
        Facts {
            request,
            path: None,
            method: None,
            source: None,
        }
    }

    pub fn request(&self) -> &'r R {
        self.request
    }

    /// `:path` with its query string.
    pub fn full_path(&mut self) -> Option<&[u8]> {
        let request = self.request;
        self.path
            .get_or_insert_with(|| request.header(":path"))
            .as_deref()
    }

    /// `:path` without its query string.
    pub fn path(&mut self) -> Option<&[u8]> {
        let full = self.full_path()?;
        let end = full.iter().position(|&b| b == b'?').unwrap_or(full.len());
        Some(&full[..end])
    }

    pub fn method(&mut self) -> Option<&[u8]> {
        let request = self.request;
        self.method
            .get_or_insert_with(|| request.header(":method"))
            .as_deref()
    }

    pub fn source(&mut self) -> Option<IpAddr> {
        let request = self.request;
        *self
            .source
            .get_or_insert_with(|| request.source_address().as_deref().and_then(source_ip))
    }
}

impl Conditions {
    pub fn matches<R: RequestView>(&self, facts: &mut Facts<'_, R>) -> bool {
        if let Some(want) = &self.path {
            let Some(path) = facts.path() else {
                return false;
            };
            let ok = match want {
                PathMatch::Exact(p) => path == p.as_bytes(),
                PathMatch::Prefix(p) => path.starts_with(p.as_bytes()),
            };
            if !ok {
                return false;
            }
        }
        if !self.methods.is_empty() {
            let Some(method) = facts.method() else {
                return false;
            };
            if !self.methods.iter().any(|m| m.as_bytes() == method) {
                return false;
            }
        }
        let headers_hold = self.headers.iter().all(|h| {
            facts
                .request
                .header(&h.name)
                .is_some_and(|v| h.value.matches(&v))
        });
        if !headers_hold {
            return false;
        }
        self.sources.is_empty()
            || facts
                .source()
                .is_some_and(|ip| self.sources.iter().any(|c| c.contains(ip)))
    }
}

/// The class of the first rule that `request` matches.
pub fn first_match(rules: &[Rule], request: &impl RequestView) -> Option<ClassId> {
    let mut facts = Facts::new(request);
    rules
        .iter()
        .find(|rule| rule.when.matches(&mut facts))
        .map(|rule| rule.class)
}

#[cfg(test)]
mod tests;
