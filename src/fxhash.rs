//! A fast hash for the maps of a run's ids (conversation, contact and customer ids, attribute
//! names). They come from Genesys and from the operator's snapshot, not from whoever might craft
//! colliding keys, so the standard library's DoS-resistant SipHash (3 % of a large run) is not
//! needed.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` with [`FxHasher`].
pub type FxHashMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;
/// A `HashSet` with [`FxHasher`].
pub type FxHashSet<T> = HashSet<T, BuildHasherDefault<FxHasher>>;

/// FxHash (rustc's).
#[derive(Default)]
pub struct FxHasher(u64);

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
        }
        let mut last = [0u8; 8];
        last[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
        self.add(u64::from_le_bytes(last));
        // The length, so that keys differing only by trailing zero bytes differ.
        self.add(bytes.len() as u64);
    }

    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A key with its FxHash worked out beforehand, on the thread that made it: the set it goes into,
/// filled on another thread that the others wait for, then neither hashes the key again nor
/// reads it unless the hashes match.
#[derive(Debug)]
pub struct Hashed<T> {
    hash: u64,
    pub key: T,
}

impl<T: std::hash::Hash> Hashed<T> {
    pub fn new(key: T) -> Self {
        let mut hasher = FxHasher::default();
        key.hash(&mut hasher);
        Hashed { hash: hasher.finish(), key }
    }
}

impl<T> std::hash::Hash for Hashed<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl<T: PartialEq> PartialEq for Hashed<T> {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.key == other.key
    }
}

impl<T: Eq> Eq for Hashed<T> {}

#[cfg(test)]
mod tests {
    use std::hash::{BuildHasher, BuildHasherDefault};

    use super::FxHasher;

    #[test]
    fn equal_keys_hash_equal_and_near_keys_differ() {
        let build = BuildHasherDefault::<FxHasher>::default();
        assert_eq!(build.hash_one("c-1"), build.hash_one(String::from("c-1")));
        assert_ne!(build.hash_one("c-1"), build.hash_one("c-2"));
        assert_ne!(build.hash_one("c-1"), build.hash_one("c-1\0"));
    }

    /// A set of keys hashed beforehand keeps each key once, and only equal keys are equal.
    #[test]
    fn hashed_keys_are_kept_once() {
        let mut set = super::FxHashSet::default();
        for id in ["c-1", "c-2", "c-1", "c-3", "c-2"] {
            set.insert(super::Hashed::new(id.to_owned()));
        }
        let mut kept: Vec<String> = set.into_iter().map(|h| h.key).collect();
        kept.sort();
        assert_eq!(kept, ["c-1", "c-2", "c-3"]);
        assert!(super::Hashed::new("c-1") != super::Hashed::new("c-2"));
    }
}
