//! The journal's SQL, for SQLite and PostgreSQL.
//!
//! The statements are written once (SQLite accepts PostgreSQL's `$1` placeholders) and compiled
//! twice by the `queries!` macro, into the `sqlite` and `postgres` modules, over each driver's
//! connection type. What differs lives outside the macro: opening, the schema migrations
//! (`migrations/sqlite/`, `migrations/postgres/`, embedded at build time) and how a reservation
//! is serialized per customer.

use std::borrow::Cow;
use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

use jiff::Timestamp;
use sqlx::migrate::{MigrateError, Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{ConnectOptions, Connection, SqlSafeStr};

use super::{CapInfo, CapReason, Entry, EntryId, Filter, GlobalCap, JournalError, JournalOptions, Location};
use super::{MessageKey, Reserve, ReserveRequest, State};
use crate::campaign::OnceEvery;

/// The schema version this build writes: the number of the last migration.
pub(super) const LATEST_VERSION: i64 = 3;

type Migrations = [(i64, &'static str, &'static str)];

/// Never edit a released migration: the database keeps its checksum. Add a new one.
const SQLITE_MIGRATIONS: &Migrations = &[
    (1, "sends", include_str!("../../migrations/sqlite/0001_sends.sql")),
    (2, "global cap and resolution", include_str!("../../migrations/sqlite/0002_global_cap_and_resolution.sql")),
    (3, "occurrences", include_str!("../../migrations/sqlite/0003_occurrences.sql")),
];

const POSTGRES_MIGRATIONS: &Migrations = &[
    (1, "sends", include_str!("../../migrations/postgres/0001_sends.sql")),
    (2, "global cap and resolution", include_str!("../../migrations/postgres/0002_global_cap_and_resolution.sql")),
    (3, "occurrences", include_str!("../../migrations/postgres/0003_occurrences.sql")),
];

/// How a journal is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// Live runs: create if missing, migrate.
    Create,
    /// `runner journal`: must exist; migrate.
    Existing,
    /// Dry runs: never write; missing reads as empty.
    ReadOnly,
}

/// An open database.
#[derive(Debug, Clone)]
pub(super) enum Db {
    Sqlite {
        pool: SqlitePool,
        read_only: bool,
    },
    Postgres {
        pool: PgPool,
        read_only: bool,
    },
    /// A read-only journal that does not exist yet: nothing was ever recorded.
    Absent,
}

impl Db {
    pub(super) fn is_read_only(&self) -> bool {
        match self {
            Db::Sqlite { read_only, .. } | Db::Postgres { read_only, .. } => *read_only,
            Db::Absent => true,
        }
    }

    pub(super) async fn close(&self) {
        match self {
            Db::Sqlite { pool, .. } => pool.close().await,
            Db::Postgres { pool, .. } => pool.close().await,
            Db::Absent => {}
        }
    }
}

/// Why an operation failed, before it is given the journal's location.
#[derive(Debug)]
pub(super) enum Fault {
    Db(sqlx::Error),
    Corrupt(String),
    ReadOnly,
}

impl From<sqlx::Error> for Fault {
    fn from(e: sqlx::Error) -> Self {
        Fault::Db(e)
    }
}

/// A send outcome to record.
pub(super) struct Outcome<'a> {
    pub state: State,
    pub genesys_conversation_id: Option<&'a str>,
    pub genesys_message_id: Option<&'a str>,
    pub error: Option<&'a str>,
}

pub(super) enum Marked {
    Done,
    Missing,
    /// The entry is in this state, from which the outcome cannot be recorded.
    Was(State),
}

// ---------------------------------------------------------------------------------------------
// Opening

pub(super) async fn open(
    location: &Location,
    options: &JournalOptions,
    mode: Mode,
    version: i64,
) -> Result<Db, JournalError> {
    match location {
        Location::Sqlite(path) => open_sqlite(location, path, options, mode, version).await,
        Location::Postgres { url, .. } => open_postgres(location, url, mode, version).await,
    }
}

async fn open_sqlite(
    location: &Location,
    path: &std::path::Path,
    options: &JournalOptions,
    mode: Mode,
    version: i64,
) -> Result<Db, JournalError> {
    let exists = path.try_exists().map_err(|e| JournalError::Open {
        location: location.to_string(),
        detail: e.to_string(),
        help: "check the permissions of the journal's directory".to_owned(),
    })?;
    match (exists, mode) {
        (false, Mode::ReadOnly) => return Ok(Db::Absent),
        (false, Mode::Existing) => return Err(JournalError::Missing { location: location.to_string() }),
        _ => {}
    }
    let read_only = mode == Mode::ReadOnly;
    let connect = SqliteConnectOptions::new().filename(path).busy_timeout(options.busy_timeout);
    let connect = if read_only { connect.read_only(true) } else { connect.create_if_missing(true) };
    if !read_only {
        // Write-ahead logging lets readers go on while a runner writes. It is a property of the
        // file, set once here rather than by every connection (switching needs an exclusive lock).
        let wal = connect.clone().journal_mode(SqliteJournalMode::Wal);
        retry(|| async { wal.connect().await?.close().await }).await.map_err(|e| open_error(location, &e))?;
    }
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .acquire_timeout(options.busy_timeout + Duration::from_secs(5))
        .connect_with(connect)
        .await
        .map_err(|e| open_error(location, &e))?;
    let db = Db::Sqlite { pool: pool.clone(), read_only };
    let has_table: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'sends'")
            .fetch_one(&pool)
            .await
            .map_err(|e| open_error(location, &e))?;
    if read_only {
        if has_table == 0 {
            pool.close().await;
            return Ok(Db::Absent);
        }
        check_version(location, &db).await?;
    } else {
        // Two runners creating the same file at once: the loser of a migration race sees the
        // winner's tables on the next attempt.
        let migrator = migrator(SQLITE_MIGRATIONS, version);
        retry(|| migrator.run(&pool)).await.map_err(|e| migrate_error(location, e))?;
    }
    Ok(db)
}

async fn open_postgres(location: &Location, url: &str, mode: Mode, version: i64) -> Result<Db, JournalError> {
    let read_only = mode == Mode::ReadOnly;
    let mut connect = PgConnectOptions::from_str(url).map_err(|e| open_error(location, &e))?;
    if !url.contains("application_name=") {
        connect = connect.application_name("runner");
    }
    if read_only {
        // The server refuses every write of these sessions.
        connect = connect.options([("default_transaction_read_only", "on")]);
    }
    // One connection first: a wrong URL, password or host fails at once, with the server's
    // reason (the pool would keep retrying until its acquire timeout).
    connect
        .connect()
        .await
        .map_err(|e| open_error(location, &e))?
        .close()
        .await
        .map_err(|e| open_error(location, &e))?;
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(connect)
        .await
        .map_err(|e| open_error(location, &e))?;
    let db = Db::Postgres { pool: pool.clone(), read_only };
    let has_table: bool = sqlx::query_scalar("SELECT to_regclass('sends') IS NOT NULL")
        .fetch_one(&pool)
        .await
        .map_err(|e| open_error(location, &e))?;
    match (has_table, mode) {
        (false, Mode::ReadOnly) => {
            pool.close().await;
            return Ok(Db::Absent);
        }
        (false, Mode::Existing) => {
            pool.close().await;
            return Err(JournalError::Missing { location: location.to_string() });
        }
        (true, Mode::ReadOnly) => check_version(location, &db).await?,
        // sqlx holds an advisory lock while it migrates: runners starting together take turns.
        _ => migrator(POSTGRES_MIGRATIONS, version).run(&pool).await.map_err(|e| migrate_error(location, e))?,
    }
    Ok(db)
}

/// The migrations up to `version`.
fn migrator(migrations: &'static Migrations, version: i64) -> Migrator {
    Migrator::with_migrations(
        migrations
            .iter()
            .filter(|(v, _, _)| *v <= version)
            .map(|&(v, description, sql)| {
                Migration::new(v, Cow::Borrowed(description), MigrationType::Simple, sql.into_sql_str(), false)
            })
            .collect(),
    )
}

/// A read-only journal must not be newer than this build: its meaning could have changed.
async fn check_version(location: &Location, db: &Db) -> Result<(), JournalError> {
    const SQL: &str = "SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success";
    let found: Result<i64, sqlx::Error> = match db {
        Db::Sqlite { pool, .. } => sqlx::query_scalar(SQL).fetch_one(pool).await,
        Db::Postgres { pool, .. } => sqlx::query_scalar(SQL).fetch_one(pool).await,
        Db::Absent => return Ok(()),
    };
    let found = found.map_err(|e| open_error(location, &e))?;
    if found > LATEST_VERSION {
        return Err(JournalError::Open {
            location: location.to_string(),
            detail: format!("its schema is version {found}, newer than this runner's ({LATEST_VERSION})"),
            help: "use a runner at least as new as the one that writes this journal".to_owned(),
        });
    }
    Ok(())
}

/// Retries setup steps a few times: concurrent first opens of one SQLite file can collide.
async fn retry<T, E, F, Fut>(mut step: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut delay = Duration::from_millis(50);
    for _ in 0..5 {
        if let Ok(value) = step().await {
            return Ok(value);
        }
        tokio::time::sleep(delay).await;
        delay *= 2;
    }
    step().await
}

fn open_error(location: &Location, e: &sqlx::Error) -> JournalError {
    let code = match e {
        sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()),
        _ => None,
    };
    let help = match location {
        Location::Sqlite(path) => {
            let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
            match code.as_deref() {
                Some("5" | "6" | "261" | "517") => {
                    "another runner holds the journal for longer than the busy timeout: try again".to_owned()
                }
                Some("26") => "the file is not a SQLite journal: point --journal / RUNNER_JOURNAL elsewhere".to_owned(),
                _ => format!(
                    "check that the directory {} exists and that runner may create and write files there, or point \
                     --journal / RUNNER_JOURNAL elsewhere",
                    dir.display()
                ),
            }
        }
        Location::Postgres { .. } => match (e, code.as_deref()) {
            (_, Some("28P01" | "28000")) => {
                "check the user name and password (in the URL, or in PGPASSWORD)".to_owned()
            }
            (_, Some("3D000")) => "create the database (e.g. `createdb NAME`) or fix its name in the URL".to_owned(),
            (_, Some("42501")) => "grant the user the right to create tables in the database's schema".to_owned(),
            (sqlx::Error::Configuration(_), _) => {
                "fix the URL: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE".to_owned()
            }
            (sqlx::Error::Tls(_), _) => "this build of runner connects to PostgreSQL without TLS: the server must \
                 accept unencrypted connections from here (sslmode=prefer or disable in the URL)"
                .to_owned(),
            (sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut, _) => {
                "check that PostgreSQL runs at that host and port and accepts connections from here".to_owned()
            }
            _ => "check the URL and that the database accepts this user".to_owned(),
        },
    };
    JournalError::Open { location: location.to_string(), detail: location.scrub(&e.to_string()), help }
}

fn migrate_error(location: &Location, e: MigrateError) -> JournalError {
    let (detail, help) = match &e {
        MigrateError::VersionMissing(v) => (
            format!("it has schema migration {v}, which this runner does not know"),
            "a newer runner wrote this journal: use that version (a journal is never downgraded)",
        ),
        MigrateError::VersionMismatch(v) => (
            format!("its schema migration {v} differs from this runner's"),
            "another build of runner created this journal: use the build that created it",
        ),
        _ => (
            location.scrub(&e.to_string()),
            "check that the database user may create tables and indexes (each migration runs in a transaction, \
             so a failed one changed nothing)",
        ),
    };
    JournalError::Migrate { location: location.to_string(), detail, help: help.to_owned() }
}

// ---------------------------------------------------------------------------------------------
// Operations: dispatch to the backend

/// Runs `$body` with `$conn` a connection of the journal's database and `$q` its queries module.
macro_rules! with_conn {
    ($db:expr, write = $write:expr, absent = $absent:expr, |$conn:ident, $q:ident| $body:expr) => {
        match $db {
            Db::Absent if $write => Err(Fault::ReadOnly),
            Db::Absent => $absent,
            Db::Sqlite { read_only: true, .. } | Db::Postgres { read_only: true, .. } if $write => Err(Fault::ReadOnly),
            Db::Sqlite { pool, .. } => {
                use sqlite as $q;
                let mut connection = pool.acquire().await?;
                let $conn = &mut *connection;
                $body
            }
            Db::Postgres { pool, .. } => {
                use postgres as $q;
                let mut connection = pool.acquire().await?;
                let $conn = &mut *connection;
                $body
            }
        }
    };
}

pub(super) async fn reserve(
    db: &Db,
    request: &ReserveRequest<'_>,
    global: Option<GlobalCap>,
    now: Timestamp,
) -> Result<Reserve, Fault> {
    match db {
        Db::Sqlite { pool, read_only: false } => {
            // One writer at a time for the whole file, from the first statement: the caps are
            // read and the row inserted with no other writer in between.
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
            let reserved = sqlite::reserve_in(&mut tx, request, global, now).await?;
            tx.commit().await?;
            Ok(reserved)
        }
        Db::Postgres { pool, read_only: false } => {
            // READ COMMITTED (whatever the server's default): each statement sees what committed
            // before it, so the caps read after the lock see the previous holder's row.
            let mut tx = pool.begin_with("BEGIN ISOLATION LEVEL READ COMMITTED").await?;
            // One reservation per customer at a time, across every runner on this database,
            // until this transaction ends.
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind(format!("runner-journal/customer/{}", request.key.customer))
                .execute(&mut *tx)
                .await?;
            let reserved = postgres::reserve_in(&mut tx, request, global, now).await?;
            tx.commit().await?;
            Ok(reserved)
        }
        _ => Err(Fault::ReadOnly),
    }
}

pub(super) async fn would_cap(
    db: &Db,
    key: &MessageKey<'_>,
    once_every: Option<OnceEvery>,
    global: Option<GlobalCap>,
    now: Timestamp,
) -> Result<Option<CapInfo>, Fault> {
    with_conn!(db, write = false, absent = Ok(None), |conn, q| q::caps(conn, key, once_every, global, now).await)
}

pub(super) async fn holds(db: &Db) -> Result<(Vec<String>, Vec<String>), Fault> {
    with_conn!(db, write = false, absent = Ok((Vec::new(), Vec::new())), |conn, q| q::holds(conn).await)
}

pub(super) async fn mark(db: &Db, id: EntryId, outcome: Outcome<'_>, now: Timestamp) -> Result<Marked, Fault> {
    with_conn!(db, write = true, absent = Ok(Marked::Missing), |conn, q| q::mark(conn, id, &outcome, now).await)
}

pub(super) async fn expire_stale(db: &Db, cutoff: Timestamp, why: &str, now: Timestamp) -> Result<Vec<Entry>, Fault> {
    with_conn!(db, write = true, absent = Ok(Vec::new()), |conn, q| q::expire_stale(conn, cutoff, why, now).await)
}

pub(super) async fn get(db: &Db, id: EntryId) -> Result<Option<Entry>, Fault> {
    with_conn!(db, write = false, absent = Ok(None), |conn, q| q::get(conn, id).await)
}

pub(super) async fn list(db: &Db, filter: &Filter) -> Result<Vec<Entry>, Fault> {
    with_conn!(db, write = false, absent = Ok(Vec::new()), |conn, q| q::list(conn, filter).await)
}

pub(super) async fn claim_occurrence(
    db: &Db,
    campaign: &str,
    scheduled_at: Timestamp,
    owner: &str,
    now: Timestamp,
) -> Result<bool, Fault> {
    with_conn!(db, write = true, absent = Ok(false), |conn, q| q::claim_occurrence(
        conn,
        campaign,
        scheduled_at,
        owner,
        now
    )
    .await)
}

pub(super) async fn finish_occurrence(
    db: &Db,
    campaign: &str,
    scheduled_at: Timestamp,
    owner: &str,
    outcome: &str,
    now: Timestamp,
) -> Result<(), Fault> {
    with_conn!(db, write = true, absent = Ok(()), |conn, q| q::finish_occurrence(
        conn,
        campaign,
        scheduled_at,
        owner,
        outcome,
        now
    )
    .await)
}

pub(super) async fn occurrence_owner(
    db: &Db,
    campaign: &str,
    scheduled_at: Timestamp,
) -> Result<Option<(String, bool)>, Fault> {
    with_conn!(db, write = false, absent = Ok(None), |conn, q| q::occurrence_owner(conn, campaign, scheduled_at).await)
}

pub(super) async fn problems(db: &Db) -> Result<Vec<Entry>, Fault> {
    with_conn!(db, write = false, absent = Ok(Vec::new()), |conn, q| q::problems(conn).await)
}

/// `Ok(Err(None))`: no such entry; `Ok(Err(Some(state)))`: not uncertain.
pub(super) async fn resolve(
    db: &Db,
    id: EntryId,
    state: State,
    resolution: &str,
    now: Timestamp,
) -> Result<Result<Entry, Option<State>>, Fault> {
    with_conn!(db, write = true, absent = Ok(Err(None)), |conn, q| q::resolve(conn, id, state, resolution, now).await)
}

// ---------------------------------------------------------------------------------------------
// The statements, compiled once per database

fn micros(t: Timestamp) -> i64 {
    t.as_microsecond()
}

fn micros_of(d: jiff::SignedDuration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

fn time(us: i64) -> Result<Timestamp, Fault> {
    Timestamp::from_microsecond(us).map_err(|e| Fault::Corrupt(format!("the time {us} (µs since 1970): {e}")))
}

fn plus(t: Timestamp, d: jiff::SignedDuration) -> Option<Timestamp> {
    t.checked_add(d).ok()
}

/// Every column of `sends`, in the order `entry` reads them.
macro_rules! columns {
    () => {
        "id, run_id, campaign, customer, conversation_id, state, text_sha256, text_chars, created_at, updated_at, \
         genesys_conversation_id, genesys_message_id, error, resolution"
    };
}

/// The states that count as a message for the caps (see `State::counts`).
macro_rules! counting {
    () => {
        "('reserved', 'sent', 'uncertain')"
    };
}

macro_rules! queries {
    ($module:ident, $Conn:ty, $Row:ty) => {
        pub(super) mod $module {
            use sqlx::Row;

            use super::*;

            /// The first cap `key` hits at `now`, if any.
            pub(in crate::journal) async fn caps(
                conn: &mut $Conn,
                key: &MessageKey<'_>,
                once_every: Option<OnceEvery>,
                global: Option<GlobalCap>,
                now: Timestamp,
            ) -> Result<Option<CapInfo>, Fault> {
                let now = micros(now);
                let same_conversation = sqlx::query(concat!(
                    "SELECT id, campaign, created_at FROM sends WHERE campaign = $1 AND conversation_id = $2 ",
                    "AND state IN ",
                    counting!(),
                    " ORDER BY created_at DESC, id DESC LIMIT 1"
                ))
                .bind(key.campaign)
                .bind(key.conversation_id)
                .fetch_optional(&mut *conn)
                .await?;
                if let Some(row) = same_conversation {
                    return Ok(Some(CapInfo {
                        reason: CapReason::SameConversation,
                        campaign: row.try_get("campaign")?,
                        entry: EntryId(row.try_get("id")?),
                        last: time(row.try_get("created_at")?)?,
                        until: None,
                    }));
                }
                let in_flight = sqlx::query(
                    "SELECT id, created_at FROM sends WHERE campaign = $1 AND customer = $2 AND state = 'reserved' \
                     ORDER BY created_at DESC, id DESC LIMIT 1",
                )
                .bind(key.campaign)
                .bind(key.customer)
                .fetch_optional(&mut *conn)
                .await?;
                if let Some(row) = in_flight {
                    return Ok(Some(CapInfo {
                        reason: CapReason::InFlight,
                        campaign: key.campaign.to_owned(),
                        entry: EntryId(row.try_get("id")?),
                        last: time(row.try_get("created_at")?)?,
                        until: None,
                    }));
                }
                if let Some(once_every) = once_every {
                    // Within the window: reserved after `now - once_every` (exclusive).
                    let after = match once_every {
                        OnceEvery::Ever => i64::MIN,
                        OnceEvery::Every(d) => now.saturating_sub(micros_of(d)),
                    };
                    let last = sqlx::query(concat!(
                        "SELECT id, created_at FROM sends WHERE campaign = $1 AND customer = $2 AND state IN ",
                        counting!(),
                        " AND created_at > $3 ORDER BY created_at DESC, id DESC LIMIT 1"
                    ))
                    .bind(key.campaign)
                    .bind(key.customer)
                    .bind(after)
                    .fetch_optional(&mut *conn)
                    .await?;
                    if let Some(row) = last {
                        let last = time(row.try_get("created_at")?)?;
                        let until = match once_every {
                            OnceEvery::Ever => None,
                            OnceEvery::Every(d) => plus(last, d),
                        };
                        return Ok(Some(CapInfo {
                            reason: CapReason::OnceEvery(once_every),
                            campaign: key.campaign.to_owned(),
                            entry: EntryId(row.try_get("id")?),
                            last,
                            until,
                        }));
                    }
                }
                if let Some(cap) = global {
                    let recent = sqlx::query(concat!(
                        "SELECT id, campaign, created_at FROM sends WHERE customer = $1 AND state IN ",
                        counting!(),
                        " AND created_at > $2 ORDER BY created_at DESC, id DESC LIMIT $3"
                    ))
                    .bind(key.customer)
                    .bind(now.saturating_sub(micros_of(cap.window)))
                    .bind(i64::from(cap.max))
                    .fetch_all(&mut *conn)
                    .await?;
                    if let (Some(latest), Some(oldest)) =
                        (recent.first(), recent.get((cap.max as usize).saturating_sub(1)))
                    {
                        return Ok(Some(CapInfo {
                            reason: CapReason::Global(cap),
                            campaign: latest.try_get("campaign")?,
                            entry: EntryId(latest.try_get("id")?),
                            last: time(latest.try_get("created_at")?)?,
                            until: plus(time(oldest.try_get("created_at")?)?, cap.window),
                        }));
                    }
                }
                Ok(None)
            }

            /// The customers and the conversations with a message that counts towards a cap.
            pub(in crate::journal) async fn holds(conn: &mut $Conn) -> Result<(Vec<String>, Vec<String>), Fault> {
                let customers =
                    sqlx::query_scalar(concat!("SELECT DISTINCT customer FROM sends WHERE state IN ", counting!()))
                        .fetch_all(&mut *conn)
                        .await?;
                let conversations = sqlx::query_scalar(concat!(
                    "SELECT DISTINCT conversation_id FROM sends WHERE state IN ",
                    counting!()
                ))
                .fetch_all(&mut *conn)
                .await?;
                Ok((customers, conversations))
            }

            /// Checks the caps and inserts the reservation. Call inside the transaction that
            /// serializes this customer.
            pub(in crate::journal) async fn reserve_in(
                conn: &mut $Conn,
                request: &ReserveRequest<'_>,
                global: Option<GlobalCap>,
                now: Timestamp,
            ) -> Result<Reserve, Fault> {
                if let Some(cap) = caps(&mut *conn, &request.key, request.once_every, global, now).await? {
                    return Ok(Reserve::Capped(cap));
                }
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO sends (run_id, campaign, customer, conversation_id, state, text_sha256, text_chars, \
                     created_at, updated_at) VALUES ($1, $2, $3, $4, 'reserved', $5, $6, $7, $7) RETURNING id",
                )
                .bind(request.run_id)
                .bind(request.key.campaign)
                .bind(request.key.customer)
                .bind(request.key.conversation_id)
                .bind(super::super::text_sha256(request.text))
                .bind(i64::try_from(request.text.chars().count()).unwrap_or(i64::MAX))
                .bind(micros(now))
                .fetch_one(&mut *conn)
                .await?;
                Ok(Reserve::Reserved(EntryId(id)))
            }

            pub(in crate::journal) async fn mark(
                conn: &mut $Conn,
                id: EntryId,
                outcome: &Outcome<'_>,
                now: Timestamp,
            ) -> Result<Marked, Fault> {
                // A definite answer from Genesys (sent, failed) wins over a guess (uncertain) and
                // over an operator's release made while the send was still under way; an
                // uncertain outcome only ever replaces a reservation.
                let done = sqlx::query(match outcome.state {
                    State::Uncertain => {
                        "UPDATE sends SET state = $2, updated_at = $3, \
                         genesys_conversation_id = COALESCE($4, genesys_conversation_id), \
                         genesys_message_id = COALESCE($5, genesys_message_id), error = $6 \
                         WHERE id = $1 AND state = 'reserved'"
                    }
                    _ => {
                        "UPDATE sends SET state = $2, updated_at = $3, \
                         genesys_conversation_id = COALESCE($4, genesys_conversation_id), \
                         genesys_message_id = COALESCE($5, genesys_message_id), error = $6 \
                         WHERE id = $1 AND state IN ('reserved', 'uncertain', 'released')"
                    }
                })
                .bind(id.0)
                .bind(outcome.state.as_str())
                .bind(micros(now))
                .bind(outcome.genesys_conversation_id)
                .bind(outcome.genesys_message_id)
                .bind(outcome.error)
                .execute(&mut *conn)
                .await?;
                if done.rows_affected() > 0 {
                    return Ok(Marked::Done);
                }
                Ok(match state_of(conn, id).await? {
                    None => Marked::Missing,
                    // Recording the same outcome twice (a retry) is fine.
                    Some(state) if state == outcome.state => Marked::Done,
                    Some(state) => Marked::Was(state),
                })
            }

            pub(in crate::journal) async fn expire_stale(
                conn: &mut $Conn,
                cutoff: Timestamp,
                why: &str,
                now: Timestamp,
            ) -> Result<Vec<Entry>, Fault> {
                let rows = sqlx::query(concat!(
                    "UPDATE sends SET state = 'uncertain', updated_at = $1, error = $2 ",
                    "WHERE state = 'reserved' AND created_at <= $3 RETURNING ",
                    columns!()
                ))
                .bind(micros(now))
                .bind(why)
                .bind(micros(cutoff))
                .fetch_all(&mut *conn)
                .await?;
                let mut entries = rows.iter().map(entry).collect::<Result<Vec<_>, _>>()?;
                entries.sort_by_key(|e| (e.created_at, e.id));
                Ok(entries)
            }

            pub(in crate::journal) async fn get(conn: &mut $Conn, id: EntryId) -> Result<Option<Entry>, Fault> {
                let row = sqlx::query(concat!("SELECT ", columns!(), " FROM sends WHERE id = $1"))
                    .bind(id.0)
                    .fetch_optional(&mut *conn)
                    .await?;
                row.as_ref().map(entry).transpose()
            }

            pub(in crate::journal) async fn list(conn: &mut $Conn, filter: &Filter) -> Result<Vec<Entry>, Fault> {
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    columns!(),
                    " FROM sends WHERE ($1 IS NULL OR campaign = $1) AND ($2 IS NULL OR customer = $2) ",
                    "AND ($3 IS NULL OR state = $3) AND ($4 IS NULL OR created_at >= $4) ",
                    "AND ($5 IS NULL OR substr(run_id, 1, length($5)) = $5) ORDER BY created_at, id"
                ))
                .bind(filter.campaign.as_deref())
                .bind(filter.customer.as_deref())
                .bind(filter.state.map(State::as_str))
                .bind(filter.since.map(micros))
                .bind(filter.run_id_prefix.as_deref())
                .fetch_all(&mut *conn)
                .await?;
                rows.iter().map(entry).collect()
            }

            pub(in crate::journal) async fn problems(conn: &mut $Conn) -> Result<Vec<Entry>, Fault> {
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    columns!(),
                    " FROM sends WHERE state IN ('uncertain', 'failed') ORDER BY created_at, id"
                ))
                .fetch_all(&mut *conn)
                .await?;
                rows.iter().map(entry).collect()
            }

            pub(in crate::journal) async fn resolve(
                conn: &mut $Conn,
                id: EntryId,
                state: State,
                resolution: &str,
                now: Timestamp,
            ) -> Result<Result<Entry, Option<State>>, Fault> {
                let row = sqlx::query(concat!(
                    "UPDATE sends SET state = $2, updated_at = $3, resolution = $4 ",
                    "WHERE id = $1 AND state = 'uncertain' RETURNING ",
                    columns!()
                ))
                .bind(id.0)
                .bind(state.as_str())
                .bind(micros(now))
                .bind(resolution)
                .fetch_optional(&mut *conn)
                .await?;
                match row {
                    Some(row) => Ok(Ok(entry(&row)?)),
                    None => Ok(Err(state_of(conn, id).await?)),
                }
            }

            pub(in crate::journal) async fn claim_occurrence(
                conn: &mut $Conn,
                campaign: &str,
                scheduled_at: Timestamp,
                owner: &str,
                now: Timestamp,
            ) -> Result<bool, Fault> {
                let done = sqlx::query(
                    "INSERT INTO occurrences (campaign, scheduled_at, owner, started_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (campaign, scheduled_at) DO NOTHING",
                )
                .bind(campaign)
                .bind(micros(scheduled_at))
                .bind(owner)
                .bind(micros(now))
                .execute(&mut *conn)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            pub(in crate::journal) async fn finish_occurrence(
                conn: &mut $Conn,
                campaign: &str,
                scheduled_at: Timestamp,
                owner: &str,
                outcome: &str,
                now: Timestamp,
            ) -> Result<(), Fault> {
                sqlx::query(
                    "UPDATE occurrences SET finished_at = $1, outcome = $2 \
                     WHERE campaign = $3 AND scheduled_at = $4 AND owner = $5",
                )
                .bind(micros(now))
                .bind(outcome)
                .bind(campaign)
                .bind(micros(scheduled_at))
                .bind(owner)
                .execute(&mut *conn)
                .await?;
                Ok(())
            }

            pub(in crate::journal) async fn occurrence_owner(
                conn: &mut $Conn,
                campaign: &str,
                scheduled_at: Timestamp,
            ) -> Result<Option<(String, bool)>, Fault> {
                let row: Option<(String, Option<i64>)> = sqlx::query_as(
                    "SELECT owner, finished_at FROM occurrences WHERE campaign = $1 AND scheduled_at = $2",
                )
                .bind(campaign)
                .bind(micros(scheduled_at))
                .fetch_optional(&mut *conn)
                .await?;
                Ok(row.map(|(owner, finished)| (owner, finished.is_some())))
            }

            async fn state_of(conn: &mut $Conn, id: EntryId) -> Result<Option<State>, Fault> {
                let state: Option<String> = sqlx::query_scalar("SELECT state FROM sends WHERE id = $1")
                    .bind(id.0)
                    .fetch_optional(&mut *conn)
                    .await?;
                state.map(|s| parse_state(&s)).transpose()
            }

            fn entry(row: &$Row) -> Result<Entry, Fault> {
                let chars: i64 = row.try_get("text_chars")?;
                Ok(Entry {
                    id: EntryId(row.try_get("id")?),
                    run_id: row.try_get("run_id")?,
                    campaign: row.try_get("campaign")?,
                    customer: row.try_get("customer")?,
                    conversation_id: row.try_get("conversation_id")?,
                    state: parse_state(row.try_get("state")?)?,
                    text_sha256: row.try_get("text_sha256")?,
                    text_chars: u64::try_from(chars)
                        .map_err(|_| Fault::Corrupt(format!("a negative text length ({chars})")))?,
                    created_at: time(row.try_get("created_at")?)?,
                    updated_at: time(row.try_get("updated_at")?)?,
                    genesys_conversation_id: row.try_get("genesys_conversation_id")?,
                    genesys_message_id: row.try_get("genesys_message_id")?,
                    error: row.try_get("error")?,
                    resolution: row.try_get("resolution")?,
                })
            }
        }
    };
}

fn parse_state(s: &str) -> Result<State, Fault> {
    State::parse(s).ok_or_else(|| Fault::Corrupt(format!("the unknown state `{s}`")))
}

queries!(sqlite, sqlx::SqliteConnection, sqlx::sqlite::SqliteRow);
queries!(postgres, sqlx::PgConnection, sqlx::postgres::PgRow);
