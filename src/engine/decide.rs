//! Deciding, for every session and campaign, send or skip, and why.
//!
//! Pure and synchronous: it reads candidates whose data is loaded (or failed to load) and
//! writes a [`Plan`], in two steps: [`Decider::decide`] judges each session and campaign on its
//! own; [`Decider::finish`] applies the customer-wide rules. In between, the pipeline may mark
//! sends the send journal caps ([`apply_caps`]). A customer gets at most one message per run:
//! among the campaigns that would message them, the highest priority wins (then the campaign
//! name, then the oldest session), within each campaign's `max_per_run`; every other match is
//! skipped as `lower_priority`, `already_chosen` or `run_limit`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use jiff::Timestamp;
use serde::Serialize;

use super::eval::{self, Trace, Truth};
use crate::campaign::{Campaign, CampaignSet};
use crate::model::Candidate;
use crate::model::fields::{Needs, View, template_context};

/// Declares the skip reasons once: the variant, its name in JSON and previews, and what it means
/// (shown in the preview and the README).
macro_rules! skip_reasons {
    ($($variant:ident => $name:literal, $meaning:literal;)*) => {
        /// Why a session was not messaged by a campaign. A fixed set, documented in the README.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum SkipReason {
            $(#[doc = $meaning] $variant,)*
        }

        impl SkipReason {
            /// Every reason, in the order previews list them.
            pub const ALL: &'static [SkipReason] = &[$(SkipReason::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(SkipReason::$variant => $name,)*
                }
            }

            /// What the reason means, in a few words.
            pub fn describe(self) -> &'static str {
                match self {
                    $(SkipReason::$variant => $meaning,)*
                }
            }
        }
    };
}

skip_reasons! {
    NoExternalContact => "no_external_contact", "no external contact id: web messaging cannot reach the session";
    AudienceNotMatched => "audience_not_matched", "the audience conditions do not match";
    HistoryNotMatched => "history_not_matched", "the history conditions do not hold";
    DataMismatch => "data_mismatch", "the data does not fit a condition (see --explain)";
    DataUnavailable => "data_unavailable", "data the decision needs could not be loaded";
    RenderError => "render_error", "the message template failed for this customer";
    EmptyMessage => "empty_message", "the rendered message is empty";
    MessageTooLong => "message_too_long", "the rendered message is longer than the channel allows";
    Capped => "capped", "the send journal shows a recent message (once_every, the global cap, or this conversation)";
    RunLimit => "run_limit", "the campaign reached its max_per_run in this run";
    LowerPriority => "lower_priority", "a higher-priority campaign messages this customer";
    AlreadyChosen => "already_chosen", "the campaign messages this customer through another session";
    OutsideWindow => "outside_window", "runner serve: the customer's local time is outside the campaign's active window";
}

impl Serialize for SkipReason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
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

    /// Decides every session and campaign on its own. `failures` holds, per conversation id,
    /// why some of its data could not be loaded. Sessions are kept in the order given. The
    /// customer-wide rules (caps, priority, run limits) come next, in [`Decider::finish`].
    pub fn decide(&self, candidates: &[Candidate], failures: &Failures) -> Vec<SessionPlan> {
        candidates.iter().map(|c| self.session(c, failures.get(&c.session.id))).collect()
    }

    /// Applies the customer-wide rules and counts: at most one message per customer per run
    /// (priority), each campaign's `max_per_run`, and the summary.
    pub fn finish(&self, mut sessions: Vec<SessionPlan>, failures: &Failures) -> Plan {
        resolve_priorities(self.set, &mut sessions);
        let summary = summarize(self.set, &sessions, failures.len());
        let campaigns = self.set.enabled().map(|c| c.name.clone()).collect();
        Plan { now: self.now, campaigns, sessions, summary }
    }

    /// Decides and finishes, with no send journal to consult.
    pub fn plan(&self, candidates: &[Candidate], failures: &Failures) -> Plan {
        self.finish(self.decide(candidates, failures), failures)
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

/// Skips the sends that the send journal caps: `caps` maps (campaign, conversation id) to why.
pub fn apply_caps(sessions: &mut [SessionPlan], caps: &HashMap<(String, String), String>) {
    for s in sessions {
        if caps.is_empty() {
            return;
        }
        // Only sends can be capped: no key (two strings) for the skips.
        for d in s.decisions.iter_mut().filter(|d| matches!(d.outcome, Outcome::Send { .. })) {
            if let Some(why) = caps.get(&(d.campaign.clone(), s.conversation_id.clone())) {
                d.outcome = Outcome::Skip { reason: SkipReason::Capped, detail: why.clone() };
            }
        }
    }
}

/// `runner serve`: skips the sends of campaigns whose active window is in the customer's time
/// zone (`time_zone: customer:<attribute>`) when the customer's local time at `now` is outside
/// it. The zone is the participant attribute's IANA name; when the attribute is missing or not a
/// zone, the schedule's zone is used and the detail says so. `sessions` are in `candidates`' order.
pub fn apply_customer_windows(
    set: &CampaignSet,
    candidates: &[Candidate],
    sessions: &mut [SessionPlan],
    now: Timestamp,
) {
    use crate::campaign::WindowZone;
    for (candidate, s) in candidates.iter().zip(sessions.iter_mut()) {
        for d in &mut s.decisions {
            if !matches!(d.outcome, Outcome::Send { .. }) {
                continue;
            }
            let Some(campaign) = set.campaigns.iter().find(|c| c.name == d.campaign) else { continue };
            let Some(schedule) = &campaign.schedule else { continue };
            let Some(window) = &schedule.active_window else { continue };
            let WindowZone::Customer { attribute } = &window.time_zone else { continue };
            let value = candidate.details.as_ref().and_then(|det| det.attributes.get(attribute)).map(|v| v.trim());
            let (zone, name, fallback) = match value.filter(|v| !v.is_empty()) {
                Some(v) => match jiff::tz::TimeZone::get(v) {
                    Ok(tz) => (tz, v.to_owned(), String::new()),
                    Err(_) => (
                        schedule.time_zone.clone(),
                        schedule.time_zone_name.clone(),
                        format!(
                            " (the attribute `{attribute}` is `{v}`, not an IANA time zone: the schedule's zone is used)"
                        ),
                    ),
                },
                None => (
                    schedule.time_zone.clone(),
                    schedule.time_zone_name.clone(),
                    format!(" (the customer has no attribute `{attribute}`: the schedule's zone is used)"),
                ),
            };
            let local = now.to_zoned_datetime(zone).datetime();
            if !window.contains(local) {
                let detail = format!(
                    "the customer's local time {} ({name}) is outside the active window {}{fallback}",
                    local.strftime("%a %H:%M"),
                    window.describe()
                );
                d.outcome = Outcome::Skip { reason: SkipReason::OutsideWindow, detail };
            }
        }
    }
}

/// At most one message per customer per run, and at most `max_per_run` per campaign.
///
/// Campaigns pick customers in priority order (then name), each taking its sessions oldest
/// first, until it reaches its `max_per_run`; a customer whose higher campaign is full can
/// still be picked by a lower one. A higher-priority campaign that could not be decided (its
/// data did not load) blocks the lower ones: with its data it might have won, and the customer
/// must not get the lower message now and the higher one later.
fn resolve_priorities(set: &CampaignSet, sessions: &mut [SessionPlan]) {
    struct Winner {
        campaign: String,
        conversation: String,
        at: (usize, usize),
        /// Why the winner could not be decided, when it is a `data_unavailable` skip.
        undecided: Option<String>,
    }
    let campaigns: HashMap<&str, (usize, Option<u32>)> =
        set.campaigns.iter().enumerate().map(|(i, c)| (c.name.as_str(), (i, c.limits.max_per_run))).collect();
    // Every send or undecided decision of a customer, in the order campaigns pick.
    let mut contenders = Vec::new();
    for (si, s) in sessions.iter().enumerate() {
        let Some(customer) = &s.customer_id else { continue };
        for (di, d) in s.decisions.iter().enumerate() {
            let undecided = match &d.outcome {
                Outcome::Send { .. } => None,
                Outcome::Skip { reason: SkipReason::DataUnavailable, detail } => Some(detail.clone()),
                Outcome::Skip { .. } => continue,
            };
            let rank = campaigns[d.campaign.as_str()].0;
            contenders.push(((rank, s.started, s.conversation_id.clone()), customer.clone(), (si, di), undecided));
        }
    }
    contenders.sort_by(|a, b| a.0.cmp(&b.0));
    let mut winners: HashMap<String, Winner> = HashMap::new();
    let mut picked: HashMap<String, u32> = HashMap::new();
    let mut over_limit = BTreeSet::new();
    for ((_, _, conversation), customer, (si, di), undecided) in contenders {
        if winners.contains_key(&customer) {
            continue;
        }
        let campaign = sessions[si].decisions[di].campaign.clone();
        if undecided.is_none() {
            let count = picked.entry(campaign.clone()).or_default();
            if campaigns[campaign.as_str()].1.is_some_and(|max| *count >= max) {
                over_limit.insert((si, di));
                continue;
            }
            *count += 1;
        }
        winners.insert(customer, Winner { campaign, conversation, at: (si, di), undecided });
    }
    for (si, s) in sessions.iter_mut().enumerate() {
        let winner = s.customer_id.as_ref().and_then(|c| winners.get(c));
        for (di, d) in s.decisions.iter_mut().enumerate() {
            if !matches!(d.outcome, Outcome::Send { .. }) || winner.is_some_and(|w| w.at == (si, di)) {
                continue;
            }
            let (reason, detail) = match winner {
                _ if over_limit.contains(&(si, di)) => {
                    let max = campaigns[d.campaign.as_str()].1.unwrap_or_default();
                    (
                        SkipReason::RunLimit,
                        format!("the campaign already sends {max} messages in this run (max_per_run)"),
                    )
                }
                Some(Winner { campaign, undecided: Some(why), .. }) => (
                    SkipReason::DataUnavailable,
                    format!("`{campaign}` has a higher priority and could not be decided for this customer: {why}"),
                ),
                Some(w) if d.campaign == w.campaign => (
                    SkipReason::AlreadyChosen,
                    format!("this campaign already messages the customer through conversation {}", w.conversation),
                ),
                Some(w) => (
                    SkipReason::LowerPriority,
                    format!("`{}` has a higher priority and messages this customer", w.campaign),
                ),
                None => continue,
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
