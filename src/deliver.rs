//! Sending a plan's messages. A dry run never gets here.
//!
//! One failing send never stops the others. A send whose fate is unknown (the request may have
//! reached Genesys) is reported as `uncertain` and never retried here.

use std::future::Future;

use futures_util::stream::{self, StreamExt};
use serde::Serialize;

use crate::engine::decide::Plan;
use crate::genesys::client::GenesysClient;
use crate::genesys::error::SendError;

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

/// The outcome of one send.
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
}

impl DeliveryCounts {
    pub fn of(deliveries: &[Delivery]) -> Self {
        let mut c = DeliveryCounts::default();
        for d in deliveries {
            match d.state {
                DeliveryState::Sent(_) => c.sent += 1,
                DeliveryState::Failed { .. } => c.failed += 1,
                DeliveryState::Uncertain { .. } => c.uncertain += 1,
            }
        }
        c
    }

    /// Whether every planned message went out.
    pub fn all_sent(&self) -> bool {
        self.failed == 0 && self.uncertain == 0
    }
}

/// Sends every message of the plan, `concurrency` at a time, in the plan's order of sessions.
pub async fn deliver<S: Sender>(sender: &S, plan: &Plan, concurrency: usize) -> Vec<Delivery> {
    let sends: Vec<(String, String, String, String)> = plan
        .sessions
        .iter()
        .filter_map(|s| {
            let (campaign, text) = s.send()?;
            let customer = s.customer_id.clone()?;
            Some((campaign.to_owned(), s.conversation_id.clone(), customer, text.to_owned()))
        })
        .collect();
    stream::iter(sends)
        .map(|(campaign, conversation_id, customer_id, text)| async move {
            let state = match sender.send(&customer_id, &text).await {
                Ok(sent) => DeliveryState::Sent(sent),
                Err(e @ SendError::Failed(_)) => DeliveryState::Failed { error: e.to_string() },
                Err(e @ SendError::Uncertain(_)) => DeliveryState::Uncertain { error: e.to_string() },
            };
            match &state {
                DeliveryState::Sent(_) => tracing::info!(%campaign, conversation = %conversation_id, "sent"),
                DeliveryState::Failed { error } => {
                    tracing::warn!(%campaign, conversation = %conversation_id, "send failed: {error}")
                }
                DeliveryState::Uncertain { error } => {
                    tracing::warn!(%campaign, conversation = %conversation_id, "send uncertain: {error}")
                }
            }
            Delivery { campaign, conversation_id, customer_id, state }
        })
        .buffered(concurrency.max(1))
        .collect()
        .await
}
