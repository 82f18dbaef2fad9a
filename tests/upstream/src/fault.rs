//! Faults a request asks for with `x-upstream-fault`, so tests can make the
//! upstream end an exchange the ways a failing service does, after the
//! request's service time:
//!
//! - `close`: close the connection without answering (a crash before the
//!   response; Envoy sees a reset before headers and answers 503 itself);
//! - `abort-body`: send the response head and part of the body, then close
//!   the connection (a crash mid-response; Envoy has already forwarded the
//!   head, so it can only reset the downstream stream).

use bytes::Bytes;
use hyper::body::{Body, Frame};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// A fault a request asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    Close,
    AbortBody,
}

impl Fault {
    /// The fault named by a header value; `None` for anything else.
    pub(crate) fn parse(value: &[u8]) -> Option<Fault> {
        match value.trim_ascii() {
            b"close" => Some(Fault::Close),
            b"abort-body" => Some(Fault::AbortBody),
            _ => None,
        }
    }
}

/// Bytes the aborted body sends before failing; the response head
/// announces more than this.
pub(crate) const ABORTED_PREFIX: &[u8] = b"partial ";

/// How long the aborted body waits between its prefix and its failure, so
/// that hyper writes the head and the prefix out first (it flushes while
/// the body is pending; a body that fails at once loses the head too).
const ABORT_AFTER: Duration = Duration::from_millis(50);

/// A body that yields [`ABORTED_PREFIX`] and then an error: hyper then
/// closes the connection with the body unfinished.
#[derive(Debug, Default)]
pub(crate) struct AbortedBody {
    sent: bool,
    wait: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Body for AbortedBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        if self.sent {
            let wait = self
                .wait
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(ABORT_AFTER)));
            if wait.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            return Poll::Ready(Some(Err(std::io::Error::other(
                "x-upstream-fault: abort-body",
            ))));
        }
        self.sent = true;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(ABORTED_PREFIX)))))
    }
}

/// What a service returns to make hyper close the connection without
/// writing a response.
#[derive(Debug)]
pub(crate) struct CloseWithoutAnswer;

impl std::fmt::Display for CloseWithoutAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "x-upstream-fault: close")
    }
}

impl std::error::Error for CloseWithoutAnswer {}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[test]
    fn parses_known_faults_only() {
        assert_eq!(Fault::parse(b" close "), Some(Fault::Close));
        assert_eq!(Fault::parse(b"abort-body"), Some(Fault::AbortBody));
        assert_eq!(Fault::parse(b"crash"), None);
    }

    #[tokio::test]
    async fn the_aborted_body_fails_after_its_prefix() {
        let mut body = AbortedBody::default();
        let first = body.frame().await.expect("frame").expect("data");
        assert_eq!(first.into_data().ok().as_deref(), Some(ABORTED_PREFIX));
        assert!(body.frame().await.expect("frame").is_err());
    }
}
