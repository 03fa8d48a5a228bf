//! Deciding, for every session and campaign, send or skip, and why.
//!
//! Pure and synchronous: it reads candidates whose data is loaded (or failed to load) and
//! writes a [`Plan`]. A customer gets at most one message per run: among the campaigns that
//! would message them, the highest priority wins (then the campaign name, then the oldest
//! session); every other match is skipped as `lower_priority` or `already_chosen`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use jiff::Timestamp;
use serde::Serialize;

use super::eval::{self, Trace, Truth};
use crate::campaign::{Campaign, CampaignSet};
use crate::model::Candidate;
use crate::model::fields::{Needs, View, template_context};

/// Why a session was not messaged by a campaign. A fixed set, documented in the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// The session has no external contact id: web messaging cannot reach it.
    NoExternalContact,
    /// The audience filters do not match.
    AudienceNotMatched,
    /// The history conditions do not hold.
    HistoryNotMatched,
    /// The data does not fit a condition (e.g. `as: number` on a text that is not a number).
    DataMismatch,
    /// Data the decision needs could not be loaded.
    DataUnavailable,
    /// The template failed (e.g. a value it uses is not defined for this customer).
    RenderError,
    /// The rendered message is empty.
    EmptyMessage,
    /// The rendered message is longer than the channel allows.
    MessageTooLong,
    /// A campaign with a higher priority messages this customer in this run.
    LowerPriority,
    /// This campaign already messages this customer through another session in this run.
    AlreadyChosen,
}

impl SkipReason {
    pub const ALL: [SkipReason; 10] = [
        SkipReason::NoExternalContact,
        SkipReason::AudienceNotMatched,
        SkipReason::HistoryNotMatched,
        SkipReason::DataMismatch,
        SkipReason::DataUnavailable,
        SkipReason::RenderError,
        SkipReason::EmptyMessage,
        SkipReason::MessageTooLong,
        SkipReason::LowerPriority,
        SkipReason::AlreadyChosen,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::NoExternalContact => "no_external_contact",
            SkipReason::AudienceNotMatched => "audience_not_matched",
            SkipReason::HistoryNotMatched => "history_not_matched",
            SkipReason::DataMismatch => "data_mismatch",
            SkipReason::DataUnavailable => "data_unavailable",
            SkipReason::RenderError => "render_error",
            SkipReason::EmptyMessage => "empty_message",
            SkipReason::MessageTooLong => "message_too_long",
            SkipReason::LowerPriority => "lower_priority",
            SkipReason::AlreadyChosen => "already_chosen",
        }
    }
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happens to one session for one campaign.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Outcome {
    Send { text: String },
    Skip { reason: SkipReason, detail: String },
}

/// Why a campaign decided what it did, condition by condition (`--explain`).
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audience: Option<Trace>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<Trace>,
    /// The look-back window and how many previous conversations fell in it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history_window: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CampaignDecision {
    pub campaign: String,
    #[serde(flatten)]
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explain: Option<Explanation>,
}

/// Everything decided about one session.
#[derive(Debug, Clone, Serialize)]
pub struct SessionPlan {
    pub conversation_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// The contact's name, else the participant's display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_name: Option<String>,
    pub started: Timestamp,
    pub decisions: Vec<CampaignDecision>,
}

impl SessionPlan {
    /// The message this session gets, if any: (campaign, text).
    pub fn send(&self) -> Option<(&str, &str)> {
        self.decisions.iter().find_map(|d| match &d.outcome {
            Outcome::Send { text } => Some((d.campaign.as_str(), text.as_str())),
            Outcome::Skip { .. } => None,
        })
    }
}

/// Counts for the summary.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub sessions: usize,
    pub campaigns: usize,
    pub sends: usize,
    /// Sends per campaign (every enabled campaign is listed, with 0 when it sends nothing).
    pub sends_per_campaign: BTreeMap<String, usize>,
    /// Skipped (session, campaign) pairs per reason.
    pub skips: BTreeMap<SkipReason, usize>,
    /// Sessions whose data could not be loaded.
    pub data_errors: usize,
}

/// The decisions of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub now: Timestamp,
    /// The enabled campaigns, highest priority first.
    pub campaigns: Vec<String>,
    pub sessions: Vec<SessionPlan>,
    pub summary: Summary,
}

/// Why parts of a session's data could not be loaded: conversation id -> part -> error.
pub type Failures = HashMap<String, BTreeMap<Needs, String>>;

/// Decides for a set of candidates.
pub struct Decider<'a> {
    pub set: &'a CampaignSet,
    pub now: Timestamp,
    pub explain: bool,
}

impl<'a> Decider<'a> {
    pub fn new(set: &'a CampaignSet, now: Timestamp, explain: bool) -> Self {
        Decider { set, now, explain }
    }

    fn view<'c>(&self, campaign: &Campaign, candidate: &'c Candidate) -> View<'c> {
        View::new(candidate, self.now.saturating_sub(campaign.history.look_back).unwrap_or(Timestamp::MIN), self.now)
    }

    /// What still has to be loaded for this candidate: the needs of every enabled campaign
    /// that the data loaded so far has not already ruled out.
    pub fn still_needed(&self, candidate: &Candidate) -> BTreeSet<Needs> {
        let mut needs = BTreeSet::new();
        if candidate.session.external_contact_id.is_none() {
            return needs;
        }
        for campaign in self.set.enabled() {
            let view = self.view(campaign, candidate);
            let audience = campaign.audience.as_ref().map_or(Truth::True, |a| eval::condition(a, &view, false).0);
            if audience.is_false() || eval::history(&campaign.history, &view, false).0.is_false() {
                continue;
            }
            needs.extend(campaign.needs.iter().copied().filter(|n| !is_loaded(candidate, *n)));
        }
        needs
    }

    /// Decides every session. `failures` holds, per conversation id, why some of its data could
    /// not be loaded. Sessions are reported in the order given.
    pub fn plan(&self, candidates: &[Candidate], failures: &Failures) -> Plan {
        let mut sessions: Vec<SessionPlan> =
            candidates.iter().map(|c| self.session(c, failures.get(&c.session.id))).collect();
        resolve_priorities(self.set, &mut sessions);
        let summary = summarize(self.set, &sessions, failures.len());
        let campaigns = self.set.enabled().map(|c| c.name.clone()).collect();
        Plan { now: self.now, campaigns, sessions, summary }
    }

    fn session(&self, candidate: &Candidate, failure: Option<&BTreeMap<Needs, String>>) -> SessionPlan {
        let decisions = self.set.enabled().map(|c| self.campaign(c, candidate, failure)).collect();
        let customer_name = match &candidate.contact {
            Some(Some(contact)) => contact.full_name(),
            _ => None,
        }
        .or_else(|| candidate.session.customer_name.clone());
        SessionPlan {
            conversation_id: candidate.session.id.clone(),
            customer_id: candidate.session.external_contact_id.clone(),
            customer_name,
            started: candidate.session.started,
            decisions,
        }
    }

    fn campaign(
        &self,
        campaign: &Campaign,
        candidate: &Candidate,
        failure: Option<&BTreeMap<Needs, String>>,
    ) -> CampaignDecision {
        let skip = |reason, detail: String| Outcome::Skip { reason, detail };
        let decided = |outcome, explain| CampaignDecision { campaign: campaign.name.clone(), outcome, explain };
        if candidate.session.external_contact_id.is_none() {
            let detail = "the session has no external contact id, so web messaging cannot reach it".to_owned();
            return decided(skip(SkipReason::NoExternalContact, detail), None);
        }
        let view = self.view(campaign, candidate);
        let (audience, audience_trace) = match &campaign.audience {
            Some(a) => eval::condition(a, &view, self.explain),
            None => (Truth::True, None),
        };
        let (history, history_trace) = eval::history(&campaign.history, &view, self.explain);
        let explain = self.explain.then(|| Explanation {
            audience: audience_trace,
            history: history_trace,
            history_window: (!campaign.history.conditions.is_empty()).then(|| {
                let n = view.history.map_or_else(|| "not loaded".to_owned(), |h| h.len().to_string());
                format!(
                    "conversations that ended in the last {}: {n}",
                    crate::campaign::duration::format(campaign.history.look_back)
                )
            }),
        });
        let not_matched = |truth: &Truth, reason: SkipReason, what: &str| match truth {
            Truth::True => None,
            Truth::False => Some(skip(reason, format!("the {what} conditions do not match"))),
            Truth::Invalid(why) => Some(skip(SkipReason::DataMismatch, why.clone())),
            Truth::Unknown(needs) => Some(skip(SkipReason::DataUnavailable, unavailable(needs.0, failure))),
        };
        if let Some(outcome) = not_matched(&audience, SkipReason::AudienceNotMatched, "audience")
            .or_else(|| not_matched(&history, SkipReason::HistoryNotMatched, "history"))
        {
            return decided(outcome, explain);
        }
        if let Some(missing) = campaign.needs.iter().find(|n| !is_loaded(candidate, **n)) {
            return decided(skip(SkipReason::DataUnavailable, unavailable(*missing, failure)), explain);
        }
        decided(self.render(campaign, &view), explain)
    }

    fn render(&self, campaign: &Campaign, view: &View<'_>) -> Outcome {
        let mut context = template_context(view);
        let mut meta = serde_json::Map::new();
        meta.insert("name".into(), campaign.name.clone().into());
        if let Some(d) = &campaign.description {
            meta.insert("description".into(), d.clone().into());
        }
        meta.insert("priority".into(), campaign.priority.into());
        context.insert("campaign".into(), serde_json::Value::Object(meta));
        context.insert("now".into(), self.now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string().into());
        match self.set.templates.render(&campaign.message.template, &context) {
            Err(e) => Outcome::Skip { reason: SkipReason::RenderError, detail: e.to_string() },
            Ok(text) if text.is_empty() => {
                Outcome::Skip { reason: SkipReason::EmptyMessage, detail: "the rendered message is empty".to_owned() }
            }
            Ok(text) => {
                let len = text.chars().count();
                if len > campaign.message.max_length {
                    Outcome::Skip {
                        reason: SkipReason::MessageTooLong,
                        detail: format!(
                            "the rendered message has {len} characters; web messaging takes at most {}",
                            campaign.message.max_length
                        ),
                    }
                } else {
                    Outcome::Send { text }
                }
            }
        }
    }
}

/// Why a part of the data is missing.
fn unavailable(needs: Needs, failure: Option<&BTreeMap<Needs, String>>) -> String {
    match failure.and_then(|f| f.get(&needs)) {
        Some(why) => format!("{} could not be loaded: {why}", needs.describe()),
        None => format!("{} was not loaded", needs.describe()),
    }
}

fn is_loaded(c: &Candidate, needs: Needs) -> bool {
    match needs {
        Needs::Session => true,
        Needs::Details => c.details.is_some(),
        Needs::Contact => c.contact.is_some(),
        Needs::History => c.history.is_some(),
    }
}

/// At most one message per customer per run: the highest priority campaign wins (campaigns are
/// already sorted by priority, then name), then the oldest session. A higher-priority campaign
/// that could not be decided (its data did not load) blocks the lower ones: with its data it
/// might have won, and the customer must not get the lower one now and the higher one later.
fn resolve_priorities(set: &CampaignSet, sessions: &mut [SessionPlan]) {
    struct Winner {
        key: (usize, Timestamp, String),
        campaign: String,
        at: (usize, usize),
        /// Why the winner could not be decided, when it is a `data_unavailable` skip.
        undecided: Option<String>,
    }
    let rank: HashMap<&str, usize> = set.campaigns.iter().enumerate().map(|(i, c)| (c.name.as_str(), i)).collect();
    let mut winners: HashMap<String, Winner> = HashMap::new();
    for (si, s) in sessions.iter().enumerate() {
        let Some(customer) = &s.customer_id else { continue };
        for (di, d) in s.decisions.iter().enumerate() {
            let undecided = match &d.outcome {
                Outcome::Send { .. } => None,
                Outcome::Skip { reason: SkipReason::DataUnavailable, detail } => Some(detail.clone()),
                Outcome::Skip { .. } => continue,
            };
            let key = (rank[d.campaign.as_str()], s.started, s.conversation_id.clone());
            if winners.get(customer).is_none_or(|w| key < w.key) {
                let winner = Winner { key, campaign: d.campaign.clone(), at: (si, di), undecided };
                winners.insert(customer.clone(), winner);
            }
        }
    }
    for (si, s) in sessions.iter_mut().enumerate() {
        let Some(w) = s.customer_id.as_ref().and_then(|c| winners.get(c)) else { continue };
        for (di, d) in s.decisions.iter_mut().enumerate() {
            if !matches!(d.outcome, Outcome::Send { .. }) || (si, di) == w.at {
                continue;
            }
            let (reason, detail) = match &w.undecided {
                Some(why) => (
                    SkipReason::DataUnavailable,
                    format!("`{}` has a higher priority and could not be decided for this customer: {why}", w.campaign),
                ),
                None if d.campaign == w.campaign => (
                    SkipReason::AlreadyChosen,
                    format!("this campaign already messages the customer through conversation {}", w.key.2),
                ),
                None => (
                    SkipReason::LowerPriority,
                    format!("`{}` has a higher priority and messages this customer", w.campaign),
                ),
            };
            d.outcome = Outcome::Skip { reason, detail };
        }
    }
}

fn summarize(set: &CampaignSet, sessions: &[SessionPlan], data_errors: usize) -> Summary {
    let mut summary = Summary {
        sessions: sessions.len(),
        campaigns: set.enabled().count(),
        data_errors,
        sends_per_campaign: set.enabled().map(|c| (c.name.clone(), 0)).collect(),
        ..Summary::default()
    };
    for d in sessions.iter().flat_map(|s| &s.decisions) {
        match &d.outcome {
            Outcome::Send { .. } => {
                summary.sends += 1;
                *summary.sends_per_campaign.entry(d.campaign.clone()).or_default() += 1;
            }
            Outcome::Skip { reason, .. } => *summary.skips.entry(*reason).or_default() += 1,
        }
    }
    summary
}
