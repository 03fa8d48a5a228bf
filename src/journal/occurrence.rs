//! The occurrence lease of `runner serve`: before running a campaign's scheduled occurrence, a
//! serve instance inserts (campaign, scheduled time) into `occurrences`; the primary key lets
//! exactly one instance sharing the journal win. The journal's reservation still guarantees at
//! most one send per message whatever happens to the lease.

use jiff::Timestamp;

use super::backend::{Db, Fault};
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
        const SQL: &str = "INSERT INTO occurrences (campaign, scheduled_at, owner, started_at) VALUES ($1, $2, $3, $4) \
                           ON CONFLICT (campaign, scheduled_at) DO NOTHING";
        let (at, now) = (scheduled_at.as_microsecond(), now.as_microsecond());
        let result: Result<u64, sqlx::Error> = match &self.db {
            Db::Sqlite { pool, .. } => sqlx::query(SQL)
                .bind(campaign)
                .bind(at)
                .bind(owner)
                .bind(now)
                .execute(pool)
                .await
                .map(|r| r.rows_affected()),
            Db::Postgres { pool, .. } => sqlx::query(SQL)
                .bind(campaign)
                .bind(at)
                .bind(owner)
                .bind(now)
                .execute(pool)
                .await
                .map(|r| r.rows_affected()),
            Db::Absent => return Err(self.fault("taking an occurrence lease", Fault::ReadOnly)),
        };
        result.map(|n| n == 1).map_err(|e| self.fault("taking an occurrence lease", Fault::Db(e)))
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
        const SQL: &str = "UPDATE occurrences SET finished_at = $1, outcome = $2 \
                           WHERE campaign = $3 AND scheduled_at = $4 AND owner = $5";
        let (at, now) = (scheduled_at.as_microsecond(), now.as_microsecond());
        let result: Result<u64, sqlx::Error> = match &self.db {
            Db::Sqlite { pool, .. } => sqlx::query(SQL)
                .bind(now)
                .bind(outcome)
                .bind(campaign)
                .bind(at)
                .bind(owner)
                .execute(pool)
                .await
                .map(|r| r.rows_affected()),
            Db::Postgres { pool, .. } => sqlx::query(SQL)
                .bind(now)
                .bind(outcome)
                .bind(campaign)
                .bind(at)
                .bind(owner)
                .execute(pool)
                .await
                .map(|r| r.rows_affected()),
            Db::Absent => return Err(self.fault("finishing an occurrence", Fault::ReadOnly)),
        };
        result.map(|_| ()).map_err(|e| self.fault("finishing an occurrence", Fault::Db(e)))
    }

    /// Who holds the lease of an occurrence, and whether it finished: (owner, finished).
    pub async fn occurrence_owner(
        &self,
        campaign: &str,
        scheduled_at: Timestamp,
    ) -> Result<Option<(String, bool)>, JournalError> {
        const SQL: &str = "SELECT owner, finished_at FROM occurrences WHERE campaign = $1 AND scheduled_at = $2";
        let at = scheduled_at.as_microsecond();
        let row: Result<Option<(String, Option<i64>)>, sqlx::Error> = match &self.db {
            Db::Sqlite { pool, .. } => sqlx::query_as(SQL).bind(campaign).bind(at).fetch_optional(pool).await,
            Db::Postgres { pool, .. } => sqlx::query_as(SQL).bind(campaign).bind(at).fetch_optional(pool).await,
            Db::Absent => return Ok(None),
        };
        row.map(|r| r.map(|(owner, finished)| (owner, finished.is_some())))
            .map_err(|e| self.fault("reading an occurrence", Fault::Db(e)))
    }
}
