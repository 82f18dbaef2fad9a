//! Decisions and the reasons behind them.
//!
//! Every shed names its reason; the reason's [`ShedReason::as_str`] is what
//! operators see in the response header, in metric names and in logs, so these
//! strings are part of the public interface and never change meaning.

/// Why a request was shed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ShedReason {
    /// In-flight requests (across all workers) reached the class's threshold:
    /// `⌊limit × share(class)⌋`.
    ConcurrencyLimit,
    /// The service has been failing this class's requests: refused with the
    /// success-rate throttle's probability (`limit::success_rate`).
    SuccessRate,
    /// In-flight requests reached the threshold the SLO tuner set
    /// (`limit::tuner`), though not the configured one: shed because the
    /// service is outside its SLO.
    SloGuard,
    /// The request's tenant already held its share of the limit
    /// (`tenant`): `max(1, ⌊limit × max_share⌋)` in flight.
    TenantCap,
}

impl ShedReason {
    pub const ALL: [ShedReason; 4] = [
        ShedReason::ConcurrencyLimit,
        ShedReason::SuccessRate,
        ShedReason::SloGuard,
        ShedReason::TenantCap,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            ShedReason::ConcurrencyLimit => "concurrency_limit",
            ShedReason::SuccessRate => "success_rate",
            ShedReason::SloGuard => "slo_guard",
            ShedReason::TenantCap => "tenant_cap",
        }
    }
}

impl std::fmt::Display for ShedReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The admission decision for one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Admit,
    Shed(ShedReason),
}
