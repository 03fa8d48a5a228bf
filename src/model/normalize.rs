//! The one normalization layer: Genesys API shapes in, the model out.
//!
//! The snapshot source and the live client both hand their data to these functions, so a preview
//! from a snapshot decides exactly what a live run decides. Everything here is pure: no I/O, no
//! clock, no logging.
//!
//! Timestamps are parsed as RFC 3339 (`2026-11-24T11:42:10.512Z`). Genesys always sends them in
//! that form; a value that does not parse is treated as absent, as documented on each function.

use std::collections::{HashMap, HashSet};

use super::{Contact, Details, PastConversation, Session, Value, intern, parse_time};
use crate::campaign::JsonPathQuery;
use crate::fxhash::FxHashSet;
use crate::genesys::plain;
use crate::genesys::types::{
    AnalyticsConversation, Conversation, ConversationView, DetailsParticipant, ExternalContact, ParticipantView,
    SegmentView, SessionView, WrapupCode,
};

/// The participant purposes the normalization looks for.
const CUSTOMER: &str = "customer";
const ACD: &str = "acd";
const AGENT: &str = "agent";

/// Why conversation details could not be normalized.
#[derive(Debug, thiserror::Error)]
pub enum NormalizeError {
    /// The JSON is not a `Conversation` (`GET /api/v2/conversations/{id}`).
    #[error("the conversation details are not a Genesys conversation: at {path}: {message}")]
    Details { path: String, message: String },
}

fn has_purpose(purpose: Option<&str>, wanted: &str) -> bool {
    purpose.is_some_and(|p| p.eq_ignore_ascii_case(wanted))
}

fn analytics_customer<'c, 'a>(conv: &'c ConversationView<'a>) -> Option<&'c ParticipantView<'a>> {
    conv.participants.iter().find(|p| has_purpose(p.purpose, CUSTOMER))
}

/// The customer participant's session that carries the conversation's media: the first one with
/// a media type, else the first one.
fn customer_session<'c, 'a>(customer: &'c ParticipantView<'a>) -> Option<&'c SessionView<'a>> {
    customer.sessions.iter().find(|s| s.media_type.is_some()).or_else(|| customer.sessions.first())
}

/// Text that is absent or blank is no value.
fn non_blank_str(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|s| !s.is_empty())
}

/// [`non_blank_str`] of an owned string: kept as it is when it has no surrounding blanks.
fn non_blank_owned(v: Option<String>) -> Option<String> {
    let s = v?;
    match non_blank_str(Some(&s))? {
        t if t.len() == s.len() => Some(s),
        t => Some(t.to_owned()),
    }
}

/// The latest value `pick` finds in the segments of the participants `select` admits. "Latest"
/// is by `segmentStart`; document order breaks ties and stands in for a start that is missing or
/// does not parse (such a segment loses against any segment with a start).
fn latest_segment_value<'a>(
    conv: &ConversationView<'a>,
    select: impl Fn(&ParticipantView<'a>) -> bool,
    pick: impl Fn(&SegmentView<'a>) -> Option<&'a str>,
) -> Option<&'a str> {
    conv.participants
        .iter()
        .filter(|p| select(p))
        .flat_map(|p| p.sessions.iter())
        .flat_map(|s| s.segments.iter())
        .enumerate()
        .filter_map(|(index, seg)| {
            let value = pick(seg).filter(|v| !v.trim().is_empty())?;
            let start = seg.segment_start.and_then(parse_time);
            Some(((start, index), value))
        })
        .max_by_key(|(key, _)| *key)
        .map(|(_, value)| value)
}

/// The queue the conversation was last routed to: the latest segment `queueId` of the ACD
/// participants, else of any participant (agents' segments carry the queue too).
fn last_queue_id(conv: &ConversationView<'_>) -> Option<std::sync::Arc<str>> {
    fn queue<'a>(seg: &SegmentView<'a>) -> Option<&'a str> {
        seg.queue_id
    }
    latest_segment_value(conv, |p| has_purpose(p.purpose, ACD), queue)
        .or_else(|| latest_segment_value(conv, |_| true, queue))
        .map(intern)
}

/// An active session as the analytics query describes it.
///
/// Returns `None`, and the session is not a candidate, when:
/// - there is no `customer` participant: a web-messaging conversation is always opened by a
///   customer, so such a conversation is not one the runner can message (no contact to send to,
///   no attributes to filter on); and
/// - `conversationStart` does not parse: the look-back window, `session.age` and the ordering of
///   sessions all rest on it, and inventing a start would make a preview decide differently from
///   what the data says.
pub fn session(conv: &ConversationView<'_>) -> Option<Session> {
    let customer = analytics_customer(conv)?;
    let started = parse_time(conv.conversation_start)?;
    Some(Session {
        id: conv.conversation_id.to_owned(),
        started,
        direction: non_blank_str(conv.originating_direction).map(intern),
        message_type: customer_session(customer).and_then(|s| non_blank_str(s.message_type)).map(intern),
        queue_id: last_queue_id(conv),
        division_ids: conv.division_ids.iter().map(|&d| intern(d)).collect(),
        external_tag: non_blank_str(conv.external_tag).map(str::to_owned),
        external_contact_id: non_blank_str(customer.external_contact_id).map(str::to_owned),
        customer_name: non_blank_str(customer.participant_name).map(str::to_owned),
    })
}

/// Conversation details (`GET /api/v2/conversations/{id}`, verbatim) as the model sees them.
///
/// Attributes and locale come from the first `customer` participant (none: no attributes, no
/// locale). The queue name comes from the last ACD participant that names its queue, else from
/// the last participant of any purpose that does (an agent's participant names the queue the
/// conversation came from). Each of `queries` (the campaigns' `jsonpath:` conditions) is
/// answered now, over the raw JSON, which is then dropped.
pub fn details(text: &str, queries: &Queries<'_>) -> Result<Details, NormalizeError> {
    // The typed part, read plainly when it can be, else by serde (which checks the text).
    let typed: Conversation;
    let view = match plain::conversation_details(text) {
        Some(view) => view,
        None => {
            typed = conversation(text)?;
            typed.details_view()
        }
    };
    let not_json = |e: serde_json::Error| NormalizeError::Details { path: String::new(), message: e.to_string() };
    let jsonpath = if queries.list.is_empty() {
        Vec::new()
    } else if queries.reach.is_all() {
        // A query may read anything: one JSON tree of all of it.
        queries.answer(&serde_json::from_str(text).map_err(not_json)?)
    } else {
        // A tree of only what the queries can read.
        queries.answer(&queries.reach.read(text).map_err(not_json)?)
    };
    let named_queue = |p: &&DetailsParticipant<'_>| p.queue_name.is_some_and(|n| !n.trim().is_empty());
    let queue_name = view
        .participants
        .iter()
        .rev()
        .find(|p| has_purpose(p.purpose, ACD) && named_queue(p))
        .or_else(|| view.participants.iter().rev().find(named_queue))
        .and_then(|p| non_blank_str(p.queue_name))
        .map(intern);
    let customer = view.participants.iter().find(|p| has_purpose(p.purpose, CUSTOMER));
    Ok(Details {
        locale: customer.and_then(|c| non_blank_str(c.locale)).map(intern),
        attributes: customer.map(|c| c.attributes.iter().map(|&(k, v)| (k, intern(v))).collect()).unwrap_or_default(),
        queue_name,
        jsonpath,
    })
}

/// The campaigns' `jsonpath:` queries, with what they can read of a conversation's details.
pub struct Queries<'q> {
    list: Vec<&'q JsonPathQuery>,
    /// Each query as [`Plain`] steps, when it is made of them only.
    plain: Vec<Option<Vec<Plain>>>,
    reach: super::reach::Reach,
}

impl<'q> Queries<'q> {
    pub fn new(list: Vec<&'q JsonPathQuery>) -> Self {
        let parsed: Vec<_> = list.iter().map(|q| &q.query).collect();
        let reach = super::reach::Reach::of(&parsed);
        let plain = list.iter().map(|q| Plain::of(&q.query)).collect();
        Queries { list, plain, reach }
    }

    /// Each query's answer over `json`, with the query's text.
    fn answer(&self, json: &serde_json::Value) -> Vec<(std::sync::Arc<str>, Value<'static>)> {
        let answer = |(q, plain): (&&JsonPathQuery, &Option<Vec<Plain>>)| {
            let value = match plain {
                Some(steps) => found_value(&Plain::select(steps, json)),
                None => jsonpath_value(q, json),
            };
            (std::sync::Arc::clone(&q.text), value)
        };
        self.list.iter().zip(&self.plain).map(answer).collect()
    }
}

/// A step of a query made only of member names, element indexes, wildcards and filters that
/// compare a member path of the current node with a string (`$.participants[?@.purpose ==
/// 'customer'].attributes.segment`): such a query is answered here, as RFC 9535 says and
/// `jsonpath-rust` answers it, without the normalized path `jsonpath-rust` builds for every node
/// it visits (most of the time of answering it).
#[derive(Debug, Clone, PartialEq)]
enum Plain {
    Name(String),
    Wildcard,
    Index(i64),
    /// The nodes whose member at `path` is (`equal`) or is not the string.
    Filter {
        path: Vec<String>,
        text: String,
        equal: bool,
    },
}

impl Plain {
    /// `query` as plain steps; `None` when it has any other kind of step.
    fn of(query: &jsonpath_rust::parser::model::JpQuery) -> Option<Vec<Plain>> {
        use jsonpath_rust::parser::model::{
            Comparable, Comparison, Filter, FilterAtom, Literal, Segment, Selector, SingularQuery, SingularQuerySegment,
        };
        let path = |q: &SingularQuery| match q {
            SingularQuery::Current(segments) => segments
                .iter()
                .map(|s| match s {
                    SingularQuerySegment::Name(name) => Some(name.clone()),
                    SingularQuerySegment::Index(_) => None,
                })
                .collect::<Option<Vec<String>>>(),
            SingularQuery::Root(_) => None,
        };
        let compare = |a: &Comparable, b: &Comparable| match (a, b) {
            (Comparable::SingularQuery(q), Comparable::Literal(Literal::String(text)))
            | (Comparable::Literal(Literal::String(text)), Comparable::SingularQuery(q)) => {
                Some((path(q)?, text.clone()))
            }
            _ => None,
        };
        query
            .segments
            .iter()
            .map(|segment| match segment {
                Segment::Selector(Selector::Name(name)) => Some(Plain::Name(name.clone())),
                Segment::Selector(Selector::Wildcard) => Some(Plain::Wildcard),
                Segment::Selector(Selector::Index(i)) => Some(Plain::Index(*i)),
                Segment::Selector(Selector::Filter(Filter::Atom(FilterAtom::Comparison(c)))) => {
                    let (a, b, equal) = match c.as_ref() {
                        Comparison::Eq(a, b) => (a, b, true),
                        Comparison::Ne(a, b) => (a, b, false),
                        _ => return None,
                    };
                    let (path, text) = compare(a, b)?;
                    Some(Plain::Filter { path, text, equal })
                }
                _ => None,
            })
            .collect()
    }

    /// The nodes `steps` select from `json`, in document order.
    fn select<'v>(steps: &[Plain], json: &'v serde_json::Value) -> Vec<&'v serde_json::Value> {
        use serde_json::Value as J;
        let mut nodes = vec![json];
        for step in steps {
            let mut next = Vec::new();
            for node in nodes {
                match (step, node) {
                    (Plain::Name(name), J::Object(members)) => next.extend(members.get(name)),
                    (Plain::Wildcard, J::Array(items)) => next.extend(items),
                    (Plain::Wildcard, J::Object(members)) => next.extend(members.values()),
                    (Plain::Index(i), J::Array(items)) => {
                        let at =
                            if *i < 0 { items.len().checked_sub(i.unsigned_abs() as usize) } else { Some(*i as usize) };
                        next.extend(at.and_then(|at| items.get(at)));
                    }
                    (Plain::Filter { path, text, equal }, J::Array(_) | J::Object(_)) => {
                        let children: Box<dyn Iterator<Item = &J>> = match node {
                            J::Array(items) => Box::new(items.iter()),
                            J::Object(members) => Box::new(members.values()),
                            _ => unreachable!("an array or an object"),
                        };
                        for child in children {
                            let at = path.iter().try_fold(child, |at, name| at.as_object()?.get(name));
                            let is = at.and_then(J::as_str) == Some(text.as_str());
                            // RFC 9535: a missing member is not equal to the string (so `!=` holds).
                            if is == *equal {
                                next.push(child);
                            }
                        }
                    }
                    _ => {}
                }
            }
            nodes = next;
        }
        nodes
    }
}

/// What a query found, as a value: nothing (missing), one value, or a list.
fn found_value(found: &[&serde_json::Value]) -> Value<'static> {
    match found {
        [] => Value::Missing,
        [one] => Value::from_json(one).into_owned(),
        many => Value::List(many.iter().map(|v| Value::from_json(v).into_owned()).collect()),
    }
}

/// The typed part of conversation details, by serde. On failure, parsed again tracking the
/// path, to say where the JSON does not fit.
fn conversation(text: &str) -> Result<Conversation, NormalizeError> {
    if let Ok(conv) = serde_json::from_str(text) {
        return Ok(conv);
    }
    let tracked: Result<Conversation, _> =
        serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(text));
    let e = tracked.expect_err("the same JSON failed to parse a moment ago");
    Err(NormalizeError::Details { path: e.path().to_string(), message: e.inner().to_string() })
}

/// What a `jsonpath:` query finds: nothing (missing), one value, or a list.
pub fn jsonpath_value(q: &JsonPathQuery, json: &serde_json::Value) -> Value<'static> {
    match jsonpath_rust::query::js_path_process(&q.query, json) {
        Ok(found) => found_value(&found.into_iter().map(|r| r.val).collect::<Vec<_>>()),
        Err(_) => Value::Missing,
    }
}

/// An external contact as the model sees it.
///
/// The phone is the cell phone's `e164` form, else its `display` form. The contact type is
/// lower-cased: the SDK's enum spells it `Ephemeral` / `Identified` / `Curated`, the model (and
/// the campaigns written against it) use `ephemeral` / `identified` / `curated`.
pub fn contact(c: ExternalContact) -> Contact {
    let cell_phone = c.cell_phone.and_then(|p| non_blank_owned(p.e164).or_else(|| non_blank_owned(p.display)));
    let mut merge_set: Vec<String> = Vec::new();
    for entry in c.merge_set {
        if !entry.id.is_empty() && !merge_set.contains(&entry.id) {
            merge_set.push(entry.id);
        }
    }
    Contact {
        id: c.id,
        first_name: non_blank_owned(c.first_name),
        last_name: non_blank_owned(c.last_name),
        work_email: non_blank_owned(c.work_email),
        personal_email: non_blank_owned(c.personal_email),
        cell_phone,
        contact_type: non_blank_str(c.contact_type.as_deref()).map(|t| intern(&t.to_lowercase())),
        custom_fields: c.custom_fields.unwrap_or_default(),
        merge_set,
    }
}

/// Wrap-up code names by id.
pub fn wrapup_names(codes: &[WrapupCode]) -> HashMap<String, String> {
    codes.iter().map(|c| (c.id.clone(), c.name.clone())).collect()
}

/// Every id whose history belongs to the customer: the contact id first, then the ids of its
/// merge set, each once.
pub fn customer_ids(contact_id: &str, contact: Option<&Contact>) -> Vec<String> {
    let mut ids = vec![contact_id.to_owned()];
    for id in contact.into_iter().flat_map(|c| c.merge_set.iter()) {
        if !id.is_empty() && !ids.contains(id) {
            ids.push(id.clone());
        }
    }
    ids
}

/// The customer's previous conversations, newest first (by end, then by id for a stable order).
///
/// A conversation counts when it has ended, is not `current_conversation`, and one of its
/// `customer` participants has an `externalContactId` in `customer_ids`; each id counts once
/// (analytics pages can overlap). `conversationEnd` must parse, or the conversation cannot be
/// placed in a look-back window and is left out. A `conversationStart` that does not parse is
/// taken to be the end: the conversation still counts (a "Do Not Contact" must never be lost to
/// a malformed start), it just has no duration.
///
/// The wrap-up is the latest wrap-up code on an agent's segments, named with `wrapups` (its id
/// when the name is unknown, e.g. a deleted code). Media and message type come from the matching
/// customer participant's session; the queue is the last one the conversation was routed to.
pub fn history<'a>(
    convs: impl IntoIterator<Item = &'a AnalyticsConversation>,
    customer_ids: &HashSet<String>,
    current_conversation: &str,
    wrapups: &HashMap<String, String>,
) -> Vec<PastConversation> {
    let past = convs.into_iter().filter_map(|conv| {
        past_conversation(&conv.view(), wrapups)
            .into_iter()
            .find(|(customer, _)| customer_ids.contains(*customer))
            .map(|(_, p)| p)
    });
    collect_history(past, current_conversation)
}

/// One ended conversation as the model sees it, once for each customer in it (the customer
/// participants' distinct external contact ids, in participant order; usually one): the media
/// is the customer's own. Nothing when it has not ended (or its end does not parse).
pub fn past_conversation<'c>(
    conv: &ConversationView<'c>,
    wrapups: &HashMap<String, String>,
) -> Vec<(&'c str, PastConversation)> {
    let Some(ended) = conv.conversation_end.and_then(parse_time) else { return Vec::new() };
    let started = parse_time(conv.conversation_start).unwrap_or(ended);
    let wrap_up_id = latest_segment_value(conv, |p| has_purpose(p.purpose, AGENT), |s| s.wrap_up_code);
    let wrap_up = wrap_up_id.map(|id| intern(wrapups.get(id).map_or(id, String::as_str)));
    let wrap_up_id = wrap_up_id.map(intern);
    let queue_id = last_queue_id(conv);
    let direction = non_blank_str(conv.originating_direction).map(intern);
    let mut out: Vec<(&str, PastConversation)> = Vec::new();
    for customer in conv.participants.iter().filter(|p| has_purpose(p.purpose, CUSTOMER)) {
        let Some(id) = customer.external_contact_id else { continue };
        if out.iter().any(|&(seen, _)| seen == id) {
            continue;
        }
        let media = customer_session(customer);
        out.push((
            id,
            PastConversation {
                id: conv.conversation_id.to_owned(),
                started,
                ended,
                wrap_up: wrap_up.clone(),
                wrap_up_id: wrap_up_id.clone(),
                queue_id: queue_id.clone(),
                media_type: media.and_then(|s| non_blank_str(s.media_type)).map(intern),
                message_type: media.and_then(|s| non_blank_str(s.message_type)).map(intern),
                direction: direction.clone(),
            },
        ));
    }
    out
}

/// A customer's history from their past conversations (already theirs, in the source's
/// order): without the current conversation, each conversation once, newest first.
pub fn collect_history(
    past: impl IntoIterator<Item = PastConversation>,
    current_conversation: &str,
) -> Vec<PastConversation> {
    let mut out: Vec<PastConversation> = past.into_iter().filter(|p| p.id != current_conversation).collect();
    // The first of each id stays.
    let keep: Vec<bool> = {
        let mut seen = FxHashSet::default();
        out.iter().map(|p| seen.insert(p.id.as_str())).collect()
    };
    let mut keep = keep.into_iter();
    out.retain(|_| keep.next().unwrap_or(true));
    out.sort_by(|a, b| b.ended.cmp(&a.ended).then_with(|| a.id.cmp(&b.id)));
    // Kept for the whole run: no room to spare (the buffer may be the source's, reused).
    out.shrink_to_fit();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::Timestamp;
    use serde_json::json;

    fn analytics(v: serde_json::Value) -> AnalyticsConversation {
        serde_json::from_value(v).expect("test JSON is an AnalyticsConversation")
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("test timestamp")
    }

    fn ids(list: &[&str]) -> HashSet<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    /// An active web-messaging conversation: customer, ACD (routed twice), agent.
    fn active() -> serde_json::Value {
        json!({
            "conversationId": "c-1",
            "conversationStart": "2026-11-24T11:42:10.512Z",
            "originatingDirection": "inbound",
            "divisionIds": ["div-1"],
            "externalTag": "order-42",
            "participants": [
                {"participantId": "p-cust", "participantName": "Zoë Fischer", "purpose": "customer",
                 "externalContactId": "ext-1",
                 "sessions": [{"sessionId": "s-1", "mediaType": "message", "messageType": "webmessaging",
                               "direction": "inbound",
                               "segments": [{"segmentStart": "2026-11-24T11:42:10.512Z", "segmentType": "interact"}]}]},
                {"participantId": "p-acd", "participantName": "Sales", "purpose": "acd",
                 "sessions": [{"sessionId": "s-2", "mediaType": "message", "messageType": "webmessaging",
                               "segments": [
                                   {"segmentStart": "2026-11-24T11:42:11.000Z", "segmentEnd": "2026-11-24T11:43:00.000Z",
                                    "segmentType": "interact", "queueId": "q-sales"},
                                   {"segmentStart": "2026-11-24T11:44:00.000Z", "segmentType": "interact",
                                    "queueId": "q-billing"}]}]},
                {"participantId": "p-agent", "participantName": "Ann Agent", "purpose": "agent", "userId": "u-1",
                 "sessions": [{"sessionId": "s-3", "mediaType": "message", "messageType": "webmessaging",
                               "segments": [{"segmentStart": "2026-11-24T11:45:00.000Z", "segmentType": "interact",
                                             "queueId": "q-support"}]}]}
            ]
        })
    }

    #[test]
    fn session_takes_customer_fields_and_the_acd_queue() {
        let s = session(&analytics(active()).view()).expect("a customer session");
        assert_eq!(s.id, "c-1");
        assert_eq!(s.started, ts("2026-11-24T11:42:10.512Z"));
        assert_eq!(s.direction.as_deref(), Some("inbound"));
        assert_eq!(s.message_type.as_deref(), Some("webmessaging"));
        // The ACD participant is preferred over the agent's later segment, and its last segment wins.
        assert_eq!(s.queue_id.as_deref(), Some("q-billing"));
        assert_eq!(s.division_ids, vec![std::sync::Arc::<str>::from("div-1")]);
        assert_eq!(s.external_tag.as_deref(), Some("order-42"));
        assert_eq!(s.external_contact_id.as_deref(), Some("ext-1"));
        assert_eq!(s.customer_name.as_deref(), Some("Zoë Fischer"));
    }

    #[test]
    fn session_queue_falls_back_to_any_participant() {
        let mut v = active();
        v["participants"][1]["sessions"][0]["segments"] = json!([{"segmentType": "interact"}]);
        let s = session(&analytics(v).view()).expect("a customer session");
        assert_eq!(s.queue_id.as_deref(), Some("q-support"));
    }

    #[test]
    fn session_queue_order_follows_segment_start_not_document_order() {
        let mut v = active();
        v["participants"][1]["sessions"][0]["segments"] = json!([
            {"segmentStart": "2026-11-24T11:50:00Z", "queueId": "q-later"},
            {"segmentStart": "2026-11-24T11:43:00Z", "queueId": "q-earlier"},
            {"segmentStart": "not a time", "queueId": "q-undated"}
        ]);
        let s = session(&analytics(v).view()).expect("a customer session");
        assert_eq!(s.queue_id.as_deref(), Some("q-later"));
    }

    #[test]
    fn session_without_customer_participant_is_none() {
        let mut v = active();
        v["participants"] = json!([v["participants"][1].clone(), v["participants"][2].clone()]);
        assert!(session(&analytics(v).view()).is_none());
    }

    #[test]
    fn session_with_unparseable_start_is_none() {
        let mut v = active();
        v["conversationStart"] = json!("24/11/2026 11:42");
        assert!(session(&analytics(v).view()).is_none());
    }

    #[test]
    fn anonymous_session_has_no_contact_id() {
        let v = json!({
            "conversationId": "c-anon",
            "conversationStart": "2026-11-24T11:00:00Z",
            "participants": [{"purpose": "customer",
                              "sessions": [{"mediaType": "message", "messageType": "webmessaging"}]}]
        });
        let s = session(&analytics(v).view()).expect("a customer session");
        assert_eq!(s.external_contact_id, None);
        assert_eq!(s.customer_name, None);
        assert_eq!(s.queue_id, None);
        assert_eq!(s.direction, None);
        assert!(s.division_ids.is_empty());
    }

    fn details_json() -> serde_json::Value {
        json!({
            "id": "c-1",
            "startTime": "2026-11-24T11:42:10.512Z",
            "participants": [
                {"id": "p-cust", "name": "Zoë Fischer", "purpose": "customer", "externalContactId": "ext-1",
                 "locale": "de-de",
                 "attributes": {"plan": "premium", "page": "/pricing/premium", "cart_value": "149.90"},
                 "messages": [{"id": "s-1", "state": "connected", "type": "webmessaging",
                               "journeyContext": {"customer": {"id": "jc-1", "idType": "cookie"}}}]},
                {"id": "p-acd", "name": "Sales", "purpose": "acd", "queueId": "q-sales", "queueName": "Sales"},
                {"id": "p-acd2", "name": "Billing", "purpose": "acd", "queueId": "q-billing", "queueName": "Billing"},
                {"id": "p-agent", "name": "Ann Agent", "purpose": "agent", "queueId": "q-support", "queueName": "Support"}
            ]
        })
    }

    #[test]
    fn details_takes_customer_attributes_and_last_acd_queue_name() {
        let raw = details_json();
        let d = details(&raw_json(&raw), &Queries::new(Vec::new())).expect("valid details");
        assert_eq!(d.attributes.get("plan").map(|v| &**v), Some("premium"));
        assert_eq!(d.attributes.get("cart_value").map(|v| &**v), Some("149.90"));
        assert_eq!(d.attributes.len(), 3);
        assert_eq!(d.locale.as_deref(), Some("de-de"));
        assert_eq!(d.queue_name.as_deref(), Some("Billing"));
        assert!(d.jsonpath.is_empty(), "no query asked");
    }

    /// The JSON text of `v`.
    fn raw_json(v: &serde_json::Value) -> String {
        v.to_string()
    }

    #[test]
    fn details_answer_the_jsonpath_queries_asked() {
        let text = "$.participants[?@.purpose == 'acd'].queueName";
        let q = JsonPathQuery { text: text.into(), query: jsonpath_rust::parser::parse_json_path(text).unwrap() };
        let d = details(&raw_json(&details_json()), &Queries::new(vec![&q])).expect("valid details");
        let both = Some(&Value::List(vec![Value::Text("Sales".into()), Value::Text("Billing".into())]));
        assert_eq!(d.jsonpath(text), both);
        assert_eq!(d.jsonpath("$.other"), None);
        // With a query that reads the whole document (a descendant segment): the same answers,
        // and the same typed part.
        let all = "$..queueName";
        let r = JsonPathQuery { text: all.into(), query: jsonpath_rust::parser::parse_json_path(all).unwrap() };
        let whole = details(&raw_json(&details_json()), &Queries::new(vec![&q, &r])).expect("valid details");
        assert_eq!(whole.jsonpath(text), both);
        assert_eq!(whole.jsonpath(all), Some(&jsonpath_value(&r, &details_json())));
        assert_eq!((whole.queue_name, whole.attributes, whole.locale), (d.queue_name, d.attributes, d.locale));
    }

    /// The queries answered here give what `jsonpath-rust` gives, on documents with the members
    /// missing, of other types, in arrays and in objects; the others are left to it.
    #[test]
    fn plain_queries_answer_as_jsonpath_rust_does() {
        let plain = [
            "$.participants[?@.purpose == 'customer'].attributes.segment",
            "$.participants[?'customer' == @.purpose].attributes",
            "$.participants[?@.purpose != 'customer'].name",
            "$.participants[?@.attributes.tier == 'gold'].purpose",
            "$.participants[*].purpose",
            "$.participants[0].attributes.segment",
            "$.participants[-1].name",
            "$.participants[7].name",
            "$.conversationId",
            "$.missing.deeper",
            "$.participants.purpose",
            "$.attributes[*]",
            "$.attributes[?@ == 'x']",
            "$.attributes[?@.a == 'x']",
            "$['participants'][*]['name']",
            "$.n[0]",
            "$",
        ];
        let other = ["$..name", "$.participants[0:2].name", "$.participants[?@.n > 1].name", "$.a[?@.b == 1]"];
        let documents = [
            details_json(),
            serde_json::json!({
                "conversationId": "c-1",
                "n": 5,
                "attributes": {"a": "x", "b": {"a": "x"}, "c": ["x"]},
                "participants": [
                    {"purpose": "customer", "name": "Ada", "attributes": {"segment": "b2b", "tier": "gold"}},
                    {"purpose": "agent", "name": "Bob"},
                    {"purpose": 5, "name": null, "attributes": {"segment": ["x", 1]}},
                    "not an object",
                    {"purpose": "customer", "attributes": {"segment": {"nested": true}}}
                ]
            }),
            serde_json::json!({"participants": {"one": {"purpose": "customer", "name": "Cy"}, "two": {"name": "Di"}}}),
            serde_json::json!([]),
        ];
        for text in plain.iter().chain(&other) {
            let q =
                JsonPathQuery { text: (*text).into(), query: jsonpath_rust::parser::parse_json_path(text).unwrap() };
            let steps = Plain::of(&q.query);
            assert_eq!(steps.is_some(), plain.contains(text), "{text}");
            let Some(steps) = steps else { continue };
            for json in &documents {
                assert_eq!(found_value(&Plain::select(&steps, json)), jsonpath_value(&q, json), "{text} over {json}");
            }
        }
    }

    #[test]
    fn details_without_attributes_has_empty_attributes() {
        let mut raw = details_json();
        if let Some(p) = raw["participants"][0].as_object_mut() {
            p.remove("attributes");
            p.remove("locale");
        }
        let d = details(&raw_json(&raw), &Queries::new(Vec::new())).expect("valid details");
        assert!(d.attributes.is_empty());
        assert_eq!(d.locale, None);
    }

    #[test]
    fn details_queue_name_falls_back_to_any_participant() {
        let raw = json!({"id": "c-1", "participants": [
            {"purpose": "customer"},
            {"purpose": "acd", "queueId": "q-x"},
            {"purpose": "agent", "queueName": "Support"}
        ]});
        let d = details(&raw_json(&raw), &Queries::new(Vec::new())).expect("valid details");
        assert_eq!(d.queue_name.as_deref(), Some("Support"));
        assert!(d.attributes.is_empty());
    }

    #[test]
    fn details_without_customer_participant() {
        let raw = json!({"id": "c-1", "participants": [{"purpose": "acd", "queueName": "Sales"}]});
        let d = details(&raw_json(&raw), &Queries::new(Vec::new())).expect("valid details");
        assert!(d.attributes.is_empty());
        assert_eq!(d.locale, None);
        assert_eq!(d.queue_name.as_deref(), Some("Sales"));
    }

    #[test]
    fn details_of_the_wrong_shape_name_the_place() {
        let raw = json!({"id": "c-1", "participants": [{"purpose": "customer", "attributes": {"cart_value": 149.9}}]});
        let err = details(&raw_json(&raw), &Queries::new(Vec::new())).expect_err("attributes are strings");
        let text = err.to_string();
        assert!(text.contains("participants[0].attributes.cart_value"), "{text}");
        assert!(text.contains("expected a string"), "{text}");

        let err =
            details(&raw_json(&json!({"participants": []})), &Queries::new(Vec::new())).expect_err("id is required");
        assert!(err.to_string().contains("missing field `id`"), "{err}");
    }

    fn external_contact(v: serde_json::Value) -> ExternalContact {
        serde_json::from_value(v).expect("test JSON is an ExternalContact")
    }

    #[test]
    fn contact_prefers_e164_and_lowercases_the_type() {
        let c = contact(external_contact(json!({
            "id": "ext-1", "firstName": "Zoë", "lastName": "Fischer",
            "workEmail": "zoe@example.com",
            "cellPhone": {"display": "+49 151 2345678", "e164": "+491512345678"},
            "type": "Curated",
            "customFields": {"loyalty_level": "VIP", "marketing_consent": true},
            "mergeSet": [{"id": "ext-1"}, {"id": "ext-0"}, {"id": "ext-0"}]
        })));
        assert_eq!(c.id, "ext-1");
        assert_eq!(c.full_name().as_deref(), Some("Zoë Fischer"));
        assert_eq!(c.email(), Some("zoe@example.com"));
        assert_eq!(c.cell_phone.as_deref(), Some("+491512345678"));
        assert_eq!(c.contact_type.as_deref(), Some("curated"));
        assert_eq!(c.custom_fields.get("loyalty_level"), Some(&json!("VIP")));
        assert_eq!(c.custom_fields.get("marketing_consent"), Some(&json!(true)));
        assert_eq!(c.merge_set, vec!["ext-1".to_owned(), "ext-0".to_owned()]);
    }

    #[test]
    fn contact_phone_falls_back_to_display_and_empty_parts_are_absent() {
        let c = contact(external_contact(json!({
            "id": "ext-2", "firstName": "", "cellPhone": {"display": "+1 (212) 555-0134"}
        })));
        assert_eq!(c.cell_phone.as_deref(), Some("+1 (212) 555-0134"));
        assert_eq!(c.first_name, None);
        assert_eq!(c.full_name(), None);
        assert!(c.custom_fields.is_empty());
        assert!(c.merge_set.is_empty());

        let bare = contact(external_contact(json!({"id": "ext-3"})));
        assert_eq!(bare.cell_phone, None);
        assert_eq!(bare.contact_type, None);
    }

    #[test]
    fn customer_ids_include_the_merge_set_once() {
        let c = contact(external_contact(json!({
            "id": "ext-1", "mergeSet": [{"id": "ext-1"}, {"id": "ext-0"}, {"id": "ext-9"}]
        })));
        assert_eq!(customer_ids("ext-1", Some(&c)), vec!["ext-1", "ext-0", "ext-9"]);
        assert_eq!(customer_ids("ext-1", None), vec!["ext-1"]);
    }

    #[test]
    fn wrapup_names_map_ids() {
        let names = wrapup_names(&[
            WrapupCode { id: "w-1".into(), name: "Sale".into() },
            WrapupCode { id: "w-2".into(), name: "Billing - Unresolved".into() },
        ]);
        assert_eq!(names.get("w-2").map(String::as_str), Some("Billing - Unresolved"));
        assert_eq!(names.len(), 2);
    }

    /// An ended conversation of `contact` with an agent wrap-up.
    fn past(id: &str, contact: &str, start: &str, end: Option<&str>, wrap: Option<&str>) -> serde_json::Value {
        // A `null` wrapUpCode reads as absent.
        let mut v = json!({
            "conversationId": id,
            "conversationStart": start,
            "originatingDirection": "inbound",
            "participants": [
                {"purpose": "customer", "externalContactId": contact,
                 "sessions": [{"mediaType": "message", "messageType": "webmessaging",
                               "segments": [{"segmentStart": start, "segmentType": "interact"}]}]},
                {"purpose": "acd",
                 "sessions": [{"mediaType": "message", "segments": [{"segmentStart": start, "queueId": "q-billing"}]}]},
                {"purpose": "agent", "userId": "u-1",
                 "sessions": [{"mediaType": "message", "segments": [
                     {"segmentStart": start, "segmentType": "interact", "queueId": "q-billing"},
                     {"segmentStart": start, "segmentType": "wrapup", "wrapUpCode": wrap}]}]}
            ]
        });
        if let Some(end) = end {
            v["conversationEnd"] = json!(end);
        }
        v
    }

    fn names() -> HashMap<String, String> {
        wrapup_names(&[
            WrapupCode { id: "w-sale".into(), name: "Sale".into() },
            WrapupCode { id: "w-bu".into(), name: "Billing - Unresolved".into() },
        ])
    }

    #[test]
    fn history_filters_dedups_and_sorts_newest_first() {
        let convs: Vec<AnalyticsConversation> = [
            past("h-1", "ext-1", "2026-11-01T10:00:00Z", Some("2026-11-01T10:20:00Z"), Some("w-sale")),
            past("h-2", "ext-1", "2026-11-20T09:00:00Z", Some("2026-11-20T09:30:00Z"), Some("w-bu")),
            // Overlapping analytics pages: the same conversation twice.
            past("h-2", "ext-1", "2026-11-20T09:00:00Z", Some("2026-11-20T09:30:00Z"), Some("w-bu")),
            // Still open: not history.
            past("h-3", "ext-1", "2026-11-23T09:00:00Z", None, None),
            // Somebody else.
            past("h-4", "ext-2", "2026-11-22T09:00:00Z", Some("2026-11-22T09:05:00Z"), Some("w-sale")),
            // The current conversation itself.
            past("c-now", "ext-1", "2026-11-24T11:00:00Z", Some("2026-11-24T11:01:00Z"), None),
        ]
        .into_iter()
        .map(analytics)
        .collect();
        let h = history(&convs, &ids(&["ext-1"]), "c-now", &names());
        let got: Vec<&str> = h.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(got, vec!["h-2", "h-1"]);
        let last = &h[0];
        assert_eq!(last.wrap_up.as_deref(), Some("Billing - Unresolved"));
        assert_eq!(last.wrap_up_id.as_deref(), Some("w-bu"));
        assert_eq!(last.queue_id.as_deref(), Some("q-billing"));
        assert_eq!(last.media_type.as_deref(), Some("message"));
        assert_eq!(last.message_type.as_deref(), Some("webmessaging"));
        assert_eq!(last.direction.as_deref(), Some("inbound"));
        assert_eq!(last.started, ts("2026-11-20T09:00:00Z"));
        assert_eq!(last.ended, ts("2026-11-20T09:30:00Z"));
    }

    #[test]
    fn history_of_a_merged_contact_spans_its_merge_set() {
        let convs: Vec<AnalyticsConversation> = [
            past("h-new", "ext-1", "2026-11-01T10:00:00Z", Some("2026-11-01T10:20:00Z"), Some("w-sale")),
            past("h-old", "ext-0", "2026-11-10T10:00:00Z", Some("2026-11-10T10:20:00Z"), Some("w-bu")),
        ]
        .into_iter()
        .map(analytics)
        .collect();
        let c = contact(external_contact(json!({"id": "ext-1", "mergeSet": [{"id": "ext-1"}, {"id": "ext-0"}]})));
        let set: HashSet<String> = customer_ids("ext-1", Some(&c)).into_iter().collect();
        let h = history(&convs, &set, "c-now", &names());
        let got: Vec<&str> = h.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(got, vec!["h-old", "h-new"]);
        // Without the merge set only the canonical id's conversation counts.
        assert_eq!(history(&convs, &ids(&["ext-1"]), "c-now", &names()).len(), 1);
    }

    #[test]
    fn unknown_wrap_up_id_falls_back_to_the_id() {
        let convs = vec![analytics(past(
            "h-1",
            "ext-1",
            "2026-11-01T10:00:00Z",
            Some("2026-11-01T10:20:00Z"),
            Some("deleted-code"),
        ))];
        let h = history(&convs, &ids(&["ext-1"]), "c-now", &names());
        assert_eq!(h[0].wrap_up.as_deref(), Some("deleted-code"));
        assert_eq!(h[0].wrap_up_id.as_deref(), Some("deleted-code"));
    }

    #[test]
    fn no_wrap_up_when_no_agent_wrapped_up() {
        let convs = vec![analytics(past("h-1", "ext-1", "2026-11-01T10:00:00Z", Some("2026-11-01T10:20:00Z"), None))];
        let h = history(&convs, &ids(&["ext-1"]), "c-now", &names());
        assert_eq!(h[0].wrap_up, None);
        assert_eq!(h[0].wrap_up_id, None);
    }

    #[test]
    fn the_latest_agent_wrap_up_wins_after_a_transfer() {
        let mut v = past("h-1", "ext-1", "2026-11-01T10:00:00Z", Some("2026-11-01T10:40:00Z"), Some("w-bu"));
        let second_agent = json!({"purpose": "agent", "userId": "u-2", "sessions": [{"mediaType": "message", "segments": [
            {"segmentStart": "2026-11-01T10:20:00Z", "segmentType": "interact", "queueId": "q-sales"},
            {"segmentStart": "2026-11-01T10:35:00Z", "segmentType": "wrapup", "wrapUpCode": "w-sale"}]}]});
        // Listed first, but its wrap-up is the later one.
        if let Some(ps) = v["participants"].as_array_mut() {
            ps.insert(1, second_agent);
        }
        let h = history(&[analytics(v)], &ids(&["ext-1"]), "c-now", &names());
        assert_eq!(h[0].wrap_up.as_deref(), Some("Sale"));
    }

    #[test]
    fn unparseable_times_in_history() {
        let convs: Vec<AnalyticsConversation> = [
            // The end cannot be placed in any window: left out.
            past("h-bad-end", "ext-1", "2026-11-01T10:00:00Z", Some("yesterday"), Some("w-sale")),
            // The start is bad but the end is good: kept, starting when it ended.
            past("h-bad-start", "ext-1", "not a time", Some("2026-11-02T10:00:00Z"), Some("w-bu")),
        ]
        .into_iter()
        .map(analytics)
        .collect();
        let h = history(&convs, &ids(&["ext-1"]), "c-now", &names());
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].id, "h-bad-start");
        assert_eq!(h[0].started, h[0].ended);
    }

    #[test]
    fn history_needs_a_customer_participant() {
        let mut v = past("h-1", "ext-1", "2026-11-01T10:00:00Z", Some("2026-11-01T10:20:00Z"), Some("w-sale"));
        // The contact id on an agent (not the customer) does not make it the customer's.
        v["participants"][0]["purpose"] = json!("external");
        assert!(history(&[analytics(v)], &ids(&["ext-1"]), "c-now", &names()).is_empty());
    }

    #[test]
    fn history_of_other_media() {
        let v = json!({
            "conversationId": "h-voice", "conversationStart": "2026-10-01T08:00:00Z",
            "conversationEnd": "2026-10-01T08:12:00Z", "originatingDirection": "outbound",
            "participants": [{"purpose": "customer", "externalContactId": "ext-1",
                              "sessions": [{"mediaType": "voice", "direction": "outbound"}]}]
        });
        let h = history(&[analytics(v)], &ids(&["ext-1"]), "c-now", &names());
        assert_eq!(h[0].media_type.as_deref(), Some("voice"));
        assert_eq!(h[0].message_type, None);
        assert_eq!(h[0].direction.as_deref(), Some("outbound"));
        assert_eq!(h[0].queue_id, None);
    }
}
