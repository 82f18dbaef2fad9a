//! Contextual routing: which cluster a request goes to, from what the
//! request is (rules on its context) and how the clusters are doing (shared
//! stats: latency, errors, in-flight, outlier state).
//!
//! The router filter asks [`Router::decide`] at request headers and writes
//! the chosen cluster into a header that Envoy's route reads with
//! `cluster_header`. Everything here is host-independent: the request is a
//! [`crate::request::RequestView`], the clusters' state a slice of
//! [`ClusterView`], time and random draws are arguments.

mod choice;
mod matcher;
mod reason;
pub mod regex;
mod router;
pub mod session;

pub use choice::{ClusterView, Weighted};
pub use matcher::{HostMatch, PathRegex, RouteMatch};
pub use reason::RouteReason;
pub use router::{Action, Consistency, Decision, RouteRule, Router, Spillover, Sticky};
