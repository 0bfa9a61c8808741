//! Prometheus metrics of the admin service, named `friction_admin_*`.

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

/// Every admin metric.
pub struct Metrics {
    /// Requests by route and outcome (`ok` or the error code).
    pub requests: IntCounterVec,
    /// Request latency by route.
    pub request_seconds: HistogramVec,
}

impl Metrics {
    /// Creates and registers the metrics.
    pub fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let m = Metrics {
            requests: IntCounterVec::new(
                Opts::new("friction_admin_requests_total", "Admin API requests"),
                &["route", "outcome"],
            )?,
            request_seconds: HistogramVec::new(
                HistogramOpts::new(
                    "friction_admin_request_duration_seconds",
                    "Admin API request latency",
                )
                .buckets(vec![0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0]),
                &["route"],
            )?,
        };
        registry.register(Box::new(m.requests.clone()))?;
        registry.register(Box::new(m.request_seconds.clone()))?;
        Ok(m)
    }
}
