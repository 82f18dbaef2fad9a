//! Who may steer Sluice with request headers.
//!
//! The priority header and the tenant header are claims a client makes about
//! itself; a client that could set them freely would mark everything
//! `critical` or spread itself over many tenants. With a `trust` section,
//! those headers count only on requests from trusted sources: a peer whose
//! mTLS identity (Envoy's `connection.uri_san_peer_certificate`, the SPIFFE
//! ID in a mesh) matches one of `principals`, or whose address
//! (`source.address`) is inside one of `source_cidrs` — typically the
//! gateway or internal hop that sets the headers after authenticating the
//! caller. From any other source the headers are ignored (the request is
//! classified by the rules, else the default class, and has no tenant) and,
//! with `untrusted: strip` (the default), removed before the request goes
//! upstream, so that neither a later filter nor the service acts on a
//! forged value. Without a `trust` section every source is trusted, as
//! before.

use crate::request::RequestView;
use crate::rules::{source_ip, Cidr};

/// What happens to steering headers from an untrusted source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Untrusted {
    /// Ignore them and remove them from the request.
    #[default]
    Strip,
    /// Ignore them, leave them on the request.
    Ignore,
}

/// The sources whose steering headers count.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Trust {
    /// Peer URI SANs, exact or (with a trailing `*`) by prefix.
    pub principals: Vec<String>,
    pub sources: Vec<Cidr>,
    pub untrusted: Untrusted,
}

impl Trust {
    /// True if `request` comes from a trusted source. Asks the host for at
    /// most the two properties, and only while no earlier check held.
    pub fn trusts(&self, request: &impl RequestView) -> bool {
        if !self.sources.is_empty() {
            let ip = request.source_address().as_deref().and_then(source_ip);
            if ip.is_some_and(|ip| self.sources.iter().any(|c| c.contains(ip))) {
                return true;
            }
        }
        if !self.principals.is_empty() {
            if let Some(peer) = request.property(&["connection", "uri_san_peer_certificate"]) {
                return principal_matches(&self.principals, &peer);
            }
        }
        false
    }
}

/// True if `peer` (a URI SAN) equals one of `patterns`, or starts with one
/// that ends in `*` (the `*` dropped).
pub fn principal_matches(patterns: &[String], peer: &[u8]) -> bool {
    patterns.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => peer.starts_with(prefix.as_bytes()),
        None => peer == p.as_bytes(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::OwnedRequest;

    fn trust() -> Trust {
        Trust {
            principals: vec![
                "spiffe://cluster.local/ns/edge/sa/gateway".into(),
                "spiffe://cluster.local/ns/internal/*".into(),
            ],
            sources: vec![Cidr::parse("10.0.0.0/8").unwrap()],
            untrusted: Untrusted::Strip,
        }
    }

    fn peer(san: &str) -> OwnedRequest {
        OwnedRequest::new()
            .with_source_address("192.0.2.7:4000")
            .with_property("connection.uri_san_peer_certificate", san)
    }

    #[test]
    fn a_listed_address_is_trusted() {
        assert!(trust().trusts(&OwnedRequest::new().with_source_address("10.2.3.4:5555")));
        assert!(!trust().trusts(&OwnedRequest::new().with_source_address("11.2.3.4:5555")));
    }

    #[test]
    fn a_listed_principal_is_trusted_exactly_or_by_prefix() {
        let t = trust();
        assert!(t.trusts(&peer("spiffe://cluster.local/ns/edge/sa/gateway")));
        assert!(t.trusts(&peer("spiffe://cluster.local/ns/internal/sa/batch")));
        assert!(!t.trusts(&peer("spiffe://cluster.local/ns/edge/sa/gateway2")));
        assert!(!t.trusts(&peer("spiffe://cluster.local/ns/public/sa/web")));
    }

    #[test]
    fn no_address_and_no_identity_is_untrusted() {
        assert!(!trust().trusts(&OwnedRequest::new()));
        assert!(!trust().trusts(&OwnedRequest::new().with_source_address("not an address")));
        assert!(!Trust::default().trusts(&OwnedRequest::new().with_source_address("10.0.0.1:1")));
    }
}
