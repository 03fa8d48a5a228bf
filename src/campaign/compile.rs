//! Raw campaigns to checked [`Campaign`]s: every path, operator, value, regex, JSONPath,
//! duration, cron, time zone and template is parsed here, and every problem of every file is
//! collected as a [`Diagnostic`] located by its key path.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use jiff::SignedDuration;
use yaml_serde::Value;

use super::diagnostic::{Diagnostic, Severity};
use super::duration;
use super::load::{At, SourceFile, choose_help, describe_value};
use super::raw::{
    OPERATORS, RawActiveWindow, RawCampaign, RawCondition, RawConversion, RawCount, RawExpect, RawHad, RawHistory,
    RawHistoryCondition, RawLastContact, RawLimits, RawMessage, RawSchedule, RawTestCase, RawTestContact,
    RawTestConversation, RawTestSession,
};
use super::{
    ActiveWindow, Campaign, CampaignSet, Comparison, Condition, Conversion, Expectation, History, HistoryAttribute,
    HistoryCondition, JsonPathQuery, Limits, Literal, Message, OnceEvery, Operator, Schedule, Subject, Test, TestCase,
    TestContact, TestConversation, TestCustomer, TestSession, WindowZone,
};
use crate::engine::decide::SkipReason;
use crate::engine::render::{INLINE_PREFIX, Templates};
use crate::model::fields::{self, Kind, Needs, Scope};
use crate::model::parse_time;

/// The longest message web messaging takes.
pub const MAX_LENGTH: usize = 2000;
/// How much memory a compiled `matches:` regex may use.
const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// The longest `jsonpath:` query (which also bounds how deeply it can nest).
pub const MAX_JSONPATH_LENGTH: usize = 500;
/// The default `history.look_back`.
const DEFAULT_LOOK_BACK: SignedDuration = SignedDuration::from_hours(30 * 24);
/// How long before `now` a test's session started, unless it says.
const DEFAULT_TEST_SESSION_AGE: SignedDuration = SignedDuration::from_mins(10);
/// How long a test's earlier conversation lasted, unless it says.
const DEFAULT_TEST_CONVERSATION_LENGTH: SignedDuration = SignedDuration::from_mins(10);
/// The skip reasons a campaign test can meet: a test plans one session of one campaign with all
/// its data and without the send journal, so the customer-wide and journal reasons never occur.
pub const TESTABLE_REASONS: &[SkipReason] = &[
    SkipReason::AudienceNotMatched,
    SkipReason::HistoryNotMatched,
    SkipReason::DataMismatch,
    SkipReason::RenderError,
    SkipReason::EmptyMessage,
    SkipReason::MessageTooLong,
];
/// Operators that compare text, and so take `ignore_case`.
const TEXT_OPERATORS: &[&str] =
    &["equals", "not_equals", "in", "not_in", "contains", "starts_with", "ends_with", "matches"];
const DAYS: &[(&str, &str, jiff::civil::Weekday)] = &[
    ("mon", "monday", jiff::civil::Weekday::Monday),
    ("tue", "tuesday", jiff::civil::Weekday::Tuesday),
    ("wed", "wednesday", jiff::civil::Weekday::Wednesday),
    ("thu", "thursday", jiff::civil::Weekday::Thursday),
    ("fri", "friday", jiff::civil::Weekday::Friday),
    ("sat", "saturday", jiff::civil::Weekday::Saturday),
    ("sun", "sunday", jiff::civil::Weekday::Sunday),
];

/// One parsed campaign file: its text and location index, and the raw campaign when it parsed.
#[derive(Debug)]
pub struct Input {
    pub file: SourceFile,
    pub raw: Option<RawCampaign>,
}

/// A file of the templates directory.
#[derive(Debug, Clone)]
pub struct TemplateFile {
    /// The path relative to the templates directory, with `/` separators: the name `template:` uses.
    pub name: String,
    pub path: PathBuf,
    pub text: Arc<str>,
}

/// The templates directory and its files; `files` is `None` when the directory does not exist.
#[derive(Debug, Clone)]
pub struct TemplateFiles {
    pub dir: PathBuf,
    pub files: Option<Vec<TemplateFile>>,
}

/// Compiles every campaign. The set holds the campaigns that compiled; it is only meaningful
/// when no diagnostic is an error.
pub fn compile(inputs: Vec<Input>, template_files: TemplateFiles) -> (CampaignSet, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let mut templates = Templates::new();
    add_template_files(&mut templates, &template_files, &mut diagnostics);
    let mut campaigns = Vec::new();
    for input in &inputs {
        let Some(raw) = &input.raw else { continue };
        let before = diagnostics.len();
        let mut cx = Cx { file: &input.file, diagnostics: &mut diagnostics, templates: &template_files };
        let campaign = cx.campaign(raw, &mut templates);
        // A campaign with problems is left out, so that it adds no misleading warnings.
        let clean = diagnostics.len() == before && !input.file.had_errors();
        campaigns.extend(campaign.filter(|_| clean));
    }
    check_duplicate_names(&inputs, &mut diagnostics);
    warn_same_audience(&inputs, &campaigns, &mut diagnostics);
    campaigns.sort_by(|a, b| b.priority.cmp(&a.priority).then_with(|| a.name.cmp(&b.name)));
    (CampaignSet { campaigns, templates, warnings: Vec::new() }, diagnostics)
}

/// Adds every template file (so that `{% include %}` finds them) and checks its variables.
fn add_template_files(templates: &mut Templates, files: &TemplateFiles, diagnostics: &mut Vec<Diagnostic>) {
    for t in files.files.iter().flatten() {
        let file = SourceFile::plain(t.path.clone(), &t.text);
        match templates.add(&t.name, &t.text) {
            Ok(()) => check_variables(templates, &t.name, &file, 1, &t.text, diagnostics),
            Err(e) => diagnostics.push(template_syntax(&file, 1, &e)),
        }
    }
}

fn template_syntax(file: &SourceFile, first_line: usize, e: &minijinja::Error) -> Diagnostic {
    let detail = e.detail().map_or_else(|| e.kind().to_string(), str::to_owned);
    let at = e.line().and_then(|l| file.line_span(first_line + l - 1, None)).map_or(At::File, At::Span);
    let mut d = file.error("template-syntax", at, format!("the message template has a syntax error: {detail}"));
    d.help =
        Some("variables are written `{{ customer.contact.first_name }}`, blocks `{% if ... %} ... {% endif %}`".into());
    d
}

/// Reports the variables of a template that are not in the model. `first_line` is the line of
/// the file where the template's first line is.
fn check_variables(
    templates: &Templates,
    name: &str,
    file: &SourceFile,
    first_line: usize,
    text: &str,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let variables: BTreeSet<String> = templates.variables(name).into_iter().collect();
    for var in variables {
        let Err(suggestion) = fields::check_template_path(&var) else {
            continue;
        };
        let (line, _) = text.lines().enumerate().find(|(_, l)| l.contains(var.as_str())).unwrap_or((0, ""));
        let at = file.line_span(first_line + line, Some(&var)).map_or(At::File, At::Span);
        let mut d =
            file.error("template-variable", at, format!("the template uses `{var}`, which is not a known value"));
        d.help = Some(match suggestion {
            Some(s) => format!("did you mean `{}`?", fill_map_key(&s, &var)),
            None => "templates can use the fields (e.g. `customer.contact.first_name`), `campaign.name`, `campaign.description`, `campaign.priority` and `now`".into(),
        });
        diagnostics.push(d);
    }
}

/// The parts of the data a template variable needs.
fn template_needs(var: &str) -> impl Iterator<Item = Needs> + '_ {
    fields::SESSION_FIELDS.iter().filter_map(move |spec| {
        let path = spec.path.trim_end_matches(".*");
        let related = var == path || is_below(var, path) || is_below(path, var);
        related.then_some(spec.needs)
    })
}

fn is_below(path: &str, parent: &str) -> bool {
    path.strip_prefix(parent).is_some_and(|rest| rest.starts_with('.'))
}

fn check_duplicate_names(inputs: &[Input], diagnostics: &mut Vec<Diagnostic>) {
    let mut seen: HashMap<&str, &SourceFile> = HashMap::new();
    for input in inputs {
        let Some(name) = input.raw.as_ref().and_then(|r| r.name.as_deref()) else {
            continue;
        };
        match seen.get(name) {
            None => {
                seen.insert(name, &input.file);
            }
            Some(first) => {
                let line = first.line_of("name").unwrap_or(1);
                let mut d = input.file.error(
                    "duplicate-name",
                    At::Value("name"),
                    format!("another campaign is already named `{name}`"),
                );
                d.help = Some(format!(
                    "the first is in {}:{line}; campaign names must be unique, rename one of them",
                    first.path.display()
                ));
                diagnostics.push(d);
            }
        }
    }
}

/// Warns about enabled campaigns that message everyone, and about two enabled campaigns with the
/// same audience and history conditions.
fn warn_same_audience(inputs: &[Input], campaigns: &[Campaign], diagnostics: &mut Vec<Diagnostic>) {
    let files: HashMap<&PathBuf, &SourceFile> = inputs.iter().map(|i| (&i.file.path, &i.file)).collect();
    let mut seen: HashMap<String, &Campaign> = HashMap::new();
    for campaign in campaigns.iter().filter(|c| c.enabled) {
        let Some(file) = files.get(&campaign.file) else {
            continue;
        };
        let Some(audience) = &campaign.audience else {
            if campaign.history.conditions.is_empty() {
                diagnostics.push(warning(
                    file.error(
                        "no-audience",
                        At::Key("name"),
                        "this campaign has no audience and no history conditions: it messages every active session",
                    ),
                    "add an `audience:` to choose who receives it (ignore this warning if everyone should)",
                ));
            }
            continue;
        };
        let key = format!("{} | {}", canonical(audience), canonical_history(&campaign.history));
        match seen.get(&key) {
            None => {
                seen.insert(key, campaign);
            }
            Some(first) => {
                let line = files.get(&first.file).and_then(|f| f.line_of("audience")).unwrap_or(1);
                let message = format!("this campaign has the same audience and history conditions as `{}`", first.name);
                let help = format!(
                    "`{}` is in {}:{line}; customers matching both get only the higher-priority campaign's message",
                    first.name,
                    first.file.display()
                );
                diagnostics.push(warning(file.error("same-audience", At::Key("audience"), message), &help));
            }
        }
    }
}

fn warning(mut d: Diagnostic, help: &str) -> Diagnostic {
    d.severity = Severity::Warning;
    d.help = Some(help.to_owned());
    d
}

fn testable_reason_names() -> Vec<String> {
    TESTABLE_REASONS.iter().map(|r| r.as_str().to_owned()).collect()
}

fn test_contact(raw: &RawTestContact) -> TestContact {
    TestContact {
        first_name: raw.first_name.clone(),
        last_name: raw.last_name.clone(),
        work_email: raw.work_email.clone(),
        personal_email: raw.personal_email.clone(),
        phone: raw.phone.clone(),
        contact_type: raw.contact_type.clone(),
        custom_fields: raw.custom_fields.clone().unwrap_or_default(),
    }
}

/// A form of a condition that is equal for conditions that differ only in the order of items.
fn canonical(c: &Condition) -> String {
    let list = |name: &str, items: &[Condition]| {
        let mut parts: Vec<String> = items.iter().map(canonical).collect();
        parts.sort();
        parts.dedup();
        format!("{name}({})", parts.join(", "))
    };
    match c {
        Condition::All(items) => list("all", items),
        Condition::Any(items) => list("any", items),
        Condition::Not(inner) => format!("not({})", canonical(inner)),
        Condition::Test(t) => t.display.clone(),
    }
}

fn canonical_history(h: &History) -> String {
    if h.conditions.is_empty() {
        return String::new();
    }
    let mut parts: Vec<&str> = h.conditions.iter().map(HistoryCondition::display).collect();
    parts.sort_unstable();
    format!("within {}: {}", duration::format(h.look_back), parts.join(", "))
}

impl HistoryCondition {
    /// The condition as the campaign wrote it: `count at least 1 where wrap_up equals "Sale"`.
    pub fn display(&self) -> &str {
        match self {
            HistoryCondition::Count { display, .. }
            | HistoryCondition::LastContact { display, .. }
            | HistoryCondition::Had { display, .. } => display,
        }
    }
}

/// Compiling one campaign file.
struct Cx<'a> {
    file: &'a SourceFile,
    diagnostics: &'a mut Vec<Diagnostic>,
    templates: &'a TemplateFiles,
}

/// What a test's value is checked against.
struct TestCx<'a> {
    /// The field path or JSONPath, for messages.
    subject: &'a str,
    kind: Kind,
    path: &'a str,
}

impl Cx<'_> {
    fn error(&mut self, code: &'static str, at: At<'_>, message: impl Into<String>, help: impl Into<Option<String>>) {
        let mut d = self.file.error(code, at, message);
        d.help = help.into();
        self.diagnostics.push(d);
    }

    /// Reports a missing key, unless its parent had a wrong node removed (already reported).
    fn missing(&mut self, parent: &str, message: &str, help: &str) {
        if !self.file.had_error_in(parent) {
            let at = if parent.is_empty() { At::File } else { At::Key(parent) };
            self.error("missing-key", at, message, Some(help.to_owned()));
        }
    }

    fn campaign(&mut self, raw: &RawCampaign, templates: &mut Templates) -> Option<Campaign> {
        let name = self.name(raw);
        let mut needs: BTreeSet<Needs> = BTreeSet::new();
        let audience = raw.audience.as_ref().and_then(|a| self.condition(a, "audience", Scope::Session));
        if let Some(a) = &audience {
            condition_needs(a, &mut needs);
        }
        let history = self.history(raw.history.as_ref());
        if !history.conditions.is_empty() {
            needs.insert(Needs::History);
        }
        let limits = raw.limits.as_ref().map(|l| self.limits(l)).unwrap_or_default();
        let schedule = raw.schedule.as_ref().and_then(|s| self.schedule(s));
        let template_name = format!("{INLINE_PREFIX}{}", name.as_deref().unwrap_or("(unnamed)"));
        let message = match &raw.message {
            Some(m) => self.message(m, &template_name, templates),
            None => {
                self.missing(
                    "",
                    "the campaign has no `message:`",
                    "add `message:` with `text: ...` (or `template: file.j2`) below it",
                );
                None
            }
        };
        let tests = self.tests(raw.tests.as_deref().unwrap_or_default());
        let message = message?;
        for var in templates.reachable_variables(&message.template) {
            needs.extend(template_needs(&var));
        }
        Some(Campaign {
            name: name?,
            description: raw.description.clone(),
            enabled: raw.enabled.unwrap_or(true),
            priority: raw.priority.unwrap_or(0),
            file: self.file.path.clone(),
            audience,
            history,
            message,
            limits,
            schedule,
            needs: needs.into_iter().collect(),
            tests,
        })
    }

    fn name(&mut self, raw: &RawCampaign) -> Option<String> {
        let Some(name) = &raw.name else {
            self.missing(
                "",
                "the campaign has no `name:`",
                "add `name: my-campaign` (letters, digits, `-` and `_`) at the top",
            );
            return None;
        };
        let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            let suggestion: String = name
                .to_lowercase()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { ' ' })
                .collect();
            let suggestion = suggestion.split_whitespace().collect::<Vec<_>>().join("-");
            let help = if suggestion.is_empty() {
                "use only letters, digits, `-` and `_`, e.g. `spring-offer`".to_owned()
            } else {
                format!("use only letters, digits, `-` and `_`, e.g. `{suggestion}`")
            };
            self.error("invalid-name", At::Value("name"), format!("`{name}` is not a valid campaign name"), help);
            return None;
        }
        Some(name.clone())
    }

    // --- conditions -------------------------------------------------------------------------

    fn condition(&mut self, raw: &RawCondition, path: &str, scope: Scope) -> Option<Condition> {
        let shapes = raw.shapes();
        match shapes.as_slice() {
            [] => {
                let message = if raw.operators().is_empty() {
                    "this condition is empty"
                } else {
                    "this test has no `field:` or `jsonpath:` to test"
                };
                if !self.file.had_error_in(path) {
                    let help = "a condition has one of `all:`, `any:`, `not:`, or `field:` (or `jsonpath:`) with an operator such as `equals:`";
                    self.error("condition-shape", At::Key(path), message, help.to_owned());
                }
                None
            }
            ["all"] | ["any"] | ["not"] => self.group(raw, shapes[0], path, scope),
            ["field"] | ["jsonpath"] => self.test(raw, path, scope).map(|t| Condition::Test(Box::new(t))),
            several => {
                let listed = several.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(" and ");
                self.error(
                    "condition-shape",
                    At::Key(&format!("{path}.{}", several[1])),
                    format!("a condition has exactly one of `all`, `any`, `not`, `field` or `jsonpath`, but this one has {listed}"),
                    "put each in its own item of an `all:` list".to_owned(),
                );
                None
            }
        }
    }

    fn group(&mut self, raw: &RawCondition, shape: &str, path: &str, scope: Scope) -> Option<Condition> {
        let extra = raw
            .operators()
            .first()
            .map(|(op, _)| *op)
            .or_else(|| raw.ignore_case.map(|_| "ignore_case").or(raw.as_.map(|_| "as")));
        if let Some(extra) = extra {
            self.error(
                "condition-shape",
                At::Key(&format!("{path}.{extra}")),
                format!("`{extra}` belongs to a test with `field:` or `jsonpath:`, not next to `{shape}:`"),
                format!("move it into one of the conditions below `{shape}:`"),
            );
        }
        if shape == "not" {
            let inner = raw.not.as_deref()?;
            return Some(Condition::Not(Box::new(self.condition(inner, &format!("{path}.not"), scope)?)));
        }
        let items = if shape == "all" { raw.all.as_ref()? } else { raw.any.as_ref()? };
        let here = format!("{path}.{shape}");
        if items.is_empty() && !self.file.had_error_in(&here) {
            self.error(
                "condition-shape",
                At::Key(&here),
                format!("`{shape}:` has no conditions"),
                "add at least one condition as a `- ` item below it, or remove it".to_owned(),
            );
        }
        let compiled: Vec<Option<Condition>> =
            items.iter().enumerate().map(|(i, c)| self.condition(c, &format!("{here}[{i}]"), scope)).collect();
        let compiled: Option<Vec<Condition>> = compiled.into_iter().collect();
        let compiled = compiled.filter(|c| !c.is_empty())?;
        Some(if shape == "all" { Condition::All(compiled) } else { Condition::Any(compiled) })
    }

    fn test(&mut self, raw: &RawCondition, path: &str, scope: Scope) -> Option<Test> {
        let subject = self.subject(raw, path, scope);
        let ops = raw.operators();
        let (op_name, value) = match ops.as_slice() {
            [one] => *one,
            [] => {
                if !self.file.had_error_in(path) {
                    let help = format!("add one of: {}", OPERATORS.join(", "));
                    self.error("condition-shape", At::Key(path), "this test has no operator", help);
                }
                return None;
            }
            [_, second, ..] => {
                let listed = ops.iter().map(|(o, _)| format!("`{o}`")).collect::<Vec<_>>().join(" and ");
                self.error(
                    "condition-shape",
                    At::Key(&format!("{path}.{}", second.0)),
                    format!("a test has exactly one operator, but this one has {listed}"),
                    "write each test as its own item of an `all:` list, each with its own `field:`".to_owned(),
                );
                return None;
            }
        };
        let (subject, kind) = subject?;
        let convert = raw.as_.map(|c| match c {
            RawConversion::Number => Conversion::Number,
            RawConversion::Date => Conversion::Date,
            RawConversion::Text => Conversion::Text,
        });
        let subject_text = match &subject {
            Subject::Field(f) => f.text.clone(),
            Subject::JsonPath(q) => q.text.to_string(),
        };
        let kind = self.converted_kind(kind, convert, &subject_text, path)?;
        let ignore_case = raw.ignore_case.unwrap_or(false);
        if ignore_case && !TEXT_OPERATORS.contains(&op_name) {
            self.error(
                "ignore-case",
                At::Key(&format!("{path}.ignore_case")),
                format!("`ignore_case` does not apply to `{op_name}`"),
                format!("`ignore_case` works with the text operators: {}; remove it here", TEXT_OPERATORS.join(", ")),
            );
        }
        let value_path = format!("{path}.{op_name}");
        let tcx = TestCx { subject: &subject_text, kind, path: &value_path };
        let (op, shown) = self.operator(op_name, value, &tcx, ignore_case)?;
        let as_text = convert.map_or(String::new(), |c| format!(" as {}", conversion_name(c)));
        let case = if ignore_case { " (ignoring case)" } else { "" };
        let display = format!("{subject_text}{as_text} {shown}{case}");
        Some(Test { subject, convert, op, ignore_case, display })
    }

    fn subject(&mut self, raw: &RawCondition, path: &str, scope: Scope) -> Option<(Subject, Kind)> {
        if let Some(query) = &raw.jsonpath {
            let at = format!("{path}.jsonpath");
            if scope == Scope::PastConversation {
                let help = "in `where:`, use `field:` with one of: wrap_up, wrap_up_id, queue_id, media_type, message_type, direction, started, ended, duration";
                self.error(
                    "condition-shape",
                    At::Key(&at),
                    "`jsonpath:` can only be used in the audience",
                    help.to_owned(),
                );
                return None;
            }
            if query.chars().count() > MAX_JSONPATH_LENGTH {
                self.error(
                    "jsonpath",
                    At::Value(&at),
                    format!(
                        "this JSONPath is {} characters long; at most {MAX_JSONPATH_LENGTH} are allowed",
                        query.chars().count()
                    ),
                    "select less at once: use several conditions, each with a shorter query".to_owned(),
                );
                return None;
            }
            return match jsonpath_rust::parser::parse_json_path(query) {
                Ok(parsed) => {
                    Some((Subject::JsonPath(JsonPathQuery { text: query.as_str().into(), query: parsed }), Kind::Any))
                }
                Err(e) => {
                    let why = e.to_string();
                    // pest's message: the `= expected ...` line says what is wrong.
                    let why = why.lines().find_map(|l| l.trim().strip_prefix("= ")).unwrap_or("the query is not valid");
                    let help = "a JSONPath query starts with `$`, e.g. `$.participants[?@.purpose == 'customer'].attributes.segment`";
                    self.error(
                        "jsonpath",
                        At::Value(&at),
                        format!("this JSONPath does not parse: {why}"),
                        help.to_owned(),
                    );
                    None
                }
            };
        }
        let field = raw.field.as_deref()?;
        let at = format!("{path}.field");
        match fields::lookup(scope, field) {
            Ok(f) if f.spec.kind == Kind::Conversations => {
                let help = "use a `history:` condition such as `count:` instead";
                self.error(
                    "unknown-field",
                    At::Value(&at),
                    format!("`{field}` can be used in templates only, not in a condition"),
                    help.to_owned(),
                );
                None
            }
            Ok(f) => {
                let kind = f.spec.kind;
                Some((Subject::Field(f), kind))
            }
            Err(unknown) => {
                let help = match (unknown.suggestion, scope) {
                    (Some(s), _) => format!("did you mean `{}`?", fill_map_key(&s, field)),
                    (None, Scope::Session) => "fields include customer.attributes.<name>, customer.contact.first_name, session.queue and history.count; the README's \"Fields\" table has the full list".to_owned(),
                    (None, Scope::PastConversation) => "in `where:`, the fields are: wrap_up, wrap_up_id, queue_id, media_type, message_type, direction, started, ended, duration".to_owned(),
                };
                self.error("unknown-field", At::Value(&at), format!("unknown field `{field}`"), help);
                None
            }
        }
    }

    /// The kind a test compares, after `as:`.
    fn converted_kind(&mut self, kind: Kind, convert: Option<Conversion>, subject: &str, path: &str) -> Option<Kind> {
        let Some(convert) = convert else {
            return Some(kind);
        };
        if !matches!(kind, Kind::Text | Kind::Any) {
            self.error(
                "value-type",
                At::Key(&format!("{path}.as")),
                format!("`as:` converts text, but `{subject}` is already {}", kind.describe()),
                "remove `as:`".to_owned(),
            );
            return None;
        }
        Some(match convert {
            Conversion::Number => Kind::Number,
            Conversion::Date => Kind::Time,
            Conversion::Text => Kind::Text,
        })
    }

    /// The compiled operator and how it reads (`equals "gold"`).
    fn operator(&mut self, name: &str, value: &Value, t: &TestCx<'_>, ignore_case: bool) -> Option<(Operator, String)> {
        let words = name.replace('_', " ");
        let op = match name {
            "equals" | "not_equals" => {
                let lit = self.scalar(value, t, t.path)?;
                let shown = format!("{words} {}", show(&lit));
                (if name == "equals" { Operator::Equals(lit) } else { Operator::NotEquals(lit) }, shown)
            }
            "in" | "not_in" => {
                let list = self.scalar_list(value, t)?;
                let shown = format!("{words} [{}]", list.iter().map(show).collect::<Vec<_>>().join(", "));
                (if name == "in" { Operator::In(list) } else { Operator::NotIn(list) }, shown)
            }
            "contains" => {
                let lit = self.contains_value(value, t)?;
                let shown = format!("contains {}", show(&lit));
                (Operator::Contains(lit), shown)
            }
            "starts_with" | "ends_with" | "matches" => {
                let text = self.text_operand(name, value, t)?;
                let shown = format!("{words} {text:?}");
                let op = match name {
                    "starts_with" => Operator::StartsWith(text),
                    "ends_with" => Operator::EndsWith(text),
                    _ => Operator::Matches(self.regex(&text, ignore_case, t.path)?),
                };
                (op, shown)
            }
            "exists" | "missing" => {
                let exists = self.exists(name, value, t.path)?;
                (Operator::Exists(exists), if exists { "exists".into() } else { "is missing".into() })
            }
            "greater_than" | "less_than" | "at_least" | "at_most" => {
                let lit = self.comparable(name, value, t)?;
                let shown = format!("{words} {}", show(&lit));
                let cmp = match name {
                    "greater_than" => Comparison::GreaterThan,
                    "less_than" => Comparison::LessThan,
                    "at_least" => Comparison::AtLeast,
                    _ => Comparison::AtMost,
                };
                (Operator::Compare(cmp, lit), shown)
            }
            _ => {
                let d = self.age_operand(name, value, t)?;
                let shown = format!("{words} {}", duration::format(d));
                (if name == "older_than" { Operator::OlderThan(d) } else { Operator::NewerThan(d) }, shown)
            }
        };
        Some(op)
    }

    /// A single value typed to the test's kind (`equals`, `in` items, `contains` on text).
    fn scalar(&mut self, value: &Value, t: &TestCx<'_>, at: &str) -> Option<Literal> {
        match (t.kind, value) {
            (Kind::TextList, _) => {
                let message = format!("`{}` is a list of texts: it cannot equal one value", t.subject);
                self.error(
                    "value-type",
                    At::Value(at),
                    message,
                    "use `contains:` to test whether the list has an element".to_owned(),
                );
                None
            }
            (Kind::Text, Value::String(s)) => Some(Literal::Text(s.clone())),
            (Kind::Text, Value::Number(n)) => {
                let message = format!("`{}` is text, but `{n}` is a number", t.subject);
                self.error(
                    "value-type",
                    At::Value(at),
                    message,
                    format!("write \"{n}\" to compare text, or add `as: number`"),
                );
                None
            }
            (Kind::Text, Value::Bool(b)) => {
                let message = format!("`{}` is text, but YAML reads `{b}` as a yes/no value", t.subject);
                self.error(
                    "value-type",
                    At::Value(at),
                    message,
                    format!("write \"{b}\" (with quotes) to compare text"),
                );
                None
            }
            (Kind::Any, Value::String(s)) => Some(Literal::Text(s.clone())),
            (Kind::Any, Value::Number(n)) => Some(Literal::Number(n.as_f64().unwrap_or(f64::NAN))),
            (Kind::Any, Value::Bool(b)) => Some(Literal::Bool(*b)),
            (Kind::Number | Kind::Time | Kind::Duration, _) => self.typed(value, t.kind, t, at),
            _ => {
                self.expected(at, "a single value (text, a number or `true`/`false`)", value);
                None
            }
        }
    }

    /// A number, date-time or duration for a field of that kind.
    fn typed(&mut self, value: &Value, kind: Kind, t: &TestCx<'_>, at: &str) -> Option<Literal> {
        match (kind, value) {
            (Kind::Number, Value::Number(n)) => n.as_f64().map(Literal::Number),
            (Kind::Number, Value::String(s)) if s.trim().parse::<f64>().is_ok() => {
                let message = format!("`{}` is a number, but \"{s}\" is text", t.subject);
                self.error("value-type", At::Value(at), message, format!("remove the quotes: `{}`", s.trim()));
                None
            }
            (Kind::Time, Value::String(s)) => match parse_time(s) {
                Some(ts) => Some(Literal::Time(ts)),
                None => {
                    let message = format!("`{s}` is not a date or date-time");
                    self.error(
                        "value-type",
                        At::Value(at),
                        message,
                        "write a date like `2026-11-24` or a date-time like `2026-11-24T10:00:00Z`".to_owned(),
                    );
                    None
                }
            },
            (Kind::Duration, Value::String(_) | Value::Number(_)) => self.duration(value, at).map(Literal::Duration),
            _ => {
                self.expected(at, kind.describe(), value);
                None
            }
        }
    }

    fn expected(&mut self, at: &str, what: &str, found: &Value) {
        let message = format!("expected {what}, found {}", describe_value(found));
        self.error("value-type", At::Value(at), message, None);
    }

    fn scalar_list(&mut self, value: &Value, t: &TestCx<'_>) -> Option<Vec<Literal>> {
        let Value::Sequence(items) = value else {
            let message = format!("expected a list of values, found {}", describe_value(value));
            self.error(
                "value-type",
                At::Value(t.path),
                message,
                "write a list, e.g. `[Collections, Fraud]`".to_owned(),
            );
            return None;
        };
        if items.is_empty() {
            self.error(
                "value-type",
                At::Value(t.path),
                "the list is empty",
                "add at least one value, e.g. `[Collections, Fraud]`".to_owned(),
            );
            return None;
        }
        let typed: Vec<Option<Literal>> =
            items.iter().enumerate().map(|(i, v)| self.scalar(v, t, &format!("{}[{i}]", t.path))).collect();
        typed.into_iter().collect()
    }

    fn contains_value(&mut self, value: &Value, t: &TestCx<'_>) -> Option<Literal> {
        match t.kind {
            Kind::Text | Kind::Any => self.scalar(value, t, t.path),
            Kind::TextList => self.scalar(value, &TestCx { kind: Kind::Text, ..*t }, t.path),
            _ => {
                self.wrong_kind("contains", "text or a list", t);
                None
            }
        }
    }

    fn wrong_kind(&mut self, op: &str, takes: &str, t: &TestCx<'_>) {
        let message = format!("`{op}` works on {takes}, but `{}` is {}", t.subject, t.kind.describe());
        let help = if t.kind == Kind::Text {
            "add `as: number` to compare numbers or `as: date` to compare dates".to_owned()
        } else {
            format!("the README's operator table says what works on {}", t.kind.describe())
        };
        let op_key = t.path.to_owned();
        self.error("value-type", At::Key(&op_key), message, help);
    }

    fn text_operand(&mut self, op: &str, value: &Value, t: &TestCx<'_>) -> Option<String> {
        if !matches!(t.kind, Kind::Text | Kind::Any) {
            self.wrong_kind(op, "text", t);
            return None;
        }
        match value {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => {
                let message = format!("`{op}` takes text, but `{n}` is a number");
                self.error("value-type", At::Value(t.path), message, format!("write \"{n}\" (with quotes)"));
                None
            }
            other => {
                self.expected(t.path, "text", other);
                None
            }
        }
    }

    fn regex(&mut self, pattern: &str, ignore_case: bool, at: &str) -> Option<regex::Regex> {
        let built =
            regex::RegexBuilder::new(pattern).size_limit(REGEX_SIZE_LIMIT).case_insensitive(ignore_case).build();
        match built {
            Ok(re) => Some(re),
            Err(regex::Error::CompiledTooBig(_)) => {
                self.error(
                    "regex",
                    At::Value(at),
                    "this regex is too large",
                    "simplify it (fewer repetitions, shorter alternatives)".to_owned(),
                );
                None
            }
            Err(e) => {
                let text = e.to_string();
                let why = text.lines().find_map(|l| l.strip_prefix("error: ")).unwrap_or(&text).to_owned();
                let help = "regexes use Rust syntax; escape special characters like `.`, `(`, `[` and `+` with `\\`";
                self.error("regex", At::Value(at), format!("this regex does not compile: {why}"), help.to_owned());
                None
            }
        }
    }

    fn exists(&mut self, op: &str, value: &Value, at: &str) -> Option<bool> {
        match (op, value) {
            ("exists", Value::Bool(b)) => Some(*b),
            ("missing", Value::Bool(true)) => Some(false),
            ("missing", Value::Bool(false)) => {
                self.error(
                    "value-type",
                    At::Value(at),
                    "`missing: false` is not allowed",
                    "write `exists: true` instead".to_owned(),
                );
                None
            }
            _ => {
                let message = format!("`{op}` takes `true` or `false`, found {}", describe_value(value));
                self.error("value-type", At::Value(at), message, format!("write `{op}: true`"));
                None
            }
        }
    }

    fn comparable(&mut self, op: &str, value: &Value, t: &TestCx<'_>) -> Option<Literal> {
        match t.kind {
            Kind::Number | Kind::Time | Kind::Duration => self.typed(value, t.kind, t, t.path),
            Kind::Any => match value {
                Value::Number(n) => n.as_f64().map(Literal::Number),
                Value::String(s) if parse_time(s).is_some() => parse_time(s).map(Literal::Time),
                Value::String(s) if duration::parse(s).is_ok() => duration::parse(s).ok().map(Literal::Duration),
                other => {
                    let message =
                        format!("`{op}` compares a number, a date-time or a duration, found {}", describe_value(other));
                    self.error("value-type", At::Value(t.path), message, "e.g. `100`, `2026-11-24` or `2d`".to_owned());
                    None
                }
            },
            _ => {
                self.wrong_kind(op, "numbers, date-times and durations", t);
                None
            }
        }
    }

    fn age_operand(&mut self, op: &str, value: &Value, t: &TestCx<'_>) -> Option<SignedDuration> {
        if !matches!(t.kind, Kind::Time | Kind::Duration | Kind::Any) {
            let message =
                format!("`{op}` works on date-times and durations, but `{}` is {}", t.subject, t.kind.describe());
            let help = if t.kind == Kind::Text {
                "add `as: date` if the text holds a date"
            } else {
                "use `greater_than` / `less_than` instead"
            };
            self.error("value-type", At::Key(t.path), message, help.to_owned());
            return None;
        }
        self.duration(value, t.path)
    }

    /// A duration value (`2d`, `1h30m`).
    fn duration(&mut self, value: &Value, at: &str) -> Option<SignedDuration> {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            other => {
                let message = format!("expected a duration, found {}", describe_value(other));
                self.error("duration", At::Value(at), message, format!("write {}", duration::EXPECTED));
                return None;
            }
        };
        match duration::parse(&text) {
            Ok(d) => Some(d),
            Err(e) => {
                self.error("duration", At::Value(at), e.to_string(), format!("write {}", duration::EXPECTED));
                None
            }
        }
    }

    // --- history ----------------------------------------------------------------------------

    fn history(&mut self, raw: Option<&RawHistory>) -> History {
        let Some(raw) = raw else {
            return History { look_back: DEFAULT_LOOK_BACK, conditions: Vec::new() };
        };
        let look_back = raw.look_back.as_ref().and_then(|v| self.duration(v, "history.look_back"));
        let conditions = raw.conditions.iter().flatten().enumerate();
        let conditions = conditions.filter_map(|(i, c)| self.history_condition(c, &format!("history.conditions[{i}]")));
        History { conditions: conditions.collect(), look_back: look_back.unwrap_or(DEFAULT_LOOK_BACK) }
    }

    fn history_condition(&mut self, raw: &RawHistoryCondition, path: &str) -> Option<HistoryCondition> {
        let keys = [
            ("count", raw.count.is_some()),
            ("last_contact", raw.last_contact.is_some()),
            ("wrap_up_codes", raw.wrap_up_codes.is_some()),
            ("queues", raw.queues.is_some()),
            ("message_types", raw.message_types.is_some()),
        ];
        let present: Vec<&str> = keys.iter().filter(|(_, p)| *p).map(|(k, _)| *k).collect();
        let help = "each item has exactly one of: count, last_contact, wrap_up_codes, queues, message_types";
        match present.as_slice() {
            [] if !self.file.had_error_in(path) => {
                self.error("history-shape", At::Key(path), "this history condition is empty", help.to_owned());
                None
            }
            [] => None,
            [_] => {
                let at = format!("{path}.{}", present[0]);
                if let Some(c) = &raw.count {
                    self.count(c, &at)
                } else if let Some(l) = &raw.last_contact {
                    self.last_contact(l, &at)
                } else if let Some(h) = &raw.wrap_up_codes {
                    self.had(h, HistoryAttribute::WrapUpCode, "wrap_up_codes", &at)
                } else if let Some(h) = &raw.queues {
                    self.had(h, HistoryAttribute::Queue, "queues", &at)
                } else {
                    raw.message_types
                        .as_ref()
                        .and_then(|h| self.had(h, HistoryAttribute::MessageType, "message_types", &at))
                }
            }
            several => {
                let listed = several.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(" and ");
                let message = format!("a history condition has exactly one key, but this one has {listed}");
                self.error(
                    "history-shape",
                    At::Key(&format!("{path}.{}", several[1])),
                    message,
                    "start a new `- ` item for each".to_owned(),
                );
                None
            }
        }
    }

    fn count(&mut self, raw: &RawCount, path: &str) -> Option<HistoryCondition> {
        if raw.at_least.is_none() && raw.at_most.is_none() {
            if !self.file.had_error_in(path) {
                let help = "e.g. `count: { at_least: 1 }`";
                self.error(
                    "history-shape",
                    At::Key(path),
                    "`count` needs `at_least`, `at_most` or both",
                    help.to_owned(),
                );
            }
            return None;
        }
        if let (Some(least), Some(most)) = (raw.at_least, raw.at_most) {
            if least > most {
                let message = format!("`at_least: {least}` is more than `at_most: {most}`: no customer can match");
                self.error(
                    "history-shape",
                    At::Value(&format!("{path}.at_most")),
                    message,
                    "swap the numbers or remove one".to_owned(),
                );
                return None;
            }
        }
        let filter = match &raw.where_ {
            Some(w) => Some(self.condition(w, &format!("{path}.where"), Scope::PastConversation)?),
            None => None,
        };
        let mut parts = Vec::new();
        parts.extend(raw.at_least.map(|n| format!("at least {n}")));
        parts.extend(raw.at_most.map(|n| format!("at most {n}")));
        let mut display = format!("count {}", parts.join(" and "));
        if let Some(f) = &filter {
            display.push_str(&format!(" where {}", condition_display(f)));
        }
        Some(HistoryCondition::Count { at_least: raw.at_least, at_most: raw.at_most, filter, display })
    }

    fn last_contact(&mut self, raw: &RawLastContact, path: &str) -> Option<HistoryCondition> {
        if raw.older_than.is_none() && raw.newer_than.is_none() {
            if !self.file.had_error_in(path) {
                let help = "e.g. `last_contact: { older_than: 7d }`";
                self.error(
                    "history-shape",
                    At::Key(path),
                    "`last_contact` needs `older_than`, `newer_than` or both",
                    help.to_owned(),
                );
            }
            return None;
        }
        let older_than = raw.older_than.as_ref().map(|v| self.duration(v, &format!("{path}.older_than")));
        let newer_than = raw.newer_than.as_ref().map(|v| self.duration(v, &format!("{path}.newer_than")));
        let (older_than, newer_than) =
            (older_than.map_or(Some(None), |d| d.map(Some))?, newer_than.map_or(Some(None), |d| d.map(Some))?);
        let mut parts = Vec::new();
        parts.extend(older_than.map(|d| format!("older than {}", duration::format(d))));
        parts.extend(newer_than.map(|d| format!("newer than {}", duration::format(d))));
        let display = format!("last contact {}", parts.join(" and "));
        Some(HistoryCondition::LastContact { older_than, newer_than, display })
    }

    fn had(&mut self, raw: &RawHad, attribute: HistoryAttribute, key: &str, path: &str) -> Option<HistoryCondition> {
        let (wanted, values, which) = match (&raw.any_of, &raw.none_of) {
            (Some(v), None) => (true, v, "any_of"),
            (None, Some(v)) => (false, v, "none_of"),
            (Some(_), Some(_)) => {
                let message = format!("`{key}` has both `any_of` and `none_of`");
                self.error(
                    "history-shape",
                    At::Key(&format!("{path}.none_of")),
                    message,
                    "use one of them per item; add another item for the other".to_owned(),
                );
                return None;
            }
            (None, None) => {
                if !self.file.had_error_in(path) {
                    let message = format!("`{key}` needs `any_of` or `none_of`");
                    self.error("history-shape", At::Key(path), message, format!("e.g. `{key}: {{ any_of: [a, b] }}`"));
                }
                return None;
            }
        };
        if values.is_empty() {
            let at = format!("{path}.{which}");
            self.error(
                "history-shape",
                At::Value(&at),
                format!("`{which}` is empty"),
                "list at least one value, e.g. `[Sale]`".to_owned(),
            );
            return None;
        }
        let shown = values.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>().join(", ");
        let display = format!("{} {} [{shown}]", key.replace('_', " "), which.replace('_', " "));
        Some(HistoryCondition::Had { attribute, values: values.clone(), wanted, display })
    }

    // --- tests ------------------------------------------------------------------------------

    fn tests(&mut self, raw: &[RawTestCase]) -> Vec<TestCase> {
        let mut names: HashMap<&str, usize> = HashMap::new();
        let mut tests = Vec::new();
        for (i, case) in raw.iter().enumerate() {
            let path = format!("tests[{i}]");
            if let Some(name) = case.name.as_deref() {
                if let Some(first) = names.insert(name, i) {
                    self.error(
                        "test",
                        At::Value(&format!("{path}.name")),
                        format!("another test of this campaign is already named `{name}`"),
                        format!("the first is test {} of the list; give each test its own name", first + 1),
                    );
                }
            }
            tests.extend(self.test_case(case, &path));
        }
        tests
    }

    fn test_case(&mut self, raw: &RawTestCase, path: &str) -> Option<TestCase> {
        let name = self.required_text(raw.name.as_deref(), path, "name", "`name: what this test shows`");
        let now = match raw.now.as_deref() {
            Some(text) => self.test_time(text, &format!("{path}.now")),
            None => {
                self.missing(
                    path,
                    "this test has no `now:`",
                    "add `now: 2026-11-24T12:00:00Z`: the time of the imagined run",
                );
                None
            }
        };
        let expect = self.expectation(raw, path);
        let customer = raw.customer.as_ref().map(|c| TestCustomer {
            name: c.name.clone(),
            locale: c.locale.clone(),
            attributes: c.attributes.clone().unwrap_or_default(),
            contact: c.contact.as_ref().map(test_contact),
        });
        let now = now?;
        let session = self.test_session(raw.session.as_ref(), now, &format!("{path}.session"));
        let history = raw.history.iter().flatten().enumerate();
        let history: Vec<Option<TestConversation>> =
            history.map(|(i, c)| self.test_conversation(c, now, &format!("{path}.history[{i}]"))).collect();
        Some(TestCase {
            name: name?,
            line: self.file.line_of(path).unwrap_or(1),
            now,
            customer: customer.unwrap_or_default(),
            session: session?,
            history: history.into_iter().collect::<Option<_>>()?,
            expect: expect?,
        })
    }

    fn required_text(&mut self, value: Option<&str>, path: &str, key: &str, example: &str) -> Option<String> {
        match value {
            Some(v) if !v.trim().is_empty() => Some(v.to_owned()),
            Some(_) => {
                self.error(
                    "test",
                    At::Value(&format!("{path}.{key}")),
                    format!("`{key}` is empty"),
                    format!("write {example}"),
                );
                None
            }
            None => {
                self.missing(path, &format!("this test has no `{key}:`"), &format!("add {example}"));
                None
            }
        }
    }

    fn test_time(&mut self, text: &str, at: &str) -> Option<jiff::Timestamp> {
        let time = parse_time(text);
        if time.is_none() {
            self.error(
                "test",
                At::Value(at),
                format!("`{text}` is not a date-time"),
                "write a date-time such as `2026-11-24T12:00:00Z` (UTC) or `2026-11-24T13:00:00+01:00`".to_owned(),
            );
        }
        time
    }

    /// A time given as a date-time (`key`) or as a duration before `now` (`key_ago`).
    fn test_when(
        &mut self,
        (at, at_key): (Option<&str>, &str),
        (ago, ago_key): (Option<&Value>, &str),
        now: jiff::Timestamp,
        path: &str,
    ) -> Option<Option<jiff::Timestamp>> {
        match (at, ago) {
            (Some(_), Some(_)) => {
                self.error(
                    "test",
                    At::Key(&format!("{path}.{ago_key}")),
                    format!("give `{at_key}` or `{ago_key}`, not both"),
                    "remove one of them".to_owned(),
                );
                None
            }
            (Some(text), None) => self.test_time(text, &format!("{path}.{at_key}")).map(Some),
            (None, Some(value)) => {
                let ago = self.duration(value, &format!("{path}.{ago_key}"))?;
                Some(Some(now.saturating_sub(ago).unwrap_or(jiff::Timestamp::MIN)))
            }
            (None, None) => Some(None),
        }
    }

    fn test_session(&mut self, raw: Option<&RawTestSession>, now: jiff::Timestamp, path: &str) -> Option<TestSession> {
        let default = RawTestSession::default();
        let raw = raw.unwrap_or(&default);
        let started =
            self.test_when((raw.started.as_deref(), "started"), (raw.started_ago.as_ref(), "started_ago"), now, path)?;
        let started = started.unwrap_or_else(|| now.saturating_sub(DEFAULT_TEST_SESSION_AGE).unwrap_or(now));
        if started > now {
            let message = "the session starts after `now`: a run at `now` would not see it";
            self.error("test", At::Value(&format!("{path}.started")), message, "start it before `now`".to_owned());
            return None;
        }
        Some(TestSession {
            started,
            direction: raw.direction.clone().unwrap_or_else(|| "inbound".to_owned()),
            queue: raw.queue.clone(),
            queue_id: raw.queue_id.clone(),
        })
    }

    fn test_conversation(
        &mut self,
        raw: &RawTestConversation,
        now: jiff::Timestamp,
        path: &str,
    ) -> Option<TestConversation> {
        let ended =
            self.test_when((raw.ended.as_deref(), "ended"), (raw.ended_ago.as_ref(), "ended_ago"), now, path)?;
        let Some(ended) = ended else {
            self.error(
                "test",
                At::Key(path),
                "this earlier conversation has no `ended:` or `ended_ago:`",
                "add `ended_ago: 3d` (or `ended: 2026-11-21T10:00:00Z`)".to_owned(),
            );
            return None;
        };
        let length = match &raw.duration {
            Some(v) => self.duration(v, &format!("{path}.duration"))?,
            None => DEFAULT_TEST_CONVERSATION_LENGTH,
        };
        let media_type = raw.media_type.clone().unwrap_or_else(|| "message".to_owned());
        let message_type =
            raw.message_type.clone().or_else(|| (media_type == "message").then(|| "webmessaging".to_owned()));
        Some(TestConversation {
            started: ended.saturating_sub(length).unwrap_or(ended),
            ended,
            wrap_up: raw.wrap_up.clone(),
            queue_id: raw.queue_id.clone(),
            media_type,
            message_type,
            direction: raw.direction.clone().unwrap_or_else(|| "inbound".to_owned()),
        })
    }

    fn expectation(&mut self, raw: &RawTestCase, path: &str) -> Option<Expectation> {
        let misplaced = |key: &str, with: &str| {
            (format!("`{key}` goes with `expect: {with}`"), format!("remove `{key}` or write `expect: {with}`"))
        };
        match raw.expect {
            None => {
                self.missing(
                    path,
                    "this test has no `expect:`",
                    "add `expect: send` (with `text:` or `text_contains:`) or `expect: skip` (with `reason:`)",
                );
                None
            }
            Some(RawExpect::Send) => {
                if raw.reason.is_some() {
                    let (message, help) = misplaced("reason", "skip");
                    self.error("test", At::Key(&format!("{path}.reason")), message, help);
                    return None;
                }
                Some(Expectation::Send { text: raw.text.clone(), contains: raw.text_contains.clone() })
            }
            Some(RawExpect::Skip) => {
                for key in ["text", "text_contains"] {
                    let present = if key == "text" { raw.text.is_some() } else { raw.text_contains.is_some() };
                    if present {
                        let (message, help) = misplaced(key, "send");
                        self.error("test", At::Key(&format!("{path}.{key}")), message, help);
                        return None;
                    }
                }
                let Some(reason) = raw.reason.as_deref() else {
                    let help = format!("add `reason:`, one of: {}", testable_reason_names().join(", "));
                    self.missing(path, "this test expects a skip but has no `reason:`", &help);
                    return None;
                };
                self.skip_reason(reason, &format!("{path}.reason")).map(|reason| Expectation::Skip { reason })
            }
        }
    }

    fn skip_reason(&mut self, word: &str, at: &str) -> Option<SkipReason> {
        let word = word.trim();
        let allowed = testable_reason_names();
        match SkipReason::ALL.iter().find(|r| r.as_str() == word) {
            Some(r) if TESTABLE_REASONS.contains(r) => Some(*r),
            Some(r) => {
                let message = format!("`{word}` cannot happen in a test");
                let help = format!(
                    "a test plans one session for this campaign alone, without the send journal, so `{r}` never \
                     happens there; expect one of: {}",
                    allowed.join(", ")
                );
                self.error("test", At::Value(at), message, help);
                None
            }
            None => {
                let message = format!("`{word}` is not a skip reason");
                self.error("test", At::Value(at), message, choose_help(word, &allowed));
                None
            }
        }
    }

    // --- message, limits, schedule ----------------------------------------------------------

    fn message(&mut self, raw: &RawMessage, template_name: &str, templates: &mut Templates) -> Option<Message> {
        match (&raw.text, &raw.template) {
            (Some(text), None) => self.inline(text, template_name, templates),
            (None, Some(file)) => self.template_file(file, templates),
            (Some(_), Some(_)) => {
                let message = "a message has exactly one of `text` or `template`, but this one has both";
                self.error("message", At::Key("message.template"), message, "remove one of them".to_owned());
                None
            }
            (None, None) => {
                if !self.file.had_error_in("message") {
                    let help = "write the text below `message:` as `text: ...`, or name a file of the templates directory with `template: file.j2`";
                    self.error(
                        "message",
                        At::Key("message"),
                        "the message has no `text` or `template`",
                        help.to_owned(),
                    );
                }
                None
            }
        }
    }

    fn inline(&mut self, text: &str, name: &str, templates: &mut Templates) -> Option<Message> {
        if text.trim().is_empty() {
            self.error(
                "message",
                At::Value("message.text"),
                "the message text is empty",
                "write the message after `text:`".to_owned(),
            );
            return None;
        }
        // saphyr places a block scalar (`|`) at its first line of text, which is what we want.
        let first_line = self.file.locate(At::Value("message.text")).map_or(1, |s| s.line);
        if let Err(e) = templates.add(name, text) {
            self.diagnostics.push(template_syntax(self.file, first_line, &e));
            return None;
        }
        check_variables(templates, name, self.file, first_line, text, self.diagnostics);
        Some(Message { template: name.to_owned(), file: None, max_length: MAX_LENGTH })
    }

    fn template_file(&mut self, name: &str, templates: &Templates) -> Option<Message> {
        let at = At::Value("message.template");
        let path = std::path::Path::new(name);
        let escapes = path.is_absolute()
            || name.starts_with(['/', '\\'])
            || path.components().any(|c| !matches!(c, std::path::Component::Normal(_)));
        if escapes || name.is_empty() {
            let dir = self.templates.dir.display();
            let message = format!("`{name}` is not a file name inside the templates directory");
            self.error(
                "template-path",
                at,
                message,
                format!("write the file's path relative to `{dir}`, without `..`, e.g. `offer.j2`"),
            );
            return None;
        }
        let Some(files) = &self.templates.files else {
            let message = format!("the templates directory `{}` does not exist", self.templates.dir.display());
            self.error("io", at, message, "create it and put the template file in it, or use `text:`".to_owned());
            return None;
        };
        let name = name.replace('\\', "/");
        let Some(file) = files.iter().find(|f| f.name == name) else {
            let names: Vec<String> = files.iter().map(|f| f.name.clone()).collect();
            let dir = self.templates.dir.display();
            let help = match fields::suggest(&name, names.iter().map(String::as_str)) {
                Some(s) => format!("did you mean `{s}`?"),
                None if names.is_empty() => format!("the templates directory `{dir}` is empty"),
                None => format!("the templates in `{dir}` are: {}", names.join(", ")),
            };
            self.error("template-missing", at, format!("there is no template `{name}` in `{dir}`"), help);
            return None;
        };
        // A file with a syntax error is reported once, by add_template_files.
        templates.contains(&file.name).then(|| Message {
            template: file.name.clone(),
            file: Some(file.path.clone()),
            max_length: MAX_LENGTH,
        })
    }

    fn limits(&mut self, raw: &RawLimits) -> Limits {
        let once_every = raw.once_every.as_ref().and_then(|v| match v {
            Value::String(s) if s.trim() == "ever" => Some(OnceEvery::Ever),
            other => {
                let d = self.duration(other, "limits.once_every")?;
                if d.is_zero() {
                    let help =
                        "write a duration such as `7d`, `ever` for only once, or remove `once_every` for no limit";
                    self.error(
                        "limits",
                        At::Value("limits.once_every"),
                        "`once_every` must be longer than 0",
                        help.to_owned(),
                    );
                    return None;
                }
                Some(OnceEvery::Every(d))
            }
        });
        let max_per_run = raw.max_per_run.and_then(|n| match u32::try_from(n) {
            Ok(n) if n >= 1 => Some(n),
            _ => {
                let message = format!("`max_per_run` must be at least 1 (and at most {}), found {n}", u32::MAX);
                self.error(
                    "limits",
                    At::Value("limits.max_per_run"),
                    message,
                    "remove `max_per_run` for no limit per run".to_owned(),
                );
                None
            }
        });
        Limits { once_every, max_per_run }
    }

    fn schedule(&mut self, raw: &RawSchedule) -> Option<Schedule> {
        let cron = self.cron(raw.cron.as_deref());
        let (time_zone, time_zone_name) = self.time_zone(raw.time_zone.as_deref(), "schedule.time_zone")?;
        let start = raw.start.as_deref().and_then(|s| self.date(s, "schedule.start"));
        let end = raw.end.as_deref().and_then(|s| self.date(s, "schedule.end"));
        if let (Some(s), Some(e)) = (start, end) {
            if e < s {
                let message = format!("the end date {e} is before the start date {s}");
                self.error(
                    "dates",
                    At::Value("schedule.end"),
                    message,
                    "`end` is the last day (inclusive): make it the start date or later".to_owned(),
                );
            }
        }
        let active_window = raw.active_window.as_ref().and_then(|w| self.active_window(w));
        let (cron, cron_text) = cron?;
        Some(Schedule { cron, cron_text, time_zone, time_zone_name, start, end, active_window })
    }

    fn cron(&mut self, text: Option<&str>) -> Option<(croner::Cron, String)> {
        let Some(text) = text else {
            self.missing(
                "schedule",
                "the schedule has no `cron:`",
                "add e.g. `cron: \"*/15 9-17 * * 1-5\"` (every 15 minutes, 9:00 to 17:59, Monday to Friday)",
            );
            return None;
        };
        let at = At::Value("schedule.cron");
        let help = "5 fields: minute hour day-of-month month day-of-week, e.g. `*/15 9-17 * * 1-5`; put it in quotes"
            .to_owned();
        let fields = text.split_whitespace().count();
        if fields != 5 {
            self.error("cron", at, format!("a cron schedule has 5 fields, but `{text}` has {fields}"), help);
            return None;
        }
        match croner::Cron::from_str(text) {
            Ok(cron) => Some((cron, text.to_owned())),
            Err(e) => {
                self.error("cron", at, format!("`{text}` is not a valid cron schedule: {e}"), help);
                None
            }
        }
    }

    fn time_zone(&mut self, name: Option<&str>, path: &str) -> Option<(jiff::tz::TimeZone, String)> {
        let name = name.unwrap_or("UTC");
        match jiff::tz::TimeZone::get(name) {
            Ok(tz) => Some((tz, name.to_owned())),
            Err(_) => {
                let names: Vec<String> = jiff::tz::db().available().map(|n| n.as_str().to_owned()).collect();
                let help = match fields::suggest(name, names.iter().map(String::as_str)) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => {
                        "use an IANA time zone name such as `Europe/Berlin`, `America/New_York` or `UTC`".to_owned()
                    }
                };
                self.error("time-zone", At::Value(path), format!("unknown time zone `{name}`"), help);
                None
            }
        }
    }

    fn date(&mut self, text: &str, path: &str) -> Option<jiff::civil::Date> {
        match jiff::civil::Date::from_str(text.trim()) {
            Ok(d) if text.trim().len() == 10 => Some(d),
            _ => {
                let message = format!("`{text}` is not a date");
                self.error(
                    "dates",
                    At::Value(path),
                    message,
                    "write a date as YYYY-MM-DD, e.g. `2026-12-01`".to_owned(),
                );
                None
            }
        }
    }

    fn active_window(&mut self, raw: &RawActiveWindow) -> Option<ActiveWindow> {
        let path = "schedule.active_window";
        let from = self.clock(raw.from.as_deref(), "from");
        let to = self.clock(raw.to.as_deref(), "to");
        let days = self.days(raw.days.as_deref());
        let zone = self.window_zone(raw.time_zone.as_deref());
        let (from, to) = (from?, to?);
        if from == to {
            let message = "the active window is empty: `from` and `to` are the same time";
            self.error(
                "active-window",
                At::Value(&format!("{path}.to")),
                message,
                "make `to` later than `from`, e.g. from \"09:00\" to \"18:00\"".to_owned(),
            );
            return None;
        }
        Some(ActiveWindow { from, to, days: days?, time_zone: zone? })
    }

    fn clock(&mut self, text: Option<&str>, key: &str) -> Option<jiff::civil::Time> {
        let path = format!("schedule.active_window.{key}");
        let Some(text) = text else {
            let message = format!("the active window has no `{key}:`");
            self.missing(
                "schedule.active_window",
                &message,
                "write `from: \"09:00\"` and `to: \"18:00\"` (24-hour clock)",
            );
            return None;
        };
        let parsed = text.trim().split_once(':').and_then(|(h, m)| {
            let ok = (1..=2).contains(&h.len()) && m.len() == 2;
            let (h, m) = (h.parse::<i8>().ok()?, m.parse::<i8>().ok()?);
            ok.then(|| jiff::civil::Time::new(h, m, 0, 0).ok()).flatten()
        });
        if parsed.is_none() {
            let message = format!("`{text}` is not a time of day");
            self.error(
                "active-window",
                At::Value(&path),
                message,
                "write HH:MM on a 24-hour clock, in quotes, e.g. \"09:00\" or \"17:30\"".to_owned(),
            );
        }
        parsed
    }

    fn days(&mut self, days: Option<&[String]>) -> Option<Vec<jiff::civil::Weekday>> {
        let path = "schedule.active_window.days";
        let Some(days) = days else {
            return Some(DAYS.iter().map(|d| d.2).collect());
        };
        if days.is_empty() {
            self.error(
                "active-window",
                At::Value(path),
                "`days` is empty",
                "list the days, e.g. `[mon, tue, wed, thu, fri]`, or remove `days` for every day".to_owned(),
            );
            return None;
        }
        let mut result = Vec::new();
        let mut ok = true;
        for (i, day) in days.iter().enumerate() {
            let lower = day.trim().to_lowercase();
            match DAYS.iter().find(|(short, long, _)| lower == *short || lower == *long) {
                Some((_, _, weekday)) if !result.contains(weekday) => result.push(*weekday),
                Some(_) => {}
                None => {
                    ok = false;
                    let names: Vec<String> = DAYS.iter().map(|d| d.0.to_owned()).collect();
                    self.error(
                        "active-window",
                        At::Value(&format!("{path}[{i}]")),
                        format!("`{day}` is not a day"),
                        choose_help(&lower, &names),
                    );
                }
            }
        }
        result.sort_by_key(|d| d.to_monday_zero_offset());
        ok.then_some(result)
    }

    fn window_zone(&mut self, text: Option<&str>) -> Option<WindowZone> {
        let path = "schedule.active_window.time_zone";
        match text.map(str::trim) {
            None | Some("schedule") => Some(WindowZone::Schedule),
            Some(t) => match t.strip_prefix("customer:").map(str::trim) {
                Some(attribute) if !attribute.is_empty() => {
                    Some(WindowZone::Customer { attribute: attribute.to_owned() })
                }
                _ => {
                    let message = format!("`{t}` is not a window time zone");
                    let help = "write `schedule` (the schedule's time zone) or `customer:<attribute>` (a customer attribute holding an IANA zone, e.g. `customer:timezone`)";
                    self.error("active-window", At::Value(path), message, help.to_owned());
                    None
                }
            },
        }
    }
}

/// A suggestion like `customer.attributes.<name>` for `customer.atributes.plan` becomes
/// `customer.attributes.plan`: the key the campaign wrote is kept.
fn fill_map_key(suggestion: &str, written: &str) -> String {
    let Some(prefix) = suggestion.strip_suffix("<name>") else {
        return suggestion.to_owned();
    };
    let depth = prefix.matches('.').count();
    let key: Vec<&str> = written.split('.').skip(depth).collect();
    if key.is_empty() { suggestion.to_owned() } else { format!("{prefix}{}", key.join(".")) }
}

fn conversion_name(c: Conversion) -> &'static str {
    match c {
        Conversion::Number => "number",
        Conversion::Date => "date",
        Conversion::Text => "text",
    }
}

/// A condition as it reads, for explanations: `all of (a, b)`.
pub fn condition_display(c: &Condition) -> String {
    let list = |items: &[Condition]| items.iter().map(condition_display).collect::<Vec<_>>().join(", ");
    match c {
        Condition::All(items) if items.len() == 1 => condition_display(&items[0]),
        Condition::All(items) => format!("all of ({})", list(items)),
        Condition::Any(items) => format!("any of ({})", list(items)),
        Condition::Not(inner) => format!("not ({})", condition_display(inner)),
        Condition::Test(t) => t.display.clone(),
    }
}

fn condition_needs(c: &Condition, needs: &mut BTreeSet<Needs>) {
    match c {
        Condition::All(items) | Condition::Any(items) => items.iter().for_each(|i| condition_needs(i, needs)),
        Condition::Not(inner) => condition_needs(inner, needs),
        Condition::Test(t) => {
            needs.insert(match &t.subject {
                Subject::Field(f) => f.spec.needs,
                Subject::JsonPath(_) => Needs::Details,
            });
        }
    }
}

/// How a literal reads: `"gold"`, `100`, `2026-11-24T00:00:00Z`, `2d`.
fn show(lit: &Literal) -> String {
    match lit {
        Literal::Text(s) => format!("{s:?}"),
        Literal::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{}", *n as i64),
        Literal::Number(n) => n.to_string(),
        Literal::Bool(b) => b.to_string(),
        Literal::Time(t) => t.to_string(),
        Literal::Duration(d) => duration::format(*d),
    }
}
