//! The snapshot file: recorded Genesys API responses, so a run can be previewed offline.
//!
//! Format `runner-snapshot/1` (JSON). Each list holds objects exactly as the API returns them
//! (the SDK models' JSON names); conversation details are kept verbatim so `jsonpath:`
//! conditions see what they would see live. A snapshot never holds secrets.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::types::{AnalyticsConversation, ExternalContact, WrapupCode};

pub const FORMAT: &str = "runner-snapshot/1";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    /// Always `runner-snapshot/1`.
    pub format: String,
    /// When it was recorded; a run from the snapshot uses it as "now" unless `--now` is given.
    pub captured_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Active web-messaging sessions: analytics conversations without `conversationEnd`.
    pub active_conversations: Vec<AnalyticsConversation>,
    /// `GET /api/v2/conversations/{id}` answers, by conversation id, verbatim.
    #[serde(default)]
    pub conversation_details: BTreeMap<String, serde_json::Value>,
    /// `GET /api/v2/externalcontacts/contacts/{id}` answers, by contact id.
    #[serde(default)]
    pub external_contacts: BTreeMap<String, ExternalContact>,
    /// Ended conversations of the customers (the history analytics queries' answers).
    #[serde(default)]
    pub history: Vec<AnalyticsConversation>,
    /// `GET /api/v2/routing/wrapupcodes` entities.
    #[serde(default)]
    pub wrapup_codes: Vec<WrapupCode>,
}
