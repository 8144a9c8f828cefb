//! The `cratectl maintenance` commands, run as a user runs them: the built binary, real files,
//! exit codes, stdout/stderr, and the JSON contracts later tools parse.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

fn cratectl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cratectl"))
        .args(args)
        .output()
        .expect("cratectl runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

fn json_of(output: &Output) -> Value {
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(output));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// A scratch directory per test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("cratectl-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn file(&self, name: &str, text: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const EVENINGS: &str = r#"
[c]
min_window_duration = 30
[[c.windows]]
time = "18:00-22:00"
weekdays = ["mon", "tue", "wed"]
description = "Evening maintenance"
"#;

#[test]
fn check_json_contract_inside_a_window() {
    let dir = Scratch::new("check-in");
    let config = dir.file("m.toml", EVENINGS);
    let out = cratectl(&[
        "maintenance",
        "check",
        &config,
        "c",
        "--at",
        "2024-01-01T19:00:00Z",
        "-o",
        "json",
    ]);
    let raw = stdout(&out);
    let v = json_of(&out);
    // The contract's fields come first, in the documented order, at the top level.
    let contract = [
        "cluster",
        "at",
        "timezone",
        "in_window",
        "should_wait",
        "reason",
        "window",
        "next_window",
    ];
    let positions: Vec<usize> = contract
        .iter()
        .map(|key| {
            raw.find(&format!("\n  \"{key}\": "))
                .unwrap_or_else(|| panic!("{key} missing: {raw}"))
        })
        .collect();
    assert!(positions.windows(2).all(|p| p[0] < p[1]), "{raw}");
    assert!(
        raw.find("\n  \"open_until\": ").unwrap() > positions[7],
        "extensions come after the contract"
    );
    assert_eq!(v["cluster"], "c");
    assert_eq!(v["at"], "2024-01-01T19:00:00Z");
    assert_eq!(v["timezone"], "UTC");
    assert_eq!(v["in_window"], true);
    assert_eq!(v["should_wait"], false);
    assert_eq!(
        v["window"],
        json!({"description": "Evening maintenance", "start": "2024-01-01T18:00:00Z", "end": "2024-01-01T22:00:00Z"})
    );
    assert_eq!(v["next_window"]["start"], "2024-01-02T18:00:00Z");
    assert_eq!(v["open_until"], "2024-01-01T22:00:00Z");
    assert_eq!(v["required_minutes"], 30);
    assert!(v["reason"].as_str().unwrap().contains("Evening maintenance"));
}

#[test]
fn check_json_outside_a_window_and_offsets_in_at() {
    let dir = Scratch::new("check-out");
    let config = dir.file("m.toml", EVENINGS);
    // 18:00+01:00 is 17:00Z: outside, next window at 18:00Z.
    let v = json_of(&cratectl(&[
        "maintenance",
        "check",
        &config,
        "c",
        "--at",
        "2024-01-01T18:00:00+01:00",
        "-o",
        "json",
    ]));
    assert_eq!(v["at"], "2024-01-01T17:00:00Z", "at is reported in UTC");
    assert_eq!(
        (v["in_window"].clone(), v["should_wait"].clone()),
        (json!(false), json!(true))
    );
    assert_eq!(v["window"], Value::Null);
    assert_eq!(
        v["next_window"],
        json!({"description": "Evening maintenance", "start": "2024-01-01T18:00:00Z", "end": "2024-01-01T22:00:00Z"})
    );
}

#[test]
fn check_needed_raises_the_requirement() {
    let dir = Scratch::new("check-needed");
    let config = dir.file("m.toml", EVENINGS);
    let at = ["--at", "2024-01-01T21:00:00Z", "-o", "json"];
    let base = ["maintenance", "check", config.as_str(), "c"];
    let v = json_of(&cratectl(&[&base[..], &at[..]].concat()));
    assert_eq!(v["should_wait"], false);
    let v = json_of(&cratectl(
        &[&base[..], &at[..], &["--needed", "1h30m"][..]].concat(),
    ));
    assert_eq!(v["should_wait"], true);
    assert_eq!(v["required_minutes"], 90);
    let bad = cratectl(&[&base[..], &["--needed", "soon"][..]].concat());
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn check_yaml_has_the_same_fields() {
    let dir = Scratch::new("check-yaml");
    let config = dir.file("m.toml", EVENINGS);
    let out = cratectl(&[
        "maintenance",
        "check",
        &config,
        "c",
        "--at",
        "2024-01-01T19:00:00Z",
        "-o",
        "yaml",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_yaml_ng::from_slice(&out.stdout).unwrap();
    assert_eq!(v["in_window"], true);
    assert_eq!(v["window"]["end"], "2024-01-01T22:00:00Z");
}

#[test]
fn check_text_names_the_decision_and_next_window() {
    let dir = Scratch::new("check-text");
    let config = dir.file("m.toml", EVENINGS);
    let out = cratectl(&[
        "maintenance",
        "check",
        &config,
        "c",
        "--at",
        "2024-01-04T19:00:00Z",
    ]);
    assert_eq!(out.status.code(), Some(0), "exit 0 even when the answer is wait");
    let text = stdout(&out);
    assert!(text.contains("In window:   no"), "{text}");
    assert!(text.contains("Should wait: yes"), "{text}");
    assert!(
        text.contains("Next window: 'Evening maintenance' 2024-01-08T18:00:00Z"),
        "{text}"
    );
}

#[test]
fn check_rejects_bad_input_with_exit_2() {
    let dir = Scratch::new("check-bad");
    let config = dir.file("m.toml", EVENINGS);
    // Unknown cluster, no [defaults].
    let out = cratectl(&[
        "maintenance",
        "check",
        &config,
        "d",
        "--at",
        "2024-01-01T19:00:00Z",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).is_empty());
    assert!(
        stderr(&out).contains("cluster 'd'") && stderr(&out).contains("no [defaults]"),
        "{}",
        stderr(&out)
    );
    // A bad time: no offset.
    let out = cratectl(&[
        "maintenance",
        "check",
        &config,
        "c",
        "--at",
        "2024-01-01T19:00:00",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("with an offset or Z"), "{}", stderr(&out));
    // An invalid file: every error, with file and line.
    let bad = dir.file(
        "bad.toml",
        "[c]\nmin_windows_duration = 1\n[[c.windows]]\ntime = \"25:00-26:00\"\n",
    );
    let out = cratectl(&["maintenance", "check", &bad, "c"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{bad}:2:1")) && err.contains("did you mean 'min_window_duration'"),
        "{err}"
    );
    assert!(
        err.contains(&format!("{bad}:4:8")) && err.contains("\"25:00\""),
        "{err}"
    );
    // A missing file.
    let out = cratectl(&[
        "maintenance",
        "check",
        &dir.path("missing.toml").display().to_string(),
        "c",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("missing.toml"), "{}", stderr(&out));
}

#[test]
fn list_windows_json_contract() {
    let dir = Scratch::new("list");
    let config = dir.file(
        "m.toml",
        r#"
[b]
timezone = "Europe/Berlin"
[[b.windows]]
time = "02:00-04:00"
[[b.windows]]
time = "23:00-01:00"
weekdays = "FRI, sat"
ordinal_days = ["Last Fri"]
description = "Month end"
[a]
unrestricted = true
"#,
    );
    let v = json_of(&cratectl(&["maintenance", "list-windows", &config, "-o", "json"]));
    assert_eq!(
        v,
        json!([
            {"cluster": "b", "index": 1, "description": null, "time": "02:00-04:00",
             "weekdays": null, "ordinal_days": null, "timezone": "Europe/Berlin"},
            {"cluster": "b", "index": 2, "description": "Month end", "time": "23:00-01:00",
             "weekdays": ["fri", "sat"], "ordinal_days": ["last fri"], "timezone": "Europe/Berlin"}
        ])
    );
    let text = stdout(&cratectl(&["maintenance", "list-windows", &config]));
    assert!(text.contains("unrestricted"), "{text}");
}

#[test]
fn next_lists_openings_with_utc_and_local_times() {
    let dir = Scratch::new("next");
    let config = dir.file(
        "m.toml",
        "[c]\ntimezone = \"Europe/Berlin\"\n[[c.windows]]\ntime = \"02:00-04:00\"\n",
    );
    let v = json_of(&cratectl(&[
        "maintenance",
        "next",
        &config,
        "c",
        "--at",
        "2024-03-30T02:00:00Z",
        "--count",
        "2",
        "-o",
        "json",
    ]));
    let openings = v["openings"].as_array().unwrap();
    assert_eq!(openings.len(), 2);
    // 03:00 CET on the 30th: in progress.
    assert_eq!(openings[0]["in_progress"], true);
    assert_eq!(openings[0]["local_start"], "2024-03-30T02:00:00+01:00");
    // The DST night: starts after the gap, at 03:00 CEST.
    assert_eq!(openings[1]["start"], "2024-03-31T01:00:00Z");
    assert_eq!(openings[1]["local_start"], "2024-03-31T03:00:00+02:00");
    assert_eq!(openings[1]["local_end"], "2024-03-31T04:00:00+02:00");
    assert_eq!(openings[1]["in_progress"], false);
    let out = cratectl(&["maintenance", "next", &config, "c", "--count", "0"]);
    assert_eq!(out.status.code(), Some(2), "count must be at least 1");
}

#[test]
fn create_config_writes_a_valid_sample_and_refuses_to_overwrite() {
    let dir = Scratch::new("create");
    let path = dir.path("new.toml");
    let target = path.display().to_string();
    let out = cratectl(&["maintenance", "create-config", "-o", &target]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let written = std::fs::read_to_string(&path).unwrap();
    assert!(written.contains("[[prod-eu.windows]]"));
    assert_eq!(
        cratectl(&["maintenance", "validate", &target]).status.code(),
        Some(0)
    );

    std::fs::write(&path, "# mine\n").unwrap();
    let out = cratectl(&["maintenance", "create-config", "-o", &target]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("already exists; use --force"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "# mine\n",
        "an existing file is left alone"
    );

    let out = cratectl(&["maintenance", "create-config", "-o", &target, "--force"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), written);

    let out = cratectl(&["maintenance", "create-config", "-o", "-"]);
    assert_eq!(stdout(&out), written);
}

#[test]
fn validate_summarises_or_lists_every_error() {
    let dir = Scratch::new("validate");
    let good = dir.file("good.toml", EVENINGS);
    let out = cratectl(&["maintenance", "validate", &good]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).contains("valid, 1 schedule(s)") && stdout(&out).contains("c: 1 window(s)"),
        "{}",
        stdout(&out)
    );

    let bad = dir.file(
        "bad.toml",
        "[c]\ntimezone = \"Nowhere/City\"\n[[c.windows]]\ntime = \"10:60-11:00\"\nweekdays = \"someday\"\n",
    );
    let out = cratectl(&["maintenance", "validate", &bad]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    for line in [2, 4, 5] {
        assert!(
            err.contains(&format!("{bad}:{line}:")),
            "line {line} missing: {err}"
        );
    }
    assert!(err.contains("invalid (3 errors)"), "{err}");

    let out = cratectl(&["maintenance", "validate", &bad, "-o", "json"]);
    assert_eq!(out.status.code(), Some(2));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], false);
    assert_eq!(v["errors"].as_array().unwrap().len(), 3);
    assert_eq!(v["errors"][1]["key"], "time");
    assert_eq!(v["errors"][1]["context"], "cluster 'c', window 1");
}

#[test]
fn help_and_version() {
    let out = cratectl(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = stdout(&out);
    assert!(
        help.contains("Exit codes:") && help.contains("2  invalid input"),
        "{help}"
    );
    let out = cratectl(&["--version"]);
    assert_eq!(
        stdout(&out).trim(),
        format!("cratectl {}", env!("CARGO_PKG_VERSION"))
    );
    let out = cratectl(&[]);
    assert_eq!(out.status.code(), Some(2), "no command is a usage error");
    let out = cratectl(&["maintenance", "check", "--help"]);
    assert!(stdout(&out).contains("--at <TIME>") && stdout(&out).contains("--needed <DURATION>"));
}

#[test]
fn the_shipped_example_works_as_the_readme_says() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/maintenance-windows.toml");
    let example = example.display().to_string();
    let out = cratectl(&[
        "maintenance",
        "check",
        &example,
        "prod-eu",
        "--at",
        "2026-11-24T21:30:00Z",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("Should wait: no"), "{}", stdout(&out));
}
