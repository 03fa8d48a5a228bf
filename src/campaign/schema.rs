//! The campaign JSON Schema (`runner schema`): draft-07, which YAML editor plugins understand,
//! generated from the raw types the loader deserializes ([`super::raw`]) so that it cannot drift
//! from them. The committed copy is `schema/campaign.schema.json`; a test fails when it differs.
//!
//! The schema helps while typing (descriptions, examples, completion of field paths, unknown
//! keys flagged); `runner validate` stays the authority. Values whose type depends on the field
//! (`equals: 10` vs `equals: premium`) are kept as YAML values by the loader: their schemas are
//! written here by hand and say what is accepted.

use schemars::generate::SchemaSettings;
use schemars::{Schema, SchemaGenerator, json_schema};
use serde_json::{Map, Value, json};

use super::raw::RawCampaign;
use crate::model::fields::{self, Kind};

/// Where the bundled campaigns find the schema, relative to `campaigns/`.
pub const COMMITTED_PATH: &str = "schema/campaign.schema.json";

/// The first line of a campaign file that points YAML editors at the schema.
pub const MODELINE: &str = "# yaml-language-server: $schema=../schema/campaign.schema.json";

/// A duration: a number and a unit, combinable (`90s`, `15m`, `2d`, `1h30m`, `1d 12h`).
const DURATION: &str = r"(\d+\s*[smhdw]\s*)+";

/// The days `active_window.days` accepts (any case).
const DAYS: &[&str] = &[
    "mon",
    "tue",
    "wed",
    "thu",
    "fri",
    "sat",
    "sun",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// The schema as a JSON value.
pub fn generate() -> Value {
    let generator = SchemaSettings::draft07().into_generator();
    let mut schema = generator.into_root_schema_for::<RawCampaign>().to_value();
    tidy(&mut schema);
    if let Some(root) = schema.as_object_mut() {
        root.insert("title".into(), "runner campaign".into());
    }
    schema
}

/// The schema as the committed file holds it: pretty JSON and a final newline.
pub fn to_pretty_string() -> String {
    let mut text = serde_json::to_string_pretty(&generate()).expect("a JSON value serializes");
    text.push('\n');
    text
}

/// Makes the generated schema read well in an editor:
/// - Every key is optional in the raw types (so that `compile` can explain what is missing), and
///   schemars lets optional keys be `null`. An empty key is a mistake for an author (`equals:`
///   with nothing after it), so the schema does not offer `null` (nor `default: null`).
/// - Doc comments are wrapped at 100 columns; editors show descriptions as they are, so single
///   line breaks are joined (blank lines stay).
/// - `format: int64` and the like say nothing to an author.
fn tidy(value: &mut Value) {
    match value {
        Value::Object(obj) => {
            if obj.get("default") == Some(&Value::Null) {
                obj.remove("default");
            }
            if obj.get("format").and_then(Value::as_str).is_some_and(|f| f.starts_with("int") || f.starts_with("uint"))
            {
                obj.remove("format");
            }
            if let Some(Value::String(d)) = obj.get_mut("description") {
                *d = unwrap_lines(d);
            }
            if let Some(Value::Array(types)) = obj.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types.remove(0);
                    obj.insert("type".into(), only);
                }
            }
            if let Some(Value::Array(options)) = obj.get_mut("anyOf") {
                options.retain(|o| o != &json!({"type": "null"}));
                if options.len() == 1 {
                    let Some(Value::Object(only)) = obj.remove("anyOf").and_then(|mut a| a.as_array_mut()?.pop())
                    else {
                        unreachable!("checked above")
                    };
                    for (k, v) in only {
                        obj.entry(k).or_insert(v);
                    }
                }
            }
            for (key, v) in obj.iter_mut() {
                // `examples` and `const`/`enum` values are data, not schemas.
                if !matches!(key.as_str(), "examples" | "const" | "enum") {
                    tidy(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(tidy),
        _ => {}
    }
}

/// Joins the lines of each paragraph with spaces.
fn unwrap_lines(text: &str) -> String {
    text.split("\n\n").map(|p| p.lines().map(str::trim).collect::<Vec<_>>().join(" ")).collect::<Vec<_>>().join("\n\n")
}

// --- hand-written schemas for values the loader keeps as YAML values ---------------------------
// Each is `schema_with` of a field in `raw.rs`; the field's doc comment and examples are added
// on top by schemars.

/// One value: text, a number or true/false (its type must fit the field; the loader checks).
pub fn scalar(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": ["string", "number", "boolean"] })
}

/// A non-empty list of values (`in`, `not_in`).
pub fn scalar_list(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "minItems": 1,
        "items": { "type": ["string", "number", "boolean"] }
    })
}

/// Text only (`starts_with`, `ends_with`, `matches`).
pub fn text(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string" })
}

/// `true` or `false` (`exists`).
pub fn boolean(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "boolean" })
}

/// Only `true` (`missing: false` is an error: write `exists: true`).
pub fn only_true(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "boolean", "enum": [true] })
}

/// A number, a date or date-time, or a duration (`greater_than`, ...).
pub fn comparable(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "anyOf": [
            { "type": "number" },
            {
                "type": "string",
                "pattern": r"^\s*\d{4}-\d{2}-\d{2}([Tt ]\S*)?\s*$",
                "description": "A date (2026-11-24) or date-time (2026-11-24T10:00:00Z)."
            },
            {
                "type": "string",
                "pattern": format!(r"^\s*{DURATION}$"),
                "description": "A duration (2d, 1h30m)."
            }
        ]
    })
}

/// A duration (`2d`, `1h30m`).
pub fn duration(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "pattern": format!(r"^\s*{DURATION}$") })
}

/// A duration or `ever` (`limits.once_every`).
pub fn once_every(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "pattern": format!(r"^\s*(ever\s*|{DURATION})$") })
}

/// Day names, any case.
pub fn days(_: &mut SchemaGenerator) -> Schema {
    let any_case: Vec<String> = DAYS
        .iter()
        .map(|d| d.chars().map(|c| format!("[{c}{}]", c.to_ascii_uppercase())).collect::<String>())
        .collect();
    json_schema!({
        "type": "array",
        "minItems": 1,
        "items": {
            "type": "string",
            "anyOf": [
                { "enum": DAYS },
                { "pattern": format!(r"^\s*({})\s*$", any_case.join("|")) }
            ]
        }
    })
}

/// `schedule` or `customer:<attribute>`.
pub fn window_zone(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "anyOf": [
            { "const": "schedule", "description": "The schedule's time zone." },
            {
                "pattern": r"^\s*customer:\s*\S+",
                "description": "The customer's own time zone, from the attribute named after `customer:`."
            }
        ]
    })
}

/// The dotted paths of the field table, each with its meaning, so that editors complete them.
/// `customer.attributes.<name>`-style entries become patterns.
pub fn field_path(_: &mut SchemaGenerator) -> Schema {
    let mut options = Vec::new();
    let describe = |doc: &str, kind: Kind, prefix: &str| format!("{prefix}{doc} Its value is {}.", kind.describe());
    for spec in fields::SESSION_FIELDS.iter().filter(|f| f.kind != Kind::Conversations) {
        let description = describe(spec.doc, spec.kind, "");
        options.push(entry(spec.path, description));
    }
    for spec in fields::PAST_FIELDS {
        let description = describe(spec.doc, spec.kind, "Only inside `count.where`: ");
        options.push(entry(spec.path, description));
    }
    json_schema!({ "type": "string", "anyOf": options })
}

fn entry(path: &str, description: String) -> Value {
    let mut obj = Map::new();
    match path.strip_suffix(".*") {
        Some(prefix) => {
            obj.insert("pattern".into(), format!("^{}\\..+$", prefix.replace('.', r"\.")).into());
        }
        None => {
            obj.insert("const".into(), path.into());
        }
    }
    obj.insert("description".into(), description.into());
    Value::Object(obj)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn root() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn committed_schema_is_up_to_date() {
        let path = root().join(COMMITTED_PATH);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == to_pretty_string(),
            "{COMMITTED_PATH} differs from the schema the code generates (a raw campaign type or its \
             docs changed).\nRegenerate it with:\n\n    cargo run -- schema > {COMMITTED_PATH}\n"
        );
    }

    /// Walks every schema object with its JSON pointer.
    fn walk<'a>(value: &'a Value, pointer: String, out: &mut Vec<(String, &'a Map<String, Value>)>) {
        match value {
            Value::Object(obj) => {
                out.push((pointer.clone(), obj));
                for (k, v) in obj {
                    walk(v, format!("{pointer}/{k}"), out);
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    walk(v, format!("{pointer}/{i}"), out);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn every_key_has_a_description_and_an_example_and_unknown_keys_are_refused() {
        let schema = generate();
        assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
        let mut objects = Vec::new();
        walk(&schema, String::new(), &mut objects);
        let mut keys = 0;
        for (pointer, obj) in objects {
            let Some(Value::Object(properties)) = obj.get("properties") else { continue };
            if pointer.ends_with("/examples") {
                continue;
            }
            assert_eq!(obj.get("additionalProperties"), Some(&json!(false)), "{pointer} allows unknown keys");
            for (key, property) in properties {
                keys += 1;
                let description = property["description"].as_str().unwrap_or_default();
                assert!(description.len() > 20, "{pointer}/properties/{key} has no description");
                let examples = property["examples"].as_array().map_or(0, Vec::len);
                assert!(examples > 0, "{pointer}/properties/{key} has no example");
                assert!(!property.to_string().contains("null"), "{pointer}/properties/{key} allows null");
            }
        }
        // Campaign 10, Condition 23, History 2, HistoryCondition 5, Count 3, LastContact 2,
        // AnyOfNoneOf 2, Message 2, Limits 2, Schedule 5, ActiveWindow 4; Test 9, TestCustomer 4,
        // TestContact 7, TestSession 5, TestConversation 8.
        assert_eq!(keys, 93);
    }

    #[test]
    fn field_paths_come_from_the_field_table() {
        let schema = generate();
        let field = &schema["definitions"]["Condition"]["properties"]["field"];
        let options = field["anyOf"].as_array().unwrap();
        assert!(options.iter().any(|o| o["const"] == "customer.contact.first_name"));
        assert!(options.iter().any(|o| o["pattern"] == r"^customer\.attributes\..+$"));
        assert!(options.iter().any(|o| o["const"] == "wrap_up"));
        assert!(!options.iter().any(|o| o["const"] == "history.conversations"), "templates only");
    }

    #[test]
    fn tidy_removes_null_and_unwraps_descriptions() {
        let mut v = json!({
            "type": ["string", "null"],
            "default": null,
            "x": {"anyOf": [{"$ref": "#/a"}, {"type": "null"}], "description": "one\ntwo\n\nthree"},
            "examples": [{"description": "a\nb"}]
        });
        tidy(&mut v);
        assert_eq!(
            v,
            json!({
                "type": "string",
                "x": {"$ref": "#/a", "description": "one two\n\nthree"},
                "examples": [{"description": "a\nb"}]
            })
        );
    }

    mod validation {
        use super::*;

        /// The schema compiled with boon, a draft-07 validator.
        fn compiled(pointer: &str) -> (boon::Schemas, boon::SchemaIndex) {
            let mut schemas = boon::Schemas::new();
            let mut compiler = boon::Compiler::new();
            let url = "file:///campaign.schema.json";
            compiler.add_resource(url, generate()).unwrap();
            let index = compiler.compile(&format!("{url}#{pointer}"), &mut schemas).unwrap();
            (schemas, index)
        }

        /// A campaign file as JSON. (The test reads YAML directly; the app only through `load`.)
        fn json_of(yaml: &str) -> Value {
            yaml_serde::from_str(yaml).unwrap()
        }

        fn errors(yaml: &str) -> Option<String> {
            let (schemas, index) = compiled("");
            schemas.validate(&json_of(yaml), index).err().map(|e| format!("{e:#}"))
        }

        #[test]
        fn every_bundled_campaign_validates_and_points_at_the_schema() {
            let dir = root().join("campaigns");
            let mut files = 0;
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_none_or(|e| e != "yaml") {
                    continue;
                }
                files += 1;
                let text = std::fs::read_to_string(&path).unwrap();
                assert_eq!(text.lines().next(), Some(MODELINE), "{} must start with the schema line", path.display());
                if let Some(e) = errors(&text) {
                    panic!("{} does not validate against the schema:\n{e}", path.display());
                }
            }
            assert!(files >= 5, "{files} campaigns found");
        }

        #[test]
        fn mistakes_are_flagged() {
            let ok = "name: a\nmessage: { text: hi }\n";
            assert_eq!(errors(ok), None);
            for (yaml, why) in [
                ("name: a\nmessage: { text: hi }\nprority: 3\n", "prority"),
                ("name: a b\nmessage: { text: hi }\n", "name"),
                ("message: { text: hi }\n", "name"),
                ("name: a\nmessage: { text: hi, template: x.j2 }\n", "message"),
                ("name: a\nmessage: { text: hi }\naudience: { field: customer.atributes.plan, equals: x }\n", "field"),
                (
                    "name: a\nmessage: { text: hi }\naudience: { field: session.age, older_than: 2 days }\n",
                    "older_than",
                ),
                ("name: a\nmessage: { text: hi }\naudience: { field: session.id, missing: false }\n", "missing"),
                ("name: a\nmessage: { text: hi }\naudience: { field: session.id, in: [] }\n", "in"),
                ("name: a\nmessage: { text: hi }\naudience: { field: session.id, equals: }\n", "equals"),
                ("name: a\nmessage: { text: hi }\nlimits: { once_every: never }\n", "once_every"),
                ("name: a\nmessage: { text: hi }\nlimits: { max_per_run: 0 }\n", "max_per_run"),
                (
                    "name: a\nmessage: { text: hi }\nhistory: { conditions: [{ count: { at_least: 1 }, queues: { any_of: [q] } }] }\n",
                    "conditions",
                ),
                ("name: a\nmessage: { text: hi }\nschedule: { cron: \"* * *\" }\n", "cron"),
                (
                    "name: a\nmessage: { text: hi }\nschedule: { cron: \"0 9 * * *\", active_window: { from: \"9am\", to: \"18:00\" } }\n",
                    "from",
                ),
                (
                    "name: a\nmessage: { text: hi }\nschedule: { cron: \"0 9 * * *\", active_window: { from: \"09:00\", to: \"18:00\", days: [someday] } }\n",
                    "days",
                ),
            ] {
                let e = errors(yaml).unwrap_or_else(|| panic!("accepted: {yaml}"));
                assert!(e.contains(why), "{yaml}: {e}");
            }
            let accepted = "name: a\nmessage: { text: hi }\naudience: { all: [\n  { field: customer.attributes.tier, equals: gold, ignore_case: true },\n  { field: customer.attributes.cart_value, as: number, greater_than: 100 },\n  { field: session.started, less_than: 2026-11-24 },\n  { field: session.age, older_than: 1h30m },\n  { not: { field: customer.contact.custom_fields.vip, equals: true } } ] }\nschedule: { cron: \"0 9 * * *\", active_window: { from: \"09:00\", to: \"18:00\", days: [Mon, tuesday], time_zone: \"customer:tz\" } }\nlimits: { once_every: ever }\n";
            assert_eq!(errors(accepted), None);
        }

        #[test]
        fn every_example_fits_its_key() {
            let schema = generate();
            let mut objects = Vec::new();
            walk(&schema, String::new(), &mut objects);
            let mut checked = 0;
            for (pointer, obj) in objects {
                if !pointer.contains("/properties/") || pointer.ends_with("/properties") {
                    continue;
                }
                let Some(Value::Array(examples)) = obj.get("examples") else { continue };
                let (schemas, index) = compiled(&pointer);
                for example in examples {
                    checked += 1;
                    if let Err(e) = schemas.validate(example, index) {
                        panic!("the example {example} of {pointer} does not fit: {e:#}");
                    }
                }
            }
            assert!(checked > 59, "{checked}");
        }
    }
}
