//! The command line every service binary shares. A service is configured by `FRICTION_*`
//! variables (see [`crate::config`]); its arguments only ask what it is
//! (`--help`, `--version`) or whether its configuration would start (`--check-config`).
//!
//! Exit codes: 0 success, 1 the service failed while running, 2 a bad command line,
//! 78 (`EX_CONFIG`) a configuration that cannot start.

use std::process::ExitCode;

use clap::{Arg, ArgAction, Command};

use crate::config::{self, ServiceConfig};

/// The project's one version, shared by every crate and the SDK.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The commit a binary was built from, when the build named it (`SOURCE_COMMIT`; not a
/// `FRICTION_*` name, which the services would read as a setting).
pub const COMMIT: &str = match option_env!("SOURCE_COMMIT") {
    Some(commit) => commit,
    None => "unknown",
};

/// `VERSION (commit COMMIT)`, as `--version` prints it.
pub fn version() -> String {
    format!("{VERSION} (commit {COMMIT})")
}

/// Exit code for a configuration that cannot start (sysexits' `EX_CONFIG`).
pub const EXIT_CONFIG: u8 = 78;

const CONFIG_HELP: &str = "Configured by FRICTION_* environment variables and an optional TOML \
file named by FRICTION_CONFIG; every setting is listed in docs/configuration.md.\n\n\
Exit codes: 0 success, 1 failure while running, 2 bad command line, 78 bad configuration.";

/// Reads the command line and the configuration of service `name`. `Ok` holds the
/// configuration to run with (logging is set up); `Err` holds the code to exit with,
/// after `--version`, `--check-config` or a configuration that cannot start.
pub fn start<T: ServiceConfig>(name: &'static str, about: &'static str) -> Result<T, ExitCode> {
    let matches = Command::new(name)
        .about(about)
        .after_help(CONFIG_HELP)
        .version(version())
        .arg(
            Arg::new("check-config")
                .long("check-config")
                .action(ArgAction::SetTrue)
                .help(
                    "Load and validate the configuration, refusing FRICTION_* variables that \
                     are not settings of this service, then exit (0 valid, 78 not)",
                ),
        )
        .get_matches();
    let check = matches.get_flag("check-config");
    if !check {
        crate::telemetry::init();
    }
    let config = config::load::<T>().map_err(|e| {
        eprintln!("{name}: {e}");
        ExitCode::from(EXIT_CONFIG)
    })?;
    if check {
        let unknown = config::unknown_vars::<T>();
        for variable in &unknown {
            eprintln!("{name}: {variable} is not a setting of this service");
        }
        if !unknown.is_empty() {
            return Err(ExitCode::from(EXIT_CONFIG));
        }
        println!("{name}: configuration is valid");
        return Err(ExitCode::SUCCESS);
    }
    Ok(config)
}

/// The exit code of a service that ran: 0, or 1 with the error logged.
pub fn exit(name: &str, result: Result<(), Box<dyn std::error::Error>>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "{name} stopped");
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
    }
}
