//! The field table: every dotted path a campaign may use, its type, and which part of the data it
//! needs. One table serves the loader (path checks and "did you mean"), the evaluator (values),
//! the template context (the same model) and the live client (what to fetch).

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::{Candidate, PastConversation, Value};

/// The type of a field's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Number,
    Time,
    Duration,
    TextList,
    /// Contact custom fields and JSONPath results: the type is only known at run time.
    Any,
    /// A list of past conversations: templates only, not usable in a condition.
    Conversations,
}

impl Kind {
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Number => "a number",
            Kind::Time => "a date-time",
            Kind::Duration => "a duration",
            Kind::TextList => "a list of texts",
            Kind::Any => "any value",
            Kind::Conversations => "a list of conversations",
        }
    }
}

/// Which part of a candidate's data a field needs. Ordered by cost to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Needs {
    /// The analytics query already has it.
    Session,
    /// Conversation details (participant attributes).
    Details,
    /// The external contact.
    Contact,
    /// Previous conversations.
    History,
}

impl Needs {
    pub fn describe(self) -> &'static str {
        match self {
            Needs::Session => "session data",
            Needs::Details => "conversation details",
            Needs::Contact => "the external contact",
            Needs::History => "the customer's history",
        }
    }
}

/// Where a path is looked up: the live session, or one past conversation (history `where:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Session,
    PastConversation,
}

/// One entry of the field table. A `map` entry's path ends in `.*`: any key below it is allowed.
#[derive(Debug)]
pub struct FieldSpec {
    pub path: &'static str,
    pub kind: Kind,
    pub needs: Needs,
    pub doc: &'static str,
}

impl FieldSpec {
    pub fn is_map(&self) -> bool {
        self.path.ends_with(".*")
    }
    fn prefix(&self) -> &'static str {
        self.path.trim_end_matches(".*")
    }
}

macro_rules! field {
    ($path:literal, $kind:ident, $needs:ident, $doc:literal) => {
        FieldSpec { path: $path, kind: Kind::$kind, needs: Needs::$needs, doc: $doc }
    };
}

/// Fields of a live session and its customer.
pub static SESSION_FIELDS: &[FieldSpec] = &[
    field!("customer.id", Text, Session, "The customer's external contact id."),
    field!("customer.name", Text, Session, "The customer's display name in the conversation."),
    field!("customer.attributes.*", Text, Details, "A participant attribute set by the Messenger or the flow, e.g. customer.attributes.tier."),
    field!("customer.locale", Text, Details, "The customer's locale, e.g. en-us."),
    field!("customer.contact.id", Text, Contact, "The external contact's id."),
    field!("customer.contact.first_name", Text, Contact, "The contact's first name."),
    field!("customer.contact.last_name", Text, Contact, "The contact's last name."),
    field!("customer.contact.name", Text, Contact, "First and last name together."),
    field!("customer.contact.email", Text, Contact, "The work email, else the personal email."),
    field!("customer.contact.work_email", Text, Contact, "The contact's work email."),
    field!("customer.contact.personal_email", Text, Contact, "The contact's personal email."),
    field!("customer.contact.phone", Text, Contact, "The contact's mobile phone number."),
    field!("customer.contact.type", Text, Contact, "ephemeral, identified or curated."),
    field!("customer.contact.custom_fields.*", Any, Contact, "A custom field of the contact's schema, e.g. customer.contact.custom_fields.loyalty_level."),
    field!("session.id", Text, Session, "The conversation id."),
    field!("session.started", Time, Session, "When the conversation started."),
    field!("session.age", Duration, Session, "How long ago the conversation started."),
    field!("session.direction", Text, Session, "inbound or outbound."),
    field!("session.message_type", Text, Session, "The messaging channel, e.g. webmessaging."),
    field!("session.queue_id", Text, Session, "The id of the queue the conversation was routed to."),
    field!("session.queue", Text, Details, "The name of the queue the conversation was routed to."),
    field!("session.division_ids", TextList, Session, "The divisions the conversation belongs to."),
    field!("session.external_tag", Text, Session, "The conversation's external tag."),
    field!("history.count", Number, History, "How many previous conversations ended within the look-back window."),
    field!("history.last.started", Time, History, "When the most recent previous conversation started."),
    field!("history.last.ended", Time, History, "When the most recent previous conversation ended."),
    field!("history.last.wrap_up", Text, History, "The wrap-up code of the most recent previous conversation."),
    field!("history.last.queue_id", Text, History, "The queue id of the most recent previous conversation."),
    field!("history.last.media_type", Text, History, "The media type of the most recent previous conversation."),
    field!("history.last.message_type", Text, History, "The message type of the most recent previous conversation."),
    field!("history.wrap_ups", TextList, History, "The wrap-up codes of all previous conversations in the window."),
    field!("history.queue_ids", TextList, History, "The queue ids of all previous conversations in the window."),
    field!("history.message_types", TextList, History, "The message types of all previous conversations in the window."),
    field!("history.conversations", Conversations, History, "Every previous conversation in the window, newest first (templates only)."),
];

/// Fields of one previous conversation, for `history` conditions with `where:`.
pub static PAST_FIELDS: &[FieldSpec] = &[
    field!("wrap_up", Text, History, "The wrap-up code's name."),
    field!("wrap_up_id", Text, History, "The wrap-up code's id."),
    field!("queue_id", Text, History, "The queue id."),
    field!("media_type", Text, History, "message, voice, email, ..."),
    field!("message_type", Text, History, "webmessaging, sms, whatsapp, ..."),
    field!("direction", Text, History, "inbound or outbound."),
    field!("started", Time, History, "When it started."),
    field!("ended", Time, History, "When it ended."),
    field!("duration", Duration, History, "How long it lasted."),
];

/// Names that templates may use besides the field table.
pub static TEMPLATE_EXTRAS: &[(&str, &str)] = &[
    ("campaign.name", "The campaign's name."),
    ("campaign.description", "The campaign's description."),
    ("campaign.priority", "The campaign's priority."),
    ("now", "The time of the run (ISO 8601, UTC)."),
];

pub fn table(scope: Scope) -> &'static [FieldSpec] {
    match scope {
        Scope::Session => SESSION_FIELDS,
        Scope::PastConversation => PAST_FIELDS,
    }
}

/// A path resolved against the table: the entry, and the key below a map entry.
#[derive(Debug, Clone)]
pub struct FieldRef {
    pub spec: &'static FieldSpec,
    pub key: Option<String>,
    /// The path as written.
    pub text: String,
}

/// Why a path is not in the table.
#[derive(Debug, Clone, PartialEq)]
pub struct UnknownField {
    /// The closest known path, when one is close enough to be a typo.
    pub suggestion: Option<String>,
}

/// Looks a dotted path up in the table of `scope`.
pub fn lookup(scope: Scope, path: &str) -> Result<FieldRef, UnknownField> {
    let table = table(scope);
    for spec in table {
        if spec.is_map() {
            let prefix = spec.prefix();
            if let Some(key) = path.strip_prefix(prefix).and_then(|rest| rest.strip_prefix('.')) {
                if !key.is_empty() {
                    return Ok(FieldRef { spec, key: Some(key.to_owned()), text: path.to_owned() });
                }
            }
        } else if spec.path == path {
            return Ok(FieldRef { spec, key: None, text: path.to_owned() });
        }
    }
    Err(UnknownField { suggestion: suggest(path, table.iter().map(|s| s.path)) })
}

/// The closest candidate to `word` (Jaro-Winkler), when close enough to be a typo.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c.replace(".*", ".<name>"))
}

/// The result of resolving a field: a value, or "not loaded yet".
#[derive(Debug, Clone, PartialEq)]
pub enum Resolved {
    Value(Value),
    Unknown(Needs),
}

/// A candidate as one campaign sees it: the history narrowed to the campaign's look-back window.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    pub candidate: &'a Candidate,
    /// The previous conversations in the campaign's window, newest first; `None` if not loaded.
    pub history: Option<&'a [PastConversation]>,
    pub now: Timestamp,
}

impl<'a> View<'a> {
    /// Narrows the candidate's loaded history to conversations that ended after `since`.
    pub fn new(candidate: &'a Candidate, since: Timestamp, now: Timestamp) -> View<'a> {
        let history = candidate.history.as_deref().map(|all| {
            // `all` is newest first: the window is a prefix.
            let end = all.iter().position(|c| c.ended < since).unwrap_or(all.len());
            &all[..end]
        });
        View { candidate, history, now }
    }

    /// The value of a session-scope field.
    pub fn resolve(&self, field: &FieldRef) -> Resolved {
        let c = self.candidate;
        let s = &c.session;
        let text = |v: &Option<String>| Value::from_opt_text(v.as_deref());
        let value = match field.spec.needs {
            Needs::Session => match field.spec.path {
                "customer.id" => text(&s.external_contact_id),
                "customer.name" => text(&s.customer_name),
                "session.id" => Value::Text(s.id.clone()),
                "session.started" => Value::Time(s.started),
                "session.age" => Value::Duration(self.now.duration_since(s.started)),
                "session.direction" => text(&s.direction),
                "session.message_type" => text(&s.message_type),
                "session.queue_id" => text(&s.queue_id),
                "session.division_ids" => Value::List(s.division_ids.iter().cloned().map(Value::Text).collect()),
                "session.external_tag" => text(&s.external_tag),
                other => unreachable!("session field {other} has no resolver"),
            },
            Needs::Details => {
                let Some(d) = &c.details else { return Resolved::Unknown(Needs::Details) };
                match field.spec.path {
                    "customer.attributes.*" => {
                        Value::from_opt_text(field.key.as_deref().and_then(|k| d.attributes.get(k)).map(String::as_str))
                    }
                    "customer.locale" => text(&d.locale),
                    "session.queue" => text(&d.queue_name),
                    other => unreachable!("details field {other} has no resolver"),
                }
            }
            Needs::Contact => {
                let Some(contact) = &c.contact else { return Resolved::Unknown(Needs::Contact) };
                let Some(k) = contact else { return Resolved::Value(Value::Missing) };
                match field.spec.path {
                    "customer.contact.id" => Value::Text(k.id.clone()),
                    "customer.contact.first_name" => text(&k.first_name),
                    "customer.contact.last_name" => text(&k.last_name),
                    "customer.contact.name" => Value::from_opt_text(k.full_name().as_deref()),
                    "customer.contact.email" => Value::from_opt_text(k.email()),
                    "customer.contact.work_email" => text(&k.work_email),
                    "customer.contact.personal_email" => text(&k.personal_email),
                    "customer.contact.phone" => text(&k.cell_phone),
                    "customer.contact.type" => text(&k.contact_type),
                    "customer.contact.custom_fields.*" => field
                        .key
                        .as_deref()
                        .and_then(|key| k.custom_fields.get(key))
                        .map_or(Value::Missing, Value::from_json),
                    other => unreachable!("contact field {other} has no resolver"),
                }
            }
            Needs::History => {
                let Some(h) = self.history else { return Resolved::Unknown(Needs::History) };
                let last = h.first();
                let list = |f: fn(&PastConversation) -> Option<&String>| {
                    Value::List(h.iter().filter_map(f).cloned().map(Value::Text).collect())
                };
                match field.spec.path {
                    "history.count" => Value::Number(h.len() as f64),
                    "history.wrap_ups" => list(|p| p.wrap_up.as_ref()),
                    "history.queue_ids" => list(|p| p.queue_id.as_ref()),
                    "history.message_types" => list(|p| p.message_type.as_ref()),
                    "history.conversations" => Value::Missing,
                    path => match (path.strip_prefix("history.last."), last) {
                        (Some(_), None) => Value::Missing,
                        (Some(sub), Some(p)) => resolve_past(p, sub),
                        (None, _) => unreachable!("history field {path} has no resolver"),
                    },
                }
            }
        };
        Resolved::Value(value)
    }
}

/// The value of a past-conversation field (`wrap_up`, `started`, ...).
pub fn resolve_past(p: &PastConversation, path: &str) -> Value {
    let text = |v: &Option<String>| Value::from_opt_text(v.as_deref());
    match path {
        "wrap_up" => text(&p.wrap_up),
        "wrap_up_id" => text(&p.wrap_up_id),
        "queue_id" => text(&p.queue_id),
        "media_type" => text(&p.media_type),
        "message_type" => text(&p.message_type),
        "direction" => text(&p.direction),
        "started" => Value::Time(p.started),
        "ended" => Value::Time(p.ended),
        "duration" => Value::Duration(p.ended.duration_since(p.started)),
        other => unreachable!("past-conversation field {other} has no resolver"),
    }
}

/// The template context: the same model the filters see, as nested maps. Values that are
/// missing are left out, so that a template using them fails (strict undefined) unless it says
/// `default(...)`. Parts that are not loaded are left out too.
pub fn template_context(view: &View<'_>) -> BTreeMap<String, serde_json::Value> {
    let mut root = serde_json::Map::new();
    for spec in SESSION_FIELDS {
        let parts: Vec<&str> = spec.path.trim_end_matches(".*").split('.').collect();
        let value = if spec.is_map() {
            map_value(view, spec)
        } else if spec.kind == Kind::Conversations {
            view.history.map(|h| serde_json::Value::Array(h.iter().map(past_json).collect()))
        } else {
            match view.resolve(&FieldRef { spec, key: None, text: spec.path.to_owned() }) {
                Resolved::Value(v) => to_json(&v),
                Resolved::Unknown(_) => None,
            }
        };
        // Parents exist even when their leaves are missing (`customer.contact` is a map).
        let mut node = &mut root;
        let loaded = match spec.needs {
            Needs::Session => true,
            Needs::Details => view.candidate.details.is_some(),
            Needs::Contact => matches!(view.candidate.contact, Some(Some(_))),
            Needs::History => view.history.is_some(),
        };
        if !loaded {
            continue;
        }
        let (leaf, parents) = parts.split_last().expect("paths are not empty");
        let mut skip = false;
        for part in parents {
            if *part == "last" && view.history.is_some_and(<[_]>::is_empty) {
                skip = true;
                break;
            }
            node = node
                .entry(part.to_string())
                .or_insert_with(|| serde_json::Value::Object(Default::default()))
                .as_object_mut()
                .expect("parents are maps");
        }
        if let (false, Some(v)) = (skip, value) {
            node.insert(leaf.to_string(), v);
        }
    }
    root.into_iter().collect()
}

fn map_value(view: &View<'_>, spec: &FieldSpec) -> Option<serde_json::Value> {
    let c = view.candidate;
    match spec.path {
        "customer.attributes.*" => c.details.as_ref().map(|d| serde_json::to_value(&d.attributes).expect("strings")),
        "customer.contact.custom_fields.*" => match &c.contact {
            Some(Some(k)) => Some(serde_json::Value::Object(k.custom_fields.clone().into_iter().collect())),
            _ => None,
        },
        other => unreachable!("map field {other} has no template value"),
    }
}

fn past_json(p: &PastConversation) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    for spec in PAST_FIELDS {
        if let Some(v) = to_json(&resolve_past(p, spec.path)) {
            m.insert(spec.path.to_owned(), v);
        }
    }
    m.insert("id".to_owned(), serde_json::Value::String(p.id.clone()));
    serde_json::Value::Object(m)
}

/// A value as templates see it: times as ISO 8601 text, durations as "2d 3h".
pub fn to_json(v: &Value) -> Option<serde_json::Value> {
    Some(match v {
        Value::Missing => return None,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Number(n) if n.fract() == 0.0 => serde_json::Value::from(*n as i64),
        Value::Number(n) => serde_json::Value::from(*n),
        Value::Text(s) => serde_json::Value::String(s.clone()),
        Value::Time(t) => serde_json::Value::String(t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()),
        Value::Duration(d) => serde_json::Value::String(crate::campaign::duration::format(*d)),
        Value::List(items) => serde_json::Value::Array(items.iter().filter_map(to_json).collect()),
    })
}

/// Whether a template variable path (as minijinja reports it, e.g. `customer.contact.first_name`)
/// names something in the model. Returns the closest known name when it does not.
pub fn check_template_path(path: &str) -> Result<(), Option<String>> {
    let known = SESSION_FIELDS.iter().map(|s| s.path).chain(TEMPLATE_EXTRAS.iter().map(|(p, _)| *p));
    let mut all: Vec<&str> = Vec::new();
    for k in known {
        let prefix = k.trim_end_matches(".*");
        if k.ends_with(".*") {
            // Any key below a map, and the map itself.
            if path == prefix || path.starts_with(&format!("{prefix}.")) {
                return Ok(());
            }
        } else if k == path || path.starts_with(&format!("{k}.")) {
            // `history.conversations.0.wrap_up` and the like.
            return Ok(());
        }
        // A parent of a known path (`customer.contact`, `history.last`) is a map.
        if k.starts_with(&format!("{path}.")) {
            return Ok(());
        }
        all.push(k);
    }
    Err(suggest(path, all))
}
