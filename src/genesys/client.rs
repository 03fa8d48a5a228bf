//! The live Genesys Cloud client: the only code that does HTTP.
//!
//! [`GenesysClient`] implements [`Source`] over the real API and sends proactive messages. Every
//! request goes through `Transport::execute`, the one place for pacing (a smooth
//! requests-per-minute limit and a bound on requests in flight), per-request timeouts,
//! retries and the 401 re-login. Time is read and slept through an injected [`Clock`], so
//! tests control token expiry and retry delays without waiting.
//!
//! Retries: 429 waits the `Retry-After` seconds; 502, 503, 504 and failed connections back off
//! exponentially with jitter, up to `max_retries`. Reads are also retried after a timeout. A send
//! is only retried when Genesys' answer shows it was not processed (429, 503, no connection);
//! a timeout, a broken connection or another 5xx after a send is [`SendError::Uncertain`].

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt, TryStreamExt};
use jiff::{SignedDuration, Timestamp};
use reqwest::header::{ACCEPT, HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;

use super::auth::{AccessToken, Auth, join};
use super::config::{GenesysConfig, Secret, Tuning};
use super::error::{ApiError, Endpoint, Failure, SendError};
use super::query::{DetailsQuery, PAGE_SIZE};
use super::types::{
    AgentlessMessageRequest, AgentlessMessageResponse, AnalyticsConversation, AnalyticsQueryResponse,
    BulkContactResult, BulkFetchContactsResponse, BulkIdsRequest, EntityRef, ErrorBody, ExternalContact, WrapupCode,
    WrapupCodeListing,
};
use crate::model::parse_time;
use crate::source::{ContactBatch, RawJson, Sink, Source, SourceError};

/// Why the client waits; lets tests tell pacing from retry delays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pause {
    /// Keeping to `requests_per_minute`.
    RateLimit,
    /// Waiting the `Retry-After` of a 429.
    RetryAfter,
    /// Exponential backoff after a 502/503/504, timeout or failed connection.
    Backoff,
}

/// The time source: the real one in production, a controlled one in tests.
pub trait Clock: Send + Sync {
    fn now(&self) -> Instant;
    fn sleep(&self, duration: Duration, why: Pause) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

/// Real time, sleeping with tokio.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep(&self, duration: Duration, _why: Pause) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// The HTTP client could not be set up (TLS initialisation).
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the HTTP client: {0}")]
pub struct ClientBuildError(String);

/// The live Genesys Cloud client.
pub struct GenesysClient {
    transport: Transport,
    auth: Auth,
    api_url: Url,
    deployment_id: String,
    tuning: Tuning,
}

impl fmt::Debug for GenesysClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GenesysClient")
            .field("api_url", &self.api_url.as_str())
            .field("deployment_id", &self.deployment_id)
            .field("auth", &self.auth)
            .field("tuning", &self.tuning)
            .finish()
    }
}

impl GenesysClient {
    /// A client on real time.
    pub fn new(config: GenesysConfig) -> Result<Self, ClientBuildError> {
        GenesysClient::with_clock(config, Arc::new(SystemClock))
    }

    /// A client whose waits and token expiry follow `clock`.
    pub fn with_clock(config: GenesysConfig, clock: Arc<dyn Clock>) -> Result<Self, ClientBuildError> {
        // Another part of the program may have installed it already: that is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let tuning = config.tuning;
        let http = reqwest::Client::builder()
            .user_agent(concat!("runner/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(tuning.timeout.min(Duration::from_secs(10)))
            // Only the configured hosts: a redirect is an error, never a request elsewhere
            // (with the token, a customer's data or the message).
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ClientBuildError(error_chain(&e)))?;
        Ok(GenesysClient {
            transport: Transport {
                http,
                clock,
                pace: Pace::new(tuning.requests_per_minute),
                in_flight: Semaphore::new(tuning.concurrency.max(1)),
                timeout: tuning.timeout,
                max_retries: tuning.max_retries,
            },
            auth: Auth::new(config.client_id, config.client_secret, &config.login_url),
            api_url: config.api_url,
            deployment_id: config.deployment_id,
            tuning,
        })
    }

    /// How many requests may be in flight at once: a good width for callers' fan-out.
    pub fn concurrency(&self) -> usize {
        self.tuning.concurrency
    }

    /// The API base URL, for headings and logs.
    pub fn api_base(&self) -> &str {
        self.api_url.as_str()
    }

    pub fn tuning(&self) -> &Tuning {
        &self.tuning
    }

    /// The request that sends `text` to the customer's web messaging session, from the
    /// configured deployment, into their active conversation.
    pub fn web_message(&self, external_contact_id: &str, text: &str) -> AgentlessMessageRequest {
        web_message(&self.deployment_id, external_contact_id, text)
    }

    /// Sends a proactive message (`POST /api/v2/conversations/messages/agentless`).
    pub async fn send(&self, request: &AgentlessMessageRequest) -> Result<AgentlessMessageResponse, SendError> {
        let url = self.api(&["conversations", "messages", "agentless"]);
        let call = Call::json(Endpoint::AgentlessMessage, url, request)
            .target(&request.external_contact_id)
            .safety(Safety::Send);
        let answer = self.execute(&call).await.map_err(|e| match e {
            CallError::Definite(e) => SendError::Failed(e),
            CallError::Uncertain(e) => SendError::Uncertain(e),
        })?;
        // The message went out; a garbled answer does not change that.
        Ok(answer.json(&call).unwrap_or_else(|e| {
            tracing::warn!("message sent, but its answer is unreadable: {e}");
            AgentlessMessageResponse::default()
        }))
    }

    fn api(&self, segments: &[&str]) -> Url {
        let mut all = vec!["api", "v2"];
        all.extend_from_slice(segments);
        join(&self.api_url, &all)
    }

    async fn execute<B: Serialize + ?Sized>(&self, call: &Call<'_, B>) -> Result<Answer, CallError> {
        self.transport.execute(call, Authorization::Bearer(&self.auth)).await
    }

    async fn get<T: DeserializeOwned>(&self, call: &Call<'_, ()>) -> Result<T, ApiError> {
        self.execute(call).await.map_err(CallError::into_api_error)?.json(call)
    }

    /// One bulk contact request for `ids` (at most [`CONTACTS_PER_REQUEST`]), its answer sorted
    /// per id.
    async fn contact_batch(&self, url: Url, ids: &[&str]) -> Result<ContactBatch, SourceError> {
        let body = BulkIdsRequest { entities: ids.iter().map(|id| EntityRef { id: (*id).to_owned() }).collect() };
        let call = Call::json(Endpoint::BulkContacts, url, &body);
        let answer = self.execute(&call).await.map_err(CallError::into_api_error)?;
        let response: BulkFetchContactsResponse = answer.json(&call)?;
        let asked: HashSet<&str> = ids.iter().copied().collect();
        let mut batch = ContactBatch::default();
        let mut answered = HashSet::new();
        for result in response.results {
            let Some(id) = result.id.clone().or_else(|| result.entity.as_ref().map(|c| c.id.clone())) else {
                tracing::warn!("{}: a result without an id, ignored", Endpoint::BulkContacts);
                continue;
            };
            if !asked.contains(id.as_str()) {
                tracing::warn!("{}: a result for {id}, which was not asked for, ignored", Endpoint::BulkContacts);
                continue;
            }
            answered.insert(id.clone());
            match contact_outcome(result) {
                ContactOutcome::Found(contact) => {
                    batch.found.insert(id, contact);
                }
                ContactOutcome::Absent => {}
                ContactOutcome::Failed(failure) => {
                    let error = contact_error(&id, failure, &answer);
                    batch.failed.insert(id, error);
                }
            }
        }
        for &id in ids.iter().filter(|id| !answered.contains(**id)) {
            let failure = Failure::Decode { detail: "the answer holds no result for this id".to_owned() };
            batch.failed.insert(id.to_owned(), contact_error(id, failure, &answer));
        }
        Ok(batch)
    }

    /// Runs a details query over all its pages, adding conversations not `seen` yet to `out`.
    /// Every page of `query`, de-duplicated by conversation id.
    async fn query_all(&self, query: DetailsQuery) -> Result<Vec<AnalyticsConversation>, ApiError> {
        let mut out = Vec::new();
        self.query_conversations(&query, &mut HashSet::new(), &mut out).await?;
        Ok(out)
    }

    /// Every page of `query`, each conversation once (pages can overlap while data changes).
    /// The first page says how many hits there are; the other pages are then asked
    /// concurrently and taken in page order. Should the last of them still be full while a
    /// later answer counts more hits (new ones since the first page), the following pages are
    /// read one by one until a short one or every hit is read.
    async fn query_conversations(
        &self,
        query: &DetailsQuery,
        seen: &mut HashSet<String>,
        out: &mut Vec<AnalyticsConversation>,
    ) -> Result<(), ApiError> {
        let mut take = |page: Option<Vec<AnalyticsConversation>>| -> bool {
            // Whether the page was full (there may be more).
            let Some(conversations) = page else { return false };
            let full = conversations.len() >= PAGE_SIZE as usize;
            out.extend(conversations.into_iter().filter(|c| seen.insert(c.conversation_id.clone())));
            full
        };
        let first = self.query_page(query, 1).await?;
        let total = first.total_hits;
        if !take(first.conversations) {
            return Ok(());
        }
        let pages = total.map_or(1, |t| u32::try_from(t.div_ceil(u64::from(PAGE_SIZE))).unwrap_or(u32::MAX).max(1));
        let requests: Vec<_> = (2..=pages).map(|page| self.query_page(query, page)).collect();
        let answers: Vec<AnalyticsQueryResponse> =
            stream::iter(requests).buffered(self.tuning.concurrency.max(1)).try_collect().await?;
        let mut total = total;
        let mut full = true;
        for answer in answers {
            total = total.max(answer.total_hits);
            full = take(answer.conversations);
        }
        let mut page = pages;
        let unread = |page: u32, total: Option<u64>| total.is_none_or(|t| u64::from(page) * u64::from(PAGE_SIZE) < t);
        while full && unread(page, total) {
            page += 1;
            let answer = self.query_page(query, page).await?;
            total = total.max(answer.total_hits);
            full = take(answer.conversations);
        }
        Ok(())
    }

    async fn query_page(&self, query: &DetailsQuery, page: u32) -> Result<AnalyticsQueryResponse, ApiError> {
        let url = self.api(&["analytics", "conversations", "details", "query"]);
        let body = query.page(page);
        let call = Call::json(Endpoint::ConversationQuery, url, &body);
        self.execute(&call).await.map_err(CallError::into_api_error)?.json(&call)
    }
}

/// A web messaging proactive message: `toAddressMessengerType` `webmessaging`, no `toAddress`,
/// the deployment as sender, into the customer's active conversation.
pub fn web_message(deployment_id: &str, external_contact_id: &str, text: &str) -> AgentlessMessageRequest {
    AgentlessMessageRequest {
        from_address: deployment_id.to_owned(),
        to_address_messenger_type: "webmessaging".to_owned(),
        to_address: None,
        external_contact_id: external_contact_id.to_owned(),
        text_body: text.to_owned(),
        use_existing_active_conversation: true,
    }
}

/// The most ids one `POST /api/v2/externalcontacts/bulk/contacts` asks for. Neither the SDK
/// (`BulkIdsRequest`, `post_externalcontacts_bulk_contacts`) nor the API documentation found
/// states a maximum for this endpoint; 100 is the largest page size the runner's other
/// endpoints take. Larger batches would save requests but risk a 400 from Genesys.
pub const CONTACTS_PER_REQUEST: usize = 100;

/// How long before the history window a previous conversation may have started and still end in
/// it: the history query selects conversations by their start. Conversations longer than this
/// that end in the window are not seen.
pub const HISTORY_START_MARGIN: SignedDuration = SignedDuration::from_hours(24 * 7);

impl Source for GenesysClient {
    async fn active_sessions(
        &self,
        now: Timestamp,
        look_back: SignedDuration,
        sink: Sink<'_>,
    ) -> Result<(), SourceError> {
        // Saturating; only calendar units (not a `SignedDuration`) can make it fail.
        let start = now.saturating_sub(look_back).unwrap_or(Timestamp::MIN);
        let query = DetailsQuery::active_web_messaging(start, now);
        let mut out = Vec::new();
        self.query_conversations(&query, &mut HashSet::new(), &mut out).await?;
        out.into_iter().for_each(sink);
        Ok(())
    }

    async fn conversation(&self, id: &str) -> Result<RawJson, SourceError> {
        let call = Call::get(Endpoint::Conversation, self.api(&["conversations", id])).target(id);
        Ok(self.get(&call).await?)
    }

    /// `POST /api/v2/externalcontacts/bulk/contacts`, [`CONTACTS_PER_REQUEST`] ids at a time,
    /// the requests in flight together (within `concurrency` and the pacing). Fails as a whole
    /// when any request fails; a per-id error in an answer fails only that id, except "not
    /// found", which is a contact that does not exist.
    async fn contacts(&self, ids: &[String]) -> Result<ContactBatch, SourceError> {
        let mut seen = HashSet::new();
        let unique: Vec<&str> = ids.iter().map(String::as_str).filter(|id| seen.insert(*id)).collect();
        let url = self.api(&["externalcontacts", "bulk", "contacts"]);
        // The requests are made up front (not in a `map` closure over the stream), so that the
        // future stays `Send` for every lifetime.
        let requests: Vec<_> =
            unique.chunks(CONTACTS_PER_REQUEST).map(|batch| self.contact_batch(url.clone(), batch)).collect();
        let batches: Vec<ContactBatch> =
            stream::iter(requests).buffer_unordered(self.tuning.concurrency.max(1)).try_collect().await?;
        let mut all = ContactBatch::default();
        for batch in batches {
            all.found.extend(batch.found);
            all.failed.extend(batch.failed);
        }
        Ok(all)
    }

    async fn history(
        &self,
        contact_ids: &[String],
        since: Timestamp,
        until: Timestamp,
        sink: Sink<'_>,
    ) -> Result<(), SourceError> {
        // The query's interval selects by start, the window by end: reach back far enough for
        // a conversation that started before the window and ended in it, then keep those that
        // ended in the window.
        let start = since.saturating_sub(HISTORY_START_MARGIN).unwrap_or(Timestamp::MIN);
        // The batches are queried concurrently (each batch's pages in turn), their answers
        // taken in batch order, so the result does not depend on which answer came first.
        let requests: Vec<_> = contact_ids
            .chunks(self.tuning.history_batch_size.max(1))
            .map(|batch| self.query_all(DetailsQuery::history(batch, start, until)))
            .collect();
        let answers: Vec<Vec<AnalyticsConversation>> =
            stream::iter(requests).buffered(self.tuning.concurrency.max(1)).try_collect().await?;
        let mut seen = HashSet::new();
        answers
            .into_iter()
            .flatten()
            .filter(|c| seen.insert(c.conversation_id.clone()))
            .filter(|c| {
                c.conversation_end.as_deref().and_then(parse_time).is_some_and(|end| since <= end && end <= until)
            })
            .for_each(sink);
        Ok(())
    }

    async fn wrapup_codes(&self) -> Result<Vec<WrapupCode>, SourceError> {
        const WRAPUP_PAGE_SIZE: u64 = 100;
        let mut codes = Vec::new();
        for page in 1u64.. {
            let mut url = self.api(&["routing", "wrapupcodes"]);
            url.query_pairs_mut()
                .append_pair("pageSize", &WRAPUP_PAGE_SIZE.to_string())
                .append_pair("pageNumber", &page.to_string());
            let listing: WrapupCodeListing = self.get(&Call::get(Endpoint::WrapupCodes, url)).await?;
            let count = listing.entities.len() as u64;
            codes.extend(listing.entities);
            let last = match listing.page_count {
                Some(pages) => page >= pages,
                None => count < WRAPUP_PAGE_SIZE,
            };
            if last || count == 0 {
                break;
            }
        }
        Ok(codes)
    }
}

/// One id's outcome in a bulk contact answer.
enum ContactOutcome {
    Found(ExternalContact),
    /// "Not found": the contact does not exist.
    Absent,
    Failed(Failure),
}

/// The error of one id in a bulk contact `answer`.
fn contact_error(id: &str, failure: Failure, answer: &Answer) -> SourceError {
    let error = ApiError {
        target: Some(id.to_owned()),
        correlation_id: answer.correlation_id.clone(),
        ..ApiError::new(Endpoint::BulkContacts, failure)
    };
    error.into()
}

/// Sorts one result of a bulk contact answer. A failure is "not found" when its status is 404 or
/// its code `not.found`; a success without the contact, or a failure without any status, is not
/// what the API documents.
fn contact_outcome(result: BulkContactResult) -> ContactOutcome {
    let BulkContactResult { success, entity, error, status, .. } = result;
    let succeeded = success != Some(false) && error.is_none();
    if let (true, Some(contact)) = (succeeded, entity) {
        return ContactOutcome::Found(contact);
    }
    let error = error.unwrap_or_default();
    let status = error.status.or(status);
    if status == Some(404) || error.code.as_deref() == Some("not.found") {
        return ContactOutcome::Absent;
    }
    if succeeded {
        return ContactOutcome::Failed(Failure::Decode { detail: "a success without the contact".to_owned() });
    }
    match status {
        Some(status) => ContactOutcome::Failed(Failure::Status { status, code: error.code, message: error.message }),
        None => ContactOutcome::Failed(Failure::Decode {
            detail: format!(
                "a failure without a status (code {}, message {})",
                error.code.as_deref().unwrap_or("none"),
                error.message.as_deref().unwrap_or("none")
            ),
        }),
    }
}

/// Whether a request may be repeated when its outcome is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Safety {
    /// Repeating it changes nothing (GETs, queries, login).
    Read,
    /// Repeating it could deliver a message twice.
    Send,
}

pub(crate) enum Body<'a, B: ?Sized> {
    Empty,
    Json(&'a B),
    Form(&'a [(&'a str, &'a str)]),
}

/// One API request, before credentials.
pub(crate) struct Call<'a, B: ?Sized = ()> {
    endpoint: Endpoint,
    target: Option<&'a str>,
    method: Method,
    url: Url,
    body: Body<'a, B>,
    safety: Safety,
}

impl<'a> Call<'a, ()> {
    pub(crate) fn get(endpoint: Endpoint, url: Url) -> Self {
        Call { endpoint, target: None, method: Method::GET, url, body: Body::Empty, safety: Safety::Read }
    }

    pub(crate) fn form(endpoint: Endpoint, url: Url, form: &'a [(&'a str, &'a str)]) -> Self {
        Call { endpoint, target: None, method: Method::POST, url, body: Body::Form(form), safety: Safety::Read }
    }
}

impl<'a, B: ?Sized> Call<'a, B> {
    pub(crate) fn json(endpoint: Endpoint, url: Url, body: &'a B) -> Self {
        Call { endpoint, target: None, method: Method::POST, url, body: Body::Json(body), safety: Safety::Read }
    }

    pub(crate) fn target(self, target: &'a str) -> Self {
        Call { target: Some(target), ..self }
    }

    pub(crate) fn safety(self, safety: Safety) -> Self {
        Call { safety, ..self }
    }

    fn error(&self, failure: Failure, correlation_id: Option<String>) -> ApiError {
        ApiError { target: self.target.map(str::to_owned), correlation_id, ..ApiError::new(self.endpoint, failure) }
    }
}

/// How a request proves who it is.
#[derive(Clone, Copy)]
pub(crate) enum Authorization<'a> {
    /// The login itself.
    Basic { user: &'a str, password: &'a Secret },
    /// API calls, with the token of `Auth`; paced.
    Bearer(&'a Auth),
}

/// What one attempt presents: the client's credentials at login, a token otherwise.
enum Credential<'a> {
    Basic { user: &'a str, password: &'a Secret },
    Bearer(AccessToken),
}

/// A success answer.
pub(crate) struct Answer {
    pub(crate) body: Vec<u8>,
    pub(crate) correlation_id: Option<String>,
}

impl Answer {
    fn json<T: DeserializeOwned, B: ?Sized>(&self, call: &Call<'_, B>) -> Result<T, ApiError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| call.error(Failure::Decode { detail: e.to_string() }, self.correlation_id.clone()))
    }
}

/// A request that did not succeed.
#[derive(Debug)]
pub(crate) enum CallError {
    /// Genesys did not act on it.
    Definite(ApiError),
    /// It may have been acted on (only for [`Safety::Send`]).
    Uncertain(ApiError),
}

impl CallError {
    pub(crate) fn into_api_error(self) -> ApiError {
        match self {
            CallError::Definite(e) | CallError::Uncertain(e) => e,
        }
    }
}

/// What one attempt came to.
enum Attempt {
    Done(Answer),
    /// Safe to repeat; `after` is the server's `Retry-After`.
    Retry {
        error: ApiError,
        after: Option<Duration>,
    },
    /// 401: the token may have expired.
    Unauthorized(ApiError),
    Fail(ApiError),
    Uncertain(ApiError),
}

/// Pacing, timeouts and retries around reqwest.
pub(crate) struct Transport {
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    pace: Pace,
    in_flight: Semaphore,
    timeout: Duration,
    max_retries: u32,
}

impl Transport {
    pub(crate) fn now(&self) -> Instant {
        self.clock.now()
    }

    /// Sends `call`, retrying what may be retried, re-logging in once after a 401.
    pub(crate) async fn execute<B: Serialize + ?Sized>(
        &self,
        call: &Call<'_, B>,
        auth: Authorization<'_>,
    ) -> Result<Answer, CallError> {
        let mut retries = 0;
        let mut logged_in_again = false;
        loop {
            let credential = match auth {
                Authorization::Bearer(auth) => Credential::Bearer(auth.token(self).await.map_err(CallError::Definite)?),
                Authorization::Basic { user, password } => Credential::Basic { user, password },
            };
            let outcome = self.attempt(call, &credential).await;
            let (error, wait) = match outcome {
                Attempt::Done(answer) => return Ok(answer),
                Attempt::Unauthorized(error) => match (auth, &credential) {
                    (Authorization::Bearer(auth), Credential::Bearer(token)) if !logged_in_again => {
                        tracing::warn!("{error}; logging in again");
                        auth.forget(token).await;
                        logged_in_again = true;
                        continue;
                    }
                    _ => return Err(CallError::Definite(logged(error))),
                },
                Attempt::Fail(error) => return Err(CallError::Definite(logged(error))),
                Attempt::Uncertain(error) => return Err(CallError::Uncertain(logged(error))),
                Attempt::Retry { error, .. } if retries >= self.max_retries => {
                    return Err(CallError::Definite(logged(error)));
                }
                Attempt::Retry { error, after: Some(after) } => (error, (after, Pause::RetryAfter)),
                Attempt::Retry { error, after: None } => (error, (backoff(retries), Pause::Backoff)),
            };
            retries += 1;
            let (delay, why) = wait;
            tracing::warn!("{error}; retry {retries} of {} in {delay:?}", self.max_retries);
            self.clock.sleep(delay, why).await;
        }
    }

    async fn attempt<B: Serialize + ?Sized>(&self, call: &Call<'_, B>, credential: &Credential<'_>) -> Attempt {
        let mut request = self.http.request(call.method.clone(), call.url.clone()).timeout(self.timeout);
        request = request.header(ACCEPT, "application/json");
        request = match &call.body {
            Body::Empty => request,
            Body::Json(body) => request.json(body),
            Body::Form(form) => request.form(form),
        };
        request = match credential {
            Credential::Bearer(token) => request.bearer_auth(token.expose()),
            Credential::Basic { user, password } => request.basic_auth(user, Some(password.expose())),
        };
        // Only API calls count against the rate limit and the in-flight bound.
        let _permit = match credential {
            Credential::Bearer(_) => {
                let wait = self.pace.reserve(self.clock.now());
                if !wait.is_zero() {
                    self.clock.sleep(wait, Pause::RateLimit).await;
                }
                self.in_flight.acquire().await.ok()
            }
            Credential::Basic { .. } => None,
        };
        tracing::debug!(method = %call.method, url = %call.url, "Genesys request");
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => return transport_failure(call, &e),
        };
        let status = response.status();
        let headers = response.headers().clone();
        let correlation_id = header(&headers, "inin-correlation-id");
        let body = response.bytes().await;
        if status.is_success() {
            return match body {
                Ok(body) => Attempt::Done(Answer { body: body.into(), correlation_id }),
                // A send was accepted: its fate is known even if the answer was cut off.
                Err(_) if call.safety == Safety::Send => Attempt::Done(Answer { body: Vec::new(), correlation_id }),
                Err(e) => transport_failure(call, &e),
            };
        }
        let (code, message) = body.as_deref().map(error_fields).unwrap_or_default();
        let error = call.error(Failure::Status { status: status.as_u16(), code, message }, correlation_id);
        match (status, call.safety) {
            (StatusCode::UNAUTHORIZED, _) => Attempt::Unauthorized(error),
            (StatusCode::TOO_MANY_REQUESTS, _) => Attempt::Retry { error, after: retry_after(&headers) },
            (StatusCode::SERVICE_UNAVAILABLE, _) => Attempt::Retry { error, after: None },
            (StatusCode::BAD_GATEWAY | StatusCode::GATEWAY_TIMEOUT, Safety::Read) => {
                Attempt::Retry { error, after: None }
            }
            // A gateway error or a crash after a send: Genesys may have processed it.
            (s, Safety::Send) if s.is_server_error() => Attempt::Uncertain(error),
            _ => Attempt::Fail(error),
        }
    }
}

/// Classifies an error that left no HTTP answer.
fn transport_failure<B: ?Sized>(call: &Call<'_, B>, e: &reqwest::Error) -> Attempt {
    let detail = error_chain(e);
    if e.is_builder() {
        return Attempt::Fail(call.error(Failure::Build { detail }, None));
    }
    if e.is_connect() {
        // The request never left: always safe to repeat.
        let host = call.url.host_str().unwrap_or_default().to_owned();
        return Attempt::Retry { error: call.error(Failure::Connect { host, detail }, None), after: None };
    }
    let failure = if e.is_timeout() { Failure::Timeout } else { Failure::Transport { detail } };
    match call.safety {
        Safety::Read => Attempt::Retry { error: call.error(failure, None), after: None },
        Safety::Send => Attempt::Uncertain(call.error(failure, None)),
    }
}

/// Genesys `code`/`message`, or OAuth `error`/`error_description` at login.
fn error_fields(body: &[u8]) -> (Option<String>, Option<String>) {
    #[derive(serde::Deserialize)]
    struct AnyErrorBody {
        #[serde(flatten)]
        api: ErrorBody,
        error: Option<String>,
        error_description: Option<String>,
        description: Option<String>,
    }
    match serde_json::from_slice::<AnyErrorBody>(body) {
        Ok(b) => (b.api.code.or(b.error), b.api.message.or(b.error_description).or(b.description)),
        Err(_) => (None, None),
    }
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// `Retry-After` in seconds (Genesys does not send HTTP dates).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    header(headers, RETRY_AFTER.as_str())?.trim().parse().ok().map(Duration::from_secs)
}

/// Delay before retry number `retries + 1`: 0.5 s doubling to at most 30 s, the upper half
/// randomised so clients that failed together do not retry together.
fn backoff(retries: u32) -> Duration {
    const BASE: Duration = Duration::from_millis(500);
    const CAP: Duration = Duration::from_secs(30);
    let ceiling = BASE.saturating_mul(1 << retries.min(16)).min(CAP);
    let half = ceiling / 2;
    half + half.mul_f64(fastrand::f64())
}

fn logged(error: ApiError) -> ApiError {
    if error.status() == Some(404) {
        tracing::debug!("{error}");
    } else {
        tracing::warn!("{error}");
    }
    error
}

/// The error and its causes, without URLs' query strings (there are none with secrets anyway).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Smooth pacing: one request every `60 s / requests_per_minute`, each caller reserving the
/// next free slot.
struct Pace {
    interval: Duration,
    next_free: Mutex<Option<Instant>>,
}

impl Pace {
    fn new(requests_per_minute: u32) -> Self {
        Pace { interval: Duration::from_secs(60) / requests_per_minute.max(1), next_free: Mutex::new(None) }
    }

    /// Takes the next slot; returns how long to wait for it.
    fn reserve(&self, now: Instant) -> Duration {
        let mut next_free = self.next_free.lock().unwrap_or_else(PoisonError::into_inner);
        let slot = next_free.map_or(now, |t| t.max(now));
        *next_free = Some(slot + self.interval);
        slot - now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pace_spaces_requests_evenly() {
        let pace = Pace::new(300);
        let t0 = Instant::now();
        assert_eq!(pace.reserve(t0), Duration::ZERO);
        assert_eq!(pace.reserve(t0), Duration::from_millis(200));
        assert_eq!(pace.reserve(t0), Duration::from_millis(400));
        // After a quiet spell, no debt and no credit.
        assert_eq!(pace.reserve(t0 + Duration::from_secs(10)), Duration::ZERO);
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        for retries in 0..20 {
            let ceiling = Duration::from_millis(500).saturating_mul(1 << retries.min(16)).min(Duration::from_secs(30));
            let d = backoff(retries);
            assert!(d >= ceiling / 2 && d <= ceiling, "{retries}: {d:?}");
        }
    }

    #[test]
    fn error_fields_read_api_and_login_errors() {
        assert_eq!(
            error_fields(br#"{"message":"Missing","code":"missing.permissions","status":403}"#),
            (Some("missing.permissions".into()), Some("Missing".into()))
        );
        assert_eq!(
            error_fields(br#"{"error":"invalid_client","description":"bad","error_description":"bad client"}"#),
            (Some("invalid_client".into()), Some("bad client".into()))
        );
        assert_eq!(error_fields(b"<html>"), (None, None));
    }

    #[test]
    fn web_message_is_shaped_for_web_messaging() {
        let m = web_message("dep-1", "contact-1", "Hi");
        assert_eq!(
            serde_json::to_value(&m).unwrap(),
            serde_json::json!({"fromAddress": "dep-1", "toAddressMessengerType": "webmessaging",
                "externalContactId": "contact-1", "textBody": "Hi", "useExistingActiveConversation": true})
        );
    }
}
