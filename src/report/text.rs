//! The human preview: the messages that would go out as a table, the skips by reason, a
//! summary, and with `--explain` every condition of every campaign for every session.

use std::fmt::Write;

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::Heading;
use crate::deliver::{Delivery, DeliveryCounts, DeliveryState};
use crate::engine::decide::{Outcome, Plan, SessionPlan, SkipReason};
use crate::engine::eval::{Trace, Truth};

/// The terminal width from `COLUMNS`, else 100.
pub fn width_from_env() -> usize {
    std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).filter(|w| *w >= 60).unwrap_or(100)
}

/// The whole preview; with deliveries (a real run), what happened to each send.
pub fn preview(plan: &Plan, deliveries: Option<&[Delivery]>, heading: &Heading, explain: bool, width: usize) -> String {
    let mut out = String::new();
    let s = &plan.summary;
    let _ = writeln!(
        out,
        "{} at {} from {}: {} active session{}, {} campaign{}",
        heading.mode,
        plan.now.strftime("%Y-%m-%d %H:%M:%S UTC"),
        heading.source,
        s.sessions,
        plural(s.sessions),
        s.campaigns,
        plural(s.campaigns)
    );
    out.push('\n');
    sends_table(&mut out, plan, width);
    if let Some(deliveries) = deliveries {
        delivered(&mut out, deliveries);
    }
    skips(&mut out, plan);
    summary_line(&mut out, plan);
    if explain {
        out.push('\n');
        for session in &plan.sessions {
            explain_session(&mut out, session);
        }
    }
    escape_controls(&out)
}

/// Customer data (names, attributes, rendered texts) reaches the terminal: control characters
/// other than line breaks are shown as escapes, so they cannot move the cursor or recolour and
/// hide rows of the preview.
fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\n' {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn sends_table(out: &mut String, plan: &Plan, width: usize) {
    // Grouped by campaign, highest priority first; sessions oldest first within a campaign.
    let mut rows: Vec<(&SessionPlan, &str, &str)> =
        plan.sessions.iter().filter_map(|s| s.send().map(|(campaign, text)| (s, campaign, text))).collect();
    let rank = |name: &str| plan.campaigns.iter().position(|c| c == name);
    rows.sort_by_key(|(s, campaign, _)| (rank(campaign), s.started));
    let _ = writeln!(out, "Messages to send: {}", rows.len());
    if rows.is_empty() {
        out.push('\n');
        return;
    }
    let name = |s: &SessionPlan| s.customer_name.clone().unwrap_or_else(|| "(no name)".to_owned());
    let campaign_w = rows.iter().map(|r| r.1.width()).max().unwrap_or(0).clamp(8, 30);
    let customer_w = rows.iter().map(|r| name(r.0).width()).max().unwrap_or(0).clamp(8, 24);
    let conv_w = 12;
    let message_w = width.saturating_sub(campaign_w + conv_w + customer_w + 6).max(30);
    out.push('\n');
    let _ = writeln!(
        out,
        "{}  {}  {}  MESSAGE",
        pad("CAMPAIGN", campaign_w),
        pad("CONVERSATION", conv_w),
        pad("CUSTOMER", customer_w)
    );
    for (session, campaign, text) in rows {
        let lines = wrap(text, message_w);
        let short_id: String = session.conversation_id.chars().take(8).collect();
        for (i, line) in lines.iter().enumerate() {
            if i == 0 {
                let _ = writeln!(
                    out,
                    "{}  {}  {}  {line}",
                    pad(campaign, campaign_w),
                    pad(&short_id, conv_w),
                    pad(&name(session), customer_w)
                );
            } else {
                let _ = writeln!(out, "{}  {line}", " ".repeat(campaign_w + conv_w + customer_w + 4));
            }
        }
    }
    out.push('\n');
}

fn delivered(out: &mut String, deliveries: &[Delivery]) {
    let c = DeliveryCounts::of(deliveries);
    let _ = writeln!(
        out,
        "Sent: {}, failed: {}, uncertain: {}, capped by the journal: {}, not sent (journal failure): {}",
        c.sent, c.failed, c.uncertain, c.capped, c.not_sent
    );
    for d in deliveries {
        let (label, error) = match &d.state {
            DeliveryState::Sent(_) => continue,
            DeliveryState::Failed { error } => ("failed", error),
            DeliveryState::Uncertain { error } => ("UNCERTAIN (may have been delivered; not retried)", error),
            DeliveryState::Capped { detail } => ("capped", detail),
            DeliveryState::NotSent { error } => ("NOT SENT", error),
        };
        let _ = writeln!(
            out,
            "  {label}: {} to contact {} (conversation {}): {error}",
            d.campaign, d.customer_id, d.conversation_id
        );
    }
    out.push('\n');
}

fn skips(out: &mut String, plan: &Plan) {
    let total: usize = plan.summary.skips.values().sum();
    let _ = writeln!(out, "Skipped (session and campaign pairs): {total}");
    for &reason in SkipReason::ALL {
        if let Some(n) = plan.summary.skips.get(&reason) {
            let _ = writeln!(out, "  {:<22} {n:>5}  {}", reason.as_str(), reason.describe());
        }
    }
    out.push('\n');
}

fn summary_line(out: &mut String, plan: &Plan) {
    let s = &plan.summary;
    let per: Vec<String> =
        plan.campaigns.iter().map(|c| format!("{c} {}", s.sends_per_campaign.get(c).unwrap_or(&0))).collect();
    let _ = write!(
        out,
        "Summary: {} session{}, {} message{} to send",
        s.sessions,
        plural(s.sessions),
        s.sends,
        plural(s.sends)
    );
    if !per.is_empty() {
        let _ = write!(out, " ({})", per.join(", "));
    }
    if s.data_errors > 0 {
        let _ = write!(out, ", {} session{} with data errors", s.data_errors, plural(s.data_errors));
    }
    out.push('\n');
}

fn explain_session(out: &mut String, s: &SessionPlan) {
    let _ = write!(out, "Conversation {}", s.conversation_id);
    if let Some(name) = &s.customer_name {
        let _ = write!(out, " · {name}");
    }
    match &s.customer_id {
        Some(id) => {
            let _ = writeln!(out, " · contact {id}");
        }
        None => out.push_str(" · no contact\n"),
    }
    for d in &s.decisions {
        match &d.outcome {
            Outcome::Send { .. } => {
                let _ = writeln!(out, "  {}: SEND", d.campaign);
            }
            Outcome::Skip { reason, detail } => {
                let _ = writeln!(out, "  {}: skip, {reason}: {detail}", d.campaign);
            }
        }
        if let Some(e) = &d.explain {
            if let Some(a) = &e.audience {
                out.push_str("    audience\n");
                trace(out, a, 3);
            }
            if let Some(window) = &e.history_window {
                let _ = writeln!(out, "    history ({window})");
                for t in &e.history {
                    trace(out, t, 3);
                }
            }
        }
        if let Outcome::Send { text } = &d.outcome {
            for (i, line) in text.lines().enumerate() {
                let _ = writeln!(out, "    {} {line}", if i == 0 { "message:" } else { "        " });
            }
        }
    }
    out.push('\n');
}

fn trace(out: &mut String, t: &Trace, depth: usize) {
    let (mark, why) = match &t.result {
        Truth::True => ("✓", None),
        Truth::False => ("✗", None),
        Truth::Unknown(n) => ("?", Some(format!("{} not loaded", n.0.describe()))),
        Truth::Invalid(why) => ("!", Some(why.clone())),
    };
    let _ = write!(out, "{}{mark} {}", "  ".repeat(depth), t.condition);
    if let Some(saw) = &t.saw {
        let _ = write!(out, "  (saw {saw})");
    }
    if let Some(why) = why {
        let _ = write!(out, "  [{why}]");
    }
    out.push('\n');
    for c in &t.children {
        trace(out, c, depth + 1);
    }
}

/// Pads (or cuts, with `…`) to a display width.
fn pad(s: &str, w: usize) -> String {
    let mut out = String::new();
    let mut used = 0;
    if s.width() > w {
        for ch in s.chars() {
            let cw = ch.width().unwrap_or(0);
            if used + cw + 1 > w {
                break;
            }
            out.push(ch);
            used += cw;
        }
        out.push('…');
        used += 1;
    } else {
        out.push_str(s);
        used = s.width();
    }
    out.push_str(&" ".repeat(w.saturating_sub(used)));
    out
}

/// Wraps text at word boundaries to a display width; keeps the text's own line breaks.
fn wrap(text: &str, w: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for para in text.lines() {
        let mut line = String::new();
        for word in para.split(' ') {
            if !line.is_empty() && line.width() + 1 + word.width() > w {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_and_cuts_by_display_width() {
        assert_eq!(pad("abc", 5), "abc  ");
        assert_eq!(pad("山田 太郎", 6), "山田 …");
        assert_eq!(pad("山田", 6), "山田  ");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape_controls("a\u{1b}[2Jb\nc\td"), "a\\u{1b}[2Jb\nc\\u{9}d");
    }

    #[test]
    fn wraps_words_and_keeps_line_breaks() {
        assert_eq!(wrap("one two three four", 9), vec!["one two", "three", "four"]);
        assert_eq!(wrap("a\n\nb", 9), vec!["a", "", "b"]);
    }
}
