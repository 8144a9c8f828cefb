//! Criterion benchmarks for the maintenance-window model.
//!
//! Targets: `check` (a full [`decide`]) under 5 µs, `next_window` ([`Schedule::next_opening`])
//! under 100 µs, on a realistic 50-window configuration in a zone with DST.
//!
//! Run with `cargo bench -p cratectl-core --bench maintenance`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use cratectl_core::maintenance::{MaintenanceConfig, Schedule, decide};
use criterion::{Criterion, criterion_group, criterion_main};
use jiff::Timestamp;

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const ORDINALS: [&str; 5] = ["1st", "2nd", "3rd", "4th", "last"];

/// Fifty windows as several teams would write them: night and weekend slots, some crossing
/// midnight, weekday lists (as arrays and as one string), monthly ordinal slots, and a few
/// with both rules.
fn fifty_windows(cluster: &str) -> String {
    let mut text = String::new();
    for i in 0..50usize {
        // Starts between 20:00 and 04:45, 30 minutes to 3 hours long: many cross midnight.
        let start = (20 * 60 + (i * 105) % (9 * 60)) % 1440;
        let start = start - start % 15;
        let end = (start + 30 + (i % 6) * 30) % 1440;
        let hhmm = |m: usize| format!("{:02}:{:02}", m / 60, m % 60);
        text.push_str(&format!("[[{cluster}.windows]]\n"));
        text.push_str(&format!("time = \"{}-{}\"\n", hhmm(start), hhmm(end)));
        text.push_str(&format!("description = \"team {} slot {}\"\n", i % 7, i));
        let day = DAYS[i % 7];
        let other = DAYS[(i + 3) % 7];
        match i % 5 {
            0 => text.push_str(&format!("weekdays = [\"{day}\", \"{other}\"]\n")),
            1 => text.push_str(&format!("ordinal_days = [\"{} {day}\"]\n", ORDINALS[i % 5])),
            2 => text.push_str(&format!("weekdays = \"{day},{other}\"\n")),
            3 => {
                text.push_str(&format!("weekdays = [\"{day}\"]\n"));
                text.push_str(&format!(
                    "ordinal_days = [\"{} {day}\", \"{} {day}\"]\n",
                    ORDINALS[i % 4],
                    ORDINALS[(i + 2) % 5]
                ));
            }
            _ => text.push_str(&format!(
                "weekdays = [\"{day}\", \"{other}\", \"sat\", \"sun\"]\n"
            )),
        }
        text.push('\n');
    }
    text
}

fn config_text() -> String {
    let mut text = String::from(
        "# Benchmark configuration: 50 windows in Berlin, with blackouts.\n\
         [prod]\n\
         timezone = \"Europe/Berlin\"\n\
         min_window_duration = 30\n\n",
    );
    text.push_str(&fifty_windows("prod"));
    text.push_str(
        "[[prod.blackouts]]\n\
         start = 2024-12-19T00:00:00\n\
         end = 2025-01-06T00:00:00\n\
         reason = \"Year-end change freeze\"\n\n\
         [[prod.blackouts]]\n\
         start = \"2024-11-29T00:00:00-05:00\"\n\
         end = \"2024-12-02T12:00:00Z\"\n\
         reason = \"Black Friday\"\n\n\
         [[prod.blackouts]]\n\
         start = \"2024-08-01T00:00:00\"\n\
         end = \"2024-08-02T00:00:00\"\n\
         reason = \"Audit\"\n\n",
    );
    // Worst case 1: the only windows are "5th <weekday>" slots, which months with four of that
    // weekday do not have.
    text.push_str("[rare]\ntimezone = \"Europe/Berlin\"\n\n");
    for (time, ordinal) in [
        ("02:00-04:00", "5th sat"),
        ("22:00-01:00", "fifth sat"),
        ("10:00-12:00", "5th sat"),
    ] {
        text.push_str(&format!(
            "[[rare.windows]]\ntime = \"{time}\"\nordinal_days = [\"{ordinal}\"]\n\n"
        ));
    }
    // Worst case 2: the 50 windows, inside a 100-day freeze: every occurrence of the freeze is
    // generated and cut away before the first opening after it is found.
    text.push_str("[frozen]\ntimezone = \"Europe/Berlin\"\n\n");
    text.push_str(&fifty_windows("frozen"));
    text.push_str(
        "[[frozen.blackouts]]\n\
         start = 2024-09-01T00:00:00\n\
         end = 2024-12-10T00:00:00\n\
         reason = \"Migration freeze\"\n",
    );
    text
}

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn schedule<'c>(config: &'c MaintenanceConfig, cluster: &str) -> &'c Schedule {
    config.schedule(cluster).unwrap().0
}

fn benches(c: &mut Criterion) {
    let config = MaintenanceConfig::parse("bench.toml", &config_text()).unwrap();
    assert_eq!(schedule(&config, "prod").windows().len(), 50);
    let needed = Duration::from_secs(30 * 60);

    // Saturday 2024-06-15 23:30 CEST: inside several overlapping night windows.
    let inside = ts("2024-06-15T21:30:00Z");
    // Wednesday 2024-06-12 12:00 CEST: outside every window.
    let outside = ts("2024-06-12T10:00:00Z");
    let at_inside = decide(&config, "prod", inside, needed).unwrap();
    assert!(
        at_inside.in_window && !at_inside.should_wait,
        "{}",
        at_inside.reason
    );
    let at_outside = decide(&config, "prod", outside, needed).unwrap();
    assert!(
        !at_outside.in_window && at_outside.should_wait,
        "{}",
        at_outside.reason
    );

    let mut check = c.benchmark_group("check");
    check.bench_function("inside_window", |b| {
        b.iter(|| {
            decide(
                black_box(&config),
                black_box("prod"),
                black_box(inside),
                black_box(needed),
            )
        })
    });
    check.bench_function("outside_windows", |b| {
        b.iter(|| {
            decide(
                black_box(&config),
                black_box("prod"),
                black_box(outside),
                black_box(needed),
            )
        })
    });
    check.finish();

    let prod = schedule(&config, "prod");
    let rare = schedule(&config, "rare");
    let frozen = schedule(&config, "frozen");
    // After the last 5th-Saturday window of August 2024 (it ends Sunday 01:00) the next one is on
    // 30 November: 90 days ahead.
    let after_fifth = ts("2024-09-01T12:00:00Z");
    // Just after the freeze begins: 100 days of occurrences are cut away.
    let in_freeze = ts("2024-09-01T12:00:00Z");
    // Inside the 18-day year-end freeze of the main cluster.
    let year_end = ts("2024-12-19T12:00:00Z");
    assert!(prod.next_opening(year_end).unwrap().start >= ts("2025-01-05T23:00:00Z"));
    let typical_next = prod.next_opening(outside).unwrap();
    assert!(typical_next.start > outside);
    let rare_next = rare.next_opening(after_fifth).unwrap();
    assert_eq!(rare_next.start, ts("2024-11-30T01:00:00Z"));
    let frozen_next = frozen.next_opening(in_freeze).unwrap();
    assert!(frozen_next.start >= ts("2024-12-09T23:00:00Z"));

    let mut next = c.benchmark_group("next_window");
    next.bench_function("typical", |b| {
        b.iter(|| black_box(prod).next_opening(black_box(outside)))
    });
    next.bench_function("fifth_weekday_only", |b| {
        b.iter(|| black_box(rare).next_opening(black_box(after_fifth)))
    });
    next.bench_function("inside_year_end_freeze", |b| {
        b.iter(|| black_box(prod).next_opening(black_box(year_end)))
    });
    next.bench_function("inside_100_day_freeze", |b| {
        b.iter(|| black_box(frozen).next_opening(black_box(in_freeze)))
    });
    next.finish();
}

criterion_group!(maintenance, benches);
criterion_main!(maintenance);
