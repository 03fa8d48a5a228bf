//! The Genesys Cloud Platform API's JSON shapes, as the official SDK models name them
//! (`attribute_map` of PureCloudPlatformClientV2). Only the fields the runner uses are typed;
//! unknown fields are ignored, so new API fields never break a run. Raw JSON is kept where a
//! `jsonpath:` condition may look (conversation details).

use crate::model::{Map, TextMap};

use serde::{Deserialize, Serialize};

/// Answer of `POST /api/v2/analytics/conversations/details/query` (`AnalyticsConversationQueryResponse`).
/// `conversations` is absent on a page past the end.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalyticsQueryResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversations: Option<Vec<AnalyticsConversation>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_hits: Option<u64>,
}

/// `AnalyticsConversation`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalyticsConversation {
    pub conversation_id: String,
    pub conversation_start: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_end: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub originating_direction: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub division_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_tag: Option<String>,
    #[serde(default)]
    pub participants: Vec<AnalyticsParticipant>,
}

/// `AnalyticsParticipant`. `purpose` is `customer`, `agent`, `acd`, `api`, `botflow`, ...
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalyticsParticipant {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participant_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_contact_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sessions: Vec<AnalyticsSession>,
}

/// `AnalyticsSession`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalyticsSession {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segments: Vec<AnalyticsSegment>,
}

/// `AnalyticsConversationSegment`. `wrap_up_code` is an id: map it with the wrap-up code list.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalyticsSegment {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment_start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wrap_up_code: Option<String>,
}

/// An [`AnalyticsConversation`] borrowed, field for field: what the sources hand to the
/// normalization. A parsed answer lends its texts ([`AnalyticsConversation::view`]); a snapshot
/// line in plain JSON is read straight into one, its texts never copied.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConversationView<'a> {
    pub conversation_id: &'a str,
    pub conversation_start: &'a str,
    pub conversation_end: Option<&'a str>,
    pub originating_direction: Option<&'a str>,
    pub division_ids: Vec<&'a str>,
    pub external_tag: Option<&'a str>,
    pub participants: Vec<ParticipantView<'a>>,
}

/// An [`AnalyticsParticipant`] borrowed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParticipantView<'a> {
    pub participant_name: Option<&'a str>,
    pub purpose: Option<&'a str>,
    pub external_contact_id: Option<&'a str>,
    pub sessions: Vec<SessionView<'a>>,
}

/// An [`AnalyticsSession`] borrowed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionView<'a> {
    pub media_type: Option<&'a str>,
    pub message_type: Option<&'a str>,
    pub direction: Option<&'a str>,
    pub segments: Vec<SegmentView<'a>>,
}

/// An [`AnalyticsSegment`] borrowed.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SegmentView<'a> {
    pub segment_start: Option<&'a str>,
    pub queue_id: Option<&'a str>,
    pub wrap_up_code: Option<&'a str>,
}

impl AnalyticsConversation {
    /// The conversation, borrowed.
    pub fn view(&self) -> ConversationView<'_> {
        ConversationView {
            conversation_id: &self.conversation_id,
            conversation_start: &self.conversation_start,
            conversation_end: self.conversation_end.as_deref(),
            originating_direction: self.originating_direction.as_deref(),
            division_ids: self.division_ids.iter().map(String::as_str).collect(),
            external_tag: self.external_tag.as_deref(),
            participants: self
                .participants
                .iter()
                .map(|p| ParticipantView {
                    participant_name: p.participant_name.as_deref(),
                    purpose: p.purpose.as_deref(),
                    external_contact_id: p.external_contact_id.as_deref(),
                    sessions: p
                        .sessions
                        .iter()
                        .map(|s| SessionView {
                            media_type: s.media_type.as_deref(),
                            message_type: s.message_type.as_deref(),
                            direction: s.direction.as_deref(),
                            segments: s
                                .segments
                                .iter()
                                .map(|g| SegmentView {
                                    segment_start: g.segment_start.as_deref(),
                                    queue_id: g.queue_id.as_deref(),
                                    wrap_up_code: g.wrap_up_code.as_deref(),
                                })
                                .collect(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

impl ConversationView<'_> {
    /// The conversation, owned: [`AnalyticsConversation::view`] undone.
    pub fn to_conversation(&self) -> AnalyticsConversation {
        let text = |t: Option<&str>| t.map(str::to_owned);
        AnalyticsConversation {
            conversation_id: self.conversation_id.to_owned(),
            conversation_start: self.conversation_start.to_owned(),
            conversation_end: text(self.conversation_end),
            originating_direction: text(self.originating_direction),
            division_ids: self.division_ids.iter().map(|&d| d.to_owned()).collect(),
            external_tag: text(self.external_tag),
            participants: self
                .participants
                .iter()
                .map(|p| AnalyticsParticipant {
                    participant_name: text(p.participant_name),
                    purpose: text(p.purpose),
                    external_contact_id: text(p.external_contact_id),
                    sessions: p
                        .sessions
                        .iter()
                        .map(|s| AnalyticsSession {
                            media_type: text(s.media_type),
                            message_type: text(s.message_type),
                            direction: text(s.direction),
                            segments: s
                                .segments
                                .iter()
                                .map(|g| AnalyticsSegment {
                                    segment_start: text(g.segment_start),
                                    queue_id: text(g.queue_id),
                                    wrap_up_code: text(g.wrap_up_code),
                                })
                                .collect(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

/// `Conversation` (`GET /api/v2/conversations/{conversationId}`), the typed part.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    #[serde(default)]
    pub participants: Vec<Participant>,
}

/// What the details of a [`Conversation`] are made of ([`crate::model::normalize::details`]):
/// each participant's purpose, queue, locale and attributes, borrowed from a parsed one
/// ([`Conversation::details_view`]) or straight from the text ([`super::plain`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DetailsView<'a> {
    pub participants: Vec<DetailsParticipant<'a>>,
}

/// A `Participant`'s part of [`DetailsView`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DetailsParticipant<'a> {
    pub purpose: Option<&'a str>,
    pub queue_name: Option<&'a str>,
    pub locale: Option<&'a str>,
    /// As written (a key given twice is there twice: the last one counts).
    pub attributes: Vec<(&'a str, &'a str)>,
}

impl Conversation {
    /// The conversation's details, borrowed.
    pub fn details_view(&self) -> DetailsView<'_> {
        DetailsView {
            participants: self
                .participants
                .iter()
                .map(|p| DetailsParticipant {
                    purpose: p.purpose.as_deref(),
                    queue_name: p.queue_name.as_deref(),
                    locale: p.locale.as_deref(),
                    attributes: p.attributes.iter().map(|(k, v)| (k, &**v)).collect(),
                })
                .collect(),
        }
    }
}

/// `Participant` of a `Conversation`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Participant {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_contact_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// Read into the model's compact map: the attributes are moved into the model as they are.
    #[serde(default, skip_serializing_if = "TextMap::is_empty")]
    pub attributes: TextMap,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wrapup: Option<Wrapup>,
}

/// `Wrapup` of a participant.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Wrapup {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// `ExternalContact` (the `entity` of each result of `POST /api/v2/externalcontacts/bulk/contacts`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalContact {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub work_email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal_email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cell_phone: Option<PhoneNumber>,
    /// `ephemeral`, `identified` or `curated`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub contact_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_fields: Option<Map<serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merge_set: Vec<EntityRef>,
}

/// `BulkIdsRequest`, the body of `POST /api/v2/externalcontacts/bulk/contacts`:
/// `{"entities": [{"id": "..."}]}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct BulkIdsRequest {
    pub entities: Vec<EntityRef>,
}

/// `BulkFetchContactsResponse`, the answer of `POST /api/v2/externalcontacts/bulk/contacts`:
/// one result per asked id, successes and failures, in no guaranteed order.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkFetchContactsResponse {
    #[serde(default)]
    pub results: Vec<BulkContactResult>,
    /// How many results failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_count: Option<u64>,
    /// The indexes (in `results`) of the failed ones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub error_indexes: Vec<usize>,
}

/// `BulkResponseResultExternalContactEntityBulkEntityErrorEntity`: one id's outcome in a bulk
/// fetch. `entity` only on success, `error` only on failure.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkContactResult {
    /// The id of the affected entity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<ExternalContact>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<BulkEntityError>,
    /// The HTTP status of this id's operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
}

/// `BulkEntityErrorEntity`: why one id of a bulk operation failed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkEntityError {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The HTTP status of the error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Whether Genesys says this operation should be retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retryable: Option<bool>,
}

/// `PhoneNumber`: `display` as entered, `e164` normalized.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhoneNumber {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e164: Option<String>,
}

/// An `{id}` reference (`mergeSet` entries and the like).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct EntityRef {
    pub id: String,
}

/// `WrapupCode` (entries of `GET /api/v2/routing/wrapupcodes`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct WrapupCode {
    pub id: String,
    pub name: String,
}

/// A page of `GET /api/v2/routing/wrapupcodes` (`WrapupCodeEntityListing`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WrapupCodeListing {
    #[serde(default)]
    pub entities: Vec<WrapupCode>,
    #[serde(default)]
    pub page_number: Option<u64>,
    #[serde(default)]
    pub page_count: Option<u64>,
}

/// `SendAgentlessOutboundMessageRequest` for `POST /api/v2/conversations/messages/agentless`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AgentlessMessageRequest {
    /// The web messaging deployment id.
    pub from_address: String,
    /// `webmessaging`; `toAddress` must not be set for it.
    pub to_address_messenger_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_address: Option<String>,
    pub external_contact_id: String,
    pub text_body: String,
    pub use_existing_active_conversation: bool,
}

/// `SendAgentlessOutboundMessageResponse`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentlessMessageResponse {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub conversation_id: Option<String>,
    #[serde(default)]
    pub messenger_type: Option<String>,
    #[serde(default)]
    pub timestamp: Option<String>,
}

/// `ErrorBody`: what Genesys answers with an error status.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub context_id: Option<String>,
}
