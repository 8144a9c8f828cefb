//! What the `crate` container's preStop hook will do when a pod is deleted: does it run dc_util
//! (the operator's decommission utility), with which timeout and min-availability?
//!
//! A restart relies on the hook when dc_util is there (deleting the pod then decommissions the
//! node) and decommissions the node itself otherwise, so this analysis decides whether a node is
//! drained or killed. The Kubernetes adapter reads the hook into a [`PreStopHook`];
//! [`analyze`] turns it into a [`PreStopAnalysis`].
//!
//! How a command is read:
//!
//! 1. An `exec` command whose first word is a shell (`sh`, `bash`, `/bin/ash`, …, any path) with
//!    `-c` (also inside option clusters such as `-ec`) runs a script: the script is split into
//!    simple commands with a small shell lexer (quotes, backslashes, `$(…)`, `${…}`, comments,
//!    `;` `&&` `||` `|` `&` newlines, redirections such as `2>&1` or `> /proc/1/fd/1`). Any other
//!    `exec` command is one simple command, its words taken as they are.
//! 2. In each simple command, leading `VAR=value` assignments, shell keywords (`if`, `then`,
//!    `do`, `!`, …) and wrappers (`exec`, `env`, `nohup`, `timeout 900`, `nice -n 5`, …) are
//!    skipped; a nested `sh -c '…'` is read recursively. What remains is the command word.
//! 3. The command word is dc_util when its file name (after the last `/`), in any case, is
//!    `dc_util`, `dc-util` or `dcutil`, alone or followed by `-`, `_` or `.` and more
//!    (`dc_util-linux-amd64`, `dc_util-linux-${ARCH}`).
//! 4. Its arguments are read as Go's `flag` package reads them (dc_util is Go,
//!    `utils/dc_util/dc_util.go`): `-flag value`, `--flag value`, `-flag=value`, `--flag=value`;
//!    boolean flags (`-dry-run`, `-reset-routing`) take no separate value; parsing stops at the
//!    first argument that is not a flag, or after `--`; a repeated flag keeps its last value.
//! 5. The timeout is a Go duration (`720s`, `10m`, `1h30m`, `1.5h`, `720ms`, `0`) or, as the
//!    Python tool accepts, plain seconds (`600`).
//!
//! Deliberate differences from the Python rolling-restart tool (WalBeh/crate-rolling-restart,
//! `rr/activities.py:_analyze_prestop_hook`):
//!
//! * **Detection is by command word, not substring.** The Python tool matched any of `dc_util`,
//!   `dc-util`, `dcutil`, `decommission`, `decomm` anywhere in the text, so
//!   `timeout 120 /opt/decommission.sh` counted as dc_util with a 120 s timeout, and so did a
//!   hook that merely downloads dc_util. Here only an *invocation* of the dc_util executable
//!   counts; a custom decommission script is "a hook, but not dc_util".
//! * **Case-insensitive executable names**: `./DC_UTIL` is dc_util (the Python tool said no).
//! * **The timeout is the one given to dc_util**, not the first `-t`/`timeout` anywhere in the
//!   text: `decommission -timeout 5 ; ./dc_util -timeout 900s` is 900 s, not 5 s.
//! * **Go duration units**: `720ms` is 720 milliseconds (the Python tool read the `m` as minutes
//!   and got 12 hours); `1h30m` is 5400 s (the Python tool read 1 h).
//! * **An unreadable timeout is an error naming it** (`-timeout 12parsecs`, `-timeout $T`,
//!   `-timeout` with no value), not a silent 720 s. So is a `-min-availability` that is not
//!   NONE, PRIMARIES or FULL: CrateDB would silently treat it as NONE.
//! * **`-min-availability` is read** (the Python tool ignored it).
//! * **Go's flag rules**: flags after the first positional argument are ignored, as dc_util
//!   ignores them, and the last of a repeated flag wins.
//!
//! What the Python tool accepted but dc_util itself would reject is still parsed, with a warning in
//! [`DcUtilCall::warnings`]: `-t 600` (the operator's dc_util defines no `-t`; Go's flag package
//! exits with "flag provided but not defined") and plain seconds (`time.ParseDuration` rejects a
//! number without a unit). With either, the operator's dc_util stops before decommissioning, so a
//! caller should not rely on such a hook to drain the node.
//!
//! The timeout reported when dc_util has no `-timeout` flag is [`DEFAULT_TIMEOUT`] (720 s, the
//! operator's `DECOMMISSION_TIMEOUT` and the Python tool's default). dc_util itself would use its
//! flag default (7200 s) or, when the StatefulSet's `terminationGracePeriodSeconds` is set and not
//! 30, that minus 120 s with a floor of 360 s; [`DcUtilCall::effective_timeout`] computes that.
//!
//! Detection stays textual: whether the hook can download and run the binary (the operator's
//! hook ends in `|| true`, and a real hook downloaded `dc_util-linux-amd68`) is not verified.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::maintenance::MinAvailability;

/// The timeout reported when dc_util is invoked without `-timeout` (and for hooks without dc_util).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(720);

/// dc_util's own `-timeout` default (`defaultTimeout = "7200s"`).
pub const DC_UTIL_FLAG_DEFAULT_TIMEOUT: Duration = Duration::from_secs(7200);

/// How deep nested `sh -c` scripts are followed.
const MAX_NESTING: usize = 4;

/// The `lifecycle.preStop` handler of the `crate` container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "handler", rename_all = "snake_case")]
pub enum PreStopHook {
    /// No preStop hook.
    None,
    /// `exec.command`.
    Exec { command: Vec<String> },
    /// `httpGet` (path when given).
    HttpGet { path: Option<String> },
    /// Another handler (`sleep`, `tcpSocket`), by name.
    Other { kind: String },
}

/// What the hook does, as far as cratectl cares.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreStopAnalysis {
    /// A preStop hook of any kind exists.
    pub has_hook: bool,
    /// The dc_util invocation, when the hook runs dc_util.
    pub dc_util: Option<DcUtilCall>,
}

impl PreStopAnalysis {
    pub fn has_dc_util(&self) -> bool {
        self.dc_util.is_some()
    }

    /// dc_util's timeout, or [`DEFAULT_TIMEOUT`] without dc_util.
    pub fn timeout(&self) -> Duration {
        self.dc_util.as_ref().map_or(DEFAULT_TIMEOUT, |call| call.timeout)
    }
}

/// One invocation of dc_util found in the hook.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DcUtilCall {
    /// The command word as written (`./dc_util-linux-${ARCH}`).
    pub executable: String,
    /// Its arguments (after shell quote removal).
    pub args: Vec<String>,
    /// The `-timeout` given, or [`DEFAULT_TIMEOUT`].
    pub timeout: Duration,
    pub timeout_from: TimeoutSource,
    /// The `-min-availability` given (dc_util's default is FULL).
    pub min_availability: Option<MinAvailability>,
    /// `-dry-run`: dc_util only logs and decommissions nothing.
    pub dry_run: bool,
    /// `-reset-routing`: dc_util's postStart mode, which decommissions nothing.
    pub reset_routing: bool,
    /// Things the operator's dc_util would do differently from what the text suggests.
    pub warnings: Vec<String>,
}

impl DcUtilCall {
    /// Whether this invocation decommissions the node (not `-dry-run`, not `-reset-routing`).
    pub fn decommissions(&self) -> bool {
        !self.dry_run && !self.reset_routing
    }

    /// The `cluster.graceful_stop.timeout` the operator's dc_util actually sets: its `-timeout`
    /// (7200 s when absent) when `terminationGracePeriodSeconds` is unset or 30, otherwise that
    /// grace period minus 120 s, but at least 360 s.
    pub fn effective_timeout(&self, termination_grace_period_seconds: Option<i64>) -> Duration {
        match termination_grace_period_seconds {
            None | Some(30) => match self.timeout_from {
                TimeoutSource::Flag { .. } => self.timeout,
                TimeoutSource::Default => DC_UTIL_FLAG_DEFAULT_TIMEOUT,
            },
            Some(grace) => Duration::from_secs(grace.saturating_sub(120).max(360).unsigned_abs()),
        }
    }
}

/// Where [`DcUtilCall::timeout`] came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum TimeoutSource {
    /// The flag as written (`--timeout`, `-t`) and its value (`720s`).
    Flag { flag: String, value: String },
    /// No timeout flag: [`DEFAULT_TIMEOUT`].
    Default,
}

impl fmt::Display for TimeoutSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimeoutSource::Flag { flag, value } => write!(f, "{flag} {value}"),
            TimeoutSource::Default => write!(f, "default ({} s)", DEFAULT_TIMEOUT.as_secs()),
        }
    }
}

/// A hook cratectl cannot rely on as written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PreStopError {
    #[error(
        "dc_util {flag} value \"{value}\" is not a duration: {source}; expected Go syntax such as 720s, \
         10m or 1h30m (or plain seconds)"
    )]
    Timeout {
        flag: String,
        value: String,
        source: DurationError,
    },
    #[error("dc_util flag {flag} has no value")]
    MissingValue { flag: String },
    #[error(
        "dc_util {flag} value \"{value}\" is not NONE, PRIMARIES or FULL (CrateDB would treat it as NONE)"
    )]
    MinAvailability { flag: String, value: String },
}

/// Why a timeout value is not a duration.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("it is empty")]
    Empty,
    #[error("it is negative")]
    Negative,
    #[error("a number is missing its unit")]
    MissingUnit,
    #[error("unknown unit \"{0}\" (units are ns, us, ms, s, m, h)")]
    UnknownUnit(String),
    #[error("it is malformed")]
    Malformed,
    #[error("it is too long (more than about 292 years)")]
    Overflow,
}

/// Reads a dc_util timeout: a Go duration (`time.ParseDuration`: `720s`, `1h30m`, `1.5h`,
/// `720ms`, `0`) or plain whole seconds (`600`). Negative durations are refused.
pub fn parse_timeout(text: &str) -> Result<Duration, DurationError> {
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse::<u64>()
            .ok()
            .filter(|secs| u128::from(*secs) * 1_000_000_000 <= MAX_GO_NANOS)
            .map(Duration::from_secs)
            .ok_or(DurationError::Overflow);
    }
    parse_go_duration(text)
}

/// Go's `time.Duration` is an i64 count of nanoseconds.
const MAX_GO_NANOS: u128 = i64::MAX as u128;

fn parse_go_duration(text: &str) -> Result<Duration, DurationError> {
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() || rest.starts_with(['-', '+']) {
        return Err(DurationError::Malformed);
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int_part, after) = rest.split_at(int_len);
        let (frac_part, after) = match after.strip_prefix('.') {
            Some(after_dot) => {
                let frac_len = after_dot.bytes().take_while(u8::is_ascii_digit).count();
                after_dot.split_at(frac_len)
            }
            None => ("", after),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(DurationError::Malformed);
        }
        let unit_len = after
            .char_indices()
            .find(|(_, c)| *c == '.' || c.is_ascii_digit())
            .map_or(after.len(), |(i, _)| i);
        let (unit, after) = after.split_at(unit_len);
        let nanos_per_unit: u128 = match unit {
            "" => return Err(DurationError::MissingUnit),
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            other => return Err(DurationError::UnknownUnit(other.to_string())),
        };
        let whole = digits_value(int_part)?;
        let mut nanos = whole.checked_mul(nanos_per_unit).ok_or(DurationError::Overflow)?;
        // Go keeps the fraction's leading digits until they would overflow; 18 is plenty.
        let frac_digits = &frac_part[..frac_part.len().min(18)];
        if !frac_digits.is_empty() {
            let scale = 10u128.pow(frac_digits.len() as u32);
            nanos += digits_value(frac_digits)? * nanos_per_unit / scale;
        }
        total = total.checked_add(nanos).ok_or(DurationError::Overflow)?;
        if total > MAX_GO_NANOS {
            return Err(DurationError::Overflow);
        }
        rest = after;
    }
    if negative && total > 0 {
        // "-0s" is zero in Go; anything else is a negative timeout.
        return Err(DurationError::Negative);
    }
    u64::try_from(total)
        .map(Duration::from_nanos)
        .map_err(|_| DurationError::Overflow)
}

fn digits_value(digits: &str) -> Result<u128, DurationError> {
    if digits.is_empty() {
        return Ok(0);
    }
    if digits.len() > 30 {
        return Err(DurationError::Overflow);
    }
    digits.parse::<u128>().map_err(|_| DurationError::Overflow)
}

/// Analyses a preStop hook. Errors when dc_util is invoked with a timeout or min-availability
/// that cannot be read.
pub fn analyze(hook: &PreStopHook) -> Result<PreStopAnalysis, PreStopError> {
    let command = match hook {
        PreStopHook::None => {
            return Ok(PreStopAnalysis {
                has_hook: false,
                dc_util: None,
            });
        }
        PreStopHook::Exec { command } => command,
        PreStopHook::HttpGet { .. } | PreStopHook::Other { .. } => {
            return Ok(PreStopAnalysis {
                has_hook: true,
                dc_util: None,
            });
        }
    };
    let mut invocations = Vec::new();
    find_invocations(command, 0, &mut invocations);
    let Some(first) = invocations.first() else {
        return Ok(PreStopAnalysis {
            has_hook: true,
            dc_util: None,
        });
    };
    let mut call = read_dc_util_args(first)?;
    if invocations.len() > 1 {
        call.warnings.push(format!(
            "the hook invokes dc_util {} times; this is the first",
            invocations.len()
        ));
    }
    Ok(PreStopAnalysis {
        has_hook: true,
        dc_util: Some(call),
    })
}

/// How the node of a pod with a given preStop hook is stopped: the one answer to "does this
/// pod have dc_util?" that a restart's plan, `cluster list` and `cluster info` all give.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HookDecision {
    /// The hook runs dc_util: deleting the pod decommissions the node, within `timeout`
    /// ([`PreStopAnalysis::timeout`]).
    Hook { timeout: Duration },
    /// cratectl decommissions the node itself before deleting the pod: the hook does not run
    /// dc_util, or cratectl cannot read it (`unreadable`, why), so nothing it would do can be
    /// relied on.
    OwnDecommission { unreadable: Option<PreStopError> },
}

impl HookDecision {
    /// Whether the pod counts as having dc_util (its hook stops the node).
    pub fn is_dc_util(&self) -> bool {
        matches!(self, HookDecision::Hook { .. })
    }

    /// dc_util's timeout, when the hook stops the node.
    pub fn timeout(&self) -> Option<Duration> {
        match self {
            HookDecision::Hook { timeout } => Some(*timeout),
            HookDecision::OwnDecommission { .. } => None,
        }
    }

    /// What to tell the user about a hook that could not be read (prefix it with the pod).
    pub fn warning(&self) -> Option<String> {
        match self {
            HookDecision::OwnDecommission { unreadable: Some(e) } => Some(format!(
                "preStop hook not understood ({e}); cratectl decommissions it itself"
            )),
            _ => None,
        }
    }
}

/// Decides how a pod with `hook` is stopped (see [`HookDecision`]): by its dc_util hook when
/// [`analyze`] finds one, else by cratectl's own decommission — also when the hook cannot be
/// read, since a dc_util call with a timeout or min-availability nobody can read may do
/// anything (or nothing) before the pod is killed.
///
/// A dc_util call that would not decommission (`-dry-run`, `-reset-routing`, or a flag the
/// operator's dc_util rejects, reported in [`DcUtilCall::warnings`]) still counts as the hook
/// today.
pub fn stop_by_hook(hook: &PreStopHook) -> HookDecision {
    match analyze(hook) {
        Ok(analysis) => match analysis.dc_util {
            Some(call) => HookDecision::Hook {
                timeout: call.timeout,
            },
            None => HookDecision::OwnDecommission { unreadable: None },
        },
        Err(e) => HookDecision::OwnDecommission { unreadable: Some(e) },
    }
}

/// Is this command word the dc_util executable?
pub fn is_dc_util_executable(word: &str) -> bool {
    let name = word.rsplit('/').next().unwrap_or(word).to_ascii_lowercase();
    ["dc_util", "dc-util", "dcutil"].iter().any(|stem| {
        name.strip_prefix(stem)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['-', '_', '.']))
    })
}

/// Collects every dc_util invocation (executable first) in one simple command's words.
fn find_invocations(words: &[String], depth: usize, found: &mut Vec<Vec<String>>) {
    let words = skip_prefixes(words);
    let Some(command) = words.first() else {
        return;
    };
    if let Some(script) = shell_script(words) {
        if depth < MAX_NESTING {
            for simple in split_script(script) {
                find_invocations(&simple, depth + 1, found);
            }
        }
        return;
    }
    if is_dc_util_executable(command) {
        found.push(words.to_vec());
    }
}

const SHELLS: &[&str] = &["sh", "bash", "ash", "dash", "zsh", "ksh", "mksh"];
const KEYWORDS: &[&str] = &[
    "if", "then", "else", "elif", "do", "while", "until", "!", "{", "time", "command", "builtin", "nohup",
    "setsid",
];

/// Wrappers that run their arguments as a command: options that take a value, and how many
/// positional arguments precede the command.
fn wrapper(word: &str) -> Option<(&'static [&'static str], usize)> {
    match word.rsplit('/').next().unwrap_or(word) {
        "exec" => Some((&["-a"], 0)),
        "env" => Some((&["-u", "--unset", "-C", "--chdir"], 0)),
        "nice" => Some((&["-n", "--adjustment"], 0)),
        "timeout" => Some((&["-s", "--signal", "-k", "--kill-after"], 1)),
        "stdbuf" => Some((&["-i", "-o", "-e"], 0)),
        _ => None,
    }
}

fn is_assignment(word: &str) -> bool {
    match word.split_once('=') {
        Some((name, _)) => {
            let mut chars = name.chars();
            chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        None => false,
    }
}

/// Drops assignments, keywords and wrappers in front of the command word.
fn skip_prefixes(mut words: &[String]) -> &[String] {
    loop {
        let Some(first) = words.first() else {
            return words;
        };
        if is_assignment(first) || KEYWORDS.contains(&first.as_str()) {
            words = &words[1..];
            continue;
        }
        let Some((with_value, positionals)) = wrapper(first) else {
            return words;
        };
        let is_env = first.ends_with("env");
        let mut i = 1;
        while let Some(word) = words.get(i) {
            if word == "--" {
                i += 1;
                break;
            }
            if is_env && is_assignment(word) {
                i += 1;
            } else if word.starts_with('-') && word.len() > 1 {
                i += if with_value.contains(&word.as_str()) { 2 } else { 1 };
            } else {
                break;
            }
        }
        words = words.get(i + positionals..).unwrap_or(&[]);
    }
}

/// The script of `sh -c SCRIPT` (any shell, any path, `-c` possibly inside `-ec`).
fn shell_script(words: &[String]) -> Option<&str> {
    let name = words.first()?.rsplit('/').next()?;
    if !SHELLS.contains(&name) {
        return None;
    }
    let mut saw_c = false;
    let mut i = 1;
    while let Some(word) = words.get(i) {
        if word == "--" {
            i += 1;
            break;
        }
        if word == "-o" || word == "+o" {
            i += 2;
            continue;
        }
        if let Some(options) = word.strip_prefix('-').filter(|o| !o.is_empty()) {
            if !options.starts_with('-') && options.contains('c') {
                saw_c = true;
            }
            i += 1;
            continue;
        }
        if word.starts_with('+') && word.len() > 1 {
            i += 1;
            continue;
        }
        break;
    }
    if saw_c {
        words.get(i).map(String::as_str)
    } else {
        None
    }
}

/// A shell script split into simple commands (words after quote removal), redirections dropped.
/// An approximation of POSIX shell: enough for lifecycle hooks, never panics, never fails.
fn split_script(script: &str) -> Vec<Vec<String>> {
    let mut lexer = Lexer {
        chars: script.chars().collect(),
        pos: 0,
        commands: Vec::new(),
        words: Vec::new(),
        word: String::new(),
        in_word: false,
        drop_next_word: false,
    };
    lexer.run();
    lexer.commands
}

struct Lexer {
    chars: Vec<char>,
    pos: usize,
    commands: Vec<Vec<String>>,
    words: Vec<String>,
    word: String,
    in_word: bool,
    /// The next word is a redirection target.
    drop_next_word: bool,
}

impl Lexer {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn end_word(&mut self) {
        if self.in_word {
            let word = std::mem::take(&mut self.word);
            if self.drop_next_word {
                self.drop_next_word = false;
            } else {
                self.words.push(word);
            }
            self.in_word = false;
        }
    }

    fn end_command(&mut self) {
        self.end_word();
        self.drop_next_word = false;
        if !self.words.is_empty() {
            self.commands.push(std::mem::take(&mut self.words));
        }
    }

    fn run(&mut self) {
        while let Some(c) = self.peek(0) {
            match c {
                ' ' | '\t' | '\r' => {
                    self.end_word();
                    self.pos += 1;
                }
                '\n' | ';' | '|' | '(' | ')' => {
                    self.end_command();
                    self.pos += 1;
                }
                '&' if self.peek(1) == Some('>') => {
                    self.end_word();
                    self.pos += 1;
                    self.redirection();
                }
                '&' => {
                    self.end_command();
                    self.pos += 1;
                }
                '<' | '>' => {
                    // `2>&1`: a word of digits right before the operator is the fd number.
                    if self.in_word && !self.word.is_empty() && self.word.chars().all(|d| d.is_ascii_digit())
                    {
                        self.word.clear();
                        self.in_word = false;
                    } else {
                        self.end_word();
                    }
                    self.redirection();
                }
                '#' if !self.in_word => {
                    while let Some(c) = self.peek(0) {
                        if c == '\n' {
                            break;
                        }
                        self.pos += 1;
                    }
                }
                '\'' => {
                    self.in_word = true;
                    self.pos += 1;
                    while let Some(c) = self.peek(0) {
                        self.pos += 1;
                        if c == '\'' {
                            break;
                        }
                        self.word.push(c);
                    }
                }
                '"' => {
                    self.in_word = true;
                    self.pos += 1;
                    self.double_quoted();
                }
                '\\' => {
                    self.pos += 1;
                    match self.peek(0) {
                        Some('\n') => self.pos += 1,
                        Some(c) => {
                            self.in_word = true;
                            self.word.push(c);
                            self.pos += 1;
                        }
                        None => {}
                    }
                }
                '$' if matches!(self.peek(1), Some('(' | '{')) => {
                    self.in_word = true;
                    self.substitution();
                }
                '`' => {
                    self.in_word = true;
                    self.backquoted();
                }
                c => {
                    self.in_word = true;
                    self.word.push(c);
                    self.pos += 1;
                }
            }
        }
        self.end_command();
    }

    /// At `<` or `>` (or `>` after `&`): consume the operator and note or consume its target.
    fn redirection(&mut self) {
        let mut op = String::new();
        while let Some(c) = self.peek(0) {
            if matches!(c, '<' | '>' | '|' | '&') && op.len() < 3 {
                // `>|` and `>&` are operators; a `|` or `&` after a complete operator is not.
                if matches!(c, '|' | '&') && op.is_empty() {
                    break;
                }
                op.push(c);
                self.pos += 1;
                if matches!(c, '|' | '&') {
                    break;
                }
            } else {
                break;
            }
        }
        if op.ends_with('&') {
            // `>&2`, `<&-`: a file descriptor, not a word.
            let start = self.pos;
            while self.peek(0).is_some_and(|c| c.is_ascii_digit() || c == '-') {
                self.pos += 1;
            }
            if self.pos > start {
                return;
            }
        }
        self.drop_next_word = true;
    }

    fn double_quoted(&mut self) {
        while let Some(c) = self.peek(0) {
            match c {
                '"' => {
                    self.pos += 1;
                    return;
                }
                '\\' => {
                    match self.peek(1) {
                        Some(next @ ('"' | '\\' | '$' | '`')) => self.word.push(next),
                        Some('\n') => {}
                        Some(next) => {
                            self.word.push('\\');
                            self.word.push(next);
                        }
                        None => self.word.push('\\'),
                    }
                    self.pos += 2;
                }
                '$' if matches!(self.peek(1), Some('(' | '{')) => self.substitution(),
                '`' => self.backquoted(),
                c => {
                    self.word.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// `$(…)`, `$((…))` or `${…}`, kept verbatim in the word.
    fn substitution(&mut self) {
        let (open, close) = if self.peek(1) == Some('{') {
            ('{', '}')
        } else {
            ('(', ')')
        };
        let mut depth = 0usize;
        let mut quote: Option<char> = None;
        while let Some(c) = self.peek(0) {
            self.word.push(c);
            self.pos += 1;
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some('"'), '\\') => {
                    if let Some(next) = self.peek(0) {
                        self.word.push(next);
                        self.pos += 1;
                    }
                }
                (Some(_), _) => {}
                (None, '\'' | '"') => quote = Some(c),
                (None, '\\') => {
                    if let Some(next) = self.peek(0) {
                        self.word.push(next);
                        self.pos += 1;
                    }
                }
                (None, c) if c == open => depth += 1,
                (None, c) if c == close => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return;
                    }
                }
                _ => {}
            }
        }
    }

    fn backquoted(&mut self) {
        self.word.push('`');
        self.pos += 1;
        while let Some(c) = self.peek(0) {
            self.word.push(c);
            self.pos += 1;
            match c {
                '`' => return,
                '\\' => {
                    if let Some(next) = self.peek(0) {
                        self.word.push(next);
                        self.pos += 1;
                    }
                }
                _ => {}
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FlagKind {
    Text,
    Int,
    Bool,
}

/// dc_util's flags (crate-operator's `utils/dc_util/dc_util.go`, `main`).
fn dc_util_flag(name: &str) -> Option<FlagKind> {
    match name {
        "timeout" | "crate-node-prefix" | "proto" | "hostname" | "min-availability" | "log-file"
        | "lock-file" => Some(FlagKind::Text),
        "pid" => Some(FlagKind::Int),
        "dry-run" | "reset-routing" => Some(FlagKind::Bool),
        _ => None,
    }
}

fn go_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Reads dc_util's arguments as Go's `flag.Parse` would.
fn read_dc_util_args(invocation: &[String]) -> Result<DcUtilCall, PreStopError> {
    let executable = invocation.first().cloned().unwrap_or_default();
    let args: Vec<String> = invocation.iter().skip(1).cloned().collect();
    let mut warnings = Vec::new();
    let mut timeout: Option<(String, String)> = None;
    let mut min_availability: Option<(String, String)> = None;
    let mut dry_run = false;
    let mut reset_routing = false;

    let mut i = 0;
    while let Some(arg) = args.get(i) {
        if arg.len() < 2 || !arg.starts_with('-') {
            let rest = &args[i..];
            if rest.iter().any(|a| a.starts_with('-')) {
                warnings.push(format!(
                    "dc_util stops reading flags at \"{arg}\" and ignores: {}",
                    rest.join(" ")
                ));
            }
            break;
        }
        let dashes = if arg.starts_with("--") { 2 } else { 1 };
        if arg == "--" {
            break;
        }
        let body = &arg[dashes..];
        if body.starts_with(['-', '=']) {
            warnings.push(format!(
                "\"{arg}\" is bad flag syntax for dc_util, which would exit without decommissioning"
            ));
            break;
        }
        let (name, inline_value) = match body.split_once('=') {
            Some((name, value)) => (name, Some(value.to_string())),
            None => (body, None),
        };
        let flag = format!("{}{name}", &arg[..dashes]);
        let canonical = if name == "t" {
            warnings.push(format!(
                "{flag} is not a flag of the operator's dc_util (it has -timeout); that dc_util would exit \
                 with \"flag provided but not defined\" without decommissioning"
            ));
            "timeout"
        } else {
            name
        };
        let Some(kind) = dc_util_flag(canonical) else {
            let what = if name == "h" || name == "help" {
                "prints its usage and exits"
            } else {
                "does not define this flag and would exit"
            };
            warnings.push(format!("dc_util {what} ({flag}) without decommissioning"));
            break;
        };
        if kind == FlagKind::Bool {
            let value = match inline_value.as_deref() {
                None => true,
                Some(text) => match go_bool(text) {
                    Some(value) => value,
                    None => {
                        warnings.push(format!(
                            "{flag}={text} is not a Go boolean; dc_util would exit without decommissioning"
                        ));
                        break;
                    }
                },
            };
            match canonical {
                "dry-run" => dry_run = value,
                _ => reset_routing = value,
            }
            i += 1;
            continue;
        }
        let value = match inline_value {
            Some(value) => value,
            None => {
                i += 1;
                match args.get(i) {
                    Some(value) => value.clone(),
                    None => return Err(PreStopError::MissingValue { flag }),
                }
            }
        };
        match canonical {
            "timeout" => timeout = Some((flag, value)),
            "min-availability" => min_availability = Some((flag, value)),
            "pid" if value.parse::<i64>().is_err() => warnings.push(format!(
                "{flag} {value} is not an integer; dc_util would exit without decommissioning"
            )),
            _ => {}
        }
        i += 1;
    }

    let (timeout, timeout_from) = match timeout {
        Some((flag, value)) => {
            let duration = parse_timeout(&value).map_err(|source| PreStopError::Timeout {
                flag: flag.clone(),
                value: value.clone(),
                source,
            })?;
            if value.bytes().all(|b| b.is_ascii_digit()) {
                warnings.push(format!(
                    "{flag} {value} has no unit: read as {value} s, but the operator's dc_util (Go's \
                     time.ParseDuration) rejects it and would exit without decommissioning"
                ));
            }
            if duration < Duration::from_secs(60) {
                warnings.push(format!(
                    "{flag} {value} gives CrateDB under a minute to move shards off the node"
                ));
            }
            (duration, TimeoutSource::Flag { flag, value })
        }
        None => (DEFAULT_TIMEOUT, TimeoutSource::Default),
    };
    let min_availability = match min_availability {
        Some((flag, value)) => {
            Some(MinAvailability::parse(&value).map_err(|_| PreStopError::MinAvailability { flag, value })?)
        }
        None => None,
    };

    Ok(DcUtilCall {
        executable,
        args,
        timeout,
        timeout_from,
        min_availability,
        dry_run,
        reset_routing,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exec(words: &[&str]) -> PreStopHook {
        PreStopHook::Exec {
            command: words.iter().map(|w| w.to_string()).collect(),
        }
    }

    fn sh(script: &str) -> PreStopHook {
        exec(&["/bin/sh", "-c", script])
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    /// The hooks the Python tool's `_analyze_prestop_hook` was read against, with the corrected
    /// expectations: (hook, has_dc_util, timeout).
    #[test]
    fn reference_examples_corrected() {
        let cases: Vec<(PreStopHook, bool, Duration)> = vec![
            (
                sh("./dc_util-linux-amd64 -min-availability PRIMARIES -timeout 720s"),
                true,
                secs(720),
            ),
            (sh("./dc_util -timeout 10m"), true, secs(600)),
            (sh("./dc_util --timeout=2h"), true, secs(7200)),
            (sh("./dc_util -t 600"), true, secs(600)),
            (sh("./dc_util"), true, secs(720)),
            (sh("sleep 30"), false, secs(720)),
            (
                exec(&["sh", "-c", "/usr/bin/dc-util --timeout 300"]),
                true,
                secs(300),
            ),
            (exec(&["/dc_util", "-timeout", "900s"]), true, secs(900)),
            // Python: true, 120 (substring "decomm", and coreutils' timeout). Not dc_util.
            (
                exec(&["/bin/bash", "-c", "timeout 120 /opt/decommission.sh"]),
                false,
                secs(720),
            ),
            // Python: 43200 (the m of ms read as minutes).
            (sh("./dc_util -timeout 720ms"), true, Duration::from_millis(720)),
            // Python: false (case-sensitive).
            (sh("./DC_UTIL -timeout 60"), true, secs(60)),
            // Python: 5 (the first match anywhere wins).
            (
                sh("decommission -timeout 5 ; ./dc_util -timeout 900s"),
                true,
                secs(900),
            ),
        ];
        for (hook, has_dc_util, timeout) in cases {
            let analysis = analyze(&hook).unwrap();
            assert!(analysis.has_hook, "{hook:?}");
            assert_eq!(analysis.has_dc_util(), has_dc_util, "{hook:?}");
            assert_eq!(analysis.timeout(), timeout, "{hook:?}");
        }
    }

    /// One answer for the restart's plan and for `cluster list`/`info`: an unreadable hook is
    /// not dc_util, and says why.
    #[test]
    fn how_a_pod_is_stopped() {
        assert_eq!(
            stop_by_hook(&sh("./dc_util -timeout 10m")),
            HookDecision::Hook { timeout: secs(600) }
        );
        assert_eq!(
            stop_by_hook(&sh("./dc_util")),
            HookDecision::Hook {
                timeout: DEFAULT_TIMEOUT
            }
        );
        for hook in [
            PreStopHook::None,
            sh("sleep 30"),
            PreStopHook::HttpGet { path: None },
        ] {
            let decision = stop_by_hook(&hook);
            assert_eq!(
                decision,
                HookDecision::OwnDecommission { unreadable: None },
                "{hook:?}"
            );
            assert!(!decision.is_dc_util() && decision.timeout().is_none() && decision.warning().is_none());
        }
        let unreadable = stop_by_hook(&sh("./dc_util --timeout \"$(cat /t)\""));
        assert!(!unreadable.is_dc_util(), "an unreadable hook is not relied on");
        assert_eq!(unreadable.timeout(), None);
        let warning = unreadable.warning().unwrap();
        assert!(
            warning.starts_with("preStop hook not understood (dc_util --timeout value \"$(cat /t)\"")
                && warning.ends_with("; cratectl decommissions it itself"),
            "{warning}"
        );
        assert!(matches!(
            stop_by_hook(&sh("./dc_util -min-availability most")),
            HookDecision::OwnDecommission {
                unreadable: Some(PreStopError::MinAvailability { .. })
            }
        ));
    }

    #[test]
    fn operator_hook() {
        let script = "ARCH=$(uname -m) && curl -sLO \
            http://dc-util-fileserver.dcutil.svc.cluster.local/latest/dc_util-linux-${ARCH} && \
            curl -sLO http://dc-util-fileserver.dcutil.svc.cluster.local/latest/dc_util-linux-${ARCH}.sha256 && \
            sha256sum -c dc_util-linux-${ARCH}.sha256 && chmod u+x ./dc_util-linux-${ARCH} && \
            ./dc_util-linux-${ARCH} --min-availability PRIMARIES --timeout 720s || true";
        let analysis = analyze(&sh(script)).unwrap();
        let call = analysis.dc_util.unwrap();
        assert_eq!(call.executable, "./dc_util-linux-${ARCH}");
        assert_eq!(call.timeout, secs(720));
        assert_eq!(
            call.timeout_from,
            TimeoutSource::Flag {
                flag: "--timeout".into(),
                value: "720s".into()
            }
        );
        assert_eq!(call.min_availability, Some(MinAvailability::Primaries));
        assert!(call.decommissions());
        assert!(call.warnings.is_empty(), "{:?}", call.warnings);
        // The operator's 1200 s grace period makes dc_util use 1080 s.
        assert_eq!(call.effective_timeout(Some(1200)), secs(1080));
        assert_eq!(call.effective_timeout(None), secs(720));
        assert_eq!(call.effective_timeout(Some(30)), secs(720));
        assert_eq!(call.effective_timeout(Some(300)), secs(360));
    }

    #[test]
    fn no_hook_http_and_other() {
        let none = analyze(&PreStopHook::None).unwrap();
        assert!(!none.has_hook && !none.has_dc_util());
        assert_eq!(none.timeout(), DEFAULT_TIMEOUT);
        let http = analyze(&PreStopHook::HttpGet {
            path: Some("/drain".into()),
        })
        .unwrap();
        assert!(http.has_hook && !http.has_dc_util());
        let sleep = analyze(&PreStopHook::Other { kind: "sleep".into() }).unwrap();
        assert!(sleep.has_hook && !sleep.has_dc_util());
    }

    #[test]
    fn detection_is_by_command_word() {
        for (script, expected) in [
            ("curl -sLO http://x/dc_util-linux-amd64", false),
            ("chmod +x dc_util && echo dc_util", false),
            ("/opt/decommission.sh", false),
            ("./dc_utility --timeout 5s", false),
            ("./decomm", false),
            ("exec ./dc_util-linux-arm64", true),
            ("FOO=1 nohup /usr/local/bin/dc-util", true),
            ("if [ -x ./dc_util ]; then ./dc_util --timeout 15m; fi", true),
            ("env -u X A=b timeout -s KILL 900 ./dcutil.bin --timeout 1m", true),
            ("bash -ec './dc_util --timeout 10m'", true),
            ("(./dc_util -timeout 5m) 2>&1 | tee /proc/1/fd/1", true),
            ("echo '; ./dc_util'", false),
            ("# ./dc_util\nsleep 5", false),
        ] {
            let analysis = analyze(&sh(script)).unwrap();
            assert_eq!(analysis.has_dc_util(), expected, "{script}");
        }
        assert!(is_dc_util_executable("/x/DC-UTIL"));
        assert!(is_dc_util_executable("dc_util_v2"));
        assert!(!is_dc_util_executable("dc_utils"));
        assert!(!is_dc_util_executable(""));
    }

    #[test]
    fn the_timeout_of_the_dc_util_invocation() {
        let analysis = analyze(&sh(
            "timeout 30 ./prepare.sh -t 5 && ./dc_util --min-availability=full -timeout=1h30m",
        ))
        .unwrap();
        let call = analysis.dc_util.unwrap();
        assert_eq!(call.timeout, secs(5400));
        assert_eq!(call.min_availability, Some(MinAvailability::Full));

        // Go: the last of a repeated flag wins.
        let call = analyze(&sh("./dc_util -timeout 5m --timeout 10m"))
            .unwrap()
            .dc_util
            .unwrap();
        assert_eq!(call.timeout, secs(600));
    }

    #[test]
    fn quoting_and_redirections() {
        let call = analyze(&sh(
            "'./dc_util' \"--timeout\" '20m' > /proc/1/fd/1 2>&1 --min-availability NONE",
        ))
        .unwrap()
        .dc_util
        .unwrap();
        assert_eq!(call.timeout, secs(1200));
        assert_eq!(call.args, ["--timeout", "20m", "--min-availability", "NONE"]);
        assert_eq!(call.min_availability, Some(MinAvailability::None));

        let call = analyze(&sh("./dc_util --timeout \"$(cat /t)\"")).unwrap_err();
        assert_eq!(
            call,
            PreStopError::Timeout {
                flag: "--timeout".into(),
                value: "$(cat /t)".into(),
                source: DurationError::Malformed
            }
        );
    }

    #[test]
    fn flags_after_a_positional_are_ignored() {
        let call = analyze(&sh("./dc_util now -timeout 900s"))
            .unwrap()
            .dc_util
            .unwrap();
        assert_eq!(call.timeout_from, TimeoutSource::Default);
        assert_eq!(call.timeout, DEFAULT_TIMEOUT);
        assert!(call.warnings[0].contains("stops reading flags at \"now\""));
        assert_eq!(call.effective_timeout(None), DC_UTIL_FLAG_DEFAULT_TIMEOUT);
    }

    #[test]
    fn modes_and_unknown_flags() {
        let call = analyze(&sh("./dc_util --reset-routing"))
            .unwrap()
            .dc_util
            .unwrap();
        assert!(call.reset_routing && !call.decommissions());
        let call = analyze(&sh("./dc_util -dry-run=true")).unwrap().dc_util.unwrap();
        assert!(call.dry_run && !call.decommissions());
        let call = analyze(&sh("./dc_util -dry-run=false")).unwrap().dc_util.unwrap();
        assert!(call.decommissions());
        let call = analyze(&sh("./dc_util --force --timeout 5m"))
            .unwrap()
            .dc_util
            .unwrap();
        assert!(
            call.warnings[0].contains("does not define this flag"),
            "{:?}",
            call.warnings
        );
        assert_eq!(call.timeout, DEFAULT_TIMEOUT);
    }

    #[test]
    fn warnings_for_what_dc_util_rejects() {
        let call = analyze(&sh("./dc_util -t 600")).unwrap().dc_util.unwrap();
        assert_eq!(call.warnings.len(), 2, "{:?}", call.warnings);
        assert!(call.warnings[0].contains("-t is not a flag"));
        assert!(call.warnings[1].contains("has no unit"));
        let call = analyze(&sh("./dc_util -timeout 720ms")).unwrap().dc_util.unwrap();
        assert!(call.warnings[0].contains("under a minute"));
        let call = analyze(&sh("./dc_util -timeout 1s; ./dc_util -timeout 2s"))
            .unwrap()
            .dc_util
            .unwrap();
        assert!(call.warnings.iter().any(|w| w.contains("2 times")));
    }

    #[test]
    fn unreadable_values_are_errors() {
        let err = analyze(&sh("./dc_util -timeout 12parsecs")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "dc_util -timeout value \"12parsecs\" is not a duration: unknown unit \"parsecs\" (units are \
             ns, us, ms, s, m, h); expected Go syntax such as 720s, 10m or 1h30m (or plain seconds)"
        );
        assert_eq!(
            analyze(&sh("./dc_util --timeout")).unwrap_err(),
            PreStopError::MissingValue {
                flag: "--timeout".into()
            }
        );
        let err = analyze(&sh("./dc_util -min-availability primary")).unwrap_err();
        assert!(err.to_string().contains("\"primary\""));
        assert!(matches!(
            analyze(&sh("./dc_util -timeout -5m")).unwrap_err(),
            PreStopError::Timeout {
                source: DurationError::Negative,
                ..
            }
        ));
    }

    #[test]
    fn go_durations() {
        for (text, nanos) in [
            ("0", 0u64),
            ("-0", 0),
            ("+5s", 5_000_000_000),
            ("720s", 720_000_000_000),
            ("1h30m", 5_400_000_000_000),
            ("1.5h", 5_400_000_000_000),
            (".5s", 500_000_000),
            ("5.s", 5_000_000_000),
            ("720ms", 720_000_000),
            ("10us", 10_000),
            ("10µs", 10_000),
            ("7ns", 7),
            ("2h45m30.5s", 9_930_500_000_000),
            ("600", 600_000_000_000),
        ] {
            assert_eq!(parse_timeout(text), Ok(Duration::from_nanos(nanos)), "{text}");
        }
        for (text, err) in [
            ("", DurationError::Empty),
            ("s", DurationError::Malformed),
            (".s", DurationError::Malformed),
            ("-", DurationError::Malformed),
            ("1.5", DurationError::MissingUnit),
            ("10 m", DurationError::UnknownUnit(" m".into())),
            ("5d", DurationError::UnknownUnit("d".into())),
            ("3M", DurationError::UnknownUnit("M".into())),
            ("-1s", DurationError::Negative),
            ("2562048h", DurationError::Overflow),
            ("99999999999999999999999", DurationError::Overflow),
        ] {
            assert_eq!(parse_timeout(text), Err(err), "{text}");
        }
        assert!(parse_timeout("2562047h").is_ok());
    }

    #[test]
    fn lexer_pieces() {
        assert_eq!(
            split_script("a 'b c' \"d \\\"e\\\"\" f\\ g; h && i || j | k & l\nm"),
            vec![
                vec!["a", "b c", "d \"e\"", "f g"],
                vec!["h"],
                vec!["i"],
                vec!["j"],
                vec!["k"],
                vec!["l"],
                vec!["m"]
            ]
        );
        assert_eq!(
            split_script("x $(echo 'a; b' \"(\" ) ${Y:-z} `q; r` 2>/dev/null >>log &>all <in 3<&- y"),
            vec![vec!["x", "$(echo 'a; b' \"(\" )", "${Y:-z}", "`q; r`", "y"]]
        );
        assert_eq!(
            split_script("a \\\n b # c ; d\ne"),
            vec![vec!["a", "b"], vec!["e"]]
        );
        assert!(split_script("").is_empty());
        assert_eq!(split_script("'unterminated"), vec![vec!["unterminated"]]);
    }
}
