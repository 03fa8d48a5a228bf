//! The visual preview (`--report FILE`): one self-contained HTML page for the people who write
//! campaigns. Per campaign, in priority order: the customers it would message, each with the
//! rendered text as a chat bubble, then the sessions it skips, grouped by reason, with the
//! condition that failed. Totals and warnings at the top.
//!
//! Pure: takes the plan (decided with explanations, so that the failing condition can be shown)
//! and what it needs of the campaign set, returns the page. Inline CSS only: no scripts, fonts or
//! anything else from the network. Every piece of data is HTML-escaped.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::Heading;
use crate::campaign::CampaignSet;
use crate::engine::decide::{Outcome, Plan, SessionPlan, SkipReason};
use crate::engine::eval::{Trace, Truth};

/// What the page shows of a campaign besides its decisions.
#[derive(Debug, Clone)]
pub struct CampaignInfo {
    pub name: String,
    pub description: Option<String>,
    pub priority: i64,
    pub enabled: bool,
}

impl CampaignInfo {
    /// Every campaign of the set, highest priority first.
    pub fn of(set: &CampaignSet) -> Vec<CampaignInfo> {
        set.campaigns
            .iter()
            .map(|c| CampaignInfo {
                name: c.name.clone(),
                description: c.description.clone(),
                priority: c.priority,
                enabled: c.enabled,
            })
            .collect()
    }
}

/// The page. `warnings` are shown as they are (e.g. the loader's warnings, one per line).
pub fn html(plan: &Plan, heading: &Heading, campaigns: &[CampaignInfo], warnings: &[String]) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let when = plan.now.strftime("%Y-%m-%d %H:%M UTC").to_string();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"color-scheme\" content=\"light\">\n\
         <title>Campaign preview · {}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n",
        esc(&when)
    );
    header(&mut out, plan, heading, &when);
    totals(&mut out, plan);
    warnings_box(&mut out, plan, warnings);
    contents(&mut out, plan, campaigns);
    for name in &plan.campaigns {
        let info = campaigns.iter().find(|c| &c.name == name);
        campaign(&mut out, plan, name, info);
    }
    let _ = write!(
        out,
        "<footer>Made by <code>runner</code> from {}. This page is self-contained: it loads nothing from the \
         network.</footer>\n</main>\n</body>\n</html>\n",
        esc(&heading.source)
    );
    out
}

fn header(out: &mut String, plan: &Plan, heading: &Heading, when: &str) {
    let dry = heading.mode == "Dry run";
    let _ = write!(
        out,
        "<header>\n<p class=\"eyebrow\">{}</p>\n<h1>Campaign preview</h1>\n\
         <p class=\"lead\">Who would get which message on <strong>{}</strong>, from {}.</p>\n",
        esc(heading.mode),
        esc(when),
        esc(&heading.source),
    );
    if dry {
        out.push_str(
            "<p class=\"note\">Nothing was sent. This page shows what <code>runner</code> would send, and why \
             everyone else would not get a message.</p>\n",
        );
    }
    let _ = plan;
    out.push_str("</header>\n");
}

fn totals(out: &mut String, plan: &Plan) {
    let s = &plan.summary;
    let without = plan.sessions.iter().filter(|p| p.send().is_none()).count();
    out.push_str("<section class=\"totals\" aria-label=\"Totals\">\n");
    let mut card = |n: usize, one: &str, many: &str, hint: &str, class: &str| {
        let _ = writeln!(
            out,
            "<div class=\"total {class}\"><span class=\"number\">{n}</span><span class=\"label\">{}</span>\
             <span class=\"hint\">{}</span></div>",
            esc(if n == 1 { one } else { many }),
            esc(hint)
        );
    };
    card(s.sends, "message to send", "messages to send", "at most one per customer", "good");
    card(s.sessions, "active session", "active sessions", "customers in a web-messaging session", "");
    card(without, "session without a message", "sessions without a message", "the reasons are listed per campaign", "");
    card(s.campaigns, "campaign", "campaigns", "switched on, below in priority order", "");
    out.push_str("</section>\n");
}

fn warnings_box(out: &mut String, plan: &Plan, warnings: &[String]) {
    let mut items: Vec<String> = warnings.to_vec();
    let errors = plan.summary.data_errors;
    if errors > 0 {
        items.push(format!(
            "The data of {errors} session{} could not be fully loaded; campaigns that need it skip {} as “data could not be loaded”.",
            if errors == 1 { "" } else { "s" },
            if errors == 1 { "it" } else { "them" }
        ));
    }
    if items.is_empty() {
        return;
    }
    let _ = write!(
        out,
        "<section class=\"warnings\" aria-label=\"Warnings\">\n<h2>{}</h2>\n<ul>\n",
        esc(&plural(items.len(), "Warning", "Warnings"))
    );
    for w in items {
        let _ = writeln!(out, "<li>{}</li>", esc(&w));
    }
    out.push_str("</ul>\n</section>\n");
}

fn contents(out: &mut String, plan: &Plan, campaigns: &[CampaignInfo]) {
    out.push_str("<nav aria-label=\"Campaigns\">\n<h2>Campaigns, highest priority first</h2>\n<ol>\n");
    for name in &plan.campaigns {
        let n = plan.summary.sends_per_campaign.get(name).copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "<li><a href=\"#campaign-{0}\">{0}</a> <span class=\"count\">{1}</span></li>",
            esc(name),
            esc(&plural(n, "message", "messages"))
        );
    }
    out.push_str("</ol>\n");
    let disabled: Vec<&str> = campaigns.iter().filter(|c| !c.enabled).map(|c| c.name.as_str()).collect();
    if !disabled.is_empty() {
        let _ = writeln!(
            out,
            "<p class=\"muted\">Switched off (<code>enabled: false</code>), not previewed: {}.</p>",
            esc(&disabled.join(", "))
        );
    }
    out.push_str("</nav>\n");
}

fn campaign(out: &mut String, plan: &Plan, name: &str, info: Option<&CampaignInfo>) {
    let mut sends: Vec<(&SessionPlan, &str)> = Vec::new();
    let mut skips: BTreeMap<SkipReason, Vec<SkipRow<'_>>> = BTreeMap::new();
    for session in &plan.sessions {
        for d in session.decisions.iter().filter(|d| &*d.campaign == name) {
            match &d.outcome {
                Outcome::Send { text } => sends.push((session, text)),
                Outcome::Skip { reason, detail } => {
                    let culprits = d.explain.as_ref().map(|e| explain_culprits(*reason, e)).unwrap_or_default();
                    skips.entry(*reason).or_default().push((session, culprits, detail));
                }
            }
        }
    }
    sends.sort_by_key(|(s, _)| s.started);
    let _ = write!(
        out,
        "<section class=\"campaign\" id=\"campaign-{}\">\n<div class=\"campaign-head\">\n<h2>{}</h2>\n",
        esc(name),
        esc(name)
    );
    if let Some(info) = info {
        let _ = write!(out, "<span class=\"pill\">priority {}</span>", info.priority);
    }
    let _ =
        write!(out, "<span class=\"pill good\">{}</span>\n</div>\n", esc(&plural(sends.len(), "message", "messages")));
    match info.and_then(|i| i.description.as_deref()) {
        Some(d) => {
            let _ = writeln!(out, "<p class=\"description\">{}</p>", esc(d));
        }
        None => out.push_str("<p class=\"description muted\">No description.</p>\n"),
    }
    if sends.is_empty() {
        out.push_str("<p class=\"empty\">This campaign would not message anyone in this run.</p>\n");
    } else {
        let _ = writeln!(
            out,
            "<h3>Would message {}</h3>\n<div class=\"chats\">",
            esc(&plural(sends.len(), "customer", "customers"))
        );
        for (session, text) in &sends {
            chat(out, session, text);
        }
        out.push_str("</div>\n");
    }
    let skipped: usize = skips.values().map(Vec::len).sum();
    if skipped > 0 {
        let _ = writeln!(out, "<h3>Would not message {}</h3>", esc(&plural(skipped, "session", "sessions")));
        for &reason in SkipReason::ALL {
            if let Some(rows) = skips.get_mut(&reason) {
                skip_group(out, reason, rows);
            }
        }
    }
    out.push_str("</section>\n");
}

fn chat(out: &mut String, session: &SessionPlan, text: &str) {
    let name = session.customer_name.as_deref().unwrap_or("Customer without a name");
    let _ = write!(
        out,
        "<article class=\"chat\">\n<div class=\"chat-head\"><span class=\"avatar\" aria-hidden=\"true\">{}</span>\
         <div><div class=\"who\">{}</div><div class=\"meta\">Conversation {} · {}</div></div></div>\n\
         <div class=\"chat-body\"><p class=\"bubble\">{}</p><div class=\"chars\">{} characters</div></div>\n</article>\n",
        esc(&initials(name)),
        esc(name),
        esc(&short_id(&session.conversation_id)),
        esc(&session.started.strftime("%H:%M UTC").to_string()),
        esc(text),
        text.chars().count()
    );
}

/// A skipped session: the session, the conditions that failed, and the skip's detail.
type SkipRow<'a> = (&'a SessionPlan, Vec<Culprit>, &'a str);

fn skip_group(out: &mut String, reason: SkipReason, rows: &mut [SkipRow<'_>]) {
    // The most common failing condition first, then by customer.
    let mut by_condition: BTreeMap<String, usize> = BTreeMap::new();
    for (_, culprits, _) in rows.iter() {
        for c in culprits {
            *by_condition.entry(c.short()).or_default() += 1;
        }
    }
    let key = |c: &[Culprit]| c.first().map(|c| (std::cmp::Reverse(by_condition[&c.short()]), c.short()));
    rows.sort_by(|a, b| key(&a.1).cmp(&key(&b.1)).then_with(|| a.0.customer_name.cmp(&b.0.customer_name)));
    // Long lists of "not in the audience" are the normal case: folded; the others are open.
    let open = !matches!(reason, SkipReason::AudienceNotMatched | SkipReason::NoExternalContact) || rows.len() <= 3;
    let meaning = reason.describe().trim_end_matches(" (see --explain)");
    let _ = write!(
        out,
        "<details class=\"skips reason-{}\"{}>\n<summary><span class=\"reason\">{}</span> <span class=\"count\">{}</span>\
         <span class=\"meaning\">{}</span></summary>\n",
        reason.as_str(),
        if open { " open" } else { "" },
        esc(title(reason)),
        rows.len(),
        esc(meaning)
    );
    let mut common: Vec<(&String, &usize)> = by_condition.iter().collect();
    common.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    if rows.len() > 3 && !common.is_empty() {
        out.push_str("<div class=\"common\">Most often:<ul>");
        for (summary, n) in common.iter().take(3) {
            let _ = write!(out, "<li><span class=\"times\">{n}×</span> {summary}</li>");
        }
        out.push_str("</ul></div>\n");
    }
    out.push_str(
        "<div class=\"table-wrap\"><table>\n<thead><tr><th>Customer</th><th>Conversation</th><th>Why</th></tr></thead>\n<tbody>\n",
    );
    for (session, culprits, detail) in rows.iter() {
        let name = session.customer_name.as_deref().unwrap_or("(no name)");
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"id\">{}</td><td>",
            esc(name),
            esc(&short_id(&session.conversation_id))
        );
        if culprits.is_empty() {
            out.push_str(&esc_ticks(detail));
        } else {
            out.push_str("<ul class=\"why\">");
            for c in culprits {
                culprit(out, c);
            }
            out.push_str("</ul>");
        }
        out.push_str("</td></tr>\n");
    }
    out.push_str("</tbody>\n</table></div>\n</details>\n");
}

fn culprit(out: &mut String, c: &Culprit) {
    if c.parts.is_empty() {
        let _ = write!(out, "<li>{}<code>{}</code>", esc(c.lead), esc(&c.condition));
    } else {
        let _ = write!(out, "<li>{}", esc(&c.condition));
    }
    if let Some(saw) = &c.saw {
        let _ = write!(out, " <span class=\"saw\">saw {}</span>", esc(saw));
    }
    if let Some(note) = &c.note {
        let _ = write!(out, " <span class=\"note-inline\">{}</span>", esc(note));
    }
    if !c.parts.is_empty() {
        out.push_str("<ul>");
        for p in &c.parts {
            culprit(out, p);
        }
        out.push_str("</ul>");
    }
    out.push_str("</li>");
}

/// A condition that made a campaign skip a session, from the explanation.
#[derive(Debug, Clone, PartialEq)]
struct Culprit {
    /// Words before the condition: "" or "excluded by " (for `not`).
    lead: &'static str,
    condition: String,
    saw: Option<String>,
    /// Why the data did not fit, or what was not loaded.
    note: Option<String>,
    /// For `any of` that failed: each alternative and why it failed.
    parts: Vec<Culprit>,
}

impl Culprit {
    /// A one-line summary in HTML (escaped), the same for every session that failed this way.
    fn short(&self) -> String {
        if self.parts.is_empty() {
            format!("{}<code>{}</code>", esc(self.lead), esc(&self.condition))
        } else {
            let parts: Vec<String> = self.parts.iter().map(Culprit::short).collect();
            format!("none of {}", parts.join(" or "))
        }
    }
}

fn explain_culprits(reason: SkipReason, e: &crate::engine::decide::Explanation) -> Vec<Culprit> {
    let mut out = Vec::new();
    match reason {
        SkipReason::AudienceNotMatched => e.audience.iter().for_each(|t| culprits(t, &mut out)),
        SkipReason::HistoryNotMatched => {
            e.history.iter().filter(|t| t.result.is_false()).for_each(|t| culprits(t, &mut out))
        }
        // Data that could not be loaded: the skip's own detail says which and why.
        SkipReason::DataMismatch => {
            e.audience.iter().chain(&e.history).filter(|t| !t.result.is_true()).for_each(|t| culprits(t, &mut out))
        }
        _ => {}
    }
    out
}

/// The conditions that decided a failed trace: the failing items of `all of`, each alternative
/// of a failed `any of`, the excluded condition of a `not`, or the test itself.
fn culprits(t: &Trace, out: &mut Vec<Culprit>) {
    let same = |c: &Trace| std::mem::discriminant(&c.result) == std::mem::discriminant(&t.result);
    if t.result.is_true() {
        return;
    }
    match t.condition.as_str() {
        "all of" if !t.children.is_empty() => {
            let before = out.len();
            t.children.iter().filter(|c| same(c)).for_each(|c| culprits(c, out));
            if out.len() == before {
                out.push(leaf(t));
            }
        }
        "any of" if !t.children.is_empty() => {
            let mut parts = Vec::new();
            t.children.iter().filter(|c| !c.result.is_true()).for_each(|c| culprits(c, &mut parts));
            out.push(Culprit { lead: "", condition: "None of these held:".into(), saw: None, note: None, parts });
        }
        "not" if t.children.len() == 1 => {
            let inner = &t.children[0];
            if inner.result.is_true() {
                out.push(Culprit { lead: "excluded by ", ..leaf(inner) });
            } else {
                culprits(inner, out);
            }
        }
        _ => out.push(leaf(t)),
    }
}

fn leaf(t: &Trace) -> Culprit {
    let note = match &t.result {
        Truth::Invalid(why) => Some(why.clone()),
        Truth::Unknown(needs) => Some(format!("{} not loaded", needs.0.describe())),
        Truth::True | Truth::False => None,
    };
    Culprit { lead: "", condition: t.condition.clone(), saw: t.saw.clone(), note, parts: Vec::new() }
}

/// The heading of a skip reason, in plain words.
fn title(reason: SkipReason) -> &'static str {
    match reason {
        SkipReason::NoExternalContact => "No contact record",
        SkipReason::AudienceNotMatched => "Not in the audience",
        SkipReason::HistoryNotMatched => "Earlier conversations do not fit",
        SkipReason::DataMismatch => "Data did not fit a condition",
        SkipReason::DataUnavailable => "Data could not be loaded",
        SkipReason::RenderError => "The message could not be filled in",
        SkipReason::EmptyMessage => "The message came out empty",
        SkipReason::MessageTooLong => "The message is too long",
        SkipReason::Capped => "Messaged recently (send journal)",
        SkipReason::RunLimit => "Over the campaign's limit for one run",
        SkipReason::LowerPriority => "Gets another campaign's message",
        SkipReason::AlreadyChosen => "Messaged through another session",
        SkipReason::OutsideWindow => "Outside the active window",
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn short_id(id: &str) -> String {
    id.chars().take(8).collect()
}

fn initials(name: &str) -> String {
    let mut words = name.split_whitespace().filter_map(|w| w.chars().find(|c| c.is_alphanumeric()));
    let first: String = words.next().into_iter().chain(words.next_back()).flat_map(char::to_uppercase).collect();
    if first.is_empty() { "?".to_owned() } else { first }
}

/// Escapes text, showing `quoted` parts as code (skip details quote names that way).
fn esc_ticks(text: &str) -> String {
    let parts: Vec<&str> = text.split('`').collect();
    if parts.len() % 2 == 0 {
        return esc(text);
    }
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| if i % 2 == 1 { format!("<code>{}</code>", esc(p)) } else { esc(p) })
        .collect()
}

/// Escapes text for HTML element content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const CSS: &str = r#"
:root {
  --bg: #f4f6f8; --card: #ffffff; --ink: #1d2630; --muted: #5f6b7a; --line: #e1e5ea;
  --accent: #2458d3; --accent-soft: #e8effc; --good: #17803d; --good-soft: #e6f4ea;
  --warn: #8a5a00; --warn-soft: #fff6df; --warn-line: #f1c96b; --code: #f1f3f6;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0; background: var(--bg); color: var(--ink);
  font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif;
}
main { max-width: 1120px; margin: 0 auto; padding: 40px 24px 56px; }
h1 { font-size: 2rem; line-height: 1.2; margin: 0 0 8px; }
h2 { font-size: 1.35rem; margin: 0; }
h3 { font-size: 1.05rem; margin: 28px 0 12px; color: var(--ink); }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.88em;
  background: var(--code); padding: 1px 5px; border-radius: 4px; overflow-wrap: anywhere; }
.eyebrow { text-transform: uppercase; letter-spacing: 0.08em; font-size: 0.78rem; font-weight: 600;
  color: var(--accent); margin: 0 0 4px; }
.lead { font-size: 1.1rem; margin: 0 0 8px; color: var(--muted); }
.lead strong { color: var(--ink); }
.note { display: inline-block; background: var(--accent-soft); color: #1a3f99; padding: 8px 14px;
  border-radius: 10px; margin: 8px 0 0; }
.muted { color: var(--muted); }
.totals { display: grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr)); gap: 14px; margin: 28px 0; }
.total { background: var(--card); border: 1px solid var(--line); border-radius: 14px; padding: 16px 18px; }
.total .number { display: block; font-size: 2rem; font-weight: 700; line-height: 1.1; }
.total .label { display: block; font-weight: 600; }
.total .hint { display: block; color: var(--muted); font-size: 0.88rem; }
.total.good .number { color: var(--good); }
.warnings { background: var(--warn-soft); border: 1px solid var(--warn-line); border-radius: 14px;
  padding: 14px 20px; margin: 0 0 28px; color: var(--warn); }
.warnings h2 { font-size: 1.05rem; }
.warnings ul { margin: 6px 0 0; padding-left: 20px; }
nav { background: var(--card); border: 1px solid var(--line); border-radius: 14px; padding: 18px 22px; }
nav h2 { font-size: 1.05rem; margin-bottom: 8px; }
nav ol { margin: 0; padding-left: 22px; display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr));
  gap: 2px 28px; }
nav li { margin: 2px 0; }
nav a { color: var(--accent); text-decoration: none; font-weight: 600; }
nav a:hover { text-decoration: underline; }
.count { color: var(--muted); font-size: 0.9rem; }
.campaign { background: var(--card); border: 1px solid var(--line); border-radius: 18px;
  padding: 26px 28px 18px; margin-top: 28px; scroll-margin-top: 16px; }
.campaign-head { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 10px; }
.campaign-head h2 { margin-right: 6px; overflow-wrap: anywhere; }
.pill { font-size: 0.82rem; font-weight: 600; padding: 3px 10px; border-radius: 999px;
  background: var(--code); color: var(--muted); white-space: nowrap; }
.pill.good { background: var(--good-soft); color: var(--good); }
.description { margin: 8px 0 0; font-size: 1.05rem; }
.empty { color: var(--muted); font-style: italic; }
.chats { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 16px; }
.chat { border: 1px solid var(--line); border-radius: 16px; overflow: hidden; background: #fbfcfd;
  display: flex; flex-direction: column; }
.chat-head { display: flex; align-items: center; gap: 10px; padding: 10px 14px; background: var(--card);
  border-bottom: 1px solid var(--line); }
.avatar { flex: none; width: 36px; height: 36px; border-radius: 50%; background: var(--accent-soft);
  color: var(--accent); display: grid; place-items: center; font-weight: 700; font-size: 0.85rem; }
.who { font-weight: 600; overflow-wrap: anywhere; }
.meta { color: var(--muted); font-size: 0.8rem; }
.chat-body { padding: 14px; display: flex; flex-direction: column; align-items: flex-end; flex: 1; }
.bubble { margin: 0; background: var(--accent); color: #fff; padding: 10px 14px;
  border-radius: 18px 18px 4px 18px; white-space: pre-wrap; overflow-wrap: anywhere; max-width: 92%;
  box-shadow: 0 1px 2px rgba(16, 24, 40, 0.12); }
.chars { color: var(--muted); font-size: 0.75rem; margin-top: 4px; }
details.skips { border: 1px solid var(--line); border-radius: 12px; margin: 10px 0; background: var(--card); }
details.skips > summary { cursor: pointer; padding: 12px 16px; list-style-position: outside; margin-left: 18px; }
details.skips[open] > summary { border-bottom: 1px solid var(--line); }
.reason { font-weight: 600; }
summary .count { display: inline-block; min-width: 28px; text-align: center; background: var(--code);
  border-radius: 999px; padding: 0 8px; margin-left: 6px; font-weight: 600; color: var(--ink); }
.meaning { display: block; color: var(--muted); font-size: 0.9rem; }
.common { margin: 12px 16px 4px; color: var(--muted); font-size: 0.92rem; }
.common ul { list-style: none; margin: 4px 0 0; padding: 0; }
.common li { margin: 3px 0; color: var(--ink); }
.times { display: inline-block; min-width: 36px; font-weight: 600; color: var(--muted); }
.table-wrap { overflow-x: auto; padding: 4px 8px 8px; }
table { width: 100%; border-collapse: collapse; font-size: 0.93rem; }
th { text-align: left; color: var(--muted); font-weight: 600; font-size: 0.8rem; text-transform: uppercase;
  letter-spacing: 0.05em; padding: 8px; }
td { padding: 8px; border-top: 1px solid var(--line); vertical-align: top; }
td.id { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; color: var(--muted); white-space: nowrap; }
ul.why { margin: 0; padding-left: 0; list-style: none; }
ul.why ul { padding-left: 18px; list-style: disc; margin: 4px 0 0; }
ul.why li { margin: 2px 0; }
.saw { color: var(--muted); }
.note-inline { display: block; color: var(--warn); font-size: 0.88rem; }
footer { color: var(--muted); font-size: 0.85rem; text-align: center; margin-top: 36px; }
@media (max-width: 640px) {
  main { padding: 24px 14px 40px; }
  h1 { font-size: 1.6rem; }
  .totals { grid-template-columns: 1fr 1fr; gap: 10px; }
  .total { padding: 12px 14px; }
  .campaign { padding: 20px 16px 12px; border-radius: 14px; }
  .chats { grid-template-columns: 1fr; }
  td.id, th:nth-child(2) { display: none; }
}
@media print { details.skips > summary { list-style: none; } body { background: #fff; } }
"#;

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use jiff::Timestamp;

    use super::*;
    use crate::engine::decide::{CampaignDecision, Explanation, Summary};

    fn session(id: &str, name: &str, decisions: Vec<CampaignDecision>) -> SessionPlan {
        SessionPlan {
            conversation_id: id.to_owned(),
            customer_id: Some(format!("contact-{id}")),
            customer_name: Some(name.to_owned()),
            started: "2026-11-24T10:00:00Z".parse().unwrap(),
            decisions,
        }
    }

    fn decision(campaign: &str, outcome: Outcome, explain: Option<Explanation>) -> CampaignDecision {
        CampaignDecision { campaign: campaign.into(), outcome, explain: explain.map(Box::new) }
    }

    fn trace(condition: &str, saw: Option<&str>, result: Truth, children: Vec<Trace>) -> Trace {
        Trace { condition: condition.to_owned(), saw: saw.map(str::to_owned), result, children }
    }

    fn plan(sessions: Vec<SessionPlan>) -> Plan {
        let mut sends_per_campaign = BTreeMap::new();
        sends_per_campaign.insert("offer".to_owned(), 1);
        let mut skips = BTreeMap::new();
        skips.insert(SkipReason::AudienceNotMatched, 1);
        Plan {
            now: "2026-11-24T12:00:00Z".parse::<Timestamp>().unwrap(),
            campaigns: vec!["offer".to_owned()],
            summary: Summary {
                sessions: sessions.len(),
                campaigns: 1,
                sends: 1,
                sends_per_campaign,
                skips,
                data_errors: 0,
            },
            sessions,
        }
    }

    fn heading() -> Heading {
        Heading { mode: "Dry run", source: "snapshot <demo>.json".to_owned() }
    }

    fn info() -> Vec<CampaignInfo> {
        vec![
            CampaignInfo {
                name: "offer".into(),
                description: Some("Offers & <b>deals</b>".into()),
                priority: 3,
                enabled: true,
            },
            CampaignInfo { name: "old".into(), description: None, priority: 0, enabled: false },
        ]
    }

    #[test]
    fn escapes_every_piece_of_data() {
        assert_eq!(esc(r#"<a href="x">'&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
        let text = "Hi <script>alert(1)</script> {{ customer.name }}\nsecond line";
        let sessions = vec![session(
            "c1",
            "<img src=x onerror=alert(1)> {{ name }}",
            vec![decision("offer", Outcome::Send { text: text.to_owned() }, None)],
        )];
        let page = html(&plan(sessions), &heading(), &info(), &["warn <i>x</i>".to_owned()]);
        assert!(!page.contains("<script>") && !page.contains("<img") && !page.contains("<i>") && !page.contains("<b>"));
        assert!(page.contains("Hi &lt;script&gt;alert(1)&lt;/script&gt; {{ customer.name }}\nsecond line"), "{page}");
        assert!(page.contains("&lt;img src=x onerror=alert(1)&gt; {{ name }}"));
        assert!(page.contains("Offers &amp; &lt;b&gt;deals&lt;/b&gt;"));
        assert!(page.contains("snapshot &lt;demo&gt;.json"));
        assert!(page.contains("warn &lt;i&gt;x&lt;/i&gt;"));
        // Self-contained: no scripts, no links to anything outside the page.
        assert!(!page.contains("<script") && !page.contains("src=\"") && !page.contains("http"), "{page}");
    }

    #[test]
    fn skips_show_the_condition_that_failed() {
        let audience = trace(
            "all of",
            None,
            Truth::False,
            vec![
                trace("customer.attributes.plan in [\"premium\"]", Some("\"<basic>\""), Truth::False, vec![]),
                trace(
                    "not",
                    None,
                    Truth::False,
                    vec![trace("session.queue in [\"Collections\"]", Some("\"Collections\""), Truth::True, vec![])],
                ),
                trace("session.age older than 2m", Some("5m"), Truth::True, vec![]),
                trace(
                    "any of",
                    None,
                    Truth::False,
                    vec![
                        trace(
                            "customer.attributes.page starts with \"/checkout\"",
                            Some("\"/home\""),
                            Truth::False,
                            vec![],
                        ),
                        trace(
                            "customer.attributes.cart_value as number greater than 100",
                            Some("\"n/a\""),
                            Truth::False,
                            vec![],
                        ),
                    ],
                ),
            ],
        );
        let explain = Explanation { audience: Some(audience), history: vec![], history_window: None };
        let skip = Outcome::Skip {
            reason: SkipReason::AudienceNotMatched,
            detail: "the audience conditions do not match".into(),
        };
        let sessions = vec![
            session("c1", "Ann", vec![decision("offer", Outcome::Send { text: "hello".into() }, None)]),
            session("c2", "Bob", vec![decision("offer", skip, Some(explain))]),
        ];
        let page = html(&plan(sessions), &heading(), &info(), &[]);
        assert!(page.contains("Not in the audience"));
        assert!(page.contains("<code>customer.attributes.plan in [&quot;premium&quot;]</code> <span class=\"saw\">saw &quot;&lt;basic&gt;&quot;</span>"), "{page}");
        assert!(page.contains("excluded by <code>session.queue in [&quot;Collections&quot;]</code>"));
        assert!(page.contains("None of these held:"));
        assert!(page.contains("starts with &quot;/checkout&quot;"));
        assert!(!page.contains("older than 2m"), "conditions that held are not blamed");
        assert!(page.contains("Switched off") && page.contains("old"));
        assert!(page.contains("priority 3"));
    }

    #[test]
    fn backticks_become_code_and_stay_escaped() {
        assert_eq!(esc_ticks("`<a>` wins"), "<code>&lt;a&gt;</code> wins");
        assert_eq!(esc_ticks("odd ` <b>"), "odd ` &lt;b&gt;");
    }

    #[test]
    fn initials_of_names() {
        assert_eq!(initials("Noah Williams"), "NW");
        assert_eq!(initials("Åsa Öberg"), "ÅÖ");
        assert_eq!(initials("太郎 山田"), "太山");
        assert_eq!(initials("Cher"), "C");
        assert_eq!(initials("  "), "?");
    }
}
