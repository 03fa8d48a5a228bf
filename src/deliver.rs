//! Sending a plan's messages, each through the send journal. A dry run never gets here.
//!
//! Architecture invariant: every send goes through the journal's reservation. Per message:
//! reserve (atomically with the caps; another runner may have sent it meanwhile) -> send ->
//! mark `sent`, `failed` or `uncertain`. One failing send never stops the others; a send whose
//! fate is unknown is `uncertain`, counts as sent, and is never retried. A journal that fails
//! stops all further sending: without it, at most once cannot be guaranteed.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::stream::{self, StreamExt};
use jiff::Timestamp;
use serde::Serialize;

use crate::campaign::CampaignSet;
use crate::engine::decide::Plan;
use crate::genesys::client::GenesysClient;
use crate::genesys::error::SendError;
use crate::journal::{Journal, MessageKey, Reserve, ReserveRequest};
use crate::pipeline::{self, PlanError};
use crate::progress::{Progress, Silent};
use crate::source::Source;

/// What Genesys answered to a send.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Sent {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// The conversation Genesys delivered the message in.
    #[serde(rename = "genesys_conversation_id", skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
}

/// Sends one web message to an external contact.
pub trait Sender: Sync {
    fn send(&self, external_contact_id: &str, text: &str) -> impl Future<Output = Result<Sent, SendError>> + Send;
}

impl Sender for GenesysClient {
    async fn send(&self, external_contact_id: &str, text: &str) -> Result<Sent, SendError> {
        let request = self.web_message(external_contact_id, text);
        let answer = GenesysClient::send(self, &request).await?;
        Ok(Sent { message_id: answer.id, conversation_id: answer.conversation_id })
    }
}

/// The outcome of one planned message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum DeliveryState {
    Sent(Sent),
    /// Genesys refused it: the customer did not get it.
    Failed {
        error: String,
    },
    /// It may or may not have reached the customer; not retried.
    Uncertain {
        error: String,
    },
    /// The journal's reservation refused it: a message went out meanwhile (another runner).
    Capped {
        detail: String,
    },
    /// Not attempted: the journal failed, so the message could not be reserved.
    NotSent {
        error: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    pub campaign: String,
    /// The session the decision was made on.
    pub conversation_id: String,
    pub customer_id: String,
    #[serde(flatten)]
    pub state: DeliveryState,
}

/// Counts of a run's deliveries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryCounts {
    pub sent: usize,
    pub failed: usize,
    pub uncertain: usize,
    pub capped: usize,
    pub not_sent: usize,
}

impl DeliveryCounts {
    pub fn of(deliveries: &[Delivery]) -> Self {
        let mut c = DeliveryCounts::default();
        for d in deliveries {
            match d.state {
                DeliveryState::Sent(_) => c.sent += 1,
                DeliveryState::Failed { .. } => c.failed += 1,
                DeliveryState::Uncertain { .. } => c.uncertain += 1,
                DeliveryState::Capped { .. } => c.capped += 1,
                DeliveryState::NotSent { .. } => c.not_sent += 1,
            }
        }
        c
    }

    /// Whether every planned message went out, or was rightly held back by the journal.
    pub fn all_sent(&self) -> bool {
        self.failed == 0 && self.uncertain == 0 && self.not_sent == 0
    }
}

/// One run's sending: the journal, who is sending, and when.
pub struct Outbox<'a, S> {
    pub sender: &'a S,
    pub journal: &'a Journal,
    pub set: &'a CampaignSet,
    /// Identifies this run in the journal.
    pub run_id: &'a str,
    /// The clock reservations and outcomes are stamped with: the real time of each, not the
    /// run's start, so the caps count from the moment a message was reserved and a long run's
    /// reservations never look stale to another runner.
    pub clock: fn() -> Timestamp,
    pub concurrency: usize,
    /// Set when the runner is shutting down (`runner serve`): messages not yet reserved are
    /// not attempted; sends already under way finish and are recorded.
    pub stop: Option<&'a AtomicBool>,
}

impl<S: Sender> Outbox<'_, S> {
    /// Sends every message of the plan, `concurrency` at a time, in the plan's order.
    pub async fn deliver(&self, plan: &Plan) -> Vec<Delivery> {
        self.deliver_observed(plan, &Silent).await
    }

    /// [`Outbox::deliver`], reporting each finished send to `progress`.
    pub async fn deliver_observed(&self, plan: &Plan, progress: &dyn Progress) -> Vec<Delivery> {
        let halted = AtomicBool::new(false);
        let sends: Vec<(&str, &str, &str, &str)> = plan
            .sessions
            .iter()
            .filter_map(|s| {
                let (campaign, text) = s.send()?;
                Some((campaign, s.conversation_id.as_str(), s.customer_id.as_deref()?, text))
            })
            .collect();
        progress.start("sending", sends.len());
        let deliveries = stream::iter(sends)
            .map(|(campaign, conversation_id, customer_id, text)| {
                let halted = &halted;
                async move {
                    let key = MessageKey { campaign, customer: customer_id, conversation_id };
                    let state = self.deliver_one(key, text, halted).await;
                    log(&key, &state);
                    progress.advance(1);
                    Delivery {
                        campaign: campaign.to_owned(),
                        conversation_id: conversation_id.to_owned(),
                        customer_id: customer_id.to_owned(),
                        state,
                    }
                }
            })
            .buffered(self.concurrency.max(1))
            .collect()
            .await;
        progress.finish();
        deliveries
    }

    /// Reserve, send, mark.
    async fn deliver_one(&self, key: MessageKey<'_>, text: &str, halted: &AtomicBool) -> DeliveryState {
        if halted.load(Ordering::SeqCst) {
            return DeliveryState::NotSent {
                error: "not attempted: the send journal failed earlier in this run".into(),
            };
        }
        if self.stop.is_some_and(|s| s.load(Ordering::SeqCst)) {
            return DeliveryState::NotSent { error: "not attempted: the runner is shutting down".into() };
        }
        let once_every = self.set.campaigns.iter().find(|c| c.name == key.campaign).and_then(|c| c.limits.once_every);
        let request = ReserveRequest { run_id: self.run_id, key, once_every, text };
        let id = match self.journal.reserve(&request, (self.clock)()).await {
            Ok(Reserve::Reserved(id)) => id,
            Ok(Reserve::Capped(cap)) => return DeliveryState::Capped { detail: cap.to_string() },
            Err(e) => {
                halted.store(true, Ordering::SeqCst);
                return DeliveryState::NotSent { error: e.to_string() };
            }
        };
        let (state, marked) = match self.sender.send(key.customer, text).await {
            Ok(sent) => {
                let marked = self
                    .journal
                    .mark_sent(id, sent.conversation_id.as_deref(), sent.message_id.as_deref(), (self.clock)())
                    .await;
                (DeliveryState::Sent(sent), marked)
            }
            Err(e @ SendError::Failed(_)) => {
                let error = e.to_string();
                let marked = self.journal.mark_failed(id, &error, (self.clock)()).await;
                (DeliveryState::Failed { error }, marked)
            }
            Err(e @ SendError::Uncertain(_)) => {
                let error = e.to_string();
                let marked = self.journal.mark_uncertain(id, &error, (self.clock)()).await;
                (DeliveryState::Uncertain { error }, marked)
            }
        };
        if let Err(e) = marked {
            // The row stays `reserved`: it blocks the message and later becomes uncertain.
            halted.store(true, Ordering::SeqCst);
            tracing::error!(campaign = %key.campaign, conversation = %key.conversation_id, "could not record the outcome in the send journal; stopping: {e}");
        }
        state
    }
}

/// How one live run sends, beyond what it plans with.
pub struct RunContext<'a> {
    pub journal: &'a Journal,
    /// Identifies the run in the journal (see [`crate::journal::new_run_id`]).
    pub run_id: &'a str,
    /// Plan only (reading the journal), send nothing.
    pub dry_run: bool,
    /// Stops taking new messages (shutdown).
    pub stop: Option<&'a AtomicBool>,
    /// Sees each stage.
    pub progress: &'a dyn Progress,
    /// Stamps reservations and outcomes (`Timestamp::now` outside tests).
    pub clock: fn() -> Timestamp,
}

/// One live run after the journal is open, shared by `runner run` and `runner serve`: turn
/// stale reservations into `uncertain` (logged), plan, and unless `dry_run`, deliver through
/// the journal.
pub async fn plan_and_deliver<C: Source + Sender>(
    client: &C,
    set: &CampaignSet,
    options: pipeline::Options,
    run: RunContext<'_>,
) -> Result<(Plan, Option<Vec<Delivery>>), PlanError> {
    let RunContext { journal, run_id, dry_run, stop, progress, clock } = run;
    if !dry_run {
        for entry in journal.expire_stale(clock()).await? {
            tracing::warn!(
                "journal entry {} ({} to {}) never got an outcome: it is now uncertain and will not be \
                 re-sent; settle it with `runner journal resolve`",
                entry.id,
                entry.campaign,
                entry.customer
            );
        }
    }
    let plan = pipeline::plan_observed(client, set, Some(journal), options, progress).await?;
    if dry_run {
        return Ok((plan, None));
    }
    let outbox = Outbox { sender: client, journal, set, run_id, clock, concurrency: options.concurrency, stop };
    let deliveries = outbox.deliver_observed(&plan, progress).await;
    Ok((plan, Some(deliveries)))
}

fn log(key: &MessageKey<'_>, state: &DeliveryState) {
    let (campaign, conversation) = (key.campaign, key.conversation_id);
    match state {
        DeliveryState::Sent(_) => tracing::info!(%campaign, %conversation, "sent"),
        DeliveryState::Capped { detail } => tracing::info!(%campaign, %conversation, "not sent, capped: {detail}"),
        DeliveryState::Failed { error } => tracing::warn!(%campaign, %conversation, "send failed: {error}"),
        DeliveryState::Uncertain { error } => tracing::warn!(%campaign, %conversation, "send uncertain: {error}"),
        DeliveryState::NotSent { error } => tracing::error!(%campaign, %conversation, "not sent: {error}"),
    }
}
