//! What a foreground operation shows while it runs, whatever the operation: a bar per cluster on
//! a terminal, else a line whenever something changes, always on standard error (standard output
//! is the report's). The bar counts the operation's steps (a restart: its pods) and says what the
//! cluster waits for, first, so it survives a narrow terminal; each operation says what its steps
//! are through [`Steps`].

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::Duration;

use cratectl_core::op::report::{ClusterOutcome, ClusterState, OperationReport};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use jiff::Timestamp;

/// An operation's steps in one cluster, for progress.
pub trait Steps: ClusterOutcome {
    /// Steps done (succeeded, skipped or failed) and planned.
    fn done_total(&self) -> (usize, usize);
    /// One line per ended step, keyed by the step's name (announced once each).
    fn step_results(&self) -> Vec<(String, String)>;
}

/// The progress display of one foreground operation.
pub struct Progress {
    bars: Option<Bars>,
    /// Plain mode: the last line printed per cluster, and step lines already announced.
    lines: BTreeMap<String, String>,
    steps: BTreeMap<(String, String), String>,
}

struct Bars {
    multi: MultiProgress,
    bars: BTreeMap<String, ProgressBar>,
    width: usize,
}

impl Progress {
    /// Bars when standard error (where progress goes) is a terminal, else plain lines.
    pub fn new() -> Progress {
        let tty = std::io::stderr().is_terminal();
        Progress {
            bars: tty.then(|| Bars {
                multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
                bars: BTreeMap::new(),
                width: 0,
            }),
            lines: BTreeMap::new(),
            steps: BTreeMap::new(),
        }
    }

    pub fn update<R: Steps>(&mut self, report: &OperationReport<R>) {
        match &mut self.bars {
            Some(bars) => bars.update(report),
            None => self.plain(report),
        }
    }

    fn plain<R: Steps>(&mut self, report: &OperationReport<R>) {
        for cluster in &report.clusters {
            let common = cluster.common();
            let key = format!("{}/{}", common.namespace, common.name);
            for (step, line) in cluster.step_results() {
                if self.steps.get(&(key.clone(), step.clone())) != Some(&line) {
                    eprintln!("{} {key}: {line}", clock());
                    self.steps.insert((key.clone(), step), line);
                }
            }
            let status = format!("{} {}", counts(cluster), message(cluster));
            if self.lines.get(&key) != Some(&status) {
                eprintln!("{} {key}: {status}", clock());
                self.lines.insert(key, status);
            }
        }
    }

    /// Ends the display: bars are finished when the operation ended, left as they were (not
    /// shown as complete) when the process stops following it (Ctrl-C, lost records).
    pub fn finish(&mut self, ended: bool) {
        if let Some(bars) = &self.bars {
            for bar in bars.bars.values() {
                if ended {
                    bar.finish();
                } else {
                    bar.abandon();
                }
            }
            if !bars.bars.is_empty() {
                // The last bar line ends without a newline.
                eprintln!();
            }
        }
    }
}

impl Bars {
    fn update<R: Steps>(&mut self, report: &OperationReport<R>) {
        let width = report
            .clusters
            .iter()
            .map(|c| c.common().name.chars().count())
            .max()
            .unwrap_or(0);
        if width > self.width {
            self.width = width;
        }
        for cluster in &report.clusters {
            let common = cluster.common();
            let key = format!("{}/{}", common.namespace, common.name);
            let bar = match self.bars.get(&key) {
                Some(bar) => bar.clone(),
                None => {
                    let template = format!(
                        "{{prefix:<{}.bold}} [{{bar:24.cyan/blue}}] {{pos}}/{{len}} {{elapsed:>4}} {{wide_msg}}",
                        self.width.max(1)
                    );
                    let style = ProgressStyle::with_template(&template)
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> ");
                    let bar = self.multi.add(ProgressBar::new(1).with_style(style));
                    bar.set_prefix(common.name.clone());
                    bar.enable_steady_tick(Duration::from_millis(500));
                    self.bars.insert(key.clone(), bar.clone());
                    bar
                }
            };
            let (done, total) = cluster.done_total();
            bar.set_length(total.max(1) as u64);
            bar.set_position(done as u64);
            bar.set_message(message(cluster));
        }
    }
}

/// `1/3`, or `-/-` while the steps are not known yet.
pub fn counts<R: Steps>(cluster: &R) -> String {
    let (done, total) = cluster.done_total();
    if total == 0 {
        "-/-".to_string()
    } else {
        format!("{done}/{total}")
    }
}

/// `running · waiting for stable GREEN before … (last: …) · gate`, `failed · why`: what it waits
/// for first, so a narrow terminal cuts the step name, not the reason.
pub fn message<R: ClusterOutcome>(cluster: &R) -> String {
    let common = cluster.common();
    let mut parts = vec![match common.state {
        ClusterState::Pending => "pending (waiting for the worker)".to_string(),
        state => state.to_string(),
    }];
    if !common.state.is_terminal() {
        if let Some(waiting) = &common.waiting_for {
            parts.push(format!("waiting for {waiting}"));
        }
        if let Some(step) = &common.current_step {
            parts.push(step.clone());
        }
    } else if let Some(reason) = &common.reason {
        parts.push(reason.clone());
    }
    parts.join(" · ")
}

/// The local wall clock, `HH:MM:SS`, in front of plain progress lines.
fn clock() -> String {
    Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::system())
        .strftime("%H:%M:%S")
        .to_string()
}
