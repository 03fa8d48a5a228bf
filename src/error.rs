//! The application's errors: one enum at the edge, rendered once by `app`, each with its exit
//! code. Layers have their own error types (diagnostics, snapshot, source, API); this wraps them.

use crate::exit::ExitCode;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Bad flags or settings.
    #[error("{0}")]
    Usage(String),
    /// The campaign set has errors; the text is the rendered diagnostics.
    #[error("{0}")]
    InvalidCampaigns(String),
    /// The snapshot file cannot be used.
    #[error(transparent)]
    Snapshot(#[from] crate::genesys::snapshot::SnapshotError),
    /// The Genesys settings are missing or wrong.
    #[error(transparent)]
    Config(#[from] crate::genesys::config::ConfigError),
    /// The HTTP client could not be built.
    #[error(transparent)]
    Client(#[from] crate::genesys::client::ClientBuildError),
    /// The active sessions could not be listed, so nothing could be decided.
    #[error("could not list the active sessions: {0}")]
    Source(#[from] crate::source::SourceError),
    /// The send journal cannot be opened, read or written.
    #[error(transparent)]
    Journal(#[from] crate::journal::JournalError),
}

impl From<crate::pipeline::PlanError> for AppError {
    fn from(e: crate::pipeline::PlanError) -> Self {
        match e {
            crate::pipeline::PlanError::Sessions(e) => AppError::Source(e),
            crate::pipeline::PlanError::Journal(e) => AppError::Journal(e),
        }
    }
}

impl AppError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            AppError::Usage(_) | AppError::Snapshot(_) | AppError::Config(_) | AppError::Client(_) => ExitCode::Usage,
            AppError::InvalidCampaigns(_) | AppError::Source(_) => ExitCode::Failure,
            AppError::Journal(e) => e.exit_code(),
        }
    }
}
