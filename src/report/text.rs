//! The human preview: the messages that would go out as a table, the skips by reason, a
//! summary, and with `--explain` every condition of every campaign for every session.

use std::fmt::{self, Write};
use std::io;

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::Heading;
use crate::deliver::{Delivery, DeliveryCounts, DeliveryState};
use crate::engine::decide::{Outcome, Plan, SessionPlan, SkipReason};
use crate::engine::eval::{Trace, Truth};

/// The terminal width from `COLUMNS`, else 100.
pub fn width_from_env() -> usize {
    std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).filter(|w| *w >= 60).unwrap_or(100)
}

/// Writes the whole preview to `out`; with deliveries (a real run), what happened to each send.
/// Stops at the first write error.
pub fn write_preview(
    out: &mut impl io::Write,
    plan: &Plan,
    deliveries: Option<&[Delivery]>,
    heading: &Heading,
    explain: bool,
    width: usize,
) -> io::Result<()> {
    let mut out = Terminal { out, error: None };
    match preview(&mut out, plan, deliveries, heading, explain, width) {
        Ok(()) => Ok(()),
        Err(fmt::Error) => Err(out.error.unwrap_or_else(|| io::Error::other("the preview could not be formatted"))),
    }
}

fn preview(
    out: &mut impl Write,
    plan: &Plan,
    deliveries: Option<&[Delivery]>,
    heading: &Heading,
    explain: bool,
    width: usize,
) -> fmt::Result {
    let s = &plan.summary;
    writeln!(
        out,
        "{} at {} from {}: {} active session{}, {} campaign{}",
        heading.mode,
        plan.now.strftime("%Y-%m-%d %H:%M:%S UTC"),
        heading.source,
        s.sessions,
        plural(s.sessions),
        s.campaigns,
        plural(s.campaigns)
    )?;
    out.write_char('\n')?;
    sends_table(out, plan, width)?;
    if let Some(deliveries) = deliveries {
        delivered(out, deliveries)?;
    }
    skips(out, plan)?;
    summary_line(out, plan)?;
    if explain {
        out.write_char('\n')?;
        for session in &plan.sessions {
            explain_session(out, session)?;
        }
    }
    Ok(())
}

/// Customer data (names, attributes, rendered texts) reaches the terminal: the preview goes
/// through this writer, which shows control characters other than line breaks as escapes, so
/// they cannot move the cursor or recolour and hide rows of the preview. Keeps the I/O error.
struct Terminal<W> {
    out: W,
    error: Option<io::Error>,
}

impl<W: io::Write> Write for Terminal<W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let mut rest = text;
        let written = loop {
            match rest.char_indices().find(|(_, c)| c.is_control() && *c != '\n') {
                None => break self.out.write_all(rest.as_bytes()),
                Some((at, c)) => {
                    let escaped: String = c.escape_unicode().collect();
                    let written = self.out.write_all(&rest.as_bytes()[..at]);
                    if let Err(e) = written.and_then(|()| self.out.write_all(escaped.as_bytes())) {
                        break Err(e);
                    }
                    rest = &rest[at + c.len_utf8()..];
                }
            }
        };
        written.map_err(|e| {
            self.error = Some(e);
            fmt::Error
        })
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn sends_table(out: &mut impl Write, plan: &Plan, width: usize) -> fmt::Result {
    // Grouped by campaign, highest priority first; sessions oldest first within a campaign.
    let mut rows: Vec<(&SessionPlan, &str, &str)> =
        plan.sessions.iter().filter_map(|s| s.send().map(|(campaign, text)| (s, campaign, text))).collect();
    let rank = |name: &str| plan.campaigns.iter().position(|c| c == name);
    rows.sort_by_cached_key(|(s, campaign, _)| (rank(campaign), s.started));
    writeln!(out, "Messages to send: {}", rows.len())?;
    if rows.is_empty() {
        return out.write_char('\n');
    }
    fn name(s: &SessionPlan) -> &str {
        s.customer_name.as_deref().unwrap_or("(no name)")
    }
    let campaign_w = rows.iter().map(|r| r.1.width()).max().unwrap_or(0).clamp(8, 30);
    let customer_w = rows.iter().map(|r| name(r.0).width()).max().unwrap_or(0).clamp(8, 24);
    let conv_w = 12;
    let message_w = width.saturating_sub(campaign_w + conv_w + customer_w + 6).max(30);
    out.write_char('\n')?;
    writeln!(
        out,
        "{}  {}  {}  MESSAGE",
        pad("CAMPAIGN", campaign_w),
        pad("CONVERSATION", conv_w),
        pad("CUSTOMER", customer_w)
    )?;
    for (session, campaign, text) in rows {
        let lines = wrap(text, message_w);
        let short_id: String = session.conversation_id.chars().take(8).collect();
        for (i, line) in lines.iter().enumerate() {
            if i == 0 {
                writeln!(
                    out,
                    "{}  {}  {}  {line}",
                    pad(campaign, campaign_w),
                    pad(&short_id, conv_w),
                    pad(name(session), customer_w)
                )?;
            } else {
                writeln!(out, "{}  {line}", " ".repeat(campaign_w + conv_w + customer_w + 4))?;
            }
        }
    }
    out.write_char('\n')
}

fn delivered(out: &mut impl Write, deliveries: &[Delivery]) -> fmt::Result {
    let c = DeliveryCounts::of(deliveries);
    writeln!(
        out,
        "Sent: {}, failed: {}, uncertain: {}, capped by the journal: {}, not sent (journal failure): {}",
        c.sent, c.failed, c.uncertain, c.capped, c.not_sent
    )?;
    for d in deliveries {
        let (label, error) = match &d.state {
            DeliveryState::Sent(_) => continue,
            DeliveryState::Failed { error } => ("failed", error),
            DeliveryState::Uncertain { error } => ("UNCERTAIN (may have been delivered; not retried)", error),
            DeliveryState::Capped { detail } => ("capped", detail),
            DeliveryState::NotSent { error } => ("NOT SENT", error),
        };
        writeln!(
            out,
            "  {label}: {} to contact {} (conversation {}): {error}",
            d.campaign, d.customer_id, d.conversation_id
        )?;
    }
    out.write_char('\n')
}

fn skips(out: &mut impl Write, plan: &Plan) -> fmt::Result {
    let total: usize = plan.summary.skips.values().sum();
    writeln!(out, "Skipped (session and campaign pairs): {total}")?;
    for &reason in SkipReason::ALL {
        if let Some(n) = plan.summary.skips.get(&reason) {
            writeln!(out, "  {:<22} {n:>5}  {}", reason.as_str(), reason.describe())?;
        }
    }
    out.write_char('\n')
}

fn summary_line(out: &mut impl Write, plan: &Plan) -> fmt::Result {
    let s = &plan.summary;
    let per: Vec<String> =
        plan.campaigns.iter().map(|c| format!("{c} {}", s.sends_per_campaign.get(c).unwrap_or(&0))).collect();
    write!(
        out,
        "Summary: {} session{}, {} message{} to send",
        s.sessions,
        plural(s.sessions),
        s.sends,
        plural(s.sends)
    )?;
    if !per.is_empty() {
        write!(out, " ({})", per.join(", "))?;
    }
    if s.data_errors > 0 {
        write!(out, ", {} session{} with data errors", s.data_errors, plural(s.data_errors))?;
    }
    out.write_char('\n')
}

fn explain_session(out: &mut impl Write, s: &SessionPlan) -> fmt::Result {
    write!(out, "Conversation {}", s.conversation_id)?;
    if let Some(name) = &s.customer_name {
        write!(out, " · {name}")?;
    }
    match &s.customer_id {
        Some(id) => writeln!(out, " · contact {id}")?,
        None => out.write_str(" · no contact\n")?,
    }
    for d in &s.decisions {
        match &d.outcome {
            Outcome::Send { .. } => writeln!(out, "  {}: SEND", d.campaign)?,
            Outcome::Skip { reason, detail } => writeln!(out, "  {}: skip, {reason}: {detail}", d.campaign)?,
        }
        if let Some(e) = &d.explain {
            if let Some(a) = &e.audience {
                out.write_str("    audience\n")?;
                trace(out, a, 3)?;
            }
            if let Some(window) = &e.history_window {
                writeln!(out, "    history ({window})")?;
                for t in &e.history {
                    trace(out, t, 3)?;
                }
            }
        }
        if let Outcome::Send { text } = &d.outcome {
            for (i, line) in text.lines().enumerate() {
                writeln!(out, "    {} {line}", if i == 0 { "message:" } else { "        " })?;
            }
        }
    }
    out.write_char('\n')
}

fn trace(out: &mut impl Write, t: &Trace, depth: usize) -> fmt::Result {
    let (mark, why) = match &t.result {
        Truth::True => ("✓", None),
        Truth::False => ("✗", None),
        Truth::Unknown(n) => ("?", Some(format!("{} not loaded", n.0.describe()))),
        Truth::Invalid(why) => ("!", Some(why.clone())),
    };
    write!(out, "{}{mark} {}", "  ".repeat(depth), t.condition)?;
    if let Some(saw) = &t.saw {
        write!(out, "  (saw {saw})")?;
    }
    if let Some(why) = why {
        write!(out, "  [{why}]")?;
    }
    out.write_char('\n')?;
    for c in &t.children {
        trace(out, c, depth + 1)?;
    }
    Ok(())
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
        let mut out = Vec::new();
        let mut terminal = Terminal { out: &mut out, error: None };
        terminal.write_str("a\u{1b}[2Jb\nc\td").unwrap();
        terminal.write_str("\u{85}é\u{7f}").unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "a\\u{1b}[2Jb\nc\\u{9}d\\u{85}é\\u{7f}");
    }

    /// A writer that takes `room` bytes, then fails like a closed pipe.
    struct Closing {
        taken: Vec<u8>,
        room: usize,
    }

    impl io::Write for Closing {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.taken.len() >= self.room {
                return Err(io::Error::from(io::ErrorKind::BrokenPipe));
            }
            let n = buf.len().min(self.room - self.taken.len());
            self.taken.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_output_stops_the_preview_with_its_error() {
        let mut out = Closing { taken: Vec::new(), room: 5 };
        let mut terminal = Terminal { out: &mut out, error: None };
        let two = 2;
        assert!(write!(terminal, "one {two} three").is_err());
        assert!(terminal.write_str("four").is_err());
        assert_eq!(terminal.error.map(|e| e.kind()), Some(io::ErrorKind::BrokenPipe));
        assert_eq!(out.taken, b"one 2");
    }

    #[test]
    fn wraps_words_and_keeps_line_breaks() {
        assert_eq!(wrap("one two three four", 9), vec!["one two", "three", "four"]);
        assert_eq!(wrap("a\n\nb", 9), vec!["a", "", "b"]);
    }
}
