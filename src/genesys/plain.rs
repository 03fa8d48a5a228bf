//! The API's JSON read without serde when it is plain: the texts it needs are borrowed, none
//! copied, and the fields it does not need are checked and skipped (twice as fast as serde's
//! typed reading, on the history lines that make most of a snapshot and on conversation
//! details).
//!
//! Only what serde would read the same way is read here: a text with an escape, a field given
//! twice, a value of a type serde would refuse or read otherwise (a struct written as an array,
//! say) is not plain, and serde reads it (and names what is wrong with it). Unit tests hold both
//! readings side by side on documents mutated at random.

use crate::genesys::types::{
    ConversationView, DetailsParticipant, DetailsView, ParticipantView, SegmentView, SessionView,
};

/// Nesting deeper than this is not plain (serde's own limit is 128).
const MAX_DEPTH: usize = 64;

/// `{"<key>": AnalyticsConversation}`, read into a view; `None` when the line is not plain
/// (which says nothing of its validity: serde reads it then).
pub fn conversation_line<'a>(line: &'a str, key: &str) -> Option<ConversationView<'a>> {
    let mut s = Scan { text: line, b: line.as_bytes(), i: 0, depth: 0 };
    let mut view = None;
    s.object(|s, k| {
        if k != key || view.is_some() {
            return None;
        }
        view = Some(s.conversation()?);
        Some(())
    })?;
    s.ws();
    (s.i == line.len()).then_some(())?;
    view
}

/// A `Conversation` (`GET /api/v2/conversations/{id}`), read as serde reads it into a
/// [`crate::genesys::types::Conversation`], into a view; `None` when the text is not plain.
pub fn conversation_details(text: &str) -> Option<DetailsView<'_>> {
    let mut s = Scan { text, b: text.as_bytes(), i: 0, depth: 0 };
    let mut seen = Seen::default();
    let mut id = None;
    let mut view = DetailsView::default();
    s.object(|s, key| match key {
        "id" => {
            seen.first(0)?;
            id = Some(s.string()?);
            Some(())
        }
        "startTime" | "endTime" => {
            seen.first(if key == "startTime" { 1 } else { 2 })?;
            s.text().map(drop)
        }
        "participants" => {
            seen.first(3)?;
            view.participants = s.list(Scan::details_participant)?;
            Some(())
        }
        _ => s.skip(),
    })?;
    s.ws();
    (s.i == text.len() && id.is_some()).then_some(view)
}

/// Where the first byte of `bytes` that ends a plain text's run is (its closing quote, an
/// escape, a control character), eight bytes at a time.
fn stop(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = ONES * 0x80;
    /// The first such byte of eight (little-endian), if any.
    fn first(word: u64) -> Option<usize> {
        let quote = word ^ (ONES * u64::from(b'"'));
        let backslash = word ^ (ONES * u64::from(b'\\'));
        // A byte's high bit is set in a term when the byte is below 0x20, a quote, a backslash
        // (exact for the first such byte; later ones may be flagged falsely). `!word` drops
        // the bytes of 0x80 and above (their high bit is theirs, in every term).
        let found =
            (word.wrapping_sub(ONES * 0x20) | quote.wrapping_sub(ONES) | backslash.wrapping_sub(ONES)) & !word & HIGH;
        (found != 0).then(|| (found.trailing_zeros() / 8) as usize)
    }
    let mut chunks = bytes.chunks_exact(8);
    for (n, chunk) in (&mut chunks).enumerate() {
        if let Some(i) = first(u64::from_le_bytes(chunk.try_into().expect("chunks of eight bytes"))) {
            return Some(n * 8 + i);
        }
    }
    // The last few bytes, padded (a stop found in the padding is none).
    let rest = chunks.remainder();
    let mut last = [b'"'; 8];
    last[..rest.len()].copy_from_slice(rest);
    first(u64::from_le_bytes(last)).filter(|&i| i < rest.len()).map(|i| bytes.len() - rest.len() + i)
}

struct Scan<'a> {
    text: &'a str,
    b: &'a [u8],
    i: usize,
    depth: usize,
}

/// Which of a struct's fields were seen (serde rejects a field given twice).
#[derive(Default)]
struct Seen(u32);

impl Seen {
    /// `Some` the first time field `n` is seen.
    fn first(&mut self, n: u32) -> Option<()> {
        let bit = 1 << n;
        (self.0 & bit == 0).then(|| self.0 |= bit)
    }
}

impl<'a> Scan<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    /// After blanks, `c`.
    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn word(&mut self, w: &[u8]) -> Option<()> {
        self.b.get(self.i..)?.starts_with(w).then(|| self.i += w.len())
    }

    /// A string without escapes or control characters.
    fn string(&mut self) -> Option<&'a str> {
        if !self.eat(b'"') {
            return None;
        }
        let start = self.i;
        let len = stop(&self.b[start..])?;
        self.i += len;
        if self.b[self.i] != b'"' {
            return None;
        }
        self.i += 1;
        // The quotes are ASCII: the string's ends are character boundaries.
        self.text.get(start..start + len)
    }

    /// `Option<String>`: a string or `null`.
    fn text(&mut self) -> Option<Option<&'a str>> {
        self.ws();
        if self.peek() == Some(b'n') {
            self.word(b"null")?;
            return Some(None);
        }
        self.string().map(Some)
    }

    /// A JSON object, each key given to `field` (which reads its value).
    fn object(&mut self, mut field: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        if !self.eat(b'{') {
            return None;
        }
        self.nest()?;
        if !self.eat(b'}') {
            loop {
                let key = self.string()?;
                if !self.eat(b':') {
                    return None;
                }
                field(self, key)?;
                if self.eat(b'}') {
                    break;
                }
                if !self.eat(b',') {
                    return None;
                }
            }
        }
        self.depth -= 1;
        Some(())
    }

    /// A JSON array, each element read by `element`.
    fn array(&mut self, mut element: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        if !self.eat(b'[') {
            return None;
        }
        self.nest()?;
        if !self.eat(b']') {
            loop {
                element(self)?;
                if self.eat(b']') {
                    break;
                }
                if !self.eat(b',') {
                    return None;
                }
            }
        }
        self.depth -= 1;
        Some(())
    }

    /// A `Vec` field: an array (serde rejects `null` there).
    fn list<T>(&mut self, mut element: impl FnMut(&mut Self) -> Option<T>) -> Option<Vec<T>> {
        let mut out = Vec::new();
        self.array(|s| {
            out.push(element(s)?);
            Some(())
        })?;
        Some(out)
    }

    fn nest(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    /// Any JSON value, checked and skipped.
    fn skip(&mut self) -> Option<()> {
        self.ws();
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'{' => self.object(|s, _| s.skip()),
            b'[' => self.array(Self::skip),
            b't' => self.word(b"true"),
            b'f' => self.word(b"false"),
            b'n' => self.word(b"null"),
            _ => self.number(),
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek()? {
            b'0' => self.i += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            self.some_digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            self.some_digits()?;
        }
        Some(())
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
    }

    fn some_digits(&mut self) -> Option<()> {
        let start = self.i;
        self.digits();
        (self.i > start).then_some(())
    }

    fn conversation(&mut self) -> Option<ConversationView<'a>> {
        let mut seen = Seen::default();
        let (mut id, mut start) = (None, None);
        let mut v = ConversationView::default();
        self.object(|s, key| match key {
            "conversationId" => {
                seen.first(0)?;
                id = Some(s.string()?);
                Some(())
            }
            "conversationStart" => {
                seen.first(1)?;
                start = Some(s.string()?);
                Some(())
            }
            "conversationEnd" => {
                seen.first(2)?;
                v.conversation_end = s.text()?;
                Some(())
            }
            "originatingDirection" => {
                seen.first(3)?;
                v.originating_direction = s.text()?;
                Some(())
            }
            "divisionIds" => {
                seen.first(4)?;
                v.division_ids = s.list(Self::string)?;
                Some(())
            }
            "externalTag" => {
                seen.first(5)?;
                v.external_tag = s.text()?;
                Some(())
            }
            "participants" => {
                seen.first(6)?;
                v.participants = s.list(Self::participant)?;
                Some(())
            }
            _ => s.skip(),
        })?;
        v.conversation_id = id?;
        v.conversation_start = start?;
        Some(v)
    }

    fn participant(&mut self) -> Option<ParticipantView<'a>> {
        let mut seen = Seen::default();
        let mut p = ParticipantView::default();
        self.object(|s, key| match key {
            "participantName" => {
                seen.first(0)?;
                p.participant_name = s.text()?;
                Some(())
            }
            "purpose" => {
                seen.first(1)?;
                p.purpose = s.text()?;
                Some(())
            }
            "externalContactId" => {
                seen.first(2)?;
                p.external_contact_id = s.text()?;
                Some(())
            }
            "sessions" => {
                seen.first(3)?;
                p.sessions = s.list(Self::session)?;
                Some(())
            }
            _ => s.skip(),
        })?;
        Some(p)
    }

    fn session(&mut self) -> Option<SessionView<'a>> {
        let mut seen = Seen::default();
        let mut v = SessionView::default();
        self.object(|s, key| match key {
            "mediaType" => {
                seen.first(0)?;
                v.media_type = s.text()?;
                Some(())
            }
            "messageType" => {
                seen.first(1)?;
                v.message_type = s.text()?;
                Some(())
            }
            "direction" => {
                seen.first(2)?;
                v.direction = s.text()?;
                Some(())
            }
            "segments" => {
                seen.first(3)?;
                v.segments = s.list(Self::segment)?;
                Some(())
            }
            _ => s.skip(),
        })?;
        Some(v)
    }

    fn details_participant(&mut self) -> Option<DetailsParticipant<'a>> {
        let mut seen = Seen::default();
        let mut p = DetailsParticipant::default();
        self.object(|s, key| {
            let (n, value) = match key {
                "id" => (0, None),
                "name" => (1, None),
                "purpose" => (2, Some(&mut p.purpose)),
                "externalContactId" => (3, None),
                "queueId" => (4, None),
                "queueName" => (5, Some(&mut p.queue_name)),
                "locale" => (6, Some(&mut p.locale)),
                "attributes" => {
                    seen.first(7)?;
                    return s.object(|s, key| {
                        p.attributes.push((key, s.string()?));
                        Some(())
                    });
                }
                "wrapup" => {
                    seen.first(8)?;
                    return s.wrapup();
                }
                _ => return s.skip(),
            };
            seen.first(n)?;
            let text = s.text()?;
            if let Some(value) = value {
                *value = text;
            }
            Some(())
        })?;
        Some(p)
    }

    /// `Option<Wrapup>`: `null` or the object, checked.
    fn wrapup(&mut self) -> Option<()> {
        self.ws();
        if self.peek() == Some(b'n') {
            return self.word(b"null");
        }
        let mut seen = Seen::default();
        self.object(|s, key| {
            let n = match key {
                "code" => 0,
                "name" => 1,
                "notes" => 2,
                _ => return s.skip(),
            };
            seen.first(n)?;
            s.text().map(drop)
        })
    }

    fn segment(&mut self) -> Option<SegmentView<'a>> {
        let mut seen = Seen::default();
        let mut v = SegmentView::default();
        self.object(|s, key| match key {
            "segmentStart" => {
                seen.first(0)?;
                v.segment_start = s.text()?;
                Some(())
            }
            "queueId" => {
                seen.first(1)?;
                v.queue_id = s.text()?;
                Some(())
            }
            "wrapUpCode" => {
                seen.first(2)?;
                v.wrap_up_code = s.text()?;
                Some(())
            }
            _ => s.skip(),
        })?;
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::genesys::types::AnalyticsConversation;

    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct HistoryLine {
        history: AnalyticsConversation,
    }

    /// What serde reads, as a view (`None`: serde refuses the line).
    fn by_serde(line: &str) -> Option<AnalyticsConversation> {
        serde_json::from_str::<HistoryLine>(line).ok().map(|l| l.history)
    }

    const LINES: [&str; 4] = [
        r#"{"history":{"conversationEnd":"2026-11-24T05:59:39.842Z","conversationId":"72e94a87~0","conversationStart":"2026-11-24T05:39:47.842Z","divisionIds":["40f9030a","d2"],"originatingDirection":"inbound","participants":[{"externalContactId":"8a66e4ec~0","participantId":"880713a1","participantName":"Zoë Brown","purpose":"customer","sessions":[{"direction":"inbound","mediaType":"message","messageType":"webmessaging","segments":[{"disconnectType":"client","segmentEnd":"2026-11-24T05:59:39.842Z","segmentStart":"2026-11-24T05:39:47.842Z","segmentType":"interact"}],"sessionId":"aa8dad0e"}]},{"participantId":"1988d3ed","participantName":"Billing","purpose":"acd","sessions":[{"segments":[{"queueId":"b4730149","segmentStart":"2026-11-24T05:39:49.842Z"}]}]},{"purpose":"agent","sessions":[{"segments":[{"queueId":"b4730149","segmentStart":"2026-11-24T05:59:39.842Z","segmentType":"wrapup","wrapUpCode":"e34c6551"}]}],"userId":"1f6c0779"}]}}"#,
        r#" { "history" : { "conversationId" : "c2" , "conversationStart" : "2026-01-01T00:00:00Z" , "conversationEnd" : null , "externalTag" : "tag" , "metrics" : [ 1 , -0.5 , 2e10 , 3.25E-3 , 0 , true , false , null , { "a" : [ ] , "b" : { } } ] , "participants" : [ ] } } "#,
        r#"{"history":{"conversationId":"c3","conversationStart":"x","originatingDirection":null,"participants":[{"purpose":null,"externalContactId":null,"participantName":null,"sessions":[{"mediaType":null,"messageType":null,"direction":null,"segments":[{"segmentStart":null,"queueId":null,"wrapUpCode":null,"n":-12}]}]}],"externalTag":null}}"#,
        "{\"history\":{\"conversationId\":\"c4\",\"conversationStart\":\"s\",\"divisionIds\":[],\"participants\":[{\"sessions\":[]},{}],\"deep\":[[[[{\"x\":[1,{\"y\":\"\u{1F600}\"}]}]]]]}}",
    ];

    /// A line's bytes changed at random: characters removed, inserted, tokens replaced.
    fn mutate(line: &str, rng: &mut u64) -> String {
        const TOKENS: [&str; 24] = [
            "\"",
            "{",
            "}",
            "[",
            "]",
            ",",
            ":",
            "\\",
            " ",
            "0",
            "-",
            ".",
            "e",
            "1",
            "null",
            "true",
            "[]",
            "{}",
            "\"a\"",
            "\"a\\\"b\"",
            "\"\\u00e9\"",
            "01",
            "\"purpose\"",
            "\"segments\"",
        ];
        let mut next = |n: usize| {
            *rng ^= *rng << 13;
            *rng ^= *rng >> 7;
            *rng ^= *rng << 17;
            (*rng % n as u64) as usize
        };
        let mut bytes = line.as_bytes().to_vec();
        for _ in 0..1 + next(4) / 3 {
            let at = next(bytes.len() + 1);
            match next(4) {
                0 if at < bytes.len() => {
                    bytes.remove(at);
                }
                1 => {
                    let token = TOKENS[next(TOKENS.len())].as_bytes();
                    bytes.splice(at..at, token.iter().copied());
                }
                2 => {
                    // A text (a key or a value) replaced: from the next quote to the one after.
                    let quote = |from: usize| bytes.iter().skip(from).position(|&b| b == b'"').map(|i| from + i);
                    if let Some(start) = quote(at) {
                        let end = quote(start + 1).map_or(bytes.len(), |i| i + 1);
                        let token = TOKENS[next(TOKENS.len())].as_bytes();
                        bytes.splice(start..end, token.iter().copied());
                    }
                }
                _ => {
                    // A piece repeated (a field given twice, say).
                    let end = (at + next(80)).min(bytes.len());
                    let piece = bytes[at..end].to_vec();
                    bytes.splice(end..end, piece);
                }
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[test]
    fn plain_lines_read_as_serde_reads_them() {
        let (mut read, mut left_to_serde, mut refused) = (0, 0, 0);
        let mut rng = 0x9E37_79B9_7F4A_7C15_u64;
        for round in 0..40_000 {
            let base = LINES[round % LINES.len()];
            let line = if round < LINES.len() { base.to_owned() } else { mutate(base, &mut rng) };
            let serde = by_serde(&line);
            match conversation_line(&line, "history") {
                Some(view) => {
                    let serde = serde.unwrap_or_else(|| panic!("read a line serde refuses: {line}"));
                    assert_eq!(view, serde.view(), "{line}");
                    read += 1;
                }
                None if serde.is_some() => {
                    assert!(round >= LINES.len(), "an unmutated line is plain: {line}");
                    left_to_serde += 1;
                }
                None => refused += 1,
            }
        }
        // Each way taken often: the mutations make every kind of line.
        assert!(read > 5_000 && left_to_serde > 100 && refused > 5_000, "{read} {left_to_serde} {refused}");
    }

    const DETAILS: [&str; 3] = [
        r#"{"divisions":[{"division":{"id":"40f9030a","selfUri":"/api/v2/authorization/divisions/40f9030a"},"entities":[]}],"id":"07a49635~0","participants":[{"attributes":{"cart_value":"0.00","customer_time_zone":"Europe/Stockholm","plan":"enterprise","plan":"basic","segment":"b2b"},"connectedTime":"2026-11-24T11:26:16.876Z","externalContactId":"18554cac~0","id":"cf1eb5eb","locale":"en-us","messages":[{"direction":"inbound","held":false,"journeyContext":{"customer":{"id":"0bee894b","idType":"cookie"}},"state":"connected"}],"name":"Björn Lindqvist","purpose":"customer","wrapupRequired":false},{"id":"86776729","name":"Support","purpose":"acd","queueId":"a169c025","queueName":"Support","wrapup":{"code":"c","name":null,"notes":"n"}}],"recordingState":"none","startTime":"2026-11-24T11:26:16.876Z"}"#,
        r#" { "id" : "c2" , "endTime" : null , "participants" : [ { "attributes" : { } , "wrapup" : null , "locale" : null , "n" : [ 1.5e3 , -0 , true ] } , { } ] } "#,
        r#"{"id":"c3","participants":[{"purpose":"agent","queueName":"Sales","attributes":{"a":"1"}},{"purpose":"ACD","queueName":" "}]}"#,
    ];

    /// A participant's details: purpose, queue name, locale, attributes (as the model's map keeps
    /// them: sorted, the last of a repeated key counting).
    type Part = (Option<String>, Option<String>, Option<String>, Vec<(String, String)>);

    fn details_by_serde(text: &str) -> Option<Vec<Part>> {
        let conv: crate::genesys::types::Conversation = serde_json::from_str(text).ok()?;
        Some(conv.details_view().participants.iter().map(part).collect())
    }

    fn part(p: &DetailsParticipant<'_>) -> Part {
        let text = |t: Option<&str>| t.map(str::to_owned);
        let map: crate::model::TextMap = p.attributes.iter().map(|&(k, v)| (k, std::sync::Arc::from(v))).collect();
        let attributes = map.iter().map(|(k, v)| (k.to_owned(), v.to_string())).collect();
        (text(p.purpose), text(p.queue_name), text(p.locale), attributes)
    }

    #[test]
    fn plain_details_read_as_serde_reads_them() {
        let (mut read, mut left_to_serde, mut refused) = (0, 0, 0);
        let mut rng = 0x2545_F491_4F6C_DD1D_u64;
        for round in 0..30_000 {
            let base = DETAILS[round % DETAILS.len()];
            let text = if round < DETAILS.len() { base.to_owned() } else { mutate(base, &mut rng) };
            let serde = details_by_serde(&text);
            match conversation_details(&text) {
                Some(view) => {
                    let serde = serde.unwrap_or_else(|| panic!("read details serde refuses: {text}"));
                    assert_eq!(view.participants.iter().map(part).collect::<Vec<_>>(), serde, "{text}");
                    read += 1;
                }
                None if serde.is_some() => {
                    assert!(round >= DETAILS.len(), "unmutated details are plain: {text}");
                    left_to_serde += 1;
                }
                None => refused += 1,
            }
        }
        assert!(read > 3_000 && left_to_serde > 100 && refused > 3_000, "{read} {left_to_serde} {refused}");
    }

    #[test]
    fn what_is_not_plain_is_left_to_serde() {
        let ok = |body: &str| format!(r#"{{"history":{{"conversationId":"c","conversationStart":"s"{body}}}}}"#);
        assert!(conversation_line(&ok(""), "history").is_some());
        assert!(conversation_line(&ok(""), "active").is_none(), "another key");
        for (body, serde_reads_it) in [
            (r#","externalTag":"a\"b""#, true),
            (r#","conversationId":"c""#, false),
            (r#","participants":[["customer"]]"#, true),
            (r#","participants":null"#, false),
            (r#","x":01"#, false),
            (r#","x":1."#, false),
            (r#","x":"tab	in a text""#, false),
            // Read as text up to the tab, the rest would be plain.
            (r#","externalTag":"a	,"x":"y""#, false),
            (r#","externalTag":"a\\","x":"y""#, true),
        ] {
            assert!(conversation_line(&ok(body), "history").is_none(), "{body}");
            assert_eq!(by_serde(&ok(body)).is_some(), serde_reads_it, "{body}");
        }
        let deep = format!(r#","x":{}{}"#, "[".repeat(70), "]".repeat(70));
        assert!(conversation_line(&ok(&deep), "history").is_none());
        assert!(by_serde(&ok(&deep)).is_some());
    }
}
