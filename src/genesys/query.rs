//! Bodies of `POST /api/v2/analytics/conversations/details/query` (model `ConversationQuery`).
//!
//! The interval selects conversations by their START, so the active-session query must reach
//! back as far as the oldest session that may still be open.

use jiff::Timestamp;
use serde_json::{Value, json};

/// Conversations per page; the API allows at most 100.
pub const PAGE_SIZE: u32 = 100;

/// A conversation details query without its paging.
#[derive(Debug, Clone, PartialEq)]
pub struct DetailsQuery {
    body: Value,
}

impl DetailsQuery {
    /// Open web-messaging conversations (no `conversationEnd`) that started in `[start, end]`.
    pub fn active_web_messaging(start: Timestamp, end: Timestamp) -> Self {
        DetailsQuery::new(
            start,
            end,
            "notExists",
            json!([{"type": "and", "predicates": [
                {"type": "dimension", "dimension": "mediaType", "value": "message"},
                {"type": "dimension", "dimension": "messageType", "value": "webmessaging"},
            ]}]),
        )
    }

    /// Ended conversations that started in `[since, until]` in which any of `contact_ids`
    /// took part. The caller keeps the batch small (`history_batch_size`).
    pub fn history(contact_ids: &[String], since: Timestamp, until: Timestamp) -> Self {
        let predicates: Vec<Value> = contact_ids
            .iter()
            .map(|id| json!({"type": "dimension", "dimension": "externalContactId", "value": id}))
            .collect();
        DetailsQuery::new(since, until, "exists", json!([{"type": "or", "predicates": predicates}]))
    }

    fn new(start: Timestamp, end: Timestamp, conversation_end: &str, segment_filters: Value) -> Self {
        DetailsQuery {
            body: json!({
                "interval": interval(start, end),
                "order": "desc",
                "orderBy": "conversationStart",
                "paging": {"pageSize": PAGE_SIZE, "pageNumber": 1},
                "conversationFilters": [{"type": "and", "predicates": [
                    {"type": "dimension", "dimension": "conversationEnd", "operator": conversation_end},
                ]}],
                "segmentFilters": segment_filters,
            }),
        }
    }

    /// The body asking for page `number` (from 1).
    pub fn page(&self, number: u32) -> Value {
        let mut body = self.body.clone();
        body["paging"]["pageNumber"] = json!(number);
        body
    }
}

/// `2026-11-17T00:00:00.000Z/2026-11-24T12:00:00.000Z`, in UTC.
pub fn interval(start: Timestamp, end: Timestamp) -> String {
    const FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.3fZ";
    format!("{}/{}", start.strftime(FORMAT), end.strftime(FORMAT))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn interval_is_utc_with_milliseconds() {
        assert_eq!(
            interval(ts("2026-11-17T01:00:00+01:00"), ts("2026-11-24T12:00:00.5Z")),
            "2026-11-17T00:00:00.000Z/2026-11-24T12:00:00.500Z"
        );
    }

    #[test]
    fn active_query_matches_the_reference_body() {
        let q = DetailsQuery::active_web_messaging(ts("2026-11-17T00:00:00Z"), ts("2026-11-24T12:00:00Z"));
        let expected = json!({"interval": "2026-11-17T00:00:00.000Z/2026-11-24T12:00:00.000Z",
            "order": "desc", "orderBy": "conversationStart",
            "paging": {"pageSize": 100, "pageNumber": 2},
            "conversationFilters": [{"type": "and", "predicates": [
              {"type": "dimension", "dimension": "conversationEnd", "operator": "notExists"}]}],
            "segmentFilters": [{"type": "and", "predicates": [
              {"type": "dimension", "dimension": "mediaType", "value": "message"},
              {"type": "dimension", "dimension": "messageType", "value": "webmessaging"}]}]});
        assert_eq!(q.page(2), expected);
    }

    #[test]
    fn history_query_ors_the_contacts() {
        let ids = vec!["a".to_owned(), "b".to_owned()];
        let body = DetailsQuery::history(&ids, ts("2026-11-01T00:00:00Z"), ts("2026-11-24T00:00:00Z")).page(1);
        assert_eq!(body["conversationFilters"][0]["predicates"][0]["operator"], "exists");
        assert_eq!(
            body["segmentFilters"],
            json!([{"type": "or", "predicates": [
                {"type": "dimension", "dimension": "externalContactId", "value": "a"},
                {"type": "dimension", "dimension": "externalContactId", "value": "b"}]}])
        );
    }
}
