//! Exit codes, defined in one place. `main` maps every outcome to one of these.

/// The process exit codes of `runner`. Documented in the README ("Exit codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    /// Everything went through: the campaigns are valid and every planned send succeeded.
    Success = 0,
    /// At least one campaign is invalid (`validate`, `run`), or some sends or sessions failed.
    Failure = 1,
    /// Usage or configuration error: bad flags, missing settings, unreadable paths.
    Usage = 2,
}

impl ExitCode {
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code.code())
    }
}
