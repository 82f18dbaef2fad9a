//! The routing decision: the first rule whose conditions hold (or the
//! default) names an action; the action picks the cluster.
//!
//! | action | picks |
//! |---|---|
//! | `to` | the named cluster (`rule`), or with `spillover`, a bounded fraction of requests to another cluster while the first is near its limit (`spillover`) |
//! | `balance` | power of two choices by cost among weighted candidates (`p2c`, `outlier_avoid`, `outlier_probe`), or with `sticky`, the candidate a key hashes to (`sticky`) |
//! | `primary` + `replicas` | writes and `strong` routes: the primary (`primary`); `session` reads within the window after the client's last write: the primary (`session_pin`); other reads: balanced over the replicas |

use super::choice::{self, ClusterView, Weighted};
use super::session;
use super::{RouteMatch, RouteReason};
use crate::random::Random;
use crate::request::RequestView;
use crate::rules::Facts;
use crate::time::Timestamp;
use std::time::Duration;

/// How reads on a primary/replicas route may be served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consistency {
    /// Always the primary.
    Strong,
    /// Read-your-writes: the primary for a window after the client's write.
    Session,
    /// Reads may go to any replica.
    Eventual,
}

/// Spill part of a fixed route's traffic while its cluster is near its
/// limit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spillover {
    pub to: usize,
    /// Probability that a request spills while the cluster is near its
    /// limit: the bound on the spilled fraction.
    pub max_fraction: f64,
}

/// Where a sticky key comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sticky {
    Header(String),
    Cookie(String),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    To {
        cluster: usize,
        spillover: Option<Spillover>,
    },
    Balance {
        candidates: Vec<Weighted>,
        sticky: Option<Sticky>,
    },
    Primary {
        primary: usize,
        replicas: Vec<Weighted>,
        consistency: Consistency,
    },
}

/// A validated rule.
#[derive(Clone, Debug, PartialEq)]
pub struct RouteRule {
    pub name: String,
    pub when: RouteMatch,
    pub action: Action,
}

/// A decision and what the stream must do on the response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    pub cluster: usize,
    pub reason: RouteReason,
    /// Index of the rule that matched (`None`: the default).
    pub rule: Option<usize>,
    /// A write on a `session` route: pin the client to the primary.
    pub pin_session: bool,
}

/// The router's policy.
#[derive(Clone, Debug, PartialEq)]
pub struct Router {
    pub rules: Vec<RouteRule>,
    pub default: Action,
    /// Methods that write (upper-case).
    pub write_methods: Vec<String>,
    pub session_cookie: String,
    /// How long after a write the client's reads go to the primary.
    pub session_window: Duration,
    pub probe_fraction: f64,
}

impl Router {
    /// Picks the cluster for `request`. `views` is indexed by cluster.
    pub fn decide(
        &self,
        request: &impl RequestView,
        views: &[ClusterView],
        now: Timestamp,
        random: &mut impl Random,
    ) -> Decision {
        let mut facts = Facts::new(request);
        let rule = self.rules.iter().position(|r| r.when.matches(&mut facts));
        let action = rule.map_or(&self.default, |i| &self.rules[i].action);
        let (cluster, reason, pin_session) = match action {
            Action::To { cluster, spillover } => match spillover {
                Some(s)
                    if views.get(*cluster).is_some_and(|v| v.near_limit)
                        && random.next_unit() < s.max_fraction =>
                {
                    (s.to, RouteReason::Spillover, false)
                }
                _ => (*cluster, RouteReason::Rule, false),
            },
            Action::Balance { candidates, sticky } => {
                let key = sticky.as_ref().and_then(|s| sticky_key(s, request));
                match key.and_then(|k| choice::rendezvous(candidates, views, &k)) {
                    Some(c) => (c, RouteReason::Sticky, false),
                    None => self.balance(candidates, views, random),
                }
            }
            Action::Primary {
                primary,
                replicas,
                consistency,
            } => {
                let write = facts
                    .method()
                    .is_some_and(|m| self.write_methods.iter().any(|w| w.as_bytes() == m));
                let pin = *consistency == Consistency::Session;
                if write || *consistency == Consistency::Strong {
                    (*primary, RouteReason::Primary, write && pin)
                } else if pin
                    && session::is_pinned(
                        request.header("cookie").as_deref(),
                        &self.session_cookie,
                        now,
                    )
                {
                    (*primary, RouteReason::SessionPin, false)
                } else {
                    self.balance(replicas, views, random)
                }
            }
        };
        Decision {
            cluster,
            reason,
            rule,
            pin_session,
        }
    }

    fn balance(
        &self,
        candidates: &[Weighted],
        views: &[ClusterView],
        random: &mut impl Random,
    ) -> (usize, RouteReason, bool) {
        match choice::p2c(candidates, views, self.probe_fraction, random) {
            Some((c, reason)) => (c, reason, false),
            // Validation never leaves a balance without candidates.
            None => (0, RouteReason::P2c, false),
        }
    }

    /// The header text of a decision: `<reason>`, or `rule:<name>`.
    pub fn reason_text(&self, d: &Decision) -> String {
        match (d.reason, d.rule) {
            (RouteReason::Rule, Some(i)) => format!("rule:{}", self.rules[i].name),
            (RouteReason::Rule, None) => "rule:default".to_string(),
            (reason, _) => reason.as_str().to_string(),
        }
    }

    /// The `set-cookie` value for a write's response on a `session` route.
    pub fn pin_cookie(&self, now: Timestamp) -> String {
        session::pin_cookie(&self.session_cookie, now, self.session_window)
    }
}

fn sticky_key(sticky: &Sticky, request: &impl RequestView) -> Option<Vec<u8>> {
    match sticky {
        Sticky::Header(h) => request.header(h),
        Sticky::Cookie(c) => {
            let header = request.header("cookie")?;
            session::cookie(&header, c).map(<[u8]>::to_vec)
        }
    }
    .filter(|k| !k.is_empty())
}

#[cfg(test)]
mod tests;
