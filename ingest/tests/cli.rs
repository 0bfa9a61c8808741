//! The binary's command line: help, version and `--check-config` (nothing is started).

#[test]
fn the_command_line_explains_and_checks_without_starting() {
    friction_testkit::check_service_command_line(
        env!("CARGO_BIN_EXE_friction-ingest"),
        "friction-ingest",
    );
}
