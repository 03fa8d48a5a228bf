//! Tests of loading and compiling campaigns, with snapshots of the rendered diagnostics.

use std::path::PathBuf;
use std::sync::Arc;

use super::compile::{TemplateFile, TemplateFiles};
use super::diagnostic::{render, summary};
use super::load::{Loaded, load_sources};

fn templates(files: &[(&str, &str)]) -> TemplateFiles {
    let files = files
        .iter()
        .map(|(name, text)| TemplateFile {
            name: (*name).to_owned(),
            path: PathBuf::from("templates").join(name),
            text: Arc::from(*text),
        })
        .collect();
    TemplateFiles { dir: PathBuf::from("templates"), files: Some(files) }
}

fn load_with(files: &[(&str, &str)], template_files: TemplateFiles) -> Loaded {
    let sources =
        files.iter().map(|(name, text)| (PathBuf::from("campaigns").join(name), (*text).to_owned())).collect();
    load_sources(sources, template_files)
}

fn load(files: &[(&str, &str)]) -> Loaded {
    load_with(files, templates(&[]))
}

/// The rendered diagnostics and the summary line, as a user sees them.
fn report(loaded: &Loaded) -> String {
    format!("{}\n{}", render(&loaded.diagnostics, false), summary(&loaded.diagnostics, loaded.files))
}

fn one(text: &str) -> String {
    report(&load(&[("offer.yaml", text)]))
}

/// A valid campaign's head, so that each test shows only the problem it is about.
const HEAD: &str = "name: offer\naudience:\n  field: session.queue\n  equals: Sales\nmessage:\n  text: Hi\n";

fn with_head(rest: &str) -> String {
    one(&format!("{HEAD}{rest}"))
}

#[test]
fn yaml_syntax() {
    insta::assert_snapshot!(one("name: offer\nmessage:\n  text: Hi\n   extra: 1\n"));
}

#[test]
fn yaml_syntax_alias_star() {
    insta::assert_snapshot!(with_head("schedule:\n  cron: */15 9-17 * * 1-5\n"));
}

#[test]
fn empty_file() {
    insta::assert_snapshot!(one(""));
}

#[test]
fn unknown_key() {
    insta::assert_snapshot!(with_head("descripton: An offer\nschedule:\n  cron: \"0 9 * * *\"\n  timezone: UTC\n"));
}

#[test]
fn unknown_operator_lists_operators() {
    insta::assert_snapshot!(one(
        "name: offer\naudience:\n  field: session.queue\n  equal: Sales\nmessage:\n  text: Hi\n"
    ));
}

#[test]
fn wrong_type() {
    insta::assert_snapshot!(with_head(
        "priority: high\nenabled: yes\ndescription: 2026\nlimits:\n  max_per_run: [1]\n"
    ));
}

#[test]
fn invalid_value_of_as() {
    insta::assert_snapshot!(one(
        "name: offer\naudience:\n  field: customer.attributes.cart\n  as: nmber\n  greater_than: 10\nmessage:\n  text: Hi\n"
    ));
}

#[test]
fn missing_keys() {
    insta::assert_snapshot!(one("description: no name, no message\n"));
}

#[test]
fn duplicate_name() {
    let loaded = load(&[("a.yaml", HEAD), ("b.yaml", &format!("priority: 2\n{HEAD}"))]);
    insta::assert_snapshot!(report(&loaded));
}

#[test]
fn invalid_name() {
    insta::assert_snapshot!(one(
        "name: Spring offer!\naudience:\n  field: session.queue\n  equals: Sales\nmessage:\n  text: Hi\n"
    ));
}

#[test]
fn condition_shape() {
    insta::assert_snapshot!(one("name: offer
audience:
  all:
    - {}
    - field: session.queue
      any:
        - field: session.queue
          equals: Sales
    - field: session.queue
    - field: session.queue
      equals: Sales
      contains: Sal
    - any: []
    - not:
        equals: Sales
message:
  text: Hi
"));
}

#[test]
fn unknown_field() {
    insta::assert_snapshot!(one("name: offer
audience:
  any:
    - field: customer.atributes.plan
      equals: premium
    - field: customer.contact.frist_name
      exists: true
    - field: history.conversations
      exists: true
history:
  conditions:
    - count:
        at_least: 1
        where: { field: wrapup, equals: Sale }
message:
  text: Hi
"));
}

#[test]
fn value_type() {
    insta::assert_snapshot!(one("name: offer
audience:
  all:
    - field: customer.attributes.tier
      equals: 10
    - field: customer.attributes.vip
      equals: true
    - field: customer.attributes.cart_value
      greater_than: 100
    - field: history.count
      contains: 3
    - field: history.count
      at_least: \"2\"
    - field: session.started
      greater_than: yesterday
    - field: session.queue
      in: []
    - field: session.queue
      older_than: 2d
    - field: session.division_ids
      equals: abc
    - field: customer.contact.email
      missing: false
    - field: session.age
      as: number
      greater_than: 5
message:
  text: Hi
"));
}

#[test]
fn ignore_case_on_a_comparison() {
    insta::assert_snapshot!(one(
        "name: offer\naudience:\n  field: history.count\n  at_least: 2\n  ignore_case: true\nmessage:\n  text: Hi\n"
    ));
}

#[test]
fn invalid_regex() {
    insta::assert_snapshot!(one(
        "name: offer\naudience:\n  field: customer.attributes.page\n  matches: \"pricing(\"\nmessage:\n  text: Hi\n"
    ));
}

#[test]
fn invalid_jsonpath() {
    insta::assert_snapshot!(one(
        "name: offer\naudience:\n  jsonpath: \"$.participants[?@.purpose ==\"\n  equals: b2b\nmessage:\n  text: Hi\n"
    ));
}

#[test]
fn invalid_duration() {
    insta::assert_snapshot!(with_head(
        "history:\n  look_back: 2 days\n  conditions:\n    - last_contact: { older_than: 7 }\nlimits:\n  once_every: 1x\n"
    ));
}

#[test]
fn history_shape() {
    insta::assert_snapshot!(with_head(
        "history:
  conditions:
    - count: {}
    - count: { at_least: 3, at_most: 1 }
    - last_contact: {}
    - wrap_up_codes: { any_of: [Sale], none_of: [Fraud] }
    - queues: { any_of: [] }
    - count: { at_least: 1 }
      queues: { none_of: [q1] }
    - {}
    - count: { at_least: -1 }
"
    ));
}

#[test]
fn template_missing() {
    let files = templates(&[("premium-offer.j2", "Hi"), ("welcome.j2", "Welcome")]);
    let text =
        "name: offer\naudience:\n  field: session.queue\n  equals: Sales\nmessage:\n  template: premium-ofer.j2\n";
    let other = "name: other\naudience:\n  field: session.queue\n  equals: Support\nmessage:\n  template: goodbye.j2\n";
    insta::assert_snapshot!(report(&load_with(&[("offer.yaml", text), ("other.yaml", other)], files)));
}

#[test]
fn template_path_outside_the_directory() {
    let text =
        "name: offer\naudience:\n  field: session.queue\n  equals: Sales\nmessage:\n  template: ../secrets.txt\n";
    insta::assert_snapshot!(report(&load_with(&[("offer.yaml", text)], templates(&[]))));
}

#[test]
fn templates_directory_missing() {
    let text = "name: offer\naudience:\n  field: session.queue\n  equals: Sales\nmessage:\n  template: offer.j2\n";
    let none = TemplateFiles { dir: PathBuf::from("templates"), files: None };
    insta::assert_snapshot!(report(&load_with(&[("offer.yaml", text)], none)));
}

#[test]
fn template_syntax() {
    let files = templates(&[("broken.j2", "Hello\n{% if customer.name %}Hi{% endfor %}\n")]);
    let text = "name: offer
audience:
  field: session.queue
  equals: Sales
message:
  text: |
    Hi {{ customer.name }},
    {% for x in %}
";
    insta::assert_snapshot!(report(&load_with(&[("offer.yaml", text)], files)));
}

#[test]
fn template_variable() {
    let files = templates(&[("offer.j2", "Dear {{ customer.contact.lastname }},\nsee {{ campaign.nme }}\n")]);
    let text = "name: offer
audience:
  field: session.queue
  equals: Sales
message:
  text: |
    Hi {{ customer.contact.frist_name | default('there') }}!
    {% for c in history.conversations %}{{ c.wrap_up }}{% endfor %}{{ range(3) | length }} {{ now }}
    Your plan: {{ customer.atributes.plan }} {{ bogus }}
";
    insta::assert_snapshot!(report(&load_with(&[("offer.yaml", text)], files)));
}

#[test]
fn cron() {
    insta::assert_snapshot!(with_head("schedule:\n  cron: \"*/15 9-17 * *\"\n"));
    insta::assert_snapshot!("cron_bad_value", with_head("schedule:\n  cron: \"0 25 * * *\"\n"));
    insta::assert_snapshot!("cron_missing", with_head("schedule:\n  time_zone: UTC\n"));
}

#[test]
fn time_zone() {
    insta::assert_snapshot!(with_head("schedule:\n  cron: \"0 9 * * *\"\n  time_zone: Europe/Berln\n"));
}

#[test]
fn dates() {
    insta::assert_snapshot!(with_head("schedule:\n  cron: \"0 9 * * *\"\n  start: 2026-12-24\n  end: 2026-12-01\n"));
    insta::assert_snapshot!("dates_invalid", with_head("schedule:\n  cron: \"0 9 * * *\"\n  start: 2026-13-01\n"));
}

#[test]
fn active_window() {
    insta::assert_snapshot!(with_head(
        "schedule:
  cron: \"0 9 * * *\"
  active_window:
    from: \"25:00\"
    days: [mon, fry, 3, sunday]
    time_zone: customer
"
    ));
}

#[test]
fn limits() {
    insta::assert_snapshot!(with_head("limits:\n  once_every: 0s\n  max_per_run: 0\n"));
}

#[test]
fn message() {
    insta::assert_snapshot!(one(
        "name: offer\naudience:\n  field: session.queue\n  equals: Sales\nmessage:\n  text: Hi\n  template: offer.j2\n"
    ));
    insta::assert_snapshot!(
        "message_empty",
        one("name: offer\naudience:\n  field: session.queue\n  equals: Sales\nmessage:\n  text: \"  \"\n")
    );
    insta::assert_snapshot!(
        "message_nothing",
        one("name: offer\naudience:\n  field: session.queue\n  equals: Sales\nmessage: {}\n")
    );
}

#[test]
fn warnings_do_not_fail() {
    let a = "name: a\naudience:\n  all:\n    - field: session.queue\n      equals: Sales\n    - field: customer.locale\n      equals: de-de\nmessage:\n  text: Hi\n";
    let b = "name: b\naudience:\n  all:\n    - field: customer.locale\n      equals: de-de\n    - field: session.queue\n      equals: Sales\nmessage:\n  text: Hello\n";
    let c = "name: c\nmessage:\n  text: Hello everyone\n";
    let d = "name: d\nenabled: false\nmessage:\n  text: Disabled, no warning\n";
    let loaded = load(&[("a.yaml", a), ("b.yaml", b), ("c.yaml", c), ("d.yaml", d)]);
    assert!(loaded.set.is_some(), "warnings must not fail the load");
    insta::assert_snapshot!(report(&loaded));
}

#[test]
fn two_typos_in_one_file_are_both_reported() {
    let loaded = load(&[(
        "offer.yaml",
        "name: offer\naudience:\n  all:\n    - field: session.queue\n      equls: Sales\n    - feild: session.queue\n      equals: Sales\nmesage:\n  text: Hi\n",
    )]);
    let found: Vec<(&str, String, usize)> =
        loaded.diagnostics.iter().map(|d| (d.code, d.message.clone(), d.span.map_or(0, |s| s.line))).collect();
    assert!(found.contains(&("unknown-key", "unknown key `equls`".to_owned(), 5)), "{found:?}");
    assert!(found.contains(&("unknown-key", "unknown key `feild`".to_owned(), 6)), "{found:?}");
    assert!(found.contains(&("unknown-key", "unknown key `mesage`".to_owned(), 8)), "{found:?}");
    assert!(loaded.set.is_none());
}

#[test]
fn problems_in_list_items_keep_their_positions() {
    // Removing days[1] must not shift days[3]'s reported position.
    let out = with_head(
        "schedule:\n  cron: \"0 9 * * *\"\n  active_window:\n    from: \"09:00\"\n    to: \"17:00\"\n    days: [mon, 2, tue, 4]\n",
    );
    insta::assert_snapshot!(out);
}

#[test]
fn io_problems_are_diagnostics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    let options = super::load::LoadOptions {
        campaigns: vec![dir.path().join("nope.yaml"), empty.clone()],
        templates_dir: dir.path().join("templates"),
    };
    let loaded = super::load::load(&options);
    let found: Vec<(&str, String)> = loaded.diagnostics.iter().map(|d| (d.code, d.message.clone())).collect();
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found.iter().all(|(code, _)| *code == "io"), "{found:?}");
    assert!(found.iter().any(|(_, m)| m.ends_with("nope.yaml` does not exist")), "{found:?}");
    assert!(found.iter().any(|(_, m)| m.contains("has no campaign files")), "{found:?}");
    assert!(loaded.set.is_none());
}

#[test]
fn loads_a_directory_sorted_with_templates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let campaigns = dir.path().join("campaigns");
    let templates = dir.path().join("templates");
    std::fs::create_dir_all(templates.join("parts")).expect("mkdir");
    std::fs::create_dir_all(&campaigns).expect("mkdir");
    std::fs::write(templates.join("parts/sig.j2"), "-- {{ campaign.name }}").expect("write");
    std::fs::write(templates.join("offer.j2"), "Hi {{ customer.name }}\n{% include 'parts/sig.j2' %}").expect("write");
    let b = "name: b\naudience: { field: session.queue, equals: Sales }\nmessage: { template: offer.j2 }\n";
    let a = "name: a\npriority: 5\naudience: { field: session.queue, equals: Support }\nmessage: { text: Hello }\n";
    std::fs::write(campaigns.join("b.yml"), b).expect("write");
    std::fs::write(campaigns.join("a.yaml"), a).expect("write");
    std::fs::write(campaigns.join("notes.txt"), "ignored").expect("write");
    let loaded = super::load::load(&super::load::LoadOptions { campaigns: vec![campaigns], templates_dir: templates });
    assert!(loaded.diagnostics.is_empty(), "{}", report(&loaded));
    assert_eq!(loaded.files, 2);
    let set = loaded.set.expect("valid");
    let names: Vec<&str> = set.campaigns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(set.campaigns[1].message.template, "offer.j2");
    assert!(set.templates.contains("parts/sig.j2"));
}

const COMPLETE: &str = r#"name: premium-specialist-offer
description: Offer a premium specialist.
priority: 10
audience:
  all:
    - field: customer.attributes.plan
      equals: premium
    - field: customer.attributes.page
      contains: pricing
      ignore_case: true
    - any:
        - field: customer.attributes.cart_value
          as: number
          greater_than: 100
        - not:
            field: session.queue
            in: [Collections, Fraud]
    - jsonpath: "$.participants[?@.purpose == 'customer'].attributes.segment"
      equals: b2b
    - field: session.queue
      not_equals: Fraud
    - field: session.queue
      not_in: [Fraud]
    - field: customer.locale
      starts_with: de
    - field: customer.locale
      ends_with: DE
    - field: customer.contact.email
      matches: "@example\\.com$"
      ignore_case: true
    - field: customer.contact.phone
      exists: true
    - field: session.external_tag
      missing: true
    - field: session.started
      at_least: 2026-11-24
    - field: session.started
      less_than: 2026-11-24T10:00:00Z
    - field: session.age
      at_most: 2h
    - field: session.age
      newer_than: 1h
    - field: history.last.ended
      older_than: 7d
    - field: session.division_ids
      contains: d1
history:
  look_back: 90d
  conditions:
    - count: { at_least: 1 }
    - count:
        at_most: 0
        where: { field: wrap_up, equals: Do Not Contact }
    - last_contact: { older_than: 7d }
    - wrap_up_codes: { any_of: [Sale, Upgrade] }
    - queues: { none_of: [Collections] }
    - message_types: { any_of: [webmessaging] }
message:
  template: premium-offer.j2
limits:
  once_every: 7d
  max_per_run: 50
schedule:
  cron: "*/15 9-17 * * 1-5"
  time_zone: Europe/Berlin
  start: 2026-12-01
  end: 2026-12-24
  active_window:
    from: "09:00"
    to: "18:00"
    days: [mon, tue, wed, thu, fri]
    time_zone: customer:timezone
"#;

#[test]
fn a_feature_complete_campaign_compiles() {
    use super::*;
    let files =
        templates(&[("premium-offer.j2", "Hi {{ customer.contact.first_name | default('there') }}, {{ now }}")]);
    let loaded = load_with(&[("offer.yaml", COMPLETE)], files);
    assert!(loaded.diagnostics.is_empty(), "{}", report(&loaded));
    let set = loaded.set.expect("valid");
    let c = &set.campaigns[0];
    assert_eq!((c.name.as_str(), c.priority, c.enabled), ("premium-specialist-offer", 10, true));
    assert_eq!(c.needs, [crate::model::fields::Needs::Session, Needs::Details, Needs::Contact, Needs::History]);
    let Some(Condition::All(items)) = &c.audience else { panic!("audience is all: {:?}", c.audience) };
    assert_eq!(items.len(), 17);
    let displays: Vec<String> = items.iter().map(compile::condition_display).collect();
    assert_eq!(displays[0], r#"customer.attributes.plan equals "premium""#);
    assert_eq!(displays[1], r#"customer.attributes.page contains "pricing" (ignoring case)"#);
    assert_eq!(
        displays[2],
        r#"any of (customer.attributes.cart_value as number greater than 100, not (session.queue in ["Collections", "Fraud"]))"#
    );
    assert_eq!(displays[11], "session.started at least 2026-11-24T00:00:00Z");
    assert_eq!(displays[14], "session.age newer than 1h");
    let Condition::Test(regex) = &items[8] else { panic!("a test") };
    let Operator::Matches(re) = &regex.op else { panic!("matches") };
    assert!(re.is_match("ANA@EXAMPLE.COM"), "ignore_case applies to the regex");
    let Condition::Test(jp) = &items[3] else { panic!("a test") };
    assert!(matches!(jp.subject, Subject::JsonPath(_)));
    assert_eq!(c.history.look_back, jiff::SignedDuration::from_hours(90 * 24));
    let history: Vec<&str> = c.history.conditions.iter().map(HistoryCondition::display).collect();
    assert_eq!(
        history,
        [
            "count at least 1",
            r#"count at most 0 where wrap_up equals "Do Not Contact""#,
            "last contact older than 7d",
            r#"wrap up codes any of ["Sale", "Upgrade"]"#,
            r#"queues none of ["Collections"]"#,
            r#"message types any of ["webmessaging"]"#,
        ]
    );
    assert_eq!(c.message.template, "premium-offer.j2");
    assert_eq!(c.message.max_length, 2000);
    assert_eq!(
        c.limits,
        Limits { once_every: Some(OnceEvery::Every(jiff::SignedDuration::from_hours(168))), max_per_run: Some(50) }
    );
    let s = c.schedule.as_ref().expect("schedule");
    assert_eq!((s.cron_text.as_str(), s.time_zone_name.as_str()), ("*/15 9-17 * * 1-5", "Europe/Berlin"));
    assert_eq!(s.start, Some(jiff::civil::date(2026, 12, 1)));
    let w = s.active_window.as_ref().expect("window");
    assert_eq!(w.days.len(), 5);
    assert_eq!(w.time_zone, WindowZone::Customer { attribute: "timezone".into() });
    assert_eq!(w.from, jiff::civil::time(9, 0, 0, 0));
}

#[test]
fn inline_messages_are_templates_named_after_the_campaign() {
    let loaded = load(&[("a.yaml", HEAD)]);
    let set = loaded.set.expect("valid");
    assert_eq!(set.campaigns[0].message.template, "campaign:offer");
    assert!(set.templates.contains("campaign:offer"));
    assert_eq!(set.campaigns[0].needs, [crate::model::fields::Needs::Details]);
}

#[test]
fn campaign_test_cases() {
    insta::assert_snapshot!(with_head(
        "tests:\n  - name: typo in the reason\n    now: 2026-11-24T12:00:00Z\n    expect: skip\n    reason: audience_not_machted\n  - name: a reason a test cannot meet\n    now: 2026-11-24T12:00:00Z\n    expect: skip\n    reason: capped\n  - name: text with a skip\n    now: tomorrow\n    expect: skip\n    text: Hi\n    reason: history_not_matched\n  - name: no expectation\n    now: 2026-11-24T12:00:00Z\n    customer:\n      attributes: { cart_value: 149.90 }\n    history:\n      - { wrap_up: Sale }\n      - { ended_ago: 2 days }\n  - name: typo in the reason\n    now: 2026-11-24T12:00:00Z\n    session: { started: 2026-11-24T12:30:00Z }\n    expect: sned\n"
    ));
}

#[test]
fn campaign_test_cases_compile() {
    let loaded = load(&[(
        "offer.yaml",
        &format!(
            "{HEAD}tests:\n  - name: sends\n    now: 2026-11-24T12:00:00Z\n    customer:\n      attributes: {{ plan: premium }}\n      contact: {{ first_name: Ada, custom_fields: {{ points: 120 }} }}\n    session: {{ started_ago: 1h, queue: Sales }}\n    history:\n      - {{ ended_ago: 3d, wrap_up: Sale, duration: 25m, media_type: voice }}\n    expect: send\n    text_contains: Hi\n"
        ),
    )]);
    let set = loaded.set.expect("valid");
    let case = &set.campaigns[0].tests[0];
    assert_eq!(case.line, 8);
    assert_eq!(case.session.started.to_string(), "2026-11-24T11:00:00Z");
    assert_eq!(case.session.queue.as_deref(), Some("Sales"));
    assert_eq!(case.customer.contact.as_ref().unwrap().custom_fields["points"], serde_json::json!(120));
    let past = &case.history[0];
    assert_eq!(
        (past.started.to_string().as_str(), past.ended.to_string().as_str()),
        ("2026-11-21T11:35:00Z", "2026-11-21T12:00:00Z")
    );
    assert_eq!((past.media_type.as_str(), past.message_type.as_deref()), ("voice", None));
    assert_eq!(case.expect, super::Expectation::Send { text: None, contains: Some("Hi".into()) });
}

/// Hostile input: the loader never panics, on any text and on mutated valid campaigns, and its
/// diagnostics render.
mod hostile {
    use proptest::prelude::*;

    use super::{load, report};
    use crate::engine::eval::tests::{hostile_string, proptest_cases};

    pub(super) const BUNDLED: &[&str] = &[
        include_str!("../../campaigns/b2b-setup-help.yaml"),
        include_str!("../../campaigns/billing-follow-up.yaml"),
        include_str!("../../campaigns/cart-rescue.yaml"),
        include_str!("../../campaigns/feature-tour.yaml"),
        include_str!("../../campaigns/premium-specialist-offer.yaml"),
        include_str!("../../campaigns/vip-welcome-back.yaml"),
    ];

    /// YAML punctuation and campaign words, glued together.
    fn yamlish() -> impl Strategy<Value = String> {
        let token = prop_oneof![
            Just(":".to_owned()),
            Just("- ".to_owned()),
            Just("\n".to_owned()),
            Just("\n  ".to_owned()),
            Just("\n    ".to_owned()),
            Just("\t".to_owned()),
            Just("&a ".to_owned()),
            Just("*a".to_owned()),
            Just("<<: *a".to_owned()),
            Just("!!binary ".to_owned()),
            Just("!tag ".to_owned()),
            Just("{".to_owned()),
            Just("}".to_owned()),
            Just("[".to_owned()),
            Just("]".to_owned()),
            Just("'".to_owned()),
            Just("\"".to_owned()),
            Just("|\n".to_owned()),
            Just(">-\n".to_owned()),
            Just("---\n".to_owned()),
            Just("...\n".to_owned()),
            Just("~".to_owned()),
            Just("1e999".to_owned()),
            Just("-0x7fffffffffffffffff".to_owned()),
            Just("99999999999999999999d".to_owned()),
            Just("name".to_owned()),
            Just("audience".to_owned()),
            Just("field".to_owned()),
            Just("equals".to_owned()),
            Just("matches".to_owned()),
            Just("jsonpath".to_owned()),
            Just("message".to_owned()),
            Just("text".to_owned()),
            Just("template".to_owned()),
            Just("limits".to_owned()),
            Just("once_every".to_owned()),
            Just("schedule".to_owned()),
            Just("cron".to_owned()),
            Just("all".to_owned()),
            Just("any".to_owned()),
            Just("not".to_owned()),
            Just("history".to_owned()),
            Just("tests".to_owned()),
            Just("session.direction".to_owned()),
            Just("customer.attributes.x".to_owned()),
            Just("(a+)+$".to_owned()),
            Just("$..*".to_owned()),
            hostile_string(),
        ];
        prop::collection::vec(token, 0..60).prop_map(|v| v.concat())
    }

    #[derive(Debug, Clone)]
    enum Mutation {
        Delete(usize, usize),
        Insert(usize, String),
        DuplicateLine(usize),
        SwapLines(usize, usize),
        Truncate(usize),
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        prop_oneof![
            (any::<usize>(), 1..20usize).prop_map(|(at, n)| Mutation::Delete(at, n)),
            (any::<usize>(), yamlish()).prop_map(|(at, s)| Mutation::Insert(at, s)),
            any::<usize>().prop_map(Mutation::DuplicateLine),
            (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
            any::<usize>().prop_map(Mutation::Truncate),
        ]
    }

    fn boundary(text: &str, at: usize) -> usize {
        let mut at = at % (text.len() + 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        at
    }

    fn apply(text: &mut String, m: &Mutation) {
        match m {
            Mutation::Delete(at, n) => {
                let start = boundary(text, *at);
                let end = boundary(text, (start + n).min(text.len()));
                text.replace_range(start..end.max(start), "");
            }
            Mutation::Insert(at, s) => text.insert_str(boundary(text, *at), s),
            Mutation::DuplicateLine(i) | Mutation::SwapLines(i, _) if text.lines().count() == 0 => {
                let _ = i;
            }
            Mutation::DuplicateLine(i) => {
                let mut lines: Vec<&str> = text.lines().collect();
                let line = lines[i % lines.len()];
                lines.insert(i % lines.len(), line);
                *text = lines.join("\n");
            }
            Mutation::SwapLines(a, b) => {
                let mut lines: Vec<&str> = text.lines().collect();
                let n = lines.len();
                lines.swap(a % n, b % n);
                *text = lines.join("\n");
            }
            Mutation::Truncate(at) => text.truncate(boundary(text, *at)),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(proptest_cases()))]

        #[test]
        fn arbitrary_text_never_panics_the_loader(text in prop_oneof![yamlish(), any::<String>()]) {
            let loaded = load(&[("hostile.yaml", &text)]);
            let _ = report(&loaded);
        }

        #[test]
        fn mutated_campaigns_never_panic_the_loader(
            which in 0..BUNDLED.len(),
            mutations in prop::collection::vec(mutation(), 1..6),
        ) {
            let mut text = BUNDLED[which].to_owned();
            for m in &mutations {
                apply(&mut text, m);
            }
            let loaded = load(&[("mutated.yaml", &text)]);
            let _ = report(&loaded);
        }
    }
}

/// Limits: each hit is one clear error, with the file (and line where there is one).
mod limits {
    use super::super::compile::MAX_JSONPATH_LENGTH;
    use super::super::load::{MAX_CAMPAIGN_BYTES, MAX_FLOW_DEPTH, MAX_TEMPLATE_BYTES, flow_too_deep};
    use super::{one, report};

    const VALID: &str = "name: offer\naudience:\n  field: session.direction\n  equals: inbound\nmessage:\n  text: Hi\n";

    #[test]
    fn a_campaign_file_over_1_mib_is_refused_unread() {
        let text = format!("{VALID}# {}\n", "x".repeat(MAX_CAMPAIGN_BYTES));
        let out = one(&text);
        assert!(out.contains("error[too-large]") && out.contains("at most 1.0 MiB"), "{out}");
        assert!(out.contains("split it into several campaign files"), "{out}");

        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("templates")).unwrap();
        std::fs::write(dir.path().join("big.yaml"), &text).unwrap();
        std::fs::write(dir.path().join("templates/big.j2"), "x".repeat(MAX_TEMPLATE_BYTES + 1)).unwrap();
        let loaded = super::super::load::load(&super::super::load::LoadOptions {
            campaigns: vec![dir.path().join("big.yaml")],
            templates_dir: dir.path().join("templates"),
        });
        let out = report(&loaded);
        assert!(out.contains("big.yaml` is 1.0 MiB: a campaign file may be at most 1.0 MiB"), "{out}");
        assert!(out.contains("big.j2` is 257 KiB: a template file may be at most 256 KiB"), "{out}");
        assert!(loaded.set.is_none());
    }

    #[test]
    fn a_campaign_file_that_is_not_utf8_is_one_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = VALID.as_bytes().to_vec();
        bytes.extend_from_slice(b"# caf\xe9\n");
        std::fs::write(dir.path().join("latin1.yaml"), bytes).unwrap();
        let loaded = super::super::load::load(&super::super::load::LoadOptions {
            campaigns: vec![dir.path().join("latin1.yaml")],
            templates_dir: dir.path().join("templates"),
        });
        let out = report(&loaded);
        assert!(loaded.set.is_none());
        assert!(out.contains("latin1.yaml") && out.contains("valid UTF-8"), "{out}");
    }

    #[test]
    fn deep_flow_nesting_is_refused_quickly_with_its_line() {
        let started = std::time::Instant::now();
        let deep = format!("name: x\naudience: {}1{}\n", "[".repeat(100_000), "]".repeat(100_000));
        let out = one(&deep);
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "{:?}", started.elapsed());
        assert!(out.contains("error[too-deep]") && out.contains(":2:"), "{out}");
        // Across lines too.
        let lines = format!("name: x\naudience:\n  any: {}\n", "[\n".repeat(MAX_FLOW_DEPTH + 1));
        assert_eq!(flow_too_deep(&lines), Some(3 + MAX_FLOW_DEPTH));
        // Just below the limit, the YAML parser decides (its own limit is 128).
        let ok = format!("a: {}1{}\n", "[".repeat(MAX_FLOW_DEPTH), "]".repeat(MAX_FLOW_DEPTH));
        assert_eq!(flow_too_deep(&ok), None);
    }

    #[test]
    fn brackets_in_text_are_not_nesting() {
        let many = "{".repeat(500);
        for text in [
            format!("text: \"{many}\"\n"),
            format!("text: '{many} it''s'\n"),
            format!("text: |\n  {many}\n  {many}\nnext: 1\n"),
            format!("text: >-\n    {many}\n"),
            format!("text: Hi {many}\n"),
            format!("# {many}\n"),
            format!("text: \"multi\n  line {many}\"\n"),
        ] {
            assert_eq!(flow_too_deep(&text), None, "{text}");
        }
        for file in super::hostile::BUNDLED {
            assert_eq!(flow_too_deep(file), None);
        }
    }

    #[test]
    fn a_long_jsonpath_is_refused_with_its_line() {
        let query = format!("$.participants{}", ".a".repeat(MAX_JSONPATH_LENGTH));
        let out =
            one(&format!("name: offer\naudience:\n  jsonpath: \"{query}\"\n  exists: true\nmessage:\n  text: Hi\n"));
        assert!(out.contains("error[jsonpath]") && out.contains("at most 500 are allowed"), "{out}");
        assert!(out.contains("offer.yaml:3:"), "{out}");
    }

    #[test]
    fn a_huge_regex_is_refused_with_its_line() {
        let out = one(
            "name: offer\naudience:\n  field: customer.attributes.page\n  matches: \"(\\\\w{100}){100}\"\nmessage:\n  text: Hi\n",
        );
        assert!(out.contains("error[regex]") && out.contains("too large"), "{out}");
        assert!(out.contains("offer.yaml:4:"), "{out}");
    }

    #[test]
    fn a_template_nested_too_deeply_is_a_syntax_error_with_its_line() {
        let text = format!("{}x{}", "{{ (".repeat(500), ") }}".repeat(500));
        let out = one(&format!(
            "name: offer\naudience:\n  field: session.direction\n  equals: inbound\nmessage:\n  text: \"{text}\"\n"
        ));
        assert!(out.contains("error[template-syntax]") && out.contains("recursion"), "{out}");
        assert!(out.contains("offer.yaml:6:"), "{out}");
    }
}

/// `tests/corpus/`: hostile inputs kept as files (findings and classic attacks). Each loads
/// quickly, without a panic, to errors (or, for a template that includes itself, to a campaign
/// whose rendering stops at the recursion limit).
#[test]
fn the_hostile_corpus_loads_to_errors() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let started = std::time::Instant::now();
        let loaded = load(&[("corpus.yaml", &text)]);
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "{}", path.display());
        if let Some(set) = &loaded.set {
            let campaign = set.enabled().next().unwrap();
            let name = &campaign.message.template;
            let e = set.templates.render(name, &Default::default()).unwrap_err().to_string();
            assert!(e.contains("recursion"), "{}: {e}", path.display());
        } else {
            let out = report(&loaded);
            assert!(out.contains("error["), "{}: {out}", path.display());
        }
        files += 1;
    }
    assert!(files >= 5);
}
