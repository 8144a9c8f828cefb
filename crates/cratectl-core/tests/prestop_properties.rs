//! Property tests for the preStop/dc_util analysis: the parsers never panic on anything, and the
//! timeout found is the one written on the dc_util invocation, however the hook is dressed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use cratectl_core::prestop::{PreStopHook, TimeoutSource, analyze, parse_timeout};
use proptest::prelude::*;

fn exec(words: Vec<String>) -> PreStopHook {
    PreStopHook::Exec { command: words }
}

/// Text rich in shell metacharacters.
fn shellish() -> impl Strategy<Value = String> {
    proptest::string::string_regex(r#"[a-z_\-./ '"\\$(){}`;&|<>#=\n0-9msh]{0,80}"#).unwrap()
}

/// A Go duration written as components: (hours, minutes, seconds, milliseconds).
fn components() -> impl Strategy<Value = (u64, u64, u64, u64)> {
    (0u64..100, 0u64..200, 0u64..5000, 0u64..2000)
}

fn go_text((h, m, s, ms): (u64, u64, u64, u64)) -> String {
    let mut text = String::new();
    for (value, unit) in [(h, "h"), (m, "m"), (s, "s"), (ms, "ms")] {
        if value > 0 {
            text.push_str(&format!("{value}{unit}"));
        }
    }
    if text.is_empty() { "0s".to_string() } else { text }
}

fn total((h, m, s, ms): (u64, u64, u64, u64)) -> Duration {
    Duration::from_millis(((h * 60 + m) * 60 + s) * 1000 + ms)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_timeout_never_panics(text in any::<String>()) {
        let _ = parse_timeout(&text);
    }

    #[test]
    fn parse_timeout_never_panics_on_duration_like_text(text in "[-+0-9.hmsunµ]{0,40}") {
        let _ = parse_timeout(&text);
    }

    #[test]
    fn analyze_never_panics_on_scripts(script in shellish(), shell in prop::sample::select(vec!["/bin/sh", "bash", "sh"])) {
        let _ = analyze(&exec(vec![shell.to_string(), "-c".to_string(), script]));
    }

    #[test]
    fn analyze_never_panics_on_words(words in prop::collection::vec(any::<String>(), 0..8)) {
        let _ = analyze(&exec(words));
    }

    #[test]
    fn analyze_never_panics_on_dc_util_args(args in prop::collection::vec(shellish(), 0..6)) {
        let mut words = vec!["./dc_util".to_string()];
        words.extend(args);
        let _ = analyze(&exec(words));
    }

    #[test]
    fn go_durations_add_up(parts in components()) {
        prop_assert_eq!(parse_timeout(&go_text(parts)), Ok(total(parts)));
    }

    #[test]
    fn plain_seconds(seconds in 0u64..10_000_000) {
        prop_assert_eq!(parse_timeout(&seconds.to_string()), Ok(Duration::from_secs(seconds)));
    }

    /// The timeout comes from the dc_util invocation, whatever surrounds it.
    #[test]
    fn timeout_of_the_invocation(
        parts in components(),
        style in 0usize..4,
        before in prop::sample::select(vec![
            "", "sleep 5; ", "timeout 30 ./decommission -t 5 && ", "echo '-timeout 1s'; ",
            "ARCH=$(uname -m) && curl -sLO http://x/dc_util-linux-${ARCH} && ",
        ]),
        after in prop::sample::select(vec!["", " || true", " 2>&1 | tee /proc/1/fd/1", "; sleep 1 -t 9"]),
        executable in prop::sample::select(vec!["./dc_util", "/usr/bin/dc-util", "dc_util-linux-${ARCH}", "./DC_UTIL"]),
    ) {
        let value = go_text(parts);
        let flag = match style {
            0 => format!("-timeout {value}"),
            1 => format!("--timeout {value}"),
            2 => format!("-timeout={value}"),
            _ => format!("--timeout='{value}'"),
        };
        let script = format!("{before}{executable} --min-availability PRIMARIES {flag}{after}");
        let analysis = analyze(&exec(vec!["/bin/sh".into(), "-c".into(), script.clone()])).unwrap();
        let call = analysis.dc_util.expect("dc_util found");
        prop_assert_eq!(call.timeout, total(parts), "{}", script);
        let is_flag = matches!(call.timeout_from, TimeoutSource::Flag { .. });
        prop_assert!(is_flag);
    }
}
