//! The per-tenant cap: no tenant holds more than a share of the limit.
//!
//! A tenant is the value of a configured request header (counted only from
//! trusted sources, [`crate::trust`]). Each tenant's requests in flight are
//! counted across all workers, like the destination's own count, and a
//! request is admitted only while its tenant holds fewer than
//!
//! ```text
//! tenant_threshold = max(1, ⌊limit × max_share⌋)
//! ```
//!
//! so one tenant can never take all the admitted capacity, whatever its
//! priority. Tenants are hashed (FNV-1a, 64-bit) into [`TENANT_BUCKETS`]
//! shared records per destination: memory stays bounded however many
//! tenants there are, and two tenants that share a bucket share one cap (the
//! cap errs on the side of the service). Requests without a tenant are not
//! capped.

/// Shared records per destination for the per-tenant counts.
pub const TENANT_BUCKETS: usize = 64;

/// A validated `tenant` section.
#[derive(Clone, Debug, PartialEq)]
pub struct TenantCap {
    /// The request header naming the tenant (lower-case).
    pub header: String,
    /// Most of the limit one tenant may hold, in (0, 1].
    pub max_share: f64,
}

impl TenantCap {
    /// The in-flight level below which a tenant's request is admitted.
    pub fn threshold(&self, limit: u32) -> u32 {
        ((f64::from(limit) * self.max_share) as u32).max(1)
    }
}

/// The bucket a tenant's count lives in; `None` for an empty value.
pub fn bucket(tenant: &[u8]) -> Option<usize> {
    if tenant.is_empty() {
        return None;
    }
    // FNV-1a, 64-bit (Fowler, Noll, Vo; offset basis and prime from the
    // published parameters).
    let hash = tenant.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    Some((hash % TENANT_BUCKETS as u64) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_is_the_share_of_the_limit_and_never_zero() {
        let cap = TenantCap {
            header: "x-tenant".into(),
            max_share: 0.5,
        };
        assert_eq!(cap.threshold(100), 50);
        assert_eq!(cap.threshold(3), 1);
        assert_eq!(cap.threshold(0), 1);
    }

    #[test]
    fn buckets_are_stable_bounded_and_spread() {
        assert_eq!(bucket(b""), None);
        assert_eq!(bucket(b"acme"), bucket(b"acme"));
        let mut seen = [false; TENANT_BUCKETS];
        for i in 0..1000 {
            let b = bucket(format!("tenant-{i}").as_bytes()).unwrap();
            seen[b] = true;
        }
        assert!(seen.iter().all(|&s| s), "1000 tenants reach every bucket");
    }
}
