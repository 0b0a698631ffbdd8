//! One error type for every subcommand: a sentence for stderr and an exit code.

use core::fmt;

/// Exit code of a successful run (and of `dpop verify` for a valid proof).
pub(crate) const EXIT_OK: u8 = 0;
/// Exit code of `dpop verify` for an invalid proof, and of a demo with unexpected outcomes.
pub(crate) const EXIT_INVALID: u8 = 1;
/// Exit code of a usage error: bad arguments or unreadable / unusable input.
pub(crate) const EXIT_USAGE: u8 = 2;

/// A failure reported on stderr as one sentence.
#[derive(Debug)]
pub(crate) struct CliError {
    message: String,
    code: u8,
}

impl CliError {
    /// A usage error (exit 2): the input or an argument cannot be used.
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            code: EXIT_USAGE,
        }
    }

    /// A runtime failure that is not the caller's fault (exit 1).
    pub(crate) fn failure(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            code: EXIT_INVALID,
        }
    }

    /// The process exit code.
    pub(crate) fn code(&self) -> u8 {
        self.code
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl core::error::Error for CliError {}
