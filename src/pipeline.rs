//! One run, from data to plan: list the active sessions, load what the campaigns still need in
//! stages (details, then contacts, then history, each only for the sessions that a campaign can
//! still pick), and decide.
//!
//! The same code runs against a snapshot and against the live API, so a preview decides what a
//! live run decides. A session whose data fails to load is skipped with the reason; it never
//! aborts the run.

use std::collections::{BTreeSet, HashMap, HashSet};

use futures_util::stream::{self, StreamExt};
use jiff::{SignedDuration, Timestamp};

use crate::campaign::CampaignSet;
use crate::engine::decide::{self, Decider, Failures, Outcome, Plan};
use crate::journal::{Journal, JournalError, MessageKey};
use crate::model::fields::Needs;
use crate::model::{Candidate, normalize};
use crate::source::{Source, SourceError};

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
    let conversations =
        source.active_sessions(options.now, options.session_look_back).await.map_err(PlanError::Sessions)?;
    let mut seen = HashSet::new();
    let mut candidates: Vec<Candidate> = conversations
        .iter()
        .filter_map(normalize::session)
        .filter(|session| seen.insert(session.id.clone()))
        .map(|session| Candidate { session, details: None, contact: None, history: None })
        .collect();
    candidates.sort_by(|a, b| (a.session.started, &a.session.id).cmp(&(b.session.started, &b.session.id)));

    let decider = Decider::new(set, options.now, options.explain);
    let mut loader = Loader { source, options, failures: Failures::new() };
    loader.details(&decider, &mut candidates).await;
    loader.contacts(&decider, &mut candidates).await;
    loader.history(&decider, set, &mut candidates).await;
    let mut sessions = decider.decide(&candidates, &loader.failures);
    if let Some(journal) = journal {
        let caps = caps(journal, set, &sessions, options.now).await?;
        decide::apply_caps(&mut sessions, &caps);
    }
    Ok(decider.finish(sessions, &loader.failures))
}

/// What the journal says of every planned send: (campaign, conversation id) -> why it is capped.
async fn caps(
    journal: &Journal,
    set: &CampaignSet,
    sessions: &[decide::SessionPlan],
    now: Timestamp,
) -> Result<HashMap<(String, String), String>, JournalError> {
    let mut caps = HashMap::new();
    for s in sessions {
        let Some(customer) = &s.customer_id else { continue };
        for d in &s.decisions {
            if !matches!(d.outcome, Outcome::Send { .. }) {
                continue;
            }
            let once_every = set.campaigns.iter().find(|c| c.name == d.campaign).and_then(|c| c.limits.once_every);
            let key = MessageKey { campaign: &d.campaign, customer, conversation_id: &s.conversation_id };
            if let Some(cap) = journal.would_cap(&key, once_every, now).await? {
                caps.insert((d.campaign.clone(), s.conversation_id.clone()), cap.to_string());
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
}

impl<S: Source> Loader<'_, S> {
    /// The candidates (by index) for which a campaign still needs `what`.
    fn wanting(&self, decider: &Decider<'_>, candidates: &[Candidate], what: &[Needs]) -> Vec<usize> {
        candidates
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                let failed = self.failures.get(&c.session.id);
                let needed: BTreeSet<Needs> = decider.still_needed(c);
                what.iter().any(|n| needed.contains(n) && !failed.is_some_and(|f| f.contains_key(n)))
            })
            .map(|(i, _)| i)
            .collect()
    }

    async fn details(&mut self, decider: &Decider<'_>, candidates: &mut [Candidate]) {
        let wanted = self.wanting(decider, candidates, &[Needs::Details]);
        let source = self.source;
        let results: Vec<(usize, Result<serde_json::Value, SourceError>)> = stream::iter(wanted)
            .map(|i| {
                let id = candidates[i].session.id.clone();
                async move { (i, source.conversation(&id).await) }
            })
            .buffer_unordered(self.options.concurrency.max(1))
            .collect()
            .await;
        for (i, result) in results {
            match result.map_err(|e| e.to_string()).and_then(|raw| normalize::details(raw).map_err(|e| e.to_string())) {
                Ok(details) => candidates[i].details = Some(details),
                Err(e) => self.fail(&candidates[i], Needs::Details, e),
            }
        }
    }

    /// Contacts are loaded for contact fields, and for history: a merged contact's history is
    /// spread over the ids of its merge set.
    async fn contacts(&mut self, decider: &Decider<'_>, candidates: &mut [Candidate]) {
        let wanted = self.wanting(decider, candidates, &[Needs::Contact, Needs::History]);
        let source = self.source;
        let results: Vec<(usize, Result<_, SourceError>)> = stream::iter(wanted)
            .filter_map(|i| {
                let id = candidates[i].session.external_contact_id.clone();
                async move { id.map(|id| (i, id)) }
            })
            .map(|(i, id)| async move { (i, source.contact(&id).await) })
            .buffer_unordered(self.options.concurrency.max(1))
            .collect()
            .await;
        for (i, result) in results {
            match result {
                Ok(contact) => candidates[i].contact = Some(contact.as_ref().map(normalize::contact)),
                Err(e) => self.fail(&candidates[i], Needs::Contact, e.to_string()),
            }
        }
    }

    /// Every customer's history in as few queries as the source allows (the live client batches
    /// many customers into one analytics query), once per run whatever the number of campaigns.
    async fn history(&mut self, decider: &Decider<'_>, set: &CampaignSet, candidates: &mut [Candidate]) {
        let Some(look_back) = set.max_look_back() else { return };
        let mut wanted = self.wanting(decider, candidates, &[Needs::History]);
        // Without its contact, a merged customer's history would be partial: never decide on it.
        wanted.retain(|&i| {
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
        let ids_of = |c: &Candidate| -> Vec<String> {
            let Some(id) = &c.session.external_contact_id else { return Vec::new() };
            normalize::customer_ids(id, c.contact.as_ref().and_then(Option::as_ref))
        };
        let mut all_ids: Vec<String> = wanted.iter().flat_map(|&i| ids_of(&candidates[i])).collect();
        all_ids.sort();
        all_ids.dedup();
        let now = self.options.now;
        let loaded = async {
            let codes = self.source.wrapup_codes().await?;
            let since = now.saturating_sub(look_back).unwrap_or(Timestamp::MIN);
            let past = self.source.history(&all_ids, since, now).await?;
            Ok::<_, SourceError>((normalize::wrapup_names(&codes), past))
        };
        match loaded.await {
            Ok((names, past)) => {
                for i in wanted {
                    let ids: HashSet<String> = ids_of(&candidates[i]).into_iter().collect();
                    let c = &mut candidates[i];
                    c.history = Some(normalize::history(&past, &ids, &c.session.id, &names));
                }
            }
            Err(e) => {
                for i in wanted {
                    self.fail(&candidates[i], Needs::History, e.to_string());
                }
            }
        }
    }

    fn fail(&mut self, candidate: &Candidate, what: Needs, why: String) {
        tracing::warn!(conversation = %candidate.session.id, "{} could not be loaded: {why}", what.describe());
        self.failures.entry(candidate.session.id.clone()).or_default().insert(what, why);
    }
}
