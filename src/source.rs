//! Where a run's data comes from: a snapshot file or the live Genesys API. Both hand back the
//! API's own shapes, which [`crate::model::normalize`] turns into the model, so a preview from a
//! snapshot decides exactly what a live run decides.

use std::collections::HashMap;
use std::future::Future;

use futures_util::{StreamExt, stream};
use jiff::{SignedDuration, Timestamp};

use crate::genesys::types::{AnalyticsConversation, ConversationView, ExternalContact, WrapupCode};

/// Why a piece of data could not be had. One failing session never aborts a run.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("the snapshot does not hold {what}")]
    NotInSnapshot { what: String },
    /// The request failed when the snapshot was recorded; replaying fails the same way.
    #[error("failed when the snapshot was recorded: {error}")]
    FailedWhenRecorded { error: String },
    /// The snapshot file could not be read back during the run (changed or removed).
    #[error("{error}")]
    Unreadable { error: String },
    #[error(transparent)]
    Api(#[from] crate::genesys::error::ApiError),
}

/// A JSON document as the API sent it (conversation details), parsed only by its reader.
pub type RawJson = Box<serde_json::value::RawValue>;

/// One id's outcome in a contact read: found, absent (`None`: no such contact), or failed alone.
pub type ContactOutcome = Result<Option<ExternalContact>, SourceError>;

/// Where a source hands its conversations, one at a time, so that a run over a large snapshot
/// never holds them all. When the call then fails, the conversations already handed over are
/// to be discarded: the answer is all or nothing.
pub type Sink<'a> = &'a mut (dyn FnMut(AnalyticsConversation) + Send);

/// What a reader does with each conversation it reads before handing it on (normalizing it,
/// mostly), given the conversation borrowed (a snapshot's line is not copied into one). A
/// source that reads on several threads (a snapshot file) runs it on them; the others on the
/// calling thread.
pub type Map<'a, T> = &'a (dyn for<'c> Fn(ConversationView<'c>) -> T + Sync);

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
    /// `look_back` before `now`, de-duplicated by conversation id, each given to `sink`.
    fn active_sessions(
        &self,
        now: Timestamp,
        look_back: SignedDuration,
        sink: Sink<'_>,
    ) -> impl Future<Output = Result<(), SourceError>> + Send;

    /// The conversation details JSON (`GET /api/v2/conversations/{id}`), verbatim.
    fn conversation(&self, id: &str) -> impl Future<Output = Result<RawJson, SourceError>> + Send;

    /// The external contacts with these ids (any number; repeated ids are read once). `Err` when
    /// the read failed as a whole, so that no id's outcome is known; otherwise each id is found,
    /// does not exist, or failed on its own (see [`ContactBatch`]). The live client asks for
    /// them in bulk, at most [`crate::genesys::client::CONTACTS_PER_REQUEST`] ids per request.
    fn contacts(&self, ids: &[String]) -> impl Future<Output = Result<ContactBatch, SourceError>> + Send;

    /// How many ids a run puts in one [`Source::contacts`] call: one bulk request's worth by
    /// default (the live API's limit), as many as there are for a source without such a limit.
    fn contacts_per_call(&self) -> usize {
        crate::genesys::client::CONTACTS_PER_REQUEST
    }

    /// Ended conversations between `since` and `until` in which any of `contact_ids` took part
    /// as the customer, de-duplicated by conversation id, each given to `sink`.
    fn history(
        &self,
        contact_ids: &[String],
        since: Timestamp,
        until: Timestamp,
        sink: Sink<'_>,
    ) -> impl Future<Output = Result<(), SourceError>> + Send;

    /// Every wrap-up code of the org, to name the ids the analytics data carries.
    fn wrapup_codes(&self) -> impl Future<Output = Result<Vec<WrapupCode>, SourceError>> + Send;

    /// [`Source::contacts`] for distinct `ids`, each id's outcome (found, absent, or failed on
    /// its own) turned into a `T` by `map` with the id's place in `ids`; the `T`s come in the
    /// order of `ids`. `Err` when the read failed as a whole.
    fn contacts_mapped<T: Send>(
        &self,
        ids: &[String],
        map: &(dyn Fn(usize, ContactOutcome) -> T + Sync),
    ) -> impl Future<Output = Result<Vec<T>, SourceError>> + Send {
        async move {
            let ContactBatch { mut found, mut failed } = self.contacts(ids).await?;
            Ok(ids
                .iter()
                .enumerate()
                .map(|(i, id)| match failed.remove(id) {
                    Some(e) => map(i, Err(e)),
                    None => map(i, Ok(found.remove(id))),
                })
                .collect())
        }
    }

    /// [`Source::active_sessions`], each conversation turned into a `T` by `map` before `sink`
    /// takes it.
    fn active_sessions_mapped<T: Send>(
        &self,
        now: Timestamp,
        look_back: SignedDuration,
        map: Map<'_, T>,
        sink: &mut (dyn FnMut(T) + Send),
    ) -> impl Future<Output = Result<(), SourceError>> + Send {
        async move { self.active_sessions(now, look_back, &mut |c| sink(map(c.view()))).await }
    }

    /// [`Source::history`], each conversation turned into a `T` by `map` before `sink` takes it.
    fn history_mapped<T: Send>(
        &self,
        contact_ids: &[String],
        since: Timestamp,
        until: Timestamp,
        map: Map<'_, T>,
        sink: &mut (dyn FnMut(T) + Send),
    ) -> impl Future<Output = Result<(), SourceError>> + Send {
        async move { self.history(contact_ids, since, until, &mut |c| sink(map(c.view()))).await }
    }

    /// [`Source::conversation`] of each of `ids`, at most `concurrency` at a time, each answer's
    /// JSON text turned into a `T` by `map` with its place in `ids`. The text may not have been
    /// checked as JSON yet (a snapshot cuts it out of its lines): `map` parses it. The `T`s come
    /// back in any order.
    fn conversations_mapped<T: Send>(
        &self,
        ids: &[String],
        concurrency: usize,
        map: &(dyn Fn(usize, Result<&str, SourceError>) -> T + Sync),
    ) -> impl Future<Output = Vec<T>> + Send {
        async move {
            // By index: a stream over borrowed items trips the compiler's `Send` check.
            stream::iter(0..ids.len())
                .map(|i| async move {
                    match self.conversation(&ids[i]).await {
                        Ok(raw) => map(i, Ok(raw.get())),
                        Err(e) => map(i, Err(e)),
                    }
                })
                .buffer_unordered(concurrency.max(1))
                .collect()
                .await
        }
    }
}

/// [`Source::active_sessions`], collected: for small answers (tests, `runner test`).
pub async fn all_active_sessions<S: Source>(
    source: &S,
    now: Timestamp,
    look_back: SignedDuration,
) -> Result<Vec<AnalyticsConversation>, SourceError> {
    let mut all = Vec::new();
    source.active_sessions(now, look_back, &mut |c| all.push(c)).await?;
    Ok(all)
}

/// [`Source::history`], collected: for small answers (tests).
pub async fn all_history<S: Source>(
    source: &S,
    contact_ids: &[String],
    since: Timestamp,
    until: Timestamp,
) -> Result<Vec<AnalyticsConversation>, SourceError> {
    let mut all = Vec::new();
    source.history(contact_ids, since, until, &mut |c| all.push(c)).await?;
    Ok(all)
}
