//! Files a command reads that it must not read: a character device that never ends, a
//! directory, a FIFO nobody writes to, a file over the 1 MiB limit. Each is refused at once with
//! exit code 2 and an error naming the path and why, by every command that reads a file.
//!
//! The binary runs under a deadline: a regression (reading `/dev/zero` until memory runs out,
//! blocking on a FIFO) is killed and fails the test instead of hanging it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Long enough for a slow CI machine to start the binary; a refusal takes milliseconds.
const DEADLINE: Duration = Duration::from_secs(20);

/// Runs cratectl in `dir` with `args`; kills it and fails the test if it has not exited by the
/// deadline.
fn cratectl(dir: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cratectl"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cratectl starts");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let stdout = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stdout.read_to_end(&mut bytes);
        bytes
    });
    let stderr = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stderr.read_to_end(&mut bytes);
        bytes
    });
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "cratectl {args:?} did not return within {} s: killed",
                DEADLINE.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// A scratch directory per test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("cratectl-files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
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

/// A valid maintenance file padded with comments to `size` bytes: without the limit, every
/// command would accept it.
fn padded_config(path: &Path, size: usize) {
    let mut text = String::from("[c]\nunrestricted = true\n");
    let line = format!("# {}\n", "x".repeat(77));
    while text.len() + line.len() <= size {
        text.push_str(&line);
    }
    text.push_str(&"#".repeat(size - text.len() - 1));
    text.push('\n');
    assert_eq!(text.len(), size);
    std::fs::write(path, text).unwrap();
}

/// Every command that reads a maintenance file, with `config` in its place.
fn commands(config: &str) -> Vec<Vec<String>> {
    [
        vec!["maintenance", "check", config, "c"],
        vec!["maintenance", "list-windows", config],
        vec!["maintenance", "next", config, "c"],
        vec!["maintenance", "validate", config],
        vec!["maintenance", "validate", config, "-o", "json"],
        // Read before Kubernetes is even looked for.
        vec!["restart", "c", "--maintenance-config", config],
    ]
    .into_iter()
    .map(|args| args.into_iter().map(String::from).collect())
    .collect()
}

/// Runs every command with `config`: each exits 2, prints nothing on stdout, and says on
/// stderr which file and `why`.
fn assert_refused(dir: &Path, config: &str, why: &str) {
    for args in commands(config) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = cratectl(dir, &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            out.stdout.is_empty(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(
            stderr.starts_with(&format!(
                "error: cannot read maintenance configuration {config}: "
            )),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains(why), "{args:?}: {stderr}");
    }
}

#[test]
#[cfg(unix)]
fn a_character_device_is_refused_without_reading_it() {
    let dir = Scratch::new("dev-zero");
    assert_refused(
        &dir.0,
        "/dev/zero",
        "not a regular file (it is a character device)",
    );
}

#[test]
fn a_directory_is_refused() {
    let dir = Scratch::new("directory");
    let sub = dir.path("windows.toml");
    std::fs::create_dir(&sub).unwrap();
    assert_refused(
        &dir.0,
        &sub.display().to_string(),
        "not a regular file (it is a directory)",
    );
}

#[test]
#[cfg(unix)]
fn a_fifo_is_refused_without_waiting_for_a_writer() {
    let dir = Scratch::new("fifo");
    let fifo = dir.path("windows.toml");
    let made = Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("skipped: mkfifo is not available");
        return;
    }
    assert_refused(
        &dir.0,
        &fifo.display().to_string(),
        "not a regular file (it is a FIFO)",
    );
}

#[test]
fn a_file_over_one_mebibyte_is_refused_naming_its_size_and_the_limit() {
    let dir = Scratch::new("large");
    let big = dir.path("windows.toml");
    padded_config(&big, 3 * 1024 * 1024 + 200 * 1024);
    assert_refused(
        &dir.0,
        &big.display().to_string(),
        "is 3.2 MiB (3350528 bytes); the limit is 1 MiB (1048576 bytes)",
    );
    // One byte over is over.
    padded_config(&big, 1024 * 1024 + 1);
    assert_refused(&dir.0, &big.display().to_string(), "the limit is 1 MiB");
    // At the limit it is read.
    padded_config(&big, 1024 * 1024);
    let out = cratectl(&dir.0, &["maintenance", "validate", &big.display().to_string()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_missing_file_keeps_its_message() {
    let dir = Scratch::new("missing");
    let missing = dir.path("missing.toml").display().to_string();
    assert_refused(&dir.0, &missing, "No such file or directory");
}

/// `.env` in the working directory is read before anything else, through the same limit.
#[test]
fn dot_env_is_read_within_the_same_limits() {
    let dir = Scratch::new("dotenv");
    let env = dir.path(".env");
    let run = || cratectl(&dir.0, &["maintenance", "create-config", "-o", "-"]);
    let refused = |why: &str| {
        let out = run();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(out.stdout.is_empty());
        assert!(stderr.starts_with("error: .env: "), "{stderr}");
        assert!(stderr.contains(why), "{stderr}");
    };
    assert_eq!(run().status.code(), Some(0), "no .env is fine");

    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("/dev/zero", &env).unwrap();
        refused("not a regular file (it is a character device)");
        std::fs::remove_file(&env).unwrap();
    }
    std::fs::create_dir(&env).unwrap();
    refused("not a regular file (it is a directory)");
    std::fs::remove_dir(&env).unwrap();
    let line = "CRATECTL_UNUSED=value\n";
    std::fs::write(&env, line.repeat(1024 * 1024 / line.len() + 1)).unwrap();
    refused("the limit is 1 MiB");
    std::fs::write(&env, line).unwrap();
    assert_eq!(run().status.code(), Some(0), "a small .env is read");
}
