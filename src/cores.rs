//! How the CPU-bound stages (reading and parsing a snapshot's lines, deciding, formatting JSON
//! lines) use the cores: rayon's global pool, one thread per core, living as long as the run (so
//! that their allocator heaps and the model's interner serve every stage), and the helpers that
//! map, produce and sort on it in order.

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
    map_indexed_in_order(items, min_parallel, |_, item| f(item))
}

/// [`map_in_order`] with each item's index: `f(i, &items[i])`.
pub fn map_indexed_in_order<T: Sync, R: Send>(
    items: &[T],
    min_parallel: usize,
    f: impl Fn(usize, &T) -> R + Sync,
) -> Vec<R> {
    if available() < 2 || items.len() < min_parallel.max(2) {
        return items.iter().enumerate().map(|(i, t)| f(i, t)).collect();
    }
    let f = &f;
    items.par_iter().enumerate().with_min_len((min_parallel / 4).max(1)).map(|(i, t)| f(i, t)).collect()
}

/// `produce(i)` for every `i` in `0..n`, handed to `take` in the order of `i` on this thread.
/// With several cores, one task per core on the pool produces (task `r` takes items `r`,
/// `r + tasks`, ...), at most one item ahead of `take`. `take` returns `false` to stop: the tasks
/// stop too. `take` must not wait on the pool (its threads may be waiting on `take`). Called on
/// the pool (whose threads would wait on each other), or with one core, it all runs on this
/// thread.
pub fn produce_in_order<R: Send>(n: usize, produce: impl Fn(usize) -> R + Sync, take: &mut dyn FnMut(R) -> bool) {
    let tasks = available().min(n);
    if tasks < 2 || rayon::current_thread_index().is_some() {
        for i in 0..n {
            if !take(produce(i)) {
                return;
            }
        }
        return;
    }
    let produce = &produce;
    rayon::in_place_scope(|scope| {
        let produced: Vec<std::sync::mpsc::Receiver<R>> = (0..tasks)
            .map(|task| {
                let (give, produced) = std::sync::mpsc::sync_channel(1);
                scope.spawn(move |_| {
                    for i in (task..n).step_by(tasks) {
                        // No one takes it once `take` stopped.
                        if give.send(produce(i)).is_err() {
                            break;
                        }
                    }
                });
                produced
            })
            .collect();
        for i in 0..n {
            // A closed channel: the task panicked, which the scope raises when it ends.
            let Ok(r) = produced[i % tasks].recv() else { break };
            if !take(r) {
                break;
            }
        }
        // Dropping the receivers stops the tasks still producing.
    });
}

/// [`map_in_order`] for owned items: `f` takes each item.
pub fn map_owned_in_order<T: Send, R: Send>(items: Vec<T>, min_parallel: usize, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    if available() < 2 || items.len() < min_parallel.max(2) {
        return items.into_iter().map(f).collect();
    }
    let f = &f;
    items.into_par_iter().with_min_len((min_parallel / 4).max(1)).map(f).collect()
}

/// Sorts on the pool (large slices only).
pub fn sort_unstable<T: Ord + Send>(items: &mut [T]) {
    if available() < 2 || items.len() < 4096 {
        items.sort_unstable();
    } else {
        items.par_sort_unstable();
    }
}

/// Sorts `items` by `compare` on every core (a large slice), not stably: for items no two of
/// which compare equal.
pub fn sort_unstable_by<T: Send>(items: &mut [T], compare: impl Fn(&T, &T) -> std::cmp::Ordering + Sync) {
    if available() < 2 || items.len() < 4096 {
        items.sort_unstable_by(compare);
    } else {
        items.par_sort_unstable_by(compare);
    }
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
        for min in [0, 64, 5000] {
            let indexed = super::map_indexed_in_order(&items, min, |i, item| (i, *item));
            assert!(indexed.iter().all(|&(i, item)| i as u32 == item) && indexed.len() == items.len());
        }
        let owned = super::map_owned_in_order((0..1000).collect(), 64, |i: u32| i * 2);
        assert_eq!(owned, items.iter().map(|i| i * 2).collect::<Vec<_>>());
    }

    #[test]
    fn sorts_by_a_comparison_on_one_core_or_all() {
        for len in [100u32, 10_000] {
            let mut items: Vec<(u32, String)> = (0..len).map(|i| ((i * 7919) % 13, format!("{}", len - i))).collect();
            let mut expected = items.clone();
            expected.sort();
            super::sort_unstable_by(&mut items, |a, b| a.cmp(b));
            assert_eq!(items, expected);
        }
    }

    #[test]
    fn produces_in_order_and_stops_when_asked() {
        let mut taken = Vec::new();
        super::produce_in_order(100, |i| i, &mut |i| {
            taken.push(i);
            true
        });
        assert_eq!(taken, (0..100).collect::<Vec<_>>());
        let mut taken = Vec::new();
        super::produce_in_order(100, |i| i, &mut |i| {
            taken.push(i);
            i < 10
        });
        assert_eq!(taken, (0..=10).collect::<Vec<_>>());
    }

    #[test]
    fn sorts_large_and_small_slices() {
        let mut large: Vec<u32> = (0..10_000).rev().collect();
        super::sort_unstable(&mut large);
        assert!(large.windows(2).all(|w| w[0] <= w[1]));
        let mut small = vec![3, 1, 2];
        super::sort_unstable(&mut small);
        assert_eq!(small, [1, 2, 3]);
    }
}
