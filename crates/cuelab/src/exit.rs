//! Exit codes shared by every subcommand.

/// How a command ended, mapped to the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Everything asked for was done (exit 0).
    Success,
    /// The command finished but skipped some inputs, which it reported (exit 1).
    Partial,
    /// The command failed: bad input, missing file, I/O error (exit 2).
    Error,
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(status: ExitStatus) -> Self {
        match status {
            ExitStatus::Success => std::process::ExitCode::from(0),
            ExitStatus::Partial => std::process::ExitCode::from(1),
            ExitStatus::Error => std::process::ExitCode::from(2),
        }
    }
}
