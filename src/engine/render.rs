//! Message rendering with minijinja.
//!
//! Architecture invariant: rendering never does I/O. Every template (inline texts and the files
//! of `templates/`) is added to one environment by the loader, from strings, at compile time.
//!
//! The environment is strict: a variable that is not defined is an error (templates fall back
//! with `default(...)`), nothing is auto-escaped (messages are plain text), and a fuel limit
//! stops runaway loops.

use std::collections::HashSet;

use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior};

/// How much work one rendering may do (minijinja instructions).
pub const FUEL: u64 = 50_000;
/// How deeply templates may nest (includes, macros, loops).
pub const RECURSION_LIMIT: usize = 64;

/// Every template of a campaign set, parsed once.
#[derive(Clone)]
pub struct Templates {
    env: Environment<'static>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates").finish_non_exhaustive()
    }
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

/// Why a message could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// The template uses a value this customer does not have.
    #[error("{0}")]
    Undefined(String),
    /// The template did too much work (a runaway loop).
    #[error("the template ran out of fuel (it did more than {FUEL} steps): {0}")]
    OutOfFuel(String),
    #[error("{0}")]
    Other(String),
}

impl Templates {
    pub fn new() -> Templates {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.set_fuel(Some(FUEL));
        env.set_recursion_limit(RECURSION_LIMIT);
        Templates { env }
    }

    /// Adds and parses a template. Fails with minijinja's syntax error (which carries the line).
    pub fn add(&mut self, name: &str, source: &str) -> Result<(), minijinja::Error> {
        self.env.add_template_owned(name.to_owned(), source.to_owned())
    }

    pub fn contains(&self, name: &str) -> bool {
        self.env.get_template(name).is_ok()
    }

    /// The variables a template reads from its context, as dotted paths
    /// (`customer.contact.first_name`). Loop variables, `set` names and minijinja's own
    /// functions (`range`, `dict`, ...) are not included.
    pub fn variables(&self, name: &str) -> HashSet<String> {
        let mut vars = self.env.get_template(name).map(|t| t.undeclared_variables(true)).unwrap_or_default();
        for (global, _) in self.env.globals() {
            vars.retain(|v| v != global && !v.starts_with(&format!("{global}.")));
        }
        vars
    }

    /// The variables a template reads, including through the templates it can reach with
    /// `include`, `import`, `extends` or `from` (minijinja does not follow those). Names are
    /// computed when a template is loaded, so a template that includes another one counts
    /// every template file's variables: it may over-load data, never under-load it.
    pub fn reachable_variables(&self, name: &str) -> HashSet<String> {
        let mut vars = self.variables(name);
        let reaches_others = self.env.get_template(name).is_ok_and(|t| uses_other_templates(t.source()));
        if reaches_others {
            for (other, _) in self.env.templates() {
                if other != name && !other.starts_with(INLINE_PREFIX) {
                    vars.extend(self.variables(other));
                }
            }
        }
        vars
    }

    /// Whether a template may read the top-level variable `name` of its context: the name
    /// appears as a word in its source or in a template it can reach (as for
    /// [`Templates::reachable_variables`]), or the template calls `debug()`, which shows the
    /// whole context. A variable is read by its name, so the answer is never "no" for a
    /// variable the template reads; it may be "yes" for one it does not (the word in the text).
    pub fn may_read(&self, template: &str, name: &str) -> bool {
        let Ok(t) = self.env.get_template(template) else { return true };
        let mentions = |source: &str| has_word(source, name) || has_word(source, "debug");
        mentions(t.source())
            || (uses_other_templates(t.source())
                && self
                    .env
                    .templates()
                    .any(|(other, o)| other != template && !other.starts_with(INLINE_PREFIX) && mentions(o.source())))
    }

    /// Renders a template with a context (see `model::fields::TemplateContext`). Trims
    /// surrounding white space (YAML block scalars end in a newline).
    pub fn render(&self, name: &str, context: &minijinja::Value) -> Result<String, RenderError> {
        let template = self.env.get_template(name).map_err(|e| RenderError::Other(describe(&e)))?;
        let text = template.render(context).map_err(|e| match e.kind() {
            ErrorKind::UndefinedError => RenderError::Undefined(describe(&e)),
            ErrorKind::OutOfFuel => RenderError::OutOfFuel(describe(&e)),
            _ => RenderError::Other(describe(&e)),
        })?;
        // A copy of exactly its length: a large run holds every rendered text until the
        // customer-wide rules are applied, and the rendering buffer has room to spare (about
        // half of it, on the 100k-session benchmark).
        Ok(text.trim().to_owned())
    }
}

/// Inline `text:` templates are named `campaign:<name>`; no other template can include them.
pub const INLINE_PREFIX: &str = "campaign:";

/// Whether a template's source pulls in other templates.
fn uses_other_templates(source: &str) -> bool {
    source.split("{%").skip(1).any(|tag| {
        let word = tag.trim_start_matches(['-', '+']).trim_start();
        ["include", "import", "extends", "from"]
            .iter()
            .any(|kw| word.strip_prefix(kw).is_some_and(|rest| rest.starts_with(|c: char| c.is_whitespace())))
    })
}

/// Whether `word` appears in `text` between characters that cannot be part of a name.
fn has_word(text: &str, word: &str) -> bool {
    let name_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(word).any(|(at, _)| {
        !text[..at].chars().next_back().is_some_and(name_char)
            && !text[at + word.len()..].chars().next().is_some_and(name_char)
    })
}

/// One line: what went wrong and where in the template.
fn describe(e: &minijinja::Error) -> String {
    let what = match e.kind() {
        ErrorKind::UndefinedError => {
            "a value the template uses is not defined for this customer (use `default(...)` to fall back)".to_owned()
        }
        _ => e.detail().map_or_else(|| e.kind().to_string(), |d| format!("{}: {d}", e.kind())),
    };
    // An error inside an included template: say what it was (e.g. the recursion limit).
    let mut cause = None;
    let mut next = std::error::Error::source(e);
    while let Some(inner) = next.and_then(|s| s.downcast_ref::<minijinja::Error>()) {
        cause = Some(inner);
        next = std::error::Error::source(inner);
    }
    let what = match cause {
        Some(inner) => {
            let why = inner.detail().map_or_else(|| inner.kind().to_string(), |d| format!("{}: {d}", inner.kind()));
            format!("{what}: {why}")
        }
        None => what,
    };
    match (e.name(), e.line()) {
        (Some(name), Some(line)) => format!("{what} (template `{name}`, line {line})"),
        _ => what,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(json: serde_json::Value) -> minijinja::Value {
        minijinja::Value::from(minijinja::value::Serde(json))
    }

    #[test]
    fn renders_plain_text_without_escaping() {
        let mut t = Templates::new();
        t.add("m", "Hi {{ name }} & <welcome>!\n").unwrap();
        assert_eq!(t.render("m", &ctx(serde_json::json!({"name": "Zoë"}))).unwrap(), "Hi Zoë & <welcome>!");
    }

    #[test]
    fn undefined_is_an_error_and_default_falls_back() {
        let mut t = Templates::new();
        t.add("strict", "Hi {{ customer.first_name }}").unwrap();
        t.add("fallback", "Hi {{ customer.first_name | default('there') }}").unwrap();
        let c = ctx(serde_json::json!({"customer": {}}));
        assert!(matches!(t.render("strict", &c), Err(RenderError::Undefined(_))));
        assert_eq!(t.render("fallback", &c).unwrap(), "Hi there");
    }

    #[test]
    fn reachable_variables_follow_includes() {
        let mut t = Templates::new();
        t.add("greet.j2", "Hi {{ customer.contact.first_name | default('there') }}").unwrap();
        t.add("outer.j2", "{%- include 'greet.j2' %} {{ session.id }}").unwrap();
        t.add("campaign:x", "{{ history.count }}").unwrap();
        t.add("plain.j2", "{{ session.id }}").unwrap();
        let vars = t.reachable_variables("outer.j2");
        assert!(vars.contains("customer.contact.first_name") && vars.contains("session.id"), "{vars:?}");
        assert!(!vars.contains("history.count"), "inline templates cannot be included: {vars:?}");
        assert!(!t.variables("outer.j2").contains("customer.contact.first_name"));
        assert_eq!(t.reachable_variables("plain.j2"), t.variables("plain.j2"));
    }

    #[test]
    fn may_read_a_variable_named_in_the_template_or_one_it_includes() {
        let mut t = Templates::new();
        t.add("campaign:plain", "Hi {{ customer.contact.first_name }}, your history_id is {{ x }}").unwrap();
        t.add("campaign:shadow", "{% set customer = customer.contact %}{{ customer.first_name }}").unwrap();
        t.add("campaign:dump", "{{ debug() }}").unwrap();
        t.add("campaign:outer", "{% include 'sig.j2' %}").unwrap();
        t.add("sig.j2", "{{ session.id }}").unwrap();
        assert!(t.may_read("campaign:plain", "customer"));
        assert!(!t.may_read("campaign:plain", "history"), "history_id is another word");
        assert!(!t.may_read("campaign:plain", "session"));
        assert!(t.may_read("campaign:shadow", "customer"));
        assert!(t.may_read("campaign:dump", "history"), "debug() shows the whole context");
        assert!(t.may_read("campaign:outer", "session"));
        assert!(!t.may_read("campaign:outer", "customer"));
        assert!(t.may_read("missing", "customer"));
    }

    #[test]
    fn runaway_loops_run_out_of_fuel() {
        let mut t = Templates::new();
        t.add("loop", "{% for i in range(100000) %}{{ i }}{% endfor %}").unwrap();
        assert!(matches!(t.render("loop", &ctx(serde_json::json!({}))), Err(RenderError::OutOfFuel(_))));
    }

    #[test]
    fn a_template_that_includes_itself_stops_at_the_recursion_limit() {
        let mut t = Templates::new();
        t.add("loop.j2", "x{% include 'loop.j2' %}").unwrap();
        let Err(RenderError::Other(e)) = t.render("loop.j2", &ctx(serde_json::json!({}))) else { panic!("rendered") };
        assert!(e.contains("recursion") && e.contains("loop.j2"), "{e}");
    }

    #[test]
    fn data_is_rendered_literally_never_evaluated() {
        let mut t = Templates::new();
        t.add("m", "{{ x }}").unwrap();
        let out = t.render("m", &ctx(serde_json::json!({"x": "{{ 7 * 7 }} {% if true %}"}))).unwrap();
        assert_eq!(out, "{{ 7 * 7 }} {% if true %}");
    }

    #[test]
    fn lists_variables_as_dotted_paths() {
        let mut t = Templates::new();
        t.add(
            "m",
            "{{ customer.contact.first_name }}{% for c in history.conversations %}{{ c.wrap_up }}{% endfor %}\
             {% for i in range(3) %}{% endfor %}{{ dict(a=1) }}",
        )
        .unwrap();
        let vars = t.variables("m");
        assert!(vars.contains("customer.contact.first_name"), "{vars:?}");
        assert!(vars.contains("history.conversations"), "{vars:?}");
        assert!(!vars.iter().any(|v| v.starts_with("c.")), "{vars:?}");
        assert!(!vars.contains("range") && !vars.contains("dict"), "{vars:?}");
    }
}
