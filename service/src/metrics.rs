//! The metrics every service exposes besides its own: `process_*` (CPU seconds, resident
//! memory, open and maximum file descriptors, start time; read from `/proc`) and
//! `friction_<service>_build_info{version,commit} 1`, so a dashboard can tell which build
//! runs where.

use prometheus::{IntGaugeVec, Opts, Registry};

use crate::cli::{COMMIT, VERSION};

/// A registry for service `service` (`ingest`, `consumers`, ...) with the process and
/// build metrics registered; the service adds its own.
pub fn registry(service: &str) -> Result<Registry, prometheus::Error> {
    let registry = Registry::new();
    registry.register(Box::new(
        prometheus::process_collector::ProcessCollector::for_self(),
    ))?;
    let build = IntGaugeVec::new(
        Opts::new(
            format!("friction_{service}_build_info"),
            "The version and commit of the running binary (always 1)",
        ),
        &["version", "commit"],
    )?;
    build.with_label_values(&[VERSION, COMMIT]).set(1);
    registry.register(Box::new(build))?;
    Ok(registry)
}

#[cfg(test)]
mod tests {
    use prometheus::{Encoder, TextEncoder};

    #[test]
    fn process_and_build_metrics_are_exposed() {
        let registry = super::registry("test").unwrap();
        let mut text = Vec::new();
        TextEncoder::new()
            .encode(&registry.gather(), &mut text)
            .unwrap();
        let text = String::from_utf8(text).unwrap();
        for name in [
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
            "process_open_fds",
            "process_max_fds",
            "process_start_time_seconds",
        ] {
            assert!(
                text.contains(&format!("\n{name} ")),
                "{name} missing:\n{text}"
            );
        }
        assert!(text.contains(&format!(
            "friction_test_build_info{{commit=\"{}\",version=\"{}\"}} 1",
            super::COMMIT,
            super::VERSION
        )));
    }
}
