//! The journal's errors: each names the journal (without its password) and says what to do.

use super::{EntryId, State};
use crate::exit::ExitCode;

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// `--journal` / `RUNNER_JOURNAL` is not a location.
    #[error(
        "`{given}` is not a journal location: {why}\n  help: give a SQLite file path (e.g. runner-journal.sqlite) \
         or a postgres:// URL, with --journal or RUNNER_JOURNAL"
    )]
    Location { given: String, why: String },

    /// The journal could not be opened, created or connected to.
    #[error("cannot open the journal {location}: {detail}\n  help: {help}")]
    Open { location: String, detail: String, help: String },

    /// A command that reads the journal found none.
    #[error(
        "there is no journal at {location}: nothing has been sent from here yet\n  help: name the journal the runs \
         use with --journal PATH_OR_URL or RUNNER_JOURNAL"
    )]
    Missing { location: String },

    /// The schema could not be brought up to date.
    #[error("cannot update the schema of the journal {location}: {detail}\n  help: {help}")]
    Migrate { location: String, detail: String, help: String },

    /// A read or write failed.
    #[error("the journal {location} failed while {doing}: {detail}\n  help: {help}")]
    Query { location: String, doing: &'static str, detail: String, help: &'static str },

    /// A stored value cannot be read back (edited by hand?).
    #[error("the journal {location} holds an unreadable value: {detail}")]
    Corrupt { location: String, detail: String },

    #[error("the journal {location} has no entry {id}\n  help: list the entries with `runner journal list`")]
    NotFound { location: String, id: EntryId },

    /// `resolve` on an entry that is not uncertain.
    #[error(
        "entry {id} is {state}, not uncertain: only uncertain entries can be resolved (an outcome that runner \
         recorded itself is not changed by hand)"
    )]
    NotResolvable { id: EntryId, state: State },

    /// `mark_*` on an entry that already has its final outcome.
    #[error("entry {id} is already {state}, so it cannot be marked {wanted}")]
    AlreadyFinal { id: EntryId, state: State, wanted: State },

    /// The database's unique indexes refused a second reservation of the same message: another
    /// runner holds it. Should not happen while the per-customer lock works; nothing may be sent.
    #[error(
        "the journal {location} refused a second reservation of campaign `{campaign}` for customer `{customer}`: \
         another runner reserved it at the same moment; nothing was sent"
    )]
    Conflict { location: String, campaign: String, customer: String },

    /// A write on a journal opened read-only (dry runs).
    #[error("the journal {location} is open read-only (a dry run never writes the journal)")]
    ReadOnly { location: String },
}

impl JournalError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            JournalError::Location { .. } | JournalError::Missing { .. } | JournalError::Open { .. } => ExitCode::Usage,
            JournalError::NotFound { .. } | JournalError::NotResolvable { .. } => ExitCode::Usage,
            JournalError::Migrate { .. }
            | JournalError::Query { .. }
            | JournalError::Corrupt { .. }
            | JournalError::AlreadyFinal { .. }
            | JournalError::Conflict { .. }
            | JournalError::ReadOnly { .. } => ExitCode::Failure,
        }
    }
}
