//! Which parts of a JSON document a set of `jsonpath:` queries can read, so that conversation
//! details are read into a JSON tree of only those parts: the members the queries name (and
//! whatever a filter, a function or a comparison looks at), whole below the places a query
//! answers with or compares. A query this cannot follow (a descendant segment `..`, a function
//! of its own) reaches the whole node it starts from. The answers over the smaller tree are the
//! answers over the whole document: a query only ever selects members by name, elements by
//! index, slice, wildcard or filter, and everything it returns or compares is kept whole.

use jsonpath_rust::parser::model::{
    Comparable, Filter, FilterAtom, FnArg, JpQuery, Segment, Selector, SingularQuery, SingularQuerySegment, Test,
    TestFunction,
};
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// What the queries can read of a node.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reach {
    /// The whole node.
    all: bool,
    /// Of every member (or element): a wildcard, an index, a slice or a filter.
    any: Option<Box<Reach>>,
    /// Of the members of these names (with what `any` reads of them).
    named: Vec<(String, Reach)>,
}

/// A step of a path a query reads along.
#[derive(Debug, Clone)]
enum Step {
    Name(String),
    Any,
}

impl Reach {
    /// What `queries` can read of a document.
    pub fn of(queries: &[&JpQuery]) -> Reach {
        let mut paths = Vec::new();
        for q in queries {
            walk(&q.segments, Vec::new(), &mut paths);
        }
        let mut reach = Reach::default();
        for path in &paths {
            reach.add(path);
        }
        reach.settle();
        reach
    }

    /// Whether the whole document is needed.
    pub fn is_all(&self) -> bool {
        self.all
    }

    fn add(&mut self, path: &[Step]) {
        if self.all {
            return;
        }
        let Some((step, rest)) = path.split_first() else {
            *self = Reach { all: true, ..Reach::default() };
            return;
        };
        let next = match step {
            Step::Any => self.any.get_or_insert_with(Box::default),
            Step::Name(name) => match self.named.iter().position(|(n, _)| n == name) {
                Some(at) => &mut self.named[at].1,
                None => {
                    self.named.push((name.clone(), Reach::default()));
                    &mut self.named.last_mut().expect("just pushed").1
                }
            },
        };
        next.add(rest);
    }

    /// Folds `any` into each named member (a member is read by its name and as any member).
    fn settle(&mut self) {
        if self.all {
            self.any = None;
            self.named.clear();
            return;
        }
        if let Some(any) = &mut self.any {
            any.settle();
        }
        let any = self.any.as_deref().cloned();
        for (_, member) in &mut self.named {
            if let Some(any) = &any {
                member.merge(any);
            }
            member.settle();
        }
    }

    fn merge(&mut self, other: &Reach) {
        if self.all || other.all {
            *self = Reach { all: true, ..Reach::default() };
            return;
        }
        if let Some(theirs) = &other.any {
            self.any.get_or_insert_with(Box::default).merge(theirs);
        }
        for (name, theirs) in &other.named {
            match self.named.iter_mut().find(|(n, _)| n == name) {
                Some((_, mine)) => mine.merge(theirs),
                None => self.named.push((name.clone(), theirs.clone())),
            }
        }
    }

    /// What is read of the member `key`; `None` when nothing is.
    fn member(&self, key: &str) -> Option<&Reach> {
        self.named.iter().find(|(n, _)| n == key).map(|(_, r)| r).or(self.any.as_deref())
    }

    /// `text` (valid JSON) read into a tree of what the queries can read.
    pub fn read(&self, text: &str) -> serde_json::Result<Value> {
        let mut de = serde_json::Deserializer::from_str(text);
        let value = ReadSeed(self).deserialize(&mut de)?;
        de.end()?;
        Ok(value)
    }
}

/// The paths `segments` read along from `at` (each to a node read whole).
fn walk(segments: &[Segment], at: Vec<Step>, out: &mut Vec<Vec<Step>>) {
    let Some((first, rest)) = segments.split_first() else {
        out.push(at);
        return;
    };
    match first {
        // Any depth below: the whole node.
        Segment::Descendant(_) => out.push(at),
        Segment::Selector(s) => selector(s, rest, at, out),
        Segment::Selectors(all) => {
            for s in all {
                selector(s, rest, at.clone(), out);
            }
        }
    }
}

fn selector(s: &Selector, rest: &[Segment], mut at: Vec<Step>, out: &mut Vec<Vec<Step>>) {
    match s {
        Selector::Name(name) => at.push(Step::Name(name.clone())),
        Selector::Wildcard | Selector::Index(_) | Selector::Slice(..) => at.push(Step::Any),
        Selector::Filter(f) => {
            at.push(Step::Any);
            filter(f, &at, out);
        }
    }
    walk(rest, at, out);
}

/// The paths a filter reads, `at` being the node it tests (`@`).
fn filter(f: &Filter, at: &[Step], out: &mut Vec<Vec<Step>>) {
    match f {
        Filter::Or(all) | Filter::And(all) => all.iter().for_each(|f| filter(f, at, out)),
        Filter::Atom(FilterAtom::Filter { expr, .. }) => filter(expr, at, out),
        Filter::Atom(FilterAtom::Test { expr, .. }) => test(expr, at, out),
        Filter::Atom(FilterAtom::Comparison(c)) => {
            let (left, right) = c.vals();
            comparable(left, at, out);
            comparable(right, at, out);
        }
    }
}

fn test(t: &Test, at: &[Step], out: &mut Vec<Vec<Step>>) {
    match t {
        Test::RelQuery(segments) => walk(segments, at.to_vec(), out),
        Test::AbsQuery(q) => walk(&q.segments, Vec::new(), out),
        Test::Function(f) => function(f, at, out),
    }
}

fn comparable(c: &Comparable, at: &[Step], out: &mut Vec<Vec<Step>>) {
    let singular = |start: Vec<Step>, segments: &[SingularQuerySegment]| {
        let mut path = start;
        path.extend(segments.iter().map(|s| match s {
            SingularQuerySegment::Name(name) => Step::Name(name.clone()),
            SingularQuerySegment::Index(_) => Step::Any,
        }));
        path
    };
    match c {
        Comparable::Literal(_) => {}
        Comparable::Function(f) => function(f, at, out),
        Comparable::SingularQuery(SingularQuery::Current(segments)) => out.push(singular(at.to_vec(), segments)),
        Comparable::SingularQuery(SingularQuery::Root(segments)) => out.push(singular(Vec::new(), segments)),
    }
}

fn function(f: &TestFunction, at: &[Step], out: &mut Vec<Vec<Step>>) {
    let args: Vec<&FnArg> = match f {
        // Unknown to this module: the whole document.
        TestFunction::Custom(..) => return out.push(Vec::new()),
        TestFunction::Length(a) => vec![a.as_ref()],
        TestFunction::Value(a) | TestFunction::Count(a) => vec![a],
        TestFunction::Search(a, b) | TestFunction::Match(a, b) => vec![a, b],
    };
    for arg in args {
        match arg {
            FnArg::Literal(_) => {}
            FnArg::Test(t) => test(t, at, out),
            FnArg::Filter(f) => filter(f, at, out),
        }
    }
}

/// Reads a value, keeping what `.0` reaches.
struct ReadSeed<'r>(&'r Reach);

impl<'de> DeserializeSeed<'de> for ReadSeed<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        if self.0.all { serde::Deserialize::deserialize(deserializer) } else { deserializer.deserialize_any(self) }
    }
}

impl<'de> Visitor<'de> for ReadSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        match self.0.any.as_deref() {
            Some(any) => {
                while let Some(v) = seq.next_element_seed(ReadSeed(any))? {
                    out.push(v);
                }
            }
            None => while seq.next_element::<IgnoredAny>()?.is_some() {},
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(key) = map.next_key_seed(KeySeed(self.0))? {
            match key {
                Some((key, reach)) => {
                    let value = map.next_value_seed(ReadSeed(reach))?;
                    out.insert(key, value);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(out))
    }
}

/// Reads a member's name: with what is read of the member, `None` when nothing is.
struct KeySeed<'r>(&'r Reach);

impl<'de, 'r> DeserializeSeed<'de> for KeySeed<'r> {
    type Value = Option<(String, &'r Reach)>;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'r> Visitor<'_> for KeySeed<'r> {
    type Value = Option<(String, &'r Reach)>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a member name")
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.0.member(v).map(|reach| (v.to_owned(), reach)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn query(text: &str) -> JpQuery {
        jsonpath_rust::parser::parse_json_path(text).expect("a valid query")
    }

    fn answers(q: &JpQuery, doc: &Value) -> Vec<Value> {
        jsonpath_rust::query::js_path_process(q, doc)
            .map(|found| found.iter().map(|r| r.val.clone()).collect())
            .unwrap_or_default()
    }

    fn doc() -> Value {
        json!({
            "id": "c-1",
            "divisions": [{"id": "d"}],
            "participants": [
                {"purpose": "customer", "name": "Zoë", "attributes": {"segment": "b2b", "tier": "gold", "n": 3},
                 "messages": [{"id": "m1"}, {"id": "m2"}], "tags": ["a", "b"]},
                {"purpose": "acd", "queueName": "Billing", "attributes": {"segment": "b2c"}, "messages": []},
                {"purpose": "agent", "name": "Ana", "wrapup": {"code": "w-1", "name": "Sale"}}
            ],
            "recordingState": "none",
            "nested": {"a": {"b": {"c": 1}}, "tier": "gold"}
        })
    }

    #[test]
    fn a_query_reads_only_what_it_names_and_returns_it_whole() {
        let q = query("$.participants[?@.purpose == 'customer'].attributes.segment");
        let reach = Reach::of(&[&q]);
        let read = reach.read(&doc().to_string()).expect("valid JSON");
        assert_eq!(
            read,
            json!({"participants": [
                {"purpose": "customer", "attributes": {"segment": "b2b"}},
                {"purpose": "acd", "attributes": {"segment": "b2c"}},
                {"purpose": "agent"}
            ]})
        );
        assert_eq!(answers(&q, &read), [json!("b2b")]);
    }

    #[test]
    fn answers_over_what_is_read_are_the_answers_over_the_whole_document() {
        let queries = [
            "$.participants[?@.purpose == 'customer'].attributes.segment",
            "$.participants[*].name",
            "$.participants[0].attributes",
            "$.participants[-1:].wrapup.code",
            "$.participants[?@.wrapup].purpose",
            "$.participants[?!@.attributes].purpose",
            "$.participants[?@.attributes.n > 2 && @.purpose != 'agent'].name",
            "$.participants[?length(@.messages) > 1].purpose",
            "$.participants[?count(@.messages[*]) == 0].purpose",
            "$.participants[?match(@.name, 'Z.*')].purpose",
            "$.participants[?@.attributes.tier == $.nested.tier].name",
            "$.participants[?@.attributes == $.nested].purpose",
            "$..segment",
            "$.nested.a",
            "$.participants[*].tags[1]",
            "$.nested[?@.b]",
            "$.participants[?@ == $.nested].purpose",
            "$['id', 'recordingState']",
        ];
        let whole = doc();
        let text = whole.to_string();
        for q in queries {
            let q = query(q);
            let read = Reach::of(&[&q]).read(&text).expect("valid JSON");
            assert_eq!(answers(&q, &read), answers(&q, &whole), "{q}");
        }
        // Together: each query answers as it does alone.
        let all: Vec<JpQuery> = queries.iter().map(|q| query(q)).collect();
        let refs: Vec<&JpQuery> = all.iter().collect();
        let read = Reach::of(&refs).read(&text).expect("valid JSON");
        for q in &all {
            assert_eq!(answers(q, &read), answers(q, &whole), "{q}");
        }
    }

    #[test]
    fn what_cannot_be_followed_reads_everything_below() {
        assert!(Reach::of(&[&query("$..segment")]).is_all());
        assert!(Reach::of(&[&query("$")]).is_all());
        assert!(!Reach::of(&[&query("$.a..b")]).is_all());
        assert!(!Reach::of(&[]).is_all());
        let read = Reach::of(&[&query("$.nested..c")]).read(&doc().to_string()).expect("valid");
        assert_eq!(read, json!({"nested": {"a": {"b": {"c": 1}}, "tier": "gold"}}));
    }
}
