//! Exit codes, in one place. Scripts depend on these: extend the table, never renumber it.
//!
//! | code | meaning                                                                 |
//! |------|-------------------------------------------------------------------------|
//! | 0    | success (for `maintenance check`: whatever the decision)                 |
//! | 1    | the operation failed (an I/O error writing output, a cluster failure)    |
//! | 2    | invalid input: usage, an invalid or missing file, an unknown name, a bad time |

use std::fmt;
use std::process::ExitCode;

/// The exit-code table as `--help` prints it.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success (maintenance check: whatever the decision)
  1  the operation failed
  2  invalid input: usage, an invalid or missing file, an unknown cluster name, a bad time";

/// Why the process is about to exit unsuccessfully.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// 1: the operation was attempted and failed.
    Failed,
    /// 2: the input was wrong; nothing was attempted.
    Invalid,
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Failed => 1,
            Exit::Invalid => 2,
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
