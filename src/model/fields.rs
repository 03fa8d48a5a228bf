//! The field table: every dotted path a campaign may use, its type, and which part of the data it
//! needs. One table serves the loader (path checks and "did you mean"), the evaluator (values),
//! the template context (the same model) and the live client (what to fetch).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::OnceLock;

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
    /// Every part, cheapest first.
    pub const ALL: [Needs; 4] = [Needs::Session, Needs::Details, Needs::Contact, Needs::History];

    pub fn describe(self) -> &'static str {
        match self {
            Needs::Session => "session data",
            Needs::Details => "conversation details",
            Needs::Contact => "the external contact",
            Needs::History => "the customer's history",
        }
    }
}

/// A set of [`Needs`] (a bitset): e.g. what a candidate still has to load.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct NeedsSet(u8);

impl NeedsSet {
    pub const EMPTY: NeedsSet = NeedsSet(0);

    fn bit(n: Needs) -> u8 {
        1 << n as u8
    }

    pub fn contains(&self, n: &Needs) -> bool {
        self.0 & Self::bit(*n) != 0
    }

    pub fn insert(&mut self, n: Needs) {
        self.0 |= Self::bit(n);
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn union(self, other: NeedsSet) -> NeedsSet {
        NeedsSet(self.0 | other.0)
    }

    pub fn intersection(self, other: NeedsSet) -> NeedsSet {
        NeedsSet(self.0 & other.0)
    }

    /// The parts of `self` that are not in `other`.
    pub fn difference(self, other: NeedsSet) -> NeedsSet {
        NeedsSet(self.0 & !other.0)
    }

    /// The parts, cheapest first.
    pub fn iter(self) -> impl Iterator<Item = Needs> {
        Needs::ALL.into_iter().filter(move |n| self.contains(n))
    }
}

impl FromIterator<Needs> for NeedsSet {
    fn from_iter<I: IntoIterator<Item = Needs>>(iter: I) -> NeedsSet {
        let mut set = NeedsSet::EMPTY;
        for n in iter {
            set.insert(n);
        }
        set
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
    /// The path without the `.*` of a map entry.
    pub fn prefix(&self) -> &'static str {
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
    field!(
        "customer.attributes.*",
        Text,
        Details,
        "A participant attribute set by the Messenger or the flow, e.g. customer.attributes.tier."
    ),
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
    field!(
        "customer.contact.custom_fields.*",
        Any,
        Contact,
        "A custom field of the contact's schema, e.g. customer.contact.custom_fields.loyalty_level."
    ),
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
    field!(
        "history.message_types",
        TextList,
        History,
        "The message types of all previous conversations in the window."
    ),
    field!(
        "history.conversations",
        Conversations,
        History,
        "Every previous conversation in the window, newest first (templates only)."
    ),
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
pub enum Resolved<'a> {
    Value(Value<'a>),
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
    pub fn resolve(&self, field: &FieldRef) -> Resolved<'a> {
        self.resolve_spec(field.spec, field.key.as_deref())
    }

    /// The value of a table entry (`key`: the key below a map entry).
    fn resolve_spec(&self, spec: &FieldSpec, key: Option<&str>) -> Resolved<'a> {
        let c = self.candidate;
        let s = &c.session;
        let value = match spec.needs {
            Needs::Session => match spec.path {
                "customer.id" => text(&s.external_contact_id),
                "customer.name" => text(&s.customer_name),
                "session.id" => Value::Text(Cow::Borrowed(&s.id)),
                "session.started" => Value::Time(s.started),
                "session.age" => Value::Duration(self.now.duration_since(s.started)),
                "session.direction" => text(&s.direction),
                "session.message_type" => text(&s.message_type),
                "session.queue_id" => text(&s.queue_id),
                "session.division_ids" => {
                    Value::List(s.division_ids.iter().map(|d| Value::Text(Cow::Borrowed(d))).collect())
                }
                "session.external_tag" => text(&s.external_tag),
                other => unreachable!("session field {other} has no resolver"),
            },
            Needs::Details => {
                let Some(d) = &c.details else { return Resolved::Unknown(Needs::Details) };
                match spec.path {
                    "customer.attributes.*" => {
                        Value::from_opt_text(key.and_then(|k| d.attributes.get(k)).map(|v| &**v))
                    }
                    "customer.locale" => text(&d.locale),
                    "session.queue" => text(&d.queue_name),
                    other => unreachable!("details field {other} has no resolver"),
                }
            }
            Needs::Contact => {
                let Some(contact) = &c.contact else { return Resolved::Unknown(Needs::Contact) };
                let Some(k) = contact else { return Resolved::Value(Value::Missing) };
                match spec.path {
                    "customer.contact.id" => Value::Text(Cow::Borrowed(&k.id)),
                    "customer.contact.first_name" => text(&k.first_name),
                    "customer.contact.last_name" => text(&k.last_name),
                    "customer.contact.name" => Value::from_opt_string(k.full_name()),
                    "customer.contact.email" => Value::from_opt_text(k.email()),
                    "customer.contact.work_email" => text(&k.work_email),
                    "customer.contact.personal_email" => text(&k.personal_email),
                    "customer.contact.phone" => text(&k.cell_phone),
                    "customer.contact.type" => text(&k.contact_type),
                    "customer.contact.custom_fields.*" => {
                        key.and_then(|key| k.custom_fields.get(key)).map_or(Value::Missing, Value::from_json)
                    }
                    other => unreachable!("contact field {other} has no resolver"),
                }
            }
            Needs::History => {
                let Some(h) = self.history else { return Resolved::Unknown(Needs::History) };
                let last = h.first();
                let list = |f: fn(&PastConversation) -> Option<&str>| {
                    Value::List(h.iter().filter_map(f).map(|t| Value::Text(Cow::Borrowed(t))).collect())
                };
                match spec.path {
                    "history.count" => Value::Number(h.len() as f64),
                    "history.wrap_ups" => list(|p| p.wrap_up.as_deref()),
                    "history.queue_ids" => list(|p| p.queue_id.as_deref()),
                    "history.message_types" => list(|p| p.message_type.as_deref()),
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

/// An optional text field: `Missing` when absent or blank.
fn text<S: AsRef<str>>(v: &Option<S>) -> Value<'_> {
    Value::from_opt_text(v.as_ref().map(AsRef::as_ref))
}

/// The value of a past-conversation field (`wrap_up`, `started`, ...).
pub fn resolve_past<'a>(p: &'a PastConversation, path: &str) -> Value<'a> {
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

/// The template context of one candidate: the same model the filters see, as nested maps of
/// template values. Values that are missing (or blank) are left out, so that a template using
/// them fails (strict undefined) unless it says `default(...)`. Every map along the way exists,
/// even for a customer without a contact or history, so that
/// `customer.contact.first_name | default("there")` always works.
///
/// Shared by every campaign that renders a message for the candidate, and built as templates
/// need it: a top-level map (`customer`, `session`, `history`) is built the first time a
/// template that may read it is rendered. The maps holding fields that need the history depend
/// on the campaign (its look-back window): they are built once per window.
#[derive(Debug, Default)]
pub struct TemplateContext {
    /// The top-level maps that do not depend on the window, by their place in [`shape`].
    shared: Vec<Option<minijinja::Value>>,
    /// The top-level maps of each window seen so far, by the number of conversations in the
    /// window (`None`: not loaded).
    windows: Vec<(Option<usize>, Vec<Option<minijinja::Value>>)>,
    /// The candidate's previous conversations as templates see them, newest first, as far as a
    /// window needed them (every window is a part of the same list).
    conversations: Vec<minijinja::Value>,
}

/// The top-level maps of the template context a template may read (see
/// `Templates::may_read`): the others are left out of its context, unseen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContextRoots(u64);

impl ContextRoots {
    pub const ALL: ContextRoots = ContextRoots(u64::MAX);

    /// The maps whose name `may_read` accepts.
    pub fn of(may_read: impl Fn(&str) -> bool) -> ContextRoots {
        let names = shape().iter().enumerate();
        ContextRoots(names.filter(|(_, top)| may_read(top.name)).fold(0, |set, (i, _)| set | 1 << i))
    }

    fn contains(self, i: usize) -> bool {
        self.0 & (1 << i) != 0
    }

    /// Whether a map in the set depends on the campaign's history window.
    pub fn per_window(self) -> bool {
        shape().iter().enumerate().any(|(i, top)| top.per_window && self.contains(i))
    }
}

impl TemplateContext {
    pub fn new() -> TemplateContext {
        TemplateContext::default()
    }

    /// The context of a template rendered for `view` (a view of this candidate, through a
    /// campaign's window): the top-level maps in `roots`, and `extras` (`campaign`, `now`).
    pub fn root(
        &mut self,
        view: &View<'_>,
        roots: ContextRoots,
        extras: &[(&'static str, &minijinja::Value)],
    ) -> minijinja::Value {
        let shape = shape();
        let window = view.history.map(<[PastConversation]>::len);
        let mut root = Vec::with_capacity(shape.len() + extras.len());
        for (i, top) in shape.iter().enumerate().filter(|(i, _)| roots.contains(*i)) {
            let maps = if top.per_window {
                let at = match self.windows.iter().position(|(w, _)| *w == window) {
                    Some(at) => at,
                    None => {
                        self.windows.push((window, vec![None; shape.len()]));
                        self.windows.len() - 1
                    }
                };
                &mut self.windows[at].1
            } else {
                if self.shared.is_empty() {
                    self.shared = vec![None; shape.len()];
                }
                &mut self.shared
            };
            let map = maps[i].get_or_insert_with(|| build(&top.entries, view, &mut self.conversations));
            root.push((top.key.clone(), map.clone()));
        }
        for (key, value) in extras {
            root.push((minijinja::Value::from(*key), (*value).clone()));
        }
        map_of(root.into_iter())
    }
}

/// A top-level map of the template context (`customer`, `session`, `history`), as laid out by
/// the field table.
#[derive(Debug)]
struct Top {
    name: &'static str,
    key: minijinja::Value,
    /// Sorted by key.
    entries: Vec<Shape>,
    /// Whether a field in it needs the history (so it depends on the campaign's window).
    per_window: bool,
}

/// An entry of a map of the template context.
#[derive(Debug)]
struct Shape {
    key: minijinja::Value,
    node: ShapeNode,
}

#[derive(Debug)]
enum ShapeNode {
    Field(&'static FieldSpec),
    /// Entries sorted by key.
    Map(Vec<Shape>),
}

/// The top-level maps of the template context, from the session field table, worked out once.
/// Every field's path has a parent: the top level holds maps only.
fn shape() -> &'static [Top] {
    static SHAPE: OnceLock<Vec<Top>> = OnceLock::new();
    SHAPE.get_or_init(|| {
        enum Builder {
            Field(&'static FieldSpec),
            Map(BTreeMap<&'static str, Builder>),
        }
        fn finish(entries: BTreeMap<&'static str, Builder>) -> Vec<Shape> {
            let node = |b| match b {
                Builder::Field(spec) => ShapeNode::Field(spec),
                Builder::Map(m) => ShapeNode::Map(finish(m)),
            };
            entries.into_iter().map(|(key, b)| Shape { key: minijinja::Value::from(key), node: node(b) }).collect()
        }
        fn reads_history(entries: &[Shape]) -> bool {
            entries.iter().any(|e| match &e.node {
                ShapeNode::Field(spec) => spec.needs == Needs::History,
                ShapeNode::Map(inner) => reads_history(inner),
            })
        }
        let mut root = BTreeMap::new();
        for spec in SESSION_FIELDS {
            let mut parts = spec.prefix().split('.');
            let leaf = parts.next_back().expect("paths are not empty");
            let mut node = &mut root;
            for part in parts {
                node = match node.entry(part).or_insert_with(|| Builder::Map(BTreeMap::new())) {
                    Builder::Map(m) => m,
                    Builder::Field(_) => unreachable!("parents are maps"),
                };
            }
            node.insert(leaf, Builder::Field(spec));
        }
        root.into_iter()
            .map(|(name, b)| {
                let Builder::Map(m) = b else { panic!("the field `{name}` has no parent map") };
                let entries = finish(m);
                Top { name, key: minijinja::Value::from(name), per_window: reads_history(&entries), entries }
            })
            .collect()
    })
}

/// A map of the context for `view`. `conversations`: the candidate's previous conversations
/// built so far (see [`TemplateContext`]).
fn build(entries: &[Shape], view: &View<'_>, conversations: &mut Vec<minijinja::Value>) -> minijinja::Value {
    map_of(entries.iter().filter_map(|e| {
        let value = match &e.node {
            ShapeNode::Map(inner) => build(inner, view, conversations),
            ShapeNode::Field(spec) => field_value(spec, view, conversations)?,
        };
        Some((e.key.clone(), value))
    }))
}

/// A field's template value, `None` when missing.
fn field_value(
    spec: &'static FieldSpec,
    view: &View<'_>,
    conversations: &mut Vec<minijinja::Value>,
) -> Option<minijinja::Value> {
    if spec.is_map() {
        Some(map_value(view, spec).unwrap_or_else(|| map_of(std::iter::empty())))
    } else if spec.kind == Kind::Conversations {
        // The window is the start of the candidate's history: built once, then shared.
        let window = view.history.unwrap_or_default();
        let built = conversations.len();
        conversations.extend(window.iter().skip(built).map(past_value));
        Some(minijinja::Value::from_object(conversations[..window.len()].to_vec()))
    } else {
        match view.resolve_spec(spec, None) {
            Resolved::Value(v) => template_value(&v),
            Resolved::Unknown(_) => None,
        }
    }
}

fn map_of(entries: impl Iterator<Item = (minijinja::Value, minijinja::Value)>) -> minijinja::Value {
    let mut entries: Vec<(minijinja::Value, minijinja::Value)> = entries.collect();
    // The callers give their keys sorted and once each; should one not, the map is still a map:
    // sorted, the last of a repeated key kept (as a `BTreeMap` collected from them would be).
    if !entries.is_sorted_by(|a, b| a.0 < b.0) {
        entries.reverse();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries.dedup_by(|later, earlier| later.0 == earlier.0);
    }
    minijinja::Value::from_object(SortedMap(entries))
}

/// A map of the template context: its entries sorted by key, found by binary search. It reads
/// and prints as a `BTreeMap` would (keys in order), without a tree node per entry: every
/// session's context is built anew, and the maps were most of its cost.
#[derive(Debug)]
struct SortedMap(Vec<(minijinja::Value, minijinja::Value)>);

impl minijinja::value::Object for SortedMap {
    fn get_value(self: &std::sync::Arc<Self>, key: &minijinja::Value) -> Option<minijinja::Value> {
        self.0.binary_search_by(|(k, _)| k.cmp(key)).ok().map(|at| self.0[at].1.clone())
    }

    fn enumerate(self: &std::sync::Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::ObjectExt::mapped_rev_key_value_enumerator(self, |this| Box::new(this.0.iter().cloned()))
    }

    fn enumerator_len(self: &std::sync::Arc<Self>) -> Option<usize> {
        Some(self.0.len())
    }
}

/// A map field (attributes, custom fields) without its blank or null entries.
fn map_value(view: &View<'_>, spec: &FieldSpec) -> Option<minijinja::Value> {
    let c = view.candidate;
    let entry = |k: &str, v: Value| Some((minijinja::Value::from(k), template_value(&v)?));
    Some(match spec.path {
        "customer.attributes.*" => {
            let attributes = &c.details.as_ref()?.attributes;
            map_of(attributes.iter().filter_map(|(k, v)| entry(k, Value::from_opt_text(Some(v)))))
        }
        "customer.contact.custom_fields.*" => match &c.contact {
            Some(Some(k)) => map_of(k.custom_fields.iter().filter_map(|(k, v)| entry(k, Value::from_json(v)))),
            _ => return None,
        },
        other => unreachable!("map field {other} has no template value"),
    })
}

fn past_value(p: &PastConversation) -> minijinja::Value {
    /// The entries' keys, sorted, worked out once.
    static KEYS: OnceLock<Vec<(minijinja::Value, Option<&'static str>)>> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        let mut keys: Vec<_> = PAST_FIELDS.iter().map(|spec| (spec.path, Some(spec.path))).collect();
        keys.push(("id", None));
        keys.sort();
        keys.into_iter().map(|(key, path)| (minijinja::Value::from(key), path)).collect()
    });
    map_of(keys.iter().filter_map(|(key, path)| {
        let value = match path {
            Some(path) => template_value(&resolve_past(p, path))?,
            None => minijinja::Value::from(p.id.as_str()),
        };
        Some((key.clone(), value))
    }))
}

/// A value as templates see it: times as ISO 8601 text, durations as "2d 3h". Numbers are typed
/// as JSON would type them (whole numbers as integers, non-finite ones as `none`).
pub fn template_value(v: &Value) -> Option<minijinja::Value> {
    Some(match v {
        Value::Missing => return None,
        Value::Bool(b) => minijinja::Value::from(*b),
        Value::Number(n) if n.fract() == 0.0 => integer(*n as i64),
        Value::Number(n) if n.is_finite() => minijinja::Value::from(*n),
        Value::Number(_) => minijinja::Value::from(()),
        Value::Text(s) => minijinja::Value::from(&**s),
        Value::Time(t) => minijinja::Value::from(t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()),
        Value::Duration(d) => minijinja::Value::from(crate::campaign::duration::format(*d)),
        Value::List(items) => {
            minijinja::Value::from_object(items.iter().filter_map(template_value).collect::<Vec<minijinja::Value>>())
        }
    })
}

/// An integer as templates have always seen it (through JSON): unsigned when not negative.
pub fn integer(n: i64) -> minijinja::Value {
    match u64::try_from(n) {
        Ok(u) => minijinja::Value::from(u),
        Err(_) => minijinja::Value::from(n),
    }
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

#[cfg(test)]
mod tests {
    use jiff::SignedDuration;

    use super::*;
    use crate::engine::eval::tests::{NOW, candidate, ts};
    use crate::engine::render::Templates;

    fn render(templates: &Templates, name: &str, context: &minijinja::Value) -> String {
        templates.render(name, context).unwrap_or_else(|e| format!("error: {e}"))
    }

    /// Every field of the table resolves to its own value (a resolver arm for the wrong path, or
    /// none, shows here).
    #[test]
    fn every_field_resolves_to_its_own_value() {
        // Every field given a value of its own.
        let mut c = candidate();
        c.session.external_tag = Some("tag-1".into());
        c.session.customer_name = Some("Zoë Ö.".into());
        if let Some(Some(contact)) = &mut c.contact {
            contact.id = "contact-1-merged".into();
            contact.work_email = Some("zoe@work.example".into());
            contact.cell_phone = Some("+46701234567".into());
        }
        if let Some(history) = &mut c.history {
            history[0].wrap_up_id = Some("w-billing".into());
            history[0].queue_id = Some("q-billing".into());
            history[0].message_type = Some("sms".into());
            history[0].direction = Some("outbound".into());
        }
        let view = View::new(&c, ts(NOW) - SignedDuration::from_hours(24 * 365), ts(NOW));
        let mut seen = Vec::new();
        for spec in SESSION_FIELDS {
            let key = spec.is_map().then(|| if spec.needs == Needs::Details { "plan" } else { "loyalty_level" });
            let value = match view.resolve_spec(spec, key) {
                Resolved::Value(v) => format!("{v}"),
                Resolved::Unknown(needs) => format!("unknown {needs:?}"),
            };
            seen.push(format!("{} = {value}", spec.path));
        }
        let past = &c.history.as_deref().expect("history")[0];
        for spec in PAST_FIELDS {
            seen.push(format!("{} = {}", spec.path, resolve_past(past, spec.path)));
        }
        insta::assert_snapshot!(seen.join("\n"));
    }

    #[test]
    fn needs_sets() {
        let mut set = NeedsSet::EMPTY;
        assert!(set.is_empty());
        set.insert(Needs::History);
        set.insert(Needs::Details);
        assert!(set.contains(&Needs::Details) && !set.contains(&Needs::Contact));
        assert_eq!(set.iter().collect::<Vec<_>>(), [Needs::Details, Needs::History]);
        let other: NeedsSet = [Needs::Contact, Needs::History].into_iter().collect();
        assert_eq!(set.union(other).iter().count(), 3);
        assert_eq!(set.intersection(other).iter().collect::<Vec<_>>(), [Needs::History]);
        assert_eq!(set.difference(other).iter().collect::<Vec<_>>(), [Needs::Details]);
    }

    #[test]
    fn the_context_holds_every_field_once_and_only_history_per_window() {
        fn fields(entries: &[Shape], out: &mut Vec<&'static str>) {
            for e in entries {
                match &e.node {
                    ShapeNode::Field(spec) => out.push(spec.path),
                    ShapeNode::Map(inner) => fields(inner, out),
                }
            }
        }
        let mut seen = Vec::new();
        for top in shape() {
            fields(&top.entries, &mut seen);
        }
        let mut all: Vec<&str> = SESSION_FIELDS.iter().map(|spec| spec.path).collect();
        seen.sort();
        all.sort();
        assert_eq!(seen, all);
        let tops: Vec<(&str, bool)> = shape().iter().map(|top| (top.name, top.per_window)).collect();
        assert_eq!(tops, [("customer", false), ("history", true), ("session", false)]);
    }

    /// One context serves campaigns with different windows, each seeing its own history.
    #[test]
    fn one_context_serves_every_window() {
        let c = candidate();
        let mut templates = Templates::new();
        templates
            .add(
                "m",
                "{{ history.count }} {{ history.last.wrap_up }} {{ history.conversations | length }} \
                 {{ history.wrap_ups | join(',') }} {{ customer.contact.first_name }} {{ campaign }}",
            )
            .unwrap();
        let view = |days: i64| View::new(&c, ts(NOW) - SignedDuration::from_hours(24 * days), ts(NOW));
        let campaign = minijinja::Value::from("c");
        let mut context = TemplateContext::new();
        let mut seen = Vec::new();
        for days in [7, 90, 365, 7] {
            let root = context.root(&view(days), ContextRoots::ALL, &[("campaign", &campaign)]);
            seen.push(render(&templates, "m", &root));
        }
        assert_eq!(
            seen,
            [
                "1 Billing - Unresolved 1 Billing - Unresolved Zoë c",
                "2 Billing - Unresolved 2 Billing - Unresolved,Sale Zoë c",
                "3 Billing - Unresolved 3 Billing - Unresolved,Sale,Complaint Zoë c",
                "1 Billing - Unresolved 1 Billing - Unresolved Zoë c",
            ]
        );
        assert_eq!(context.windows.len(), 3);
        assert_eq!(context.conversations.len(), 3);
        // The fresh context of each window is the same.
        for days in [7, 90, 365] {
            let fresh = TemplateContext::new().root(&view(days), ContextRoots::ALL, &[("campaign", &campaign)]);
            let shared = context.root(&view(days), ContextRoots::ALL, &[("campaign", &campaign)]);
            assert_eq!(format!("{fresh:?}"), format!("{shared:?}"));
        }
    }

    /// Missing and blank values are left out; the maps on the way are there, empty if need be.
    #[test]
    fn missing_values_are_left_out_and_maps_stay() {
        let mut c = candidate();
        (c.contact, c.history) = (Some(None), None);
        let view = View::new(&c, ts(NOW) - SignedDuration::from_hours(24 * 90), ts(NOW));
        let mut templates = Templates::new();
        let checks = [
            ("{{ customer.contact.first_name | default('there') }}", "there"),
            ("{{ customer.contact.custom_fields | length }}", "0"),
            ("{{ customer.attributes.empty | default('blank') }}", "blank"),
            ("{{ customer.attributes.plan }}", "premium"),
            ("{{ history.count | default('unknown') }} {{ history.conversations | length }}", "unknown 0"),
            ("{{ history.last | length }}", "0"),
            ("{{ session.started }} {{ session.age }}", "2026-11-24T11:30:00Z 30m"),
            ("{{ session.division_ids | join }}", "div-1"),
            ("{{ customer.contact.first_name }}", "error: "),
        ];
        let context = TemplateContext::new().root(&view, ContextRoots::ALL, &[]);
        for (i, (source, expected)) in checks.iter().enumerate() {
            templates.add(&format!("t{i}"), source).unwrap();
            let out = render(&templates, &format!("t{i}"), &context);
            assert!(out.starts_with(expected), "{source}: {out}");
        }
    }

    #[test]
    fn numbers_are_integers_when_whole() {
        let c = candidate();
        let view = View::new(&c, ts(NOW) - SignedDuration::from_hours(24 * 90), ts(NOW));
        let mut templates = Templates::new();
        templates.add("m", "{{ customer.contact.custom_fields.points }} {{ history.count / 2 }}").unwrap();
        let context = TemplateContext::new().root(&view, ContextRoots::ALL, &[]);
        assert_eq!(render(&templates, "m", &context), "1200 1.0");
        assert_eq!(template_value(&Value::Number(-3.0)), Some(minijinja::Value::from(-3i64)));
        assert_eq!(template_value(&Value::Number(2.5)), Some(minijinja::Value::from(2.5)));
        assert_eq!(template_value(&Value::Number(f64::NAN)), Some(minijinja::Value::from(())));
    }

    /// The context's maps read and print as a `BTreeMap` of the same entries does: keys in
    /// order, found by name, a repeated key the last one.
    #[test]
    fn context_maps_read_like_maps() {
        let v = |s: &str| minijinja::Value::from(s);
        let entries = [(v("b"), v("2")), (v("a"), v("1")), (v("c"), v("3")), (v("a"), v("9"))];
        let ours = map_of(entries.clone().into_iter());
        let tree = minijinja::Value::from_object(entries.into_iter().collect::<BTreeMap<_, _>>());
        let env = minijinja::Environment::new();
        let out =
            |t: &str, m: &minijinja::Value| env.render_str(t, minijinja::context! { m => m.clone() }).expect("ok");
        let templates = [
            "{{ m.a }} {{ m['c'] }} {{ m.z is defined }} {{ m|length }}",
            "{% for k, v in m|items %}{{ k }}={{ v }} {% endfor %}",
            "{% for k in m %}{{ k }}{% endfor %} {{ m|list }} {{ 'b' in m }} {{ m }}",
            "{{ m|dictsort(reverse=true) }} {{ m|items|reverse|list }} {{ m == m }}",
        ];
        for t in templates {
            assert_eq!(out(t, &ours), out(t, &tree), "{t}");
        }
        assert_eq!(out(templates[1], &ours), "a=9 b=2 c=3 ");
    }

    /// A template's context holds only the top-level maps it may read.
    #[test]
    fn roots_leave_out_the_maps_a_template_does_not_read() {
        let c = candidate();
        let view = View::new(&c, ts(NOW) - SignedDuration::from_hours(24 * 90), ts(NOW));
        let mut templates = Templates::new();
        templates
            .add("m", "{{ customer.contact.first_name }} {{ session is defined }} {{ history is defined }}")
            .unwrap();
        let roots = ContextRoots::of(|name| name == "customer");
        let mut context = TemplateContext::new();
        assert_eq!(render(&templates, "m", &context.root(&view, roots, &[])), "Zoë False False");
        assert!(context.windows.is_empty(), "no history map was built");
        assert_eq!(render(&templates, "m", &context.root(&view, ContextRoots::ALL, &[])), "Zoë True True");
    }
}
