//! How many threads the CPU-bound stages (parsing a snapshot's lines, deciding, formatting
//! JSON lines) use, and the one helper that maps a slice on them in order.

use std::sync::OnceLock;

/// The available cores, asked once (the standard library reads cgroup files on every call).
pub fn available() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get))
}

/// `f` of every item, in order, the items split in one contiguous part per core. Small inputs
/// (under `min_parallel` items) stay on this thread. A panic in a helper thread is raised here.
pub fn map_in_order<T: Sync, R: Send>(items: &[T], min_parallel: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = available();
    if threads < 2 || items.len() < min_parallel.max(2) {
        return items.iter().map(f).collect();
    }
    let per = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let parts: Vec<_> =
            items.chunks(per).map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<R>>())).collect();
        let mut out = Vec::with_capacity(items.len());
        for part in parts {
            out.extend(part.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
        }
        out
    })
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
