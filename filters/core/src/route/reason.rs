//! Why a request went where it went.
//!
//! The strings are part of the public interface: the decision header,
//! metric tags and log lines carry them.

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RouteReason {
    /// A rule with a fixed destination matched (`rule:<name>` in the header).
    Rule,
    /// Power of two choices among the candidates by cost.
    P2c,
    /// As `P2c`, with at least one candidate left out as an outlier.
    OutlierAvoid,
    /// Sent to an avoided candidate on purpose, so that its recovery shows.
    OutlierProbe,
    /// The preferred cluster was near its concurrency limit: spilled.
    Spillover,
    /// Read-your-writes: this client wrote recently, so its reads go to the
    /// primary.
    SessionPin,
    /// The sticky key hashed to this candidate.
    Sticky,
    /// A write, or a `strong` route: always the primary.
    Primary,
}

impl RouteReason {
    pub const ALL: [RouteReason; 8] = [
        RouteReason::Rule,
        RouteReason::P2c,
        RouteReason::OutlierAvoid,
        RouteReason::OutlierProbe,
        RouteReason::Spillover,
        RouteReason::SessionPin,
        RouteReason::Sticky,
        RouteReason::Primary,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            RouteReason::Rule => "rule",
            RouteReason::P2c => "p2c",
            RouteReason::OutlierAvoid => "outlier_avoid",
            RouteReason::OutlierProbe => "outlier_probe",
            RouteReason::Spillover => "spillover",
            RouteReason::SessionPin => "session_pin",
            RouteReason::Sticky => "sticky",
            RouteReason::Primary => "primary",
        }
    }

    pub fn index(self) -> usize {
        RouteReason::ALL
            .iter()
            .position(|r| *r == self)
            .unwrap_or(0)
    }
}

impl std::fmt::Display for RouteReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
