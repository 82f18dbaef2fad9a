//! Read-your-writes pins carried by a cookie.
//!
//! After a write on a `session` route, the response sets a cookie whose
//! value is the time (Unix ms) until which the client's reads go to the
//! primary. The filter keeps no per-client state; a client that forges or
//! keeps the cookie only sends its own reads to the primary, which a
//! `strong` route would do anyway.

use crate::time::Timestamp;
use std::time::Duration;

/// The pin's expiry from a `cookie` header value, if `name` is set to a
/// number.
pub fn pinned_until(cookie_header: &[u8], name: &str) -> Option<Timestamp> {
    let value = cookie(cookie_header, name)?;
    let ms: u64 = std::str::from_utf8(value).ok()?.parse().ok()?;
    Some(Timestamp::from_nanos(ms.saturating_mul(1_000_000)))
}

/// Whether the request's cookies pin it to the primary at `now`.
pub fn is_pinned(cookie_header: Option<&[u8]>, name: &str, now: Timestamp) -> bool {
    cookie_header
        .and_then(|h| pinned_until(h, name))
        .is_some_and(|until| now < until)
}

/// The `set-cookie` value that pins the client for `window` from `now`.
pub fn pin_cookie(name: &str, now: Timestamp, window: Duration) -> String {
    let until = now.saturating_add(window).as_nanos() / 1_000_000;
    format!(
        "{name}={until}; Max-Age={}; Path=/; HttpOnly; SameSite=Lax",
        window.as_secs().max(1)
    )
}

/// The value of cookie `name` in a `cookie` header (`a=1; b=2`).
pub fn cookie<'h>(header: &'h [u8], name: &str) -> Option<&'h [u8]> {
    header.split(|&b| b == b';').find_map(|pair| {
        let pair = pair.trim_ascii();
        let eq = pair.iter().position(|&b| b == b'=')?;
        (pair[..eq].trim_ascii() == name.as_bytes()).then(|| pair[eq + 1..].trim_ascii())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_holds_until_its_expiry() {
        let now = Timestamp::from_nanos(1_700_000_000_000 * 1_000_000);
        let set = pin_cookie("sluice-rw", now, Duration::from_secs(5));
        assert!(
            set.starts_with("sluice-rw=1700000005000; Max-Age=5;"),
            "{set}"
        );
        let value = set.split(';').next().expect("pair");
        let header = format!("theme=dark; {value}");
        assert!(is_pinned(Some(header.as_bytes()), "sluice-rw", now));
        let later = now.saturating_add(Duration::from_secs(6));
        assert!(!is_pinned(Some(header.as_bytes()), "sluice-rw", later));
        assert!(!is_pinned(None, "sluice-rw", now));
    }

    #[test]
    fn malformed_cookies_never_pin() {
        let now = Timestamp::from_nanos(5);
        for h in [
            &b"sluice-rw"[..],
            b"sluice-rw=",
            b"sluice-rw=abc",
            b"=1; ;;",
            &[0xff, b'=', 0xfe],
        ] {
            assert!(!is_pinned(Some(h), "sluice-rw", now), "{h:?}");
        }
        assert_eq!(cookie(b"a=1;  b = 2 ", "b"), Some(&b"2"[..]));
    }
}
