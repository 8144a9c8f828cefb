//! Exit codes, in one place. Scripts depend on these: extend the table, never renumber it.
//!
//! | code | meaning                                                                 |
//! |------|-------------------------------------------------------------------------|
//! | 0    | success (`maintenance check`: whatever the decision; `cluster health`: safe to disrupt; `doctor`: nothing found) |
//! | 1    | the operation failed or answered "no" (unreachable, SQL error, not safe, findings) |
//! | 2    | invalid input: usage, an invalid or missing file (or one over 1 MiB, or not a regular file), an unknown name, a bad time, a write without --write; a restart refused (cluster in an operation, `all` unconfirmed), a signal to a finished restart; a `--token` that is not a JWT, has expired, or (for a workflow command) expires at all; a worker without `--token-command` for an operation started with one |
//! | 130  | interrupted (Ctrl-C) while `restart` ran its workflow in the foreground: the workflow stays recorded |

use std::fmt;
use std::process::ExitCode;

/// The exit-code table as `--help` prints it.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success (maintenance check: whatever the decision; cluster health: safe to disrupt a
     node; doctor: nothing left behind; restart: every cluster succeeded, or started with
     --async; status: the restart was found, whatever its state)
  1  the operation failed, or answered no: a cluster or API server not reachable, a SQL
     error, cluster health not safe, cluster ping with a node down, doctor with findings,
     a restart with a cluster that failed or was cancelled
  2  invalid input or refused: usage, an invalid or missing file (or one over 1 MiB, or
     not a regular file: a directory, a device, a FIFO), an unknown or ambiguous cluster
     name, an unknown context, a bad time, a write statement without --write, a cluster
     already in an operation, `restart all` unconfirmed, an unknown restart id, a signal or
     cancel for a restart that has finished, a --token that is not a JWT or has expired (or,
     for restart, scale, restore, suspend, resume and worker, expires at all: use --token-command)
  130  interrupted: Ctrl-C during `restart` (the restart stays recorded; `cratectl worker`
     resumes it)

Flags override environment variables (KUBECONFIG, K8S_CONTEXT, CRATEDB_CLUSTER_URL,
CRATEDB_USERNAME, CRATEDB_PASSWORD, CRATEDB_TOKEN, CRATEDB_TOKEN_COMMAND,
CRATECTL_STATE_DIR), which override ./.env.";

/// Why the process is about to exit unsuccessfully.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// 1: the operation was attempted and failed.
    Failed,
    /// 2: the input was wrong; nothing was attempted.
    Invalid,
    /// 130: interrupted by the user (SIGINT), work left recorded for later.
    Interrupted,
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Failed => 1,
            Exit::Invalid => 2,
            Exit::Interrupted => 130,
        }
    }
}

/// An error that ends the command: what to print on stderr and which exit code to use.
#[derive(Debug)]
pub struct CliError {
    pub exit: Exit,
    pub message: String,
}

impl CliError {
    /// Invalid input (exit 2).
    pub fn invalid(message: impl Into<String>) -> CliError {
        CliError {
            exit: Exit::Invalid,
            message: message.into(),
        }
    }

    /// The operation failed (exit 1).
    pub fn failed(message: impl Into<String>) -> CliError {
        CliError {
            exit: Exit::Failed,
            message: message.into(),
        }
    }

    /// The operation's outcome is a failure (exit 1) that the output already explains, so
    /// nothing more is printed on standard error (`cluster health` of an unhealthy cluster).
    pub fn silent_failure() -> CliError {
        CliError {
            exit: Exit::Failed,
            message: String::new(),
        }
    }

    /// Interrupted (exit 130); the caller has already said how to go on, so nothing more is
    /// printed.
    pub fn interrupted() -> CliError {
        CliError {
            exit: Exit::Interrupted,
            message: String::new(),
        }
    }

    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.exit.code())
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

pub type CliResult<T = ()> = Result<T, CliError>;
