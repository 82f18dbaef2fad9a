//! Client sessions: cookie jars, as browsers keep them.
//!
//! Requests carrying the same `x-harness-session` value belong to one
//! client. Cookies that responses set (`set-cookie`) are kept per session
//! and sent back, as a `cookie` header, on that session's later requests,
//! so that policies which pin a client through a cookie (the router's
//! read-your-writes) can be replayed. Attributes (`Max-Age`, `Path`, ...)
//! are not interpreted: a cookie lasts until replaced; the policy that set
//! it decides whether its value still counts.

use std::collections::BTreeMap;

/// The request header naming a request's session.
pub const SESSION_HEADER: &[u8] = b"x-harness-session";

use crate::host::pairs::Pairs;

/// One session's cookies, in the order they were first set.
type Jar = Pairs;

#[derive(Debug, Default)]
pub(super) struct Sessions {
    jars: BTreeMap<Vec<u8>, Jar>,
}

impl Sessions {
    /// The session of a request, if it names one.
    pub fn of(headers: &Pairs) -> Option<Vec<u8>> {
        headers
            .iter()
            .find(|(k, _)| k == SESSION_HEADER)
            .map(|(_, v)| v.clone())
    }

    /// Adds the session's cookies to the request's `cookie` header.
    pub fn attach(&self, session: &[u8], headers: &mut Pairs) {
        let Some(jar) = self.jars.get(session).filter(|j| !j.is_empty()) else {
            return;
        };
        let mut value: Vec<u8> = Vec::new();
        for (i, (name, v)) in jar.iter().enumerate() {
            if i > 0 {
                value.extend_from_slice(b"; ");
            }
            value.extend_from_slice(name);
            value.push(b'=');
            value.extend_from_slice(v);
        }
        match headers.iter_mut().find(|(k, _)| k == b"cookie") {
            Some((_, existing)) => {
                existing.extend_from_slice(b"; ");
                existing.extend_from_slice(&value);
            }
            None => headers.push((b"cookie".to_vec(), value)),
        }
    }

    /// Keeps the cookies a response sets for the session.
    pub fn store(&mut self, session: Vec<u8>, response_headers: &Pairs) {
        for (k, v) in response_headers {
            if !k.eq_ignore_ascii_case(b"set-cookie") {
                continue;
            }
            let pair = v.split(|&b| b == b';').next().unwrap_or_default();
            let Some(eq) = pair.iter().position(|&b| b == b'=') else {
                continue;
            };
            let (name, value) = (
                pair[..eq].trim_ascii().to_vec(),
                pair[eq + 1..].trim_ascii().to_vec(),
            );
            let jar = self.jars.entry(session.clone()).or_default();
            match jar.iter_mut().find(|(n, _)| *n == name) {
                Some(entry) => entry.1 = value,
                None => jar.push((name, value)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Pairs {
        pairs
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn cookies_set_on_a_response_come_back_on_the_sessions_next_request() {
        let mut s = Sessions::default();
        let session = b"u1".to_vec();
        s.store(
            session.clone(),
            &h(&[
                ("set-cookie", "sluice-rw=123; Max-Age=5; Path=/"),
                ("x", "y"),
            ]),
        );
        s.store(session.clone(), &h(&[("Set-Cookie", "theme=dark")]));
        s.store(session.clone(), &h(&[("set-cookie", "sluice-rw=456")]));
        let mut req = h(&[(":path", "/"), ("x-harness-session", "u1")]);
        assert_eq!(Sessions::of(&req), Some(session.clone()));
        s.attach(&session, &mut req);
        assert_eq!(
            req.last().map(|(_, v)| v.as_slice()),
            Some(&b"sluice-rw=456; theme=dark"[..])
        );
        let mut other = h(&[("cookie", "a=1")]);
        s.attach(b"u2", &mut other);
        assert_eq!(
            other,
            h(&[("cookie", "a=1")]),
            "another session has no cookies"
        );
        s.attach(&session, &mut other);
        assert_eq!(other, h(&[("cookie", "a=1; sluice-rw=456; theme=dark")]));
    }
}
