//! The `trust` and `tenant` sections.
//!
//! ```json
//! "trust": {"principals": ["spiffe://cluster.local/ns/edge/sa/gateway"],
//!           "source_cidrs": ["10.0.0.0/8"], "untrusted": "strip"},
//! "tenant": {"header": "x-tenant", "max_share": 0.5}
//! ```

use super::error::ConfigError;
use super::json::Object;
use super::{rules, validate};
use crate::tenant::TenantCap;
use crate::trust::{Trust, Untrusted};

/// Reads `trust`. An empty list of both principals and CIDRs trusts no
/// source: steering headers are then always ignored.
pub(crate) fn trust(mut raw: Object<'_>) -> Result<Trust, ConfigError> {
    let principals = raw
        .strings("principals")?
        .into_iter()
        .map(|(at, p)| {
            if p.is_empty() || p == "*" {
                Err(at.error("a principal must name an identity or a prefix ending in *"))
            } else {
                Ok(p.to_string())
            }
        })
        .collect::<Result<_, _>>()?;
    let sources = rules::cidrs(&mut raw, "source_cidrs")?;
    let untrusted =
        [Untrusted::Strip, Untrusted::Ignore][raw.choice("untrusted", &["strip", "ignore"], 0)?];
    raw.finish()?;
    Ok(Trust {
        principals,
        sources,
        untrusted,
    })
}

/// Reads `tenant`; its header may not be the priority header.
pub(crate) fn tenant(mut raw: Object<'_>, priority_header: &str) -> Result<TenantCap, ConfigError> {
    let at = raw.path().field("header");
    let header = validate::header_name(&at, raw.required_str("header")?)?;
    if header == priority_header {
        return Err(at.error("the tenant header must differ from the priority header"));
    }
    let max_share = raw.required_f64("max_share")?;
    if !(max_share > 0.0 && max_share <= 1.0) {
        return Err(raw
            .path()
            .field("max_share")
            .error("must be in (0, 1]: the most of the limit one tenant may hold"));
    }
    raw.finish()?;
    Ok(TenantCap { header, max_share })
}
