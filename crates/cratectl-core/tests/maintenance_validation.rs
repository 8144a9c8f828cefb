//! Rule 9: strict validation. Every error names the file, line, cluster, window (or blackout)
//! index, key and bad value, and all errors of a file are reported together.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use cratectl_core::maintenance::{ConfigError, MaintenanceConfig};

fn errors(text: &str) -> Vec<ConfigError> {
    match MaintenanceConfig::parse("maint.toml", text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(errors) => errors.0,
    }
}

/// The only error of `text`, checked for line, context and key; its message is returned.
fn only_error(text: &str, line: usize, context: &str, key: Option<&str>) -> String {
    let errors = errors(text);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let e = &errors[0];
    assert_eq!(e.file, "maint.toml");
    assert_eq!(e.line, line, "{e}");
    assert_eq!(e.context, context, "{e}");
    assert_eq!(e.key.as_deref(), key, "{e}");
    e.to_string()
}

fn window_with(line: &str) -> String {
    format!(
        "[prod]\ntimezone = \"UTC\"\n\n[[prod.windows]]\ntime = \"18:00-22:00\"\n\n[[prod.windows]]\n{line}\n"
    )
}

#[test]
fn a_misspelt_key_gets_a_did_you_mean() {
    let text = "[prod]\nmin_windows_duration = 15\n[[prod.windows]]\ntime = \"01:00-02:00\"\n";
    let message = only_error(text, 2, "cluster 'prod'", None);
    assert!(
        message.starts_with("maint.toml:2:1: cluster 'prod': unknown key 'min_windows_duration'"),
        "{message}"
    );
    assert!(
        message.contains("did you mean 'min_window_duration'?"),
        "{message}"
    );

    let text = "[prod]\n[[prod.windows]]\ntime = \"01:00-02:00\"\nweekday = \"mon\"\n";
    let message = only_error(text, 4, "cluster 'prod', window 1", None);
    assert!(
        message.contains("unknown key 'weekday'") && message.contains("did you mean 'weekdays'?"),
        "{message}"
    );
    // A key with no near miss lists the valid ones.
    let text = "[prod]\nunrestricted = true\ncolour = \"blue\"\n";
    let message = only_error(text, 3, "cluster 'prod'", None);
    assert!(
        message.contains("valid keys are timezone, min_window_duration"),
        "{message}"
    );
}

#[test]
fn bad_times_name_the_window_key_and_value() {
    for (time, fragment) in [
        ("25:00-26:00", "\"25:00\""),
        ("10:60-11:00", "\"10:60\""),
        ("18:00:00-19:00", "\"18:00:00\""),
        ("aa", "\"aa\""),
        ("1800", "\"1800\""),
        ("18:00", "\"18:00\""),
        ("", "\"\""),
    ] {
        let message = only_error(
            &window_with(&format!("time = \"{time}\"")),
            8,
            "cluster 'prod', window 2",
            Some("time"),
        );
        assert!(message.contains(fragment), "{time}: {message}");
        assert!(
            message.contains("maint.toml:8:8: cluster 'prod', window 2, key 'time':"),
            "{message}"
        );
    }
    let message = only_error(
        &window_with("time = \"18:00\""),
        8,
        "cluster 'prod', window 2",
        Some("time"),
    );
    assert!(
        message.contains("expected \"HH:MM-HH:MM\""),
        "a time without '-': {message}"
    );
}

#[test]
fn unknown_weekdays_and_ordinals() {
    let text = window_with("time = \"01:00-02:00\"\nweekdays = [\"mon\", \"funday\"]");
    let message = only_error(&text, 9, "cluster 'prod', window 2", Some("weekdays"));
    assert!(message.contains("unknown weekday \"funday\""), "{message}");
    // Pointed at the bad element, not the list.
    assert!(message.starts_with("maint.toml:9:20:"), "{message}");

    let text = window_with("time = \"01:00-02:00\"\nweekdays = \"mon, funday\"");
    let message = only_error(&text, 9, "cluster 'prod', window 2", Some("weekdays"));
    assert!(message.contains("\"funday\""), "{message}");

    let text = window_with("time = \"01:00-02:00\"\nordinal_days = [\"6th mon\"]");
    let message = only_error(&text, 9, "cluster 'prod', window 2", Some("ordinal_days"));
    assert!(message.contains("unknown ordinal \"6th\""), "{message}");
    let text = window_with("time = \"01:00-02:00\"\nordinal_days = \"2nd tue, invalid\"");
    let message = only_error(&text, 9, "cluster 'prod', window 2", Some("ordinal_days"));
    assert!(message.contains("\"invalid\""), "{message}");
}

#[test]
fn unknown_time_zone_with_suggestion() {
    let text = "[prod]\ntimezone = \"Europe/Berln\"\n[[prod.windows]]\ntime = \"01:00-02:00\"\n";
    let message = only_error(text, 2, "cluster 'prod'", Some("timezone"));
    assert!(
        message.contains("unknown time zone \"Europe/Berln\""),
        "{message}"
    );
    assert!(message.contains("did you mean \"Europe/Berlin\""), "{message}");
}

#[test]
fn blackout_errors() {
    let text = "[prod]\nunrestricted = true\n[[prod.blackouts]]\nstart = 2024-12-26T00:00:00\nend = \"2024-12-24T00:00:00Z\"\n";
    let message = only_error(text, 5, "cluster 'prod', blackout 1", Some("end"));
    assert!(message.contains("is not after start"), "{message}");

    let text = "[prod]\nunrestricted = true\n[[prod.blackouts]]\nstart = \"2024-12-24\"\nend = \"2024-12-26T00:00:00\"\n";
    let message = only_error(text, 4, "cluster 'prod', blackout 1", Some("start"));
    assert!(message.contains("a date needs a time of day"), "{message}");

    let text =
        "[prod]\nunrestricted = true\n[[prod.blackouts]]\nstart = \"soon\"\nend = 2024-12-26T00:00:00Z\n";
    let message = only_error(text, 4, "cluster 'prod', blackout 1", Some("start"));
    assert!(message.contains("invalid date-time \"soon\""), "{message}");

    let text = "[prod]\nunrestricted = true\n[[prod.blackouts]]\nstart = 2024-12-26T00:00:00Z\n";
    let message = only_error(text, 3, "cluster 'prod', blackout 1", None);
    assert!(message.contains("missing key 'end'"), "{message}");
}

#[test]
fn wrong_value_types() {
    let cases = [
        (
            "min_window_duration = \"x\"",
            "min_window_duration",
            "expected a whole number of minutes",
        ),
        (
            "min_window_duration = 30.5",
            "min_window_duration",
            "found float 30.5",
        ),
        (
            "min_window_duration = -5",
            "min_window_duration",
            "-5 is out of range",
        ),
        ("dc_util_timeout = 0", "dc_util_timeout", "0 is out of range"),
        (
            "min_availability = \"SOME\"",
            "min_availability",
            "expected NONE, PRIMARIES or FULL",
        ),
        (
            "unrestricted = \"yes\"",
            "unrestricted",
            "expected true or false, found string \"yes\"",
        ),
        ("timezone = 1", "timezone", "expected a string, found integer 1"),
    ];
    for (line, key, fragment) in cases {
        let text = format!("[prod]\n{line}\n[[prod.windows]]\ntime = \"01:00-02:00\"\n");
        let message = only_error(&text, 2, "cluster 'prod'", Some(key));
        assert!(message.contains(fragment), "{line}: {message}");
    }
    let message = only_error(
        &window_with("time = 1800"),
        8,
        "cluster 'prod', window 2",
        Some("time"),
    );
    assert!(
        message.contains("expected a string, found integer 1800"),
        "{message}"
    );
    let message = only_error(
        &window_with("time = \"01:00-02:00\"\nweekdays = 5"),
        9,
        "cluster 'prod', window 2",
        Some("weekdays"),
    );
    assert!(
        message.contains("a list of strings or one comma-separated string"),
        "{message}"
    );
    let message = only_error(
        &window_with("time = \"01:00-02:00\"\nweekdays = []"),
        9,
        "cluster 'prod', window 2",
        Some("weekdays"),
    );
    assert!(message.contains("is empty"), "{message}");
    // A single-bracket table where an array of tables is expected.
    let message = only_error(
        "[prod]\n[prod.windows]\ntime = \"01:00-02:00\"\n",
        2,
        "cluster 'prod'",
        Some("windows"),
    );
    assert!(
        message.contains("an array of tables, written [[prod.windows]]"),
        "{message}"
    );
}

#[test]
fn top_level_values_must_be_tables() {
    let text = "timezone = \"UTC\"\n[prod]\nunrestricted = true\n";
    let message = only_error(text, 1, "", None);
    assert!(
        message.contains("top-level key 'timezone' is a string"),
        "{message}"
    );
    assert!(
        message.contains("belongs inside one of those tables"),
        "{message}"
    );
}

#[test]
fn a_window_that_can_never_open_is_an_error() {
    let text = window_with("time = \"01:00-02:00\"\nweekdays = \"mon\"\nordinal_days = \"2nd tue\"");
    let message = only_error(&text, 10, "cluster 'prod', window 2", Some("ordinal_days"));
    assert!(message.contains("can never open"), "{message}");
}

#[test]
fn toml_syntax_errors_have_a_line() {
    let errors = errors("[prod]\nunrestricted = true\ntime = \"01:00\n");
    assert!(!errors.is_empty());
    assert_eq!(errors[0].line, 3, "{}", errors[0]);
    assert!(errors[0].message.starts_with("invalid TOML"), "{}", errors[0]);
}

#[test]
fn an_empty_file_is_an_error() {
    let errors = errors("# nothing here\n");
    assert!(
        errors[0].message.contains("no cluster and no [defaults]"),
        "{}",
        errors[0]
    );
}

#[test]
fn every_error_is_reported_not_just_the_first_in_file_order() {
    let text = r#"
[a]
timezone = "Mars/Olympus"
min_windows_duration = 10
[[a.windows]]
time = "25:00-26:00"
[[a.windows]]
time = "01:00-02:00"
weekdays = ["someday"]

[b]
timezone = "UTC"
"#;
    let errors = errors(text);
    let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![3, 4, 6, 9, 11], "{errors:#?}");
    assert!(errors[2].context == "cluster 'a', window 1");
    assert!(errors[3].context == "cluster 'a', window 2");
    assert!(errors[4].message.contains("no maintenance windows"));
}

#[test]
fn quoted_cluster_names_and_implicit_tables_are_located() {
    // The cluster table only exists implicitly through [[...windows]].
    let text = "[[\"prod.eu\".windows]]\ntime = \"01:00-02:60\"\n";
    let message = only_error(text, 2, "cluster 'prod.eu', window 1", Some("time"));
    assert!(message.contains("\"02:60\""), "{message}");
}

#[test]
fn warnings_do_not_fail_the_file() {
    let text = r#"
[a]
unrestricted = true
[[a.windows]]
time = "01:00-02:00"

[b]
min_window_duration = 60
[[b.windows]]
time = "01:00-01:30"
[[b.windows]]
time = "03:00-05:00"
"#;
    let config = MaintenanceConfig::parse("maint.toml", text).unwrap();
    let warnings: Vec<String> = config.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(warnings.len(), 2, "{warnings:#?}");
    assert!(
        warnings[0].contains("cluster 'a'") && warnings[0].contains("ignored"),
        "{}",
        warnings[0]
    );
    assert!(
        warnings[1].contains("window 1 (01:00-01:30) lasts 30 min"),
        "{}",
        warnings[1]
    );
}

#[test]
fn the_shipped_sample_is_valid_and_identical_to_the_example_file() {
    use cratectl_core::maintenance::SAMPLE_CONFIG;
    let config = MaintenanceConfig::parse("sample", SAMPLE_CONFIG).unwrap();
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    let names: Vec<&str> = config.clusters.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, vec!["prod-eu", "analytics-us", "dev-scratch"]);
    assert!(config.defaults.is_some());
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/maintenance-windows.toml"
    ))
    .unwrap();
    assert_eq!(
        example, SAMPLE_CONFIG,
        "regenerate with: cratectl maintenance create-config -o examples/maintenance-windows.toml --force"
    );
}
