//! Errors of the Genesys API, typed, with human messages.

/// A failed API request.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub message: String,
}
