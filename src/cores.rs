//! How the CPU-bound stages (parsing a snapshot's lines, deciding, formatting JSON lines) use
//! the cores: rayon's global pool, one thread per core, living as long as the run (so that their
//! allocator heaps and the model's interner serve every stage), and the one helper that maps a
//! slice on it in order.

use std::sync::OnceLock;

use rayon::prelude::*;

/// The available cores, asked once (the standard library reads cgroup files on every call).
pub fn available() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get))
}

/// `f` of every item, in order, on the pool (work split by stealing, in pieces of at least
/// `min_parallel / 4` items). Small inputs (under `min_parallel` items) stay on this thread.
/// A panic in `f` is raised here.
pub fn map_in_order<T: Sync, R: Send>(items: &[T], min_parallel: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    if available() < 2 || items.len() < min_parallel.max(2) {
        return items.iter().map(f).collect();
    }
    let f = &f;
    items.par_iter().with_min_len((min_parallel / 4).max(1)).map(f).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn maps_in_order_whatever_the_split() {
        let items: Vec<u32> = (0..1000).collect();
        for min in [0, 64, 5000] {
            let doubled = super::map_in_order(&items, min, |i| i * 2);
            assert_eq!(doubled, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        }
        assert!(super::map_in_order(&[] as &[u32], 0, |i| *i).is_empty());
    }
}
