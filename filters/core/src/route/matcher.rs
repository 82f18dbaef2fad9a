//! A routing rule's conditions: the classification conditions
//! (`crate::rules::Conditions`: path, method, headers, source address) and
//! what only routing needs: a path regex, query parameters, cookies, the
//! host, the peer's principal and Envoy's route name.
//!
//! Patterns are compiled once, when the configuration is read.

use super::regex::Regex;
use super::session::cookie;
use crate::request::RequestView;
use crate::rules::{Conditions, Facts, ValueMatch};
use crate::trust::principal_matches;

/// A compiled path regex (`route::regex` syntax), matched against the path
/// without its query string.
#[derive(Clone, Debug, PartialEq)]
pub struct PathRegex(pub Regex);

/// `shop.example.com` (exact) or `*.example.com` (any subdomain), compared
/// without the port and ignoring ASCII case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostMatch {
    Exact(String),
    Suffix(String),
}

impl HostMatch {
    fn matches(&self, authority: &[u8]) -> bool {
        let host = match authority.iter().rposition(|&b| b == b':') {
            // `[::1]:80` and `host:80`; a bare IPv6 literal keeps its colons.
            Some(i) if !authority.ends_with(b"]") => &authority[..i],
            _ => authority,
        };
        match self {
            HostMatch::Exact(h) => host.eq_ignore_ascii_case(h.as_bytes()),
            HostMatch::Suffix(s) => {
                host.len() > s.len()
                    && host[host.len() - s.len()..].eq_ignore_ascii_case(s.as_bytes())
            }
        }
    }
}

/// Every condition given must hold.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RouteMatch {
    pub base: Conditions,
    pub path_regex: Option<PathRegex>,
    pub query: Vec<(String, ValueMatch)>,
    pub cookies: Vec<(String, ValueMatch)>,
    pub hosts: Vec<HostMatch>,
    /// Peer principals (`connection.uri_san_peer_certificate`); a trailing
    /// `*` makes a prefix.
    pub principals: Vec<String>,
    /// Envoy route names (`xds.route_name`): rules for one route only.
    pub route_names: Vec<String>,
}

impl RouteMatch {
    pub fn matches<R: RequestView>(&self, facts: &mut Facts<'_, R>) -> bool {
        if !self.base.matches(facts) {
            return false;
        }
        if let Some(re) = &self.path_regex {
            let ok = facts.path().is_some_and(|p| re.0.is_match(p));
            if !ok {
                return false;
            }
        }
        if !self.query.is_empty() {
            let Some(full) = facts.full_path() else {
                return false;
            };
            let query = full
                .iter()
                .position(|&b| b == b'?')
                .map_or(&[][..], |i| &full[i + 1..]);
            let hold = self
                .query
                .iter()
                .all(|(name, want)| query_param(query, name).is_some_and(|v| want.matches(v)));
            if !hold {
                return false;
            }
        }
        let request = facts.request();
        if !self.cookies.is_empty() {
            let header = request.header("cookie").unwrap_or_default();
            let hold = self
                .cookies
                .iter()
                .all(|(name, want)| cookie(&header, name).is_some_and(|v| want.matches(v)));
            if !hold {
                return false;
            }
        }
        if !self.hosts.is_empty() {
            let authority = request.header(":authority").unwrap_or_default();
            if !self.hosts.iter().any(|h| h.matches(&authority)) {
                return false;
            }
        }
        if !self.principals.is_empty() {
            let Some(peer) = request.property(&["connection", "uri_san_peer_certificate"]) else {
                return false;
            };
            if !principal_matches(&self.principals, &peer) {
                return false;
            }
        }
        if !self.route_names.is_empty() {
            let Some(route) = request.property(&["xds", "route_name"]) else {
                return false;
            };
            if !self.route_names.iter().any(|r| r.as_bytes() == route) {
                return false;
            }
        }
        true
    }
}

/// The raw value of query parameter `name` (no percent-decoding: compare
/// with the encoded form).
fn query_param<'q>(query: &'q [u8], name: &str) -> Option<&'q [u8]> {
    query.split(|&b| b == b'&').find_map(|pair| {
        let (k, v) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &[][..]),
        };
        (k == name.as_bytes()).then_some(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::OwnedRequest;

    fn holds(m: &RouteMatch, r: &OwnedRequest) -> bool {
        m.matches(&mut Facts::new(r))
    }

    #[test]
    fn regex_query_cookie_host_principal_and_route_name() {
        let m = RouteMatch {
            path_regex: Some(PathRegex(Regex::new(r"^/api/v[0-9]+/orders$").expect("re"))),
            query: vec![("region".into(), ValueMatch::Exact(b"eu".to_vec()))],
            cookies: vec![("tier".into(), ValueMatch::Prefix(b"gold".to_vec()))],
            hosts: vec![HostMatch::Suffix(".example.com".into())],
            principals: vec!["spiffe://cluster.local/ns/shop/*".into()],
            route_names: vec!["orders".into()],
            ..RouteMatch::default()
        };
        let ok = OwnedRequest::new()
            .with_header(":path", "/api/v2/orders?x=1&region=eu")
            .with_header("cookie", "a=b; tier=gold-plus")
            .with_header(":authority", "Shop.Example.com:8443")
            .with_property(
                "connection.uri_san_peer_certificate",
                "spiffe://cluster.local/ns/shop/sa/web",
            )
            .with_property("xds.route_name", "orders");
        assert!(holds(&m, &ok));
        let variants = [
            ok.clone().with_header(":path", "/api/vx/orders?region=eu"),
            OwnedRequest::new().with_header(":path", "/api/v2/orders?region=us"),
        ];
        // `with_header` appends, and lookups take the first value: build
        // failing requests from scratch where a header must differ.
        assert!(holds(&m, &variants[0]), "first :path still wins");
        assert!(!holds(&m, &variants[1]));
        let no_principal = OwnedRequest::new()
            .with_header(":path", "/api/v2/orders?region=eu")
            .with_header("cookie", "tier=gold")
            .with_header(":authority", "a.example.com")
            .with_property("xds.route_name", "orders");
        assert!(!holds(&m, &no_principal));
        let bare_host = OwnedRequest::new()
            .with_header(":path", "/api/v2/orders?region=eu")
            .with_header("cookie", "tier=gold")
            .with_header(":authority", "example.com")
            .with_property(
                "connection.uri_san_peer_certificate",
                "spiffe://cluster.local/ns/shop/sa/web",
            )
            .with_property("xds.route_name", "orders");
        assert!(!holds(&m, &bare_host), "*.example.com needs a subdomain");
    }

    #[test]
    fn query_params_without_values_and_non_utf8_paths() {
        assert_eq!(query_param(b"a&b=2", "a"), Some(&b""[..]));
        assert_eq!(query_param(b"a&b=2", "c"), None);
        let m = RouteMatch {
            path_regex: Some(PathRegex(Regex::new("^/.$").expect("re"))),
            ..RouteMatch::default()
        };
        let r = OwnedRequest::new().with_header(":path", vec![b'/', 0xff]);
        assert!(holds(&m, &r), "paths are matched as bytes, UTF-8 or not");
    }
}
