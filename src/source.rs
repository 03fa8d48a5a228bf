//! Where a run's data comes from: a snapshot file or the live Genesys API. Both hand back the
//! API's own shapes, which [`crate::model::normalize`] turns into the model, so a preview from a
//! snapshot decides exactly what a live run decides.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};

use crate::genesys::types::{AnalyticsConversation, ExternalContact, WrapupCode};

/// Why a piece of data could not be had. One failing session never aborts a run.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("the snapshot does not hold {what}")]
    NotInSnapshot { what: String },
    /// The request failed when the snapshot was recorded; replaying fails the same way.
    #[error("failed when the snapshot was recorded: {error}")]
    FailedWhenRecorded { error: String },
    #[error(transparent)]
    Api(#[from] crate::genesys::error::ApiError),
}

/// What one read of external contacts found. Every asked id is in `found`, in `failed`, or in
/// neither: then the contact does not exist (the API's "not found").
#[derive(Debug, Default)]
pub struct ContactBatch {
    pub found: HashMap<String, ExternalContact>,
    /// Ids whose own read failed, and why. A failed contact is never to be read as absent: its
    /// merge set, and so the customer's history, is unknown.
    pub failed: HashMap<String, SourceError>,
}

impl ContactBatch {
    /// What was found for `id`: the contact, `Ok(None)` when it does not exist, or why its read
    /// failed.
    pub fn get(&self, id: &str) -> Result<Option<&ExternalContact>, &SourceError> {
        match self.failed.get(id) {
            Some(error) => Err(error),
            None => Ok(self.found.get(id)),
        }
    }
}

/// Reads Genesys data. Implemented by the snapshot and by the live client.
pub trait Source: Sync {
    /// Active web-messaging conversations (no `conversationEnd`) that started within
    /// `look_back` before `now`, de-duplicated by conversation id.
    fn active_sessions(
        &self,
        now: Timestamp,
        look_back: SignedDuration,
    ) -> impl Future<Output = Result<Vec<AnalyticsConversation>, SourceError>> + Send;

    /// The conversation details JSON (`GET /api/v2/conversations/{id}`), verbatim. Shared: a
    /// snapshot hands out its own copy without cloning it.
    fn conversation(&self, id: &str) -> impl Future<Output = Result<Arc<serde_json::Value>, SourceError>> + Send;

    /// The external contacts with these ids (any number; repeated ids are read once). `Err` when
    /// the read failed as a whole, so that no id's outcome is known; otherwise each id is found,
    /// does not exist, or failed on its own (see [`ContactBatch`]). The live client asks for
    /// them in bulk, at most [`crate::genesys::client::CONTACTS_PER_REQUEST`] ids per request.
    fn contacts(&self, ids: &[String]) -> impl Future<Output = Result<ContactBatch, SourceError>> + Send;

    /// Ended conversations between `since` and `until` in which any of `contact_ids` took part
    /// as the customer.
    fn history(
        &self,
        contact_ids: &[String],
        since: Timestamp,
        until: Timestamp,
    ) -> impl Future<Output = Result<Vec<AnalyticsConversation>, SourceError>> + Send;

    /// Every wrap-up code of the org, to name the ids the analytics data carries.
    fn wrapup_codes(&self) -> impl Future<Output = Result<Vec<WrapupCode>, SourceError>> + Send;
}
