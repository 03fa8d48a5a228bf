//! [`Map`]: the model's small string-keyed maps (participant attributes, contact custom fields).
//!
//! A large run holds one such map per session, each with a handful of entries: a sorted vector
//! of (shared key, value) costs a fraction of a `BTreeMap` (whose every node has room for eleven
//! entries), and its keys, which repeat from session to session, are shared through
//! [`super::intern`]. It reads and writes as a JSON object, keys in order, as a `BTreeMap` does.

use std::fmt;
use std::sync::Arc;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};

use super::intern;

/// Entries sorted by key, each key once.
#[derive(Clone, PartialEq)]
pub struct Map<V> {
    entries: Vec<(Arc<str>, V)>,
}

/// Participant attributes: text values, shared like the keys (most repeat: plans, languages,
/// time zones, flags).
pub type TextMap = Map<Arc<str>>;

impl<V> Default for Map<V> {
    fn default() -> Self {
        Map { entries: Vec::new() }
    }
}

impl<V> Map<V> {
    pub fn get(&self, key: &str) -> Option<&V> {
        self.entries.binary_search_by(|(k, _)| (**k).cmp(key)).ok().map(|i| &self.entries[i].1)
    }

    /// Sets `key` to `value`, replacing the value it had.
    pub fn insert(&mut self, key: &str, value: V) {
        match self.entries.binary_search_by(|(k, _)| (**k).cmp(key)) {
            Ok(i) => self.entries[i].1 = value,
            Err(i) => self.entries.insert(i, (intern(key), value)),
        }
    }

    /// The entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        self.entries.iter().map(|(k, v)| (&**k, v))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Sorts entries given in any order; of a repeated key the last value wins, as in a JSON
    /// object read into a `BTreeMap`.
    fn from_entries(mut entries: Vec<(Arc<str>, V)>) -> Self {
        // Stable: the entries of one key keep their order, and the last of them is kept.
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(Arc<str>, V)> = Vec::with_capacity(entries.len());
        for entry in entries {
            match out.last_mut() {
                Some(last) if last.0 == entry.0 => *last = entry,
                _ => out.push(entry),
            }
        }
        Map { entries: out }
    }
}

impl<K: AsRef<str>, V> FromIterator<(K, V)> for Map<V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Map::from_entries(iter.into_iter().map(|(k, v)| (intern(k.as_ref()), v)).collect())
    }
}

impl<V: fmt::Debug> fmt::Debug for Map<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<V: Serialize> Serialize for Map<V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (k, v) in &self.entries {
            map.serialize_entry(&**k, v)?;
        }
        map.end()
    }
}

/// How a map's values are read: text through the interner, JSON as it is.
pub trait MapValue: Sized {
    fn next_value<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Self, A::Error>;
}

impl MapValue for Arc<str> {
    fn next_value<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Self, A::Error> {
        map.next_value::<Interned>().map(|i| i.0)
    }
}

impl MapValue for serde_json::Value {
    fn next_value<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Self, A::Error> {
        map.next_value()
    }
}

impl<'de, V: MapValue> Deserialize<'de> for Map<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor<V>(std::marker::PhantomData<V>);
        impl<'de, V: MapValue> Visitor<'de> for MapVisitor<V> {
            type Value = Map<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Map<V>, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
                while let Some(Interned(key)) = map.next_key()? {
                    entries.push((key, V::next_value(&mut map)?));
                }
                Ok(Map::from_entries(entries))
            }
        }
        deserializer.deserialize_map(MapVisitor(std::marker::PhantomData))
    }
}

/// A string read straight into the interner (no `String` in between when the input has no
/// escapes).
struct Interned(Arc<str>);

impl<'de> Deserialize<'de> for Interned {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StrVisitor;
        impl Visitor<'_> for StrVisitor {
            type Value = Interned;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Interned, E> {
                Ok(Interned(intern(v)))
            }
        }
        deserializer.deserialize_str(StrVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_as_a_sorted_json_object_the_last_of_a_repeated_key_winning() {
        let m: TextMap = serde_json::from_str(r#"{"b":"2","a":"1","b":"3","c\u00e9":"x"}"#).unwrap();
        assert_eq!(m.iter().map(|(k, v)| (k, &**v)).collect::<Vec<_>>(), [("a", "1"), ("b", "3"), ("cé", "x")]);
        assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"a":"1","b":"3","cé":"x"}"#);
        assert_eq!(m.get("b").map(|v| &**v), Some("3"));
        assert_eq!(m.get("z"), None);
        assert!(serde_json::from_str::<TextMap>(r#"{"a":1}"#).is_err(), "attribute values are text");
        let json: Map<serde_json::Value> = serde_json::from_str(r#"{"n":1,"t":true}"#).unwrap();
        assert_eq!(json.get("n"), Some(&serde_json::json!(1)));
        assert_eq!(json.len(), 2);
    }

    #[test]
    fn insert_keeps_the_order() {
        let mut m: TextMap = [("b", Arc::from("2"))].into_iter().collect();
        m.insert("a", Arc::from("1"));
        m.insert("b", Arc::from("3"));
        assert_eq!(format!("{m:?}"), r#"{"a": "1", "b": "3"}"#);
    }
}
