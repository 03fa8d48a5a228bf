//! The occurrence lease of `runner serve`: before running a campaign's scheduled occurrence, a
//! serve instance inserts (campaign, scheduled time) into `occurrences`; the primary key lets
//! exactly one instance sharing the journal win. The journal's reservation still guarantees at
//! most one send per message whatever happens to the lease.

use jiff::Timestamp;

use super::backend;
use super::{Journal, JournalError};

impl Journal {
    /// Takes the lease of one occurrence: `true` when this `owner` got it, `false` when another
    /// instance (or an earlier run of this one) already took it.
    pub async fn claim_occurrence(
        &self,
        campaign: &str,
        scheduled_at: Timestamp,
        owner: &str,
        now: Timestamp,
    ) -> Result<bool, JournalError> {
        backend::claim_occurrence(&self.db, campaign, scheduled_at, owner, now)
            .await
            .map_err(|f| self.fault("taking an occurrence lease", f))
    }

    /// Records how the occurrence this `owner` claimed ended (a short summary of its counts).
    pub async fn finish_occurrence(
        &self,
        campaign: &str,
        scheduled_at: Timestamp,
        owner: &str,
        outcome: &str,
        now: Timestamp,
    ) -> Result<(), JournalError> {
        backend::finish_occurrence(&self.db, campaign, scheduled_at, owner, outcome, now)
            .await
            .map_err(|f| self.fault("finishing an occurrence", f))
    }

    /// Who holds the lease of an occurrence, and whether it finished: (owner, finished).
    pub async fn occurrence_owner(
        &self,
        campaign: &str,
        scheduled_at: Timestamp,
    ) -> Result<Option<(String, bool)>, JournalError> {
        backend::occurrence_owner(&self.db, campaign, scheduled_at)
            .await
            .map_err(|f| self.fault("reading an occurrence", f))
    }
}
