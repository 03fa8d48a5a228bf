//! One run, from data to plan: list the active sessions, load what the campaigns still need in
//! stages (details, then contacts, then history, each only for the sessions that a campaign can
//! still pick), and decide.
//!
//! The same code runs against a snapshot and against the live API, so a preview decides what a
//! live run decides. A session whose data fails to load is skipped with the reason; it never
//! aborts the run.

use std::collections::HashMap;
use std::future::Future;

use futures_util::stream::{self, StreamExt};
use jiff::{SignedDuration, Timestamp};

use crate::campaign::CampaignSet;
use crate::engine::decide::{self, Decider, Failures, Outcome, Plan};
use crate::fxhash::FxHashMap;
use crate::genesys::types::ConversationView;
use crate::journal::{Holds, Journal, JournalError, MessageKey};
use crate::model::fields::Needs;
use crate::model::{Candidate, Customers, PastConversation, Session, normalize};
use crate::progress::{Progress, Silent};
use crate::source::{ContactOutcome, Source, SourceError};

/// How a run reads its data.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub now: Timestamp,
    /// How far back active sessions may have started.
    pub session_look_back: SignedDuration,
    /// How many requests may be in flight at once.
    pub concurrency: usize,
    /// Keep the condition-by-condition explanation.
    pub explain: bool,
    /// `runner serve`: skip sends outside a campaign's active window in the customer's zone
    /// (`outside_window`). `runner run` ignores schedules.
    pub customer_windows: bool,
}

/// Why a run could not be planned at all.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The active sessions could not be listed, so nothing could be decided.
    #[error("could not list the active sessions: {0}")]
    Sessions(#[source] SourceError),
    /// The send journal could not be read, so the caps are unknown.
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// Plans a run. With a journal, sends it caps are skipped as `capped` (read only: planning
/// never writes the journal). Fails only when the sessions cannot be listed or the journal
/// cannot be read.
pub async fn plan<S: Source>(
    source: &S,
    set: &CampaignSet,
    journal: Option<&Journal>,
    options: Options,
) -> Result<Plan, PlanError> {
    plan_observed(source, set, journal, options, &Silent).await
}

/// [`plan`], reporting each loading stage (details, contacts, history) and its steps to
/// `progress`.
pub async fn plan_observed<S: Source>(
    source: &S,
    set: &CampaignSet,
    journal: Option<&Journal>,
    options: Options,
    progress: &dyn Progress,
) -> Result<Plan, PlanError> {
    // Each conversation is normalized as it comes (by the source's readers): a large snapshot
    // is never held whole.
    let mut candidates: Vec<Candidate> = Vec::new();
    let mut add = |session: Option<Session>| {
        if let Some(session) = session {
            candidates.push(Candidate {
                session,
                details: None,
                contact: None,
                history: None,
                settled_by: None,
                alone: false,
            });
        }
    };
    let normalize = |c: ConversationView<'_>| normalize::session(&c);
    let listed = source.active_sessions_mapped(options.now, options.session_look_back, &normalize, &mut add).await;
    listed.map_err(PlanError::Sessions)?;
    // On every core. Sources give each conversation once; should one come twice (with the same
    // start, as from two pages of one answer), the copies are adjacent here and kept once.
    crate::cores::sort_unstable_by(&mut candidates, Candidate::pick_order);
    candidates.dedup_by(|a, b| a.session.id == b.session.id);
    // Kept for the whole run: no room to spare.
    candidates.shrink_to_fit();

    let decider = Decider::new(set, options.now, options.explain).with_customer_windows(options.customer_windows);
    let customers = Customers::number(candidates.iter().map(|c| c.session.external_contact_id.as_deref()));
    // Only the sends of customers the journal holds messages for may be capped (and only theirs
    // are looked up): the others' are sure, and the messages of the campaigns after them are
    // not rendered.
    let holds = match journal {
        Some(journal) => journal.holds().await?,
        None => Holds::default(),
    };
    let mut loader = Loader { source, options, failures: Failures::default(), progress, customers, holds };
    loader.details(&decider, &mut candidates).await;
    loader.settle(&decider, journal, &mut candidates).await?;
    loader.contacts(&decider, &mut candidates).await;
    loader.settle(&decider, journal, &mut candidates).await?;
    loader.history(&decider, set, &mut candidates).await;
    progress.finish();
    let Loader { failures, holds, customers, .. } = loader;
    // Which customers have only this session in the run.
    for (c, alone) in candidates.iter_mut().zip(customers.alone()) {
        c.alone = alone;
    }
    drop(customers);
    let decider = decider.with_journal(|customer, conversation| holds.may_cap(customer, conversation));
    // The candidates are freed as they are decided: never all of them and all their plans.
    let mut sessions = decider.decide_owned(candidates, &failures);
    if let Some(journal) = journal {
        let caps = caps(journal, set, &holds, &sessions, options.now).await?;
        decide::apply_caps(&mut sessions, &caps);
    }
    Ok(decider.finish(sessions, &failures))
}

/// What the journal says of every planned send: (campaign, conversation id) -> why it is capped.
/// Asked only for the sends it `holds` messages for (no other can be capped).
async fn caps(
    journal: &Journal,
    set: &CampaignSet,
    holds: &Holds,
    sessions: &[decide::SessionPlan],
    now: Timestamp,
) -> Result<HashMap<(String, String), String>, JournalError> {
    let mut caps = HashMap::new();
    for s in sessions {
        let Some(customer) = &s.customer_id else { continue };
        if !holds.may_cap(customer, &s.conversation_id) {
            continue;
        }
        for d in &s.decisions {
            if !matches!(d.outcome, Outcome::Send { .. }) {
                continue;
            }
            let once_every = set.campaigns.iter().find(|c| c.name == *d.campaign).and_then(|c| c.limits.once_every);
            let key = MessageKey { campaign: &d.campaign, customer, conversation_id: &s.conversation_id };
            if let Some(cap) = journal.would_cap(&key, once_every, now).await? {
                caps.insert((d.campaign.to_string(), s.conversation_id.clone()), cap.to_string());
            }
        }
    }
    Ok(caps)
}

struct Loader<'a, S> {
    source: &'a S,
    options: Options,
    /// Why data could not be loaded, by conversation id and part.
    failures: Failures,
    progress: &'a dyn Progress,
    /// Each candidate's customer by number (the candidates never move once sorted).
    customers: Customers,
    /// Whom the send journal holds messages for: only their sends can be capped.
    holds: Holds,
}

/// Items (numbers below `u32::MAX`) grouped by key, each group in the order the items came
/// (a counting sort: no map, no per-group vector).
struct Grouped {
    /// Group `k` is `items[at[k]..at[k + 1]]`.
    at: Vec<u32>,
    items: Vec<u32>,
}

impl Grouped {
    /// Groups the items of `pairs` (key, item), keys below `groups`.
    fn new(groups: usize, pairs: impl Iterator<Item = (usize, usize)> + Clone) -> Self {
        let mut at = vec![0u32; groups + 1];
        for (k, _) in pairs.clone() {
            at[k + 1] += 1;
        }
        for k in 0..groups {
            at[k + 1] += at[k];
        }
        let mut items = vec![0u32; at[groups] as usize];
        let mut next = at.clone();
        for (k, item) in pairs {
            items[next[k] as usize] = u32::try_from(item).expect("items below u32::MAX");
            next[k] += 1;
        }
        Grouped { at, items }
    }

    fn get(&self, k: usize) -> &[u32] {
        &self.items[self.at[k] as usize..self.at[k + 1] as usize]
    }
}

/// A list that grows a piece at a time (never copied to a larger buffer, as a `Vec` is while it
/// grows: 200,000 past conversations are 30 MB) and is handed out a piece at a time, each piece
/// freed once handed out.
struct Pieces<T> {
    pieces: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Pieces<T> {
    fn default() -> Self {
        Pieces { pieces: Vec::new(), len: 0 }
    }
}

impl<T> Pieces<T> {
    const PIECE: usize = 4096;

    fn push(&mut self, item: T) {
        match self.pieces.last_mut() {
            Some(piece) if piece.len() < Self::PIECE => piece.push(item),
            _ => {
                let mut piece = Vec::with_capacity(Self::PIECE);
                piece.push(item);
                self.pieces.push(piece);
            }
        }
        self.len += 1;
    }

    fn get(&self, n: usize) -> &T {
        &self.pieces[n / Self::PIECE][n % Self::PIECE]
    }

    fn len(&self) -> usize {
        self.len
    }

    /// Every item in order; each piece is freed as soon as its items are taken.
    fn into_iter(self) -> impl Iterator<Item = T> {
        self.pieces.into_iter().flatten()
    }
}

impl<S: Source> Loader<'_, S> {
    /// The candidates (by index) for which a campaign still needs `what`.
    fn wanting(&self, decider: &Decider<'_>, candidates: &[Candidate], what: &[Needs]) -> Vec<usize> {
        let wants = crate::cores::map_in_order(candidates, 256, |c| {
            let failed = self.failures.get(&c.session.id);
            let needed = decider.still_needed(c);
            what.iter().any(|n| needed.contains(n) && !failed.is_some_and(|f| f.contains_key(n)))
        });
        wants.into_iter().enumerate().filter(|&(_, wants)| wants).map(|(i, _)| i).collect()
    }

    /// Settles the customers that a campaign is sure to message from the data loaded so far
    /// (its send not capped by the journal): the campaigns after it load nothing more for them,
    /// since none of their sends could win (the fewest calls). Not with `explain`, which
    /// evaluates every campaign. Should the journal cap that send before planning ends (another
    /// runner sent meanwhile), the campaigns after it stay unsent for the customer this run:
    /// never a message too many.
    async fn settle(
        &self,
        decider: &Decider<'_>,
        journal: Option<&Journal>,
        candidates: &mut [Candidate],
    ) -> Result<(), JournalError> {
        if self.options.explain {
            return Ok(());
        }
        let customers = &self.customers;
        // Every session of each customer that still needs data: a send on any of them settles
        // the customer.
        let needing = crate::cores::map_in_order(candidates, 256, |c| !decider.still_needed(c).is_empty());
        let mut open = vec![false; customers.count()];
        for (i, _) in needing.into_iter().enumerate().filter(|&(_, needing)| needing) {
            if let Some(k) = customers.get(i) {
                open[k] = true;
            }
        }
        let checked: Vec<usize> =
            (0..candidates.len()).filter(|&i| customers.get(i).is_some_and(|k| open[k])).collect();
        drop(open);
        let sure = crate::cores::map_in_order(&checked, 256, |&i| decider.sure_send(&candidates[i]));
        // The campaign that settles each customer (the first, should several).
        let mut settled: Vec<Option<usize>> = vec![None; customers.count()];
        for (&i, sure) in checked.iter().zip(sure) {
            let Some((w, campaign)) = sure else { continue };
            let c = &candidates[i];
            let (Some(k), Some(customer)) = (customers.get(i), c.session.external_contact_id.as_deref()) else {
                continue;
            };
            if let Some(journal) = journal.filter(|_| self.holds.may_cap(customer, &c.session.id)) {
                let key = MessageKey { campaign: &campaign.name, customer, conversation_id: &c.session.id };
                if journal.would_cap(&key, campaign.limits.once_every, self.options.now).await?.is_some() {
                    continue;
                }
            }
            settled[k] = Some(settled[k].map_or(w, |s| s.min(w)));
        }
        for (i, c) in candidates.iter_mut().enumerate() {
            if let Some(w) = customers.get(i).and_then(|k| settled[k]) {
                c.settled_by = Some(c.settled_by.map_or(w, |s| s.min(w)));
            }
        }
        Ok(())
    }

    /// Fetches one thing per (index, key), `concurrency` at a time, reporting to progress.
    async fn fetch_each<K, T, F, Fut>(&self, stage: &str, wanted: Vec<(usize, K)>, fetch: F) -> Vec<(usize, T)>
    where
        F: Fn(K) -> Fut,
        Fut: Future<Output = T>,
    {
        let progress = self.progress;
        progress.start(stage, wanted.len());
        let fetch = &fetch;
        stream::iter(wanted)
            .map(|(i, id)| async move {
                let result = fetch(id).await;
                progress.advance(1);
                (i, result)
            })
            .buffer_unordered(self.options.concurrency.max(1))
            .collect()
            .await
    }

    /// Details are normalized as they arrive (the campaigns' `jsonpath:` queries answered
    /// then; by the source's readers), so the raw JSON of every session is never held at once.
    async fn details(&mut self, decider: &Decider<'_>, candidates: &mut [Candidate]) {
        let wanted = self.wanting(decider, candidates, &[Needs::Details]);
        let ids: Vec<String> = wanted.iter().map(|&i| candidates[i].session.id.clone()).collect();
        let queries = normalize::Queries::new(decider.set.jsonpath_queries());
        let progress = self.progress;
        progress.start("conversation details", ids.len());
        let normalize = |k: usize, raw: Result<&str, SourceError>| {
            let details = raw
                .map_err(|e| e.to_string())
                .and_then(|raw| normalize::details(raw, &queries).map_err(|e| e.to_string()));
            progress.advance(1);
            (wanted[k], details)
        };
        let results = self.source.conversations_mapped(&ids, self.options.concurrency, &normalize).await;
        for (i, result) in results {
            match result {
                Ok(details) => candidates[i].details = Some(details),
                Err(e) => self.fail(&candidates[i], Needs::Details, e),
            }
        }
    }

    /// Contacts are loaded for contact fields, and for history: a merged contact's history is
    /// spread over the ids of its merge set. Each customer once, however many sessions it has,
    /// in batches of one source call each (`Source::contacts_per_call`: one bulk request live;
    /// progress counts the calls); a failed batch fails only its customers.
    async fn contacts(&mut self, decider: &Decider<'_>, candidates: &mut [Candidate]) {
        let customers = &self.customers;
        // With the customer of each: every wanted candidate has one.
        let wanted: Vec<(usize, usize)> = self
            .wanting(decider, candidates, &[Needs::Contact, Needs::History])
            .into_iter()
            .filter_map(|i| Some((i, customers.get(i)?)))
            .collect();
        // How many wanted sessions each customer has: a customer with several gets a copy of
        // its contact for each but the last, which takes the contact itself.
        let mut takers = vec![0u32; customers.count()];
        for &(_, k) in &wanted {
            takers[k] += 1;
        }
        // Every wanted customer's id once, in the order of the ids (the customers' numbering), in
        // batches of one call's worth; and each customer's place in them all.
        let per_call = self.source.contacts_per_call().max(1);
        let mut place = vec![usize::MAX; customers.count()];
        let mut batches: Vec<(usize, Vec<String>)> = Vec::new();
        for (n, k) in (0..customers.count()).filter(|&k| takers[k] > 0).enumerate() {
            place[k] = n;
            if n % per_call == 0 {
                batches.push((batches.len(), Vec::with_capacity(per_call.min(customers.count()))));
            }
            let one = &candidates[customers.one(k)];
            let id = one.session.external_contact_id.clone().expect("a numbered customer's session has its id");
            batches.last_mut().expect("a batch was started").1.push(id);
        }
        let source = self.source;
        // Each contact is normalized (and boxed, as a candidate holds it) as it is read, on the
        // source's parsing threads for a snapshot: the API's contacts are never all held at once.
        let normalized = |_: usize, outcome: ContactOutcome| match outcome {
            Ok(found) => Ok(found.map(|c| Box::new(normalize::contact(c)))),
            Err(e) => Err(e.to_string()),
        };
        let normalized = &normalized;
        let mut results = self
            .fetch_each("contacts", batches, |ids| async move {
                source.contacts_mapped(&ids, normalized).await.map_err(|e| e.to_string())
            })
            .await;
        // One answer per batch, in batch order; a customer's batch and place in it follow from
        // its `place`.
        results.sort_unstable_by_key(|&(n, _)| n);
        let mut failed: Vec<(usize, String)> = Vec::new();
        for (i, k) in wanted {
            let at = place[k];
            let outcome = match &mut results[at / per_call].1 {
                Ok(batch) => {
                    takers[k] -= 1;
                    match batch.get_mut(at % per_call) {
                        Some(found) if takers[k] == 0 => std::mem::replace(found, Ok(None)),
                        Some(found) => found.clone(),
                        None => Err("the contact read did not answer for it".to_owned()),
                    }
                }
                Err(e) => Err(e.clone()),
            };
            match outcome {
                Ok(contact) => candidates[i].contact = Some(contact),
                Err(e) => failed.push((i, e)),
            }
        }
        drop((takers, place));
        for (i, e) in failed {
            self.fail(&candidates[i], Needs::Contact, e);
        }
    }

    /// Every customer's history in as few queries as the source allows (the live client batches
    /// many customers into one analytics query), once per run whatever the number of campaigns.
    async fn history(&mut self, decider: &Decider<'_>, set: &CampaignSet, candidates: &mut [Candidate]) {
        let Some(look_back) = set.max_look_back() else { return };
        let mut wanted = self.wanting(decider, candidates, &[Needs::History]);
        // Without its contact, a merged customer's history would be partial: never decide on it.
        let contacts_failed = self.failures.values().any(|f| f.contains_key(&Needs::Contact));
        wanted.retain(|&i| {
            if !contacts_failed {
                return true;
            }
            let contact_failed =
                self.failures.get(&candidates[i].session.id).is_some_and(|f| f.contains_key(&Needs::Contact));
            if contact_failed {
                let why = "its contact (and so its merged contacts) could not be loaded".to_owned();
                self.fail(&candidates[i], Needs::History, why);
            }
            !contact_failed
        });
        if wanted.is_empty() {
            return;
        }
        let ids_of = |&i: &usize| -> Vec<String> {
            let c = &candidates[i];
            let Some(id) = &c.session.external_contact_id else { return Vec::new() };
            normalize::customer_ids(id, c.contact.as_ref().and_then(Option::as_deref))
        };
        // Each wanted candidate's customer ids, and every customer once (sorted: a customer is
        // known by its place in `all_ids`).
        let ids: Vec<Vec<String>> = crate::cores::map_in_order(&wanted, 256, ids_of);
        let mut all_ids: Vec<String> = ids.iter().flatten().cloned().collect();
        crate::cores::sort_unstable(&mut all_ids);
        all_ids.dedup();
        // Each customer's place in `all_ids`, found by id (a past conversation's customers, and
        // each candidate's, are looked up once each: a hash, not a search of the sorted list).
        let place: FxHashMap<&str, u32> = all_ids
            .iter()
            .enumerate()
            .map(|(k, id)| (id.as_str(), u32::try_from(k).expect("fewer customers than u32::MAX")))
            .collect();
        let now = self.options.now;
        self.progress.start("earlier conversations", wanted.len());
        // Each past conversation is normalized as it comes (on the source's readers), once for
        // each wanted customer in it: entry `n` (`past.get(n)`) is customer `owner[n]`'s.
        let mut past = Pieces::default();
        let mut owner: Vec<u32> = Vec::new();
        let loaded = async {
            let names = normalize::wrapup_names(&self.source.wrapup_codes().await?);
            let since = now.saturating_sub(look_back).unwrap_or(Timestamp::MIN);
            let (all_ids, place) = (&all_ids, &place);
            // The first entry apart: most conversations have one wanted customer, and a list
            // made on a reader would be freed on this thread (a slow free, one per conversation).
            type Entries = (Option<(u32, PastConversation)>, Vec<(u32, PastConversation)>);
            let normalize = |c: ConversationView<'_>| -> Entries {
                let mut entries = normalize::past_conversation(&c, &names)
                    .into_iter()
                    .filter_map(|(customer, p)| Some((*place.get(customer)?, p)));
                (entries.next(), entries.collect())
            };
            let mut add = |(first, rest): Entries| {
                for (k, p) in first.into_iter().chain(rest) {
                    owner.push(k);
                    past.push(p);
                }
            };
            self.source.history_mapped(all_ids, since, now, &normalize, &mut add).await
        };
        let loaded = loaded.await;
        self.progress.advance(wanted.len());
        if let Err(e) = loaded {
            for i in wanted {
                self.fail(&candidates[i], Needs::History, e.to_string());
            }
            return;
        }
        // The entries of each customer, in the order they came.
        let of = Grouped::new(all_ids.len(), owner.iter().enumerate().map(|(n, &k)| (k as usize, n)));
        drop(owner);
        // Which entries each candidate takes (in the order they came): for each conversation,
        // the first of its customers that is the candidate's (entries of one conversation are
        // adjacent).
        let taken: Vec<Vec<u32>> = crate::cores::map_in_order(&ids, 256, |ids| {
            // One id (most candidates): the customer's entries, each of another conversation (a
            // source hands each conversation once, and a conversation has each customer once).
            if let [id] = ids.as_slice() {
                return place.get(id.as_str()).map_or_else(Vec::new, |&k| of.get(k as usize).to_vec());
            }
            let mut mine: Vec<u32> = ids
                .iter()
                .filter_map(|id| place.get(id.as_str()))
                .flat_map(|&k| of.get(k as usize).iter().copied())
                .collect();
            mine.sort_unstable();
            mine.dedup();
            let mut last_id: Option<&str> = None;
            mine.retain(|&n| {
                let id = Some(past.get(n as usize).id.as_str());
                let keep = id != last_id;
                last_id = id;
                keep
            });
            mine
        });
        // Made on the pool, freed there.
        crate::cores::drop_on_pool(ids);
        drop((of, place));
        drop(all_ids);
        // Who takes each entry (by place in `wanted`), so that the entries are handed out in
        // the order they came, each piece of them freed once handed out: never all of them
        // twice over.
        let takers = Grouped::new(
            past.len(),
            taken.iter().enumerate().flat_map(|(w, mine)| mine.iter().map(move |&n| (n as usize, w))),
        );
        let mut entries: Vec<Vec<PastConversation>> = taken.iter().map(|mine| Vec::with_capacity(mine.len())).collect();
        crate::cores::drop_on_pool(taken);
        for (n, p) in past.into_iter().enumerate() {
            let Some((&last, others)) = takers.get(n).split_last() else { continue };
            for &w in others {
                entries[w as usize].push(p.clone());
            }
            entries[last as usize].push(p);
        }
        drop(takers);
        let entries: Vec<(Vec<PastConversation>, &str)> = entries
            .into_iter()
            .zip(&wanted)
            .map(|(entries, &i)| (entries, candidates[i].session.id.as_str()))
            .collect();
        let histories = crate::cores::map_owned_in_order(entries, 256, |(entries, current)| {
            normalize::collect_history(entries, current)
        });
        for (i, history) in wanted.into_iter().zip(histories) {
            candidates[i].history = Some(history);
        }
    }

    fn fail(&mut self, candidate: &Candidate, what: Needs, why: String) {
        tracing::warn!(conversation = %candidate.session.id, "{} could not be loaded: {why}", what.describe());
        self.failures.entry(candidate.session.id.clone()).or_default().insert(what, why);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::PathBuf;
    use std::sync::Mutex;

    use jiff::{SignedDuration, Timestamp};
    use serde_json::json;

    use super::*;
    use crate::campaign::compile::TemplateFiles;
    use crate::campaign::load::load_sources;
    use crate::engine::decide::SkipReason;
    use crate::genesys::client::CONTACTS_PER_REQUEST;
    use crate::genesys::types::{AnalyticsConversation, ExternalContact, WrapupCode};
    use crate::source::ContactBatch;

    const NOW: &str = "2026-11-24T12:00:00Z";

    fn now() -> Timestamp {
        NOW.parse().unwrap()
    }

    /// A source that counts every call and fails the ones it is told to.
    #[derive(Default)]
    struct Counting {
        sessions: Vec<AnalyticsConversation>,
        details: BTreeMap<String, serde_json::Value>,
        history: Vec<AnalyticsConversation>,
        fail_contacts: bool,
        /// Contacts whose own read fails (the others of their batch are found).
        failed_contacts: BTreeSet<String>,
        calls: Mutex<Vec<String>>,
    }

    impl Counting {
        fn calls(&self, prefix: &str) -> usize {
            self.calls.lock().unwrap().iter().filter(|c| c.starts_with(prefix)).count()
        }
        fn log(&self, call: String) {
            self.calls.lock().unwrap().push(call);
        }
    }

    fn api_error() -> SourceError {
        SourceError::FailedWhenRecorded { error: "HTTP 500".into() }
    }

    impl Source for Counting {
        async fn active_sessions(
            &self,
            _: Timestamp,
            _: SignedDuration,
            sink: crate::source::Sink<'_>,
        ) -> Result<(), SourceError> {
            self.log("sessions".into());
            self.sessions.iter().cloned().for_each(sink);
            Ok(())
        }
        async fn conversation(&self, id: &str) -> Result<crate::source::RawJson, SourceError> {
            self.log(format!("details {id}"));
            let found = self.details.get(id).ok_or_else(api_error)?;
            Ok(serde_json::value::to_raw_value(found).expect("JSON values serialize"))
        }
        async fn contacts(&self, ids: &[String]) -> Result<ContactBatch, SourceError> {
            self.log(format!("contacts {}", ids.join(",")));
            if self.fail_contacts {
                return Err(api_error());
            }
            let mut batch = ContactBatch::default();
            for id in ids {
                if self.failed_contacts.contains(id) {
                    batch.failed.insert(id.clone(), api_error());
                } else {
                    let contact = ExternalContact {
                        id: id.clone(),
                        first_name: Some(format!("Name of {id}")),
                        ..Default::default()
                    };
                    batch.found.insert(id.clone(), contact);
                }
            }
            Ok(batch)
        }
        async fn history(
            &self,
            ids: &[String],
            _: Timestamp,
            _: Timestamp,
            sink: crate::source::Sink<'_>,
        ) -> Result<(), SourceError> {
            self.log(format!("history {}", ids.join(",")));
            self.history.iter().cloned().for_each(sink);
            Ok(())
        }
        async fn wrapup_codes(&self) -> Result<Vec<WrapupCode>, SourceError> {
            self.log("wrapup codes".into());
            Ok(vec![WrapupCode { id: "w-sale".into(), name: "Sale".into() }])
        }
    }

    /// A web-messaging session of `customer`, `direction`, started `minutes` before now.
    fn session(id: &str, customer: &str, direction: &str, minutes: i64) -> AnalyticsConversation {
        let start = (now() - SignedDuration::from_mins(minutes)).to_string();
        serde_json::from_value(json!({
            "conversationId": id, "conversationStart": start, "originatingDirection": direction,
            "participants": [{"purpose": "customer", "externalContactId": customer,
                "sessions": [{"mediaType": "message", "messageType": "webmessaging"}]}]
        }))
        .unwrap()
    }

    fn details(id: &str, plan: &str) -> (String, serde_json::Value) {
        (id.into(), json!({"id": id, "participants": [{"purpose": "customer", "attributes": {"plan": plan}}]}))
    }

    fn past(id: &str, customer: &str, days_ago: i64, wrap_up: &str) -> AnalyticsConversation {
        let end = now() - SignedDuration::from_hours(24 * days_ago);
        serde_json::from_value(json!({
            "conversationId": id, "conversationStart": (end - SignedDuration::from_mins(10)).to_string(),
            "conversationEnd": end.to_string(),
            "participants": [
                {"purpose": "customer", "externalContactId": customer, "sessions": [{"mediaType": "message"}]},
                {"purpose": "agent", "sessions": [{"segments": [{"segmentType": "wrapup", "wrapUpCode": wrap_up}]}]}]
        }))
        .unwrap()
    }

    fn campaigns(files: &[(&str, &str)]) -> CampaignSet {
        let sources =
            files.iter().map(|(name, text)| (PathBuf::from(format!("campaigns/{name}.yaml")), text.to_string()));
        let loaded =
            load_sources(sources.collect(), TemplateFiles { dir: PathBuf::from("templates"), files: Some(vec![]) });
        assert!(
            loaded.diagnostics.iter().all(|d| d.severity != crate::campaign::Severity::Error),
            "{:?}",
            loaded.diagnostics
        );
        loaded.set.unwrap()
    }

    fn options() -> Options {
        Options {
            now: now(),
            session_look_back: SignedDuration::from_hours(24),
            concurrency: 4,
            explain: false,
            customer_windows: false,
        }
    }

    async fn run(source: &Counting, set: &CampaignSet) -> Plan {
        plan(source, set, None, options()).await.unwrap()
    }

    /// (conversation, campaign) -> outcome in short: `send` or the skip reason.
    fn outcomes(plan: &Plan) -> BTreeMap<(String, String), String> {
        plan.sessions
            .iter()
            .flat_map(|s| s.decisions.iter().map(move |d| (s, d)))
            .map(|(s, d)| {
                let outcome = match &d.outcome {
                    Outcome::Send { .. } => "send".to_owned(),
                    Outcome::Skip { reason, .. } => reason.as_str().to_owned(),
                };
                ((s.conversation_id.clone(), d.campaign.to_string()), outcome)
            })
            .collect()
    }

    fn outcome<'a>(o: &'a BTreeMap<(String, String), String>, conversation: &str, campaign: &str) -> &'a str {
        &o[&(conversation.to_owned(), campaign.to_owned())]
    }

    const PREMIUM_INBOUND: &str = "name: premium\naudience:\n  all:\n    - field: session.direction\n      equals: inbound\n    - field: customer.attributes.plan\n      equals: premium\nmessage:\n  text: hi\n";

    /// Grouped items keep the order they came in; empty groups are empty.
    #[test]
    fn grouped_keeps_the_order_of_each_group() {
        let pairs = [(2, 10), (0, 11), (2, 12), (0, 13), (2, 14)];
        let grouped = Grouped::new(4, pairs.into_iter());
        let groups: Vec<&[u32]> = (0..4).map(|k| grouped.get(k)).collect();
        assert_eq!(groups, [&[11, 13][..], &[], &[10, 12, 14], &[]]);
    }

    /// A list in pieces reads and hands out its items in the order they were pushed.
    #[test]
    fn pieces_keep_the_order() {
        let mut pieces = Pieces::default();
        let n = Pieces::<u32>::PIECE * 2 + 3;
        for i in 0..n {
            pieces.push(i);
        }
        assert_eq!(pieces.len(), n);
        assert_eq!(pieces.pieces.len(), 3, "{} pieces", pieces.pieces.len());
        assert!((0..n).all(|i| *pieces.get(i) == i));
        assert!(pieces.into_iter().eq(0..n));
    }

    #[tokio::test]
    async fn details_are_loaded_only_for_sessions_a_campaign_can_still_pick() {
        let source = Counting {
            sessions: vec![
                session("c1", "k1", "inbound", 5),
                session("c2", "k2", "outbound", 5),
                session("c3", "k3", "inbound", 5),
            ],
            details: [details("c1", "premium"), details("c2", "premium"), details("c3", "basic")].into_iter().collect(),
            ..Default::default()
        };
        let plan = run(&source, &campaigns(&[("premium", PREMIUM_INBOUND)])).await;
        // The outbound session is ruled out by the analytics data alone: no details for it.
        assert_eq!(source.calls("details"), 2);
        assert_eq!(source.calls("details c2"), 0);
        assert_eq!(source.calls("contact") + source.calls("history") + source.calls("wrapup"), 0);
        let o = outcomes(&plan);
        assert_eq!(outcome(&o, "c1", "premium"), "send");
        assert_eq!(outcome(&o, "c2", "premium"), "audience_not_matched");
        assert_eq!(outcome(&o, "c3", "premium"), "audience_not_matched");
    }

    /// Records the stages and steps a plan reports.
    #[derive(Default)]
    struct Recording(Mutex<Vec<String>>);

    impl Progress for Recording {
        fn start(&self, stage: &str, total: usize) {
            self.0.lock().unwrap().push(format!("{stage} 0/{total}"));
        }
        fn advance(&self, steps: usize) {
            self.0.lock().unwrap().push(format!("+{steps}"));
        }
        fn finish(&self) {
            self.0.lock().unwrap().push("done".into());
        }
    }

    #[tokio::test]
    async fn progress_sees_each_stage_with_the_requests_it_makes() {
        let source = Counting {
            sessions: vec![session("c1", "k1", "inbound", 5), session("c2", "k2", "outbound", 5)],
            details: [details("c1", "premium"), details("c2", "premium")].into_iter().collect(),
            ..Default::default()
        };
        let set = campaigns(&[("premium", PREMIUM_INBOUND), ("returners", SALE_RETURNERS)]);
        let progress = Recording::default();
        plan_observed(&source, &set, None, options(), &progress).await.unwrap();
        // Details only for c1 (`premium` rules out the outbound c2 from analytics alone, and
        // `returners` reads no details); then `premium` is sure to message k1, so the contact
        // (one bulk request) and the history are read for k2 alone (`returners`).
        let seen = progress.0.lock().unwrap().join(", ");
        assert_eq!(
            seen,
            "conversation details 0/1, +1, contacts 0/1, +1, earlier conversations 0/1, +1, done",
            "{:?}",
            source.calls.lock().unwrap()
        );
        assert_eq!(source.calls("details"), 1);
    }

    #[tokio::test]
    async fn a_customer_a_campaign_is_sure_to_message_loads_nothing_more_for_the_later_ones() {
        // k1 has two sessions; only c1 is premium. k2 is not premium.
        let make = || Counting {
            sessions: vec![
                session("c1", "k1", "inbound", 10),
                session("c1b", "k1", "inbound", 5),
                session("c2", "k2", "inbound", 5),
            ],
            details: [details("c1", "premium"), details("c1b", "basic"), details("c2", "basic")].into_iter().collect(),
            ..Default::default()
        };
        let source = make();
        let set = campaigns(&[("premium", PREMIUM_INBOUND), ("returners", SALE_RETURNERS)]);
        let planned = run(&source, &set).await;
        assert_eq!(
            source.calls.lock().unwrap().iter().filter(|c| c.starts_with("history")).collect::<Vec<_>>(),
            ["history k2"]
        );
        assert_eq!(source.calls("contacts"), 1);
        assert!(!source.calls.lock().unwrap().iter().any(|c| c.starts_with("contacts") && c.contains("k1")));
        let o = outcomes(&planned);
        assert_eq!(outcome(&o, "c1", "premium"), "send");
        assert_eq!(outcome(&o, "c2", "returners"), "send");
        // Both of k1's sessions: `returners` was not evaluated (its history not read), and says why.
        for conversation in ["c1", "c1b"] {
            assert_eq!(outcome(&o, conversation, "returners"), "lower_priority");
        }
        let detail = planned.sessions.iter().find(|s| s.conversation_id == "c1b").and_then(|s| {
            s.decisions.iter().find(|d| &*d.campaign == "returners").map(|d| match &d.outcome {
                Outcome::Skip { detail, .. } => detail.to_string(),
                Outcome::Send { .. } => String::new(),
            })
        });
        assert_eq!(detail.as_deref(), Some("`premium` has a higher priority and messages this customer"));

        // Not when the explanation is asked for (every campaign is evaluated), nor when a per-run
        // limit could still take the send back.
        let explained = make();
        let options = Options { explain: true, ..options() };
        plan(&explained, &set, None, options).await.unwrap();
        assert_eq!(explained.calls("history k1,k2"), 1, "{:?}", explained.calls.lock().unwrap());
        let limited = make();
        let premium = format!("{PREMIUM_INBOUND}limits:\n  max_per_run: 5\n");
        let set = campaigns(&[("premium", &premium), ("returners", SALE_RETURNERS)]);
        let planned = run(&limited, &set).await;
        assert_eq!(limited.calls("history k1,k2"), 1, "{:?}", limited.calls.lock().unwrap());
        let o = outcomes(&planned);
        assert_eq!(outcome(&o, "c1", "returners"), "lower_priority");
        assert_eq!(outcome(&o, "c1", "premium"), "send");
    }

    #[tokio::test]
    async fn a_send_the_journal_caps_settles_nothing() {
        let source = Counting {
            sessions: vec![session("c1", "k1", "inbound", 10), session("c2", "k2", "inbound", 5)],
            details: [details("c1", "premium"), details("c2", "basic")].into_iter().collect(),
            ..Default::default()
        };
        let set = campaigns(&[("premium", PREMIUM_INBOUND), ("returners", SALE_RETURNERS)]);
        let dir = tempfile::tempdir().expect("a temporary directory");
        let location = crate::journal::Location::Sqlite(dir.path().join("journal.sqlite"));
        let journal = Journal::open(&location, crate::journal::JournalOptions::default()).await.expect("opens");
        // An earlier run messaged k1 in this conversation with `premium`.
        let key = MessageKey { campaign: "premium", customer: "k1", conversation_id: "c1" };
        let request = crate::journal::ReserveRequest { run_id: "earlier", key, once_every: None, text: "hi" };
        let reserved = journal.reserve(&request, now()).await.expect("reserved");
        assert!(matches!(reserved, crate::journal::Reserve::Reserved(_)), "{reserved:?}");
        let planned = plan(&source, &set, Some(&journal), options()).await.unwrap();
        // `premium` is capped for k1, so `returners` still decides for k1: its history is read
        // and its message rendered (the journal holds k1: `premium`'s send was not sure).
        assert_eq!(source.calls("history k1,k2"), 1, "{:?}", source.calls.lock().unwrap());
        let o = outcomes(&planned);
        assert_eq!(outcome(&o, "c1", "premium"), "capped");
        assert_eq!(outcome(&o, "c1", "returners"), "send");
        journal.close().await;
    }

    const SALE_RETURNERS: &str = "name: returners\nhistory:\n  look_back: 30d\n  conditions:\n    - wrap_up_codes: { none_of: [Sale] }\nmessage:\n  text: hi\n";
    const SALE_RETURNERS_2: &str = "name: returners-2\nhistory:\n  look_back: 60d\n  conditions:\n    - count: { at_least: 1 }\nmessage:\n  text: hi\n";

    #[tokio::test]
    async fn history_is_read_once_per_run_for_every_customer_and_campaign() {
        let source = Counting {
            sessions: (1..=5).map(|i| session(&format!("c{i}"), &format!("k{i}"), "inbound", 5)).collect(),
            history: vec![past("p1", "k1", 3, "w-sale"), past("p2", "k2", 40, "w-sale")],
            ..Default::default()
        };
        let set = campaigns(&[("returners", SALE_RETURNERS), ("returners-2", SALE_RETURNERS_2)]);
        let plan = run(&source, &set).await;
        assert_eq!(source.calls("history"), 1, "{:?}", source.calls.lock().unwrap());
        assert_eq!(source.calls("wrapup codes"), 1);
        let o = outcomes(&plan);
        // k1 had a Sale 3 days ago: not for `returners`; it has history for `returners-2`.
        assert_eq!(outcome(&o, "c1", "returners"), "history_not_matched");
        assert_eq!(outcome(&o, "c1", "returners-2"), "send");
        // k2's Sale is 40 days old: outside the 30-day window of `returners`, which wins on name.
        assert_eq!(outcome(&o, "c2", "returners"), "send");
        assert_eq!(outcome(&o, "c2", "returners-2"), "lower_priority");
    }

    #[tokio::test]
    async fn without_its_contact_a_history_decision_is_never_made() {
        let source = Counting {
            sessions: vec![session("c1", "k1", "inbound", 5)],
            history: vec![past("p1", "k1", 3, "w-sale")],
            fail_contacts: true,
            ..Default::default()
        };
        let plan = run(&source, &campaigns(&[("returners", SALE_RETURNERS)])).await;
        // The merge set is unknown, so the history would be partial: not loaded, not decided.
        assert_eq!(source.calls("history"), 0);
        assert_eq!(outcome(&outcomes(&plan), "c1", "returners"), "data_unavailable");
        assert_eq!(plan.summary.data_errors, 1);
    }

    #[tokio::test]
    async fn contacts_are_read_once_per_customer_in_bulk_and_fail_alone() {
        // 250 customers, each with two sessions: 3 bulk reads of at most 100 distinct ids.
        let sessions = (0..500).map(|i| session(&format!("c{i}"), &format!("k{:03}", i % 250), "inbound", 5));
        let source = Counting {
            sessions: sessions.collect(),
            failed_contacts: ["k007".to_owned()].into(),
            ..Default::default()
        };
        let plan = run(&source, &campaigns(&[("returners", SALE_RETURNERS)])).await;
        let calls = source.calls.lock().unwrap().clone();
        let sizes: Vec<usize> =
            calls.iter().filter_map(|c| c.strip_prefix("contacts ")).map(|ids| ids.split(',').count()).collect();
        assert_eq!(sizes.iter().sum::<usize>(), 250, "{calls:?}");
        assert!(sizes.len() == 3 && sizes.iter().all(|&n| n <= CONTACTS_PER_REQUEST), "{sizes:?}");
        // k007's contact failed on its own: no history decision for its sessions, and only theirs.
        let o = outcomes(&plan);
        assert_eq!(outcome(&o, "c7", "returners"), "data_unavailable");
        assert_eq!(outcome(&o, "c257", "returners"), "data_unavailable");
        assert_eq!(plan.summary.data_errors, 2);
        // Every other customer gets its message (once, on one of its two sessions).
        assert_eq!(plan.summary.sends, 249);
    }

    fn everyone(name: &str, priority: i64, extra: &str) -> String {
        format!("name: {name}\npriority: {priority}\n{extra}message:\n  text: \"{name}\"\n")
    }

    #[tokio::test]
    async fn priorities_run_limits_and_one_message_per_customer() {
        let source = Counting {
            // k1 has two sessions; c1 is the older one.
            sessions: vec![
                session("c1", "k1", "inbound", 30),
                session("c1b", "k1", "inbound", 10),
                session("c2", "k2", "inbound", 20),
                session("c3", "k3", "inbound", 5),
            ],
            ..Default::default()
        };
        let set = campaigns(&[
            ("high", &everyone("high", 10, "limits:\n  max_per_run: 2\n")),
            ("low", &everyone("low", 1, "")),
        ]);
        let plan = run(&source, &set).await;
        let o = outcomes(&plan);
        // `high` takes the two oldest customers; k3 falls through to `low`.
        assert_eq!(outcome(&o, "c1", "high"), "send");
        assert_eq!(outcome(&o, "c2", "high"), "send");
        assert_eq!(outcome(&o, "c3", "high"), "run_limit");
        assert_eq!(outcome(&o, "c3", "low"), "send");
        // k1's second session: the same campaign already messages k1.
        assert_eq!(outcome(&o, "c1b", "high"), "already_chosen");
        assert_eq!(outcome(&o, "c1", "low"), "lower_priority");
        assert_eq!(plan.summary.sends, 3);
        let customers: BTreeSet<_> =
            plan.sessions.iter().filter(|s| s.send().is_some()).filter_map(|s| s.customer_id.clone()).collect();
        assert_eq!(customers.len(), 3);
    }

    #[tokio::test]
    async fn an_undecided_higher_priority_campaign_blocks_the_lower_ones() {
        let source = Counting {
            sessions: vec![session("c1", "k1", "inbound", 5)],
            // No details for c1: `premium` (needs attributes) cannot be decided.
            ..Default::default()
        };
        let high = everyone("premium", 10, "audience:\n  field: customer.attributes.plan\n  equals: premium\n");
        let set = campaigns(&[("premium", &high), ("anyone", &everyone("anyone", 1, ""))]);
        let plan = run(&source, &set).await;
        let o = outcomes(&plan);
        assert_eq!(outcome(&o, "c1", "premium"), "data_unavailable");
        assert_eq!(outcome(&o, "c1", "anyone"), "data_unavailable");
        let detail = match &plan.sessions[0].decisions.iter().find(|d| &*d.campaign == "anyone").unwrap().outcome {
            Outcome::Skip { detail, .. } => detail.to_string(),
            Outcome::Send { .. } => unreachable!(),
        };
        assert!(detail.contains("`premium` has a higher priority"), "{detail}");
        assert_eq!(SkipReason::DataUnavailable.as_str(), "data_unavailable");
    }
}
