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
/// With several cores, one task per core on the pool produces, each taking the next item not
/// yet taken by another (so that items of unequal cost keep every core busy to the end), at most
/// `AHEAD_PER_TASK` items per task ahead of `take`. `take` returns `false` to stop: the tasks
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
    // How many items `take` has had, and whether to stop (`take` said so, or a task panicked).
    let progress = &(std::sync::Mutex::new((0usize, false)), std::sync::Condvar::new());
    let next = &std::sync::atomic::AtomicUsize::new(0);
    let ahead = tasks * AHEAD_PER_TASK;
    /// Stops every task when dropped: on a task, when it ends by a panic (which the scope raises
    /// afterwards); on this thread, when taking ends, whether by a panic of `take` or not (no task
    /// is left waiting for its turn).
    struct Stop<'a>(&'a (std::sync::Mutex<(usize, bool)>, std::sync::Condvar), bool);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            if self.1 || std::thread::panicking() {
                let (lock, changed) = self.0;
                lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner).1 = true;
                changed.notify_all();
            }
        }
    }
    rayon::in_place_scope(|scope| {
        let (give, produced) = std::sync::mpsc::channel::<(usize, R)>();
        for _ in 0..tasks {
            let give = give.clone();
            scope.spawn(move |_| {
                let _stop = Stop(progress, false);
                let (lock, changed) = progress;
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= n {
                        return;
                    }
                    {
                        let mut state = lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        while !state.1 && i >= state.0 + ahead {
                            state = changed.wait(state).unwrap_or_else(std::sync::PoisonError::into_inner);
                        }
                        if state.1 {
                            return;
                        }
                    }
                    // No one takes it once `take` stopped.
                    if give.send((i, produce(i))).is_err() {
                        return;
                    }
                }
            });
        }
        drop(give);
        let _stop = Stop(progress, true);
        // The items produced before their turn, by index.
        let mut early: std::collections::BTreeMap<usize, R> = std::collections::BTreeMap::new();
        let (lock, changed) = progress;
        for i in 0..n {
            let r = match early.remove(&i) {
                Some(r) => Some(r),
                None => loop {
                    // Every task gone before item `i`: one panicked, which the scope raises.
                    let Ok((k, r)) = produced.recv() else { break None };
                    if k == i {
                        break Some(r);
                    }
                    early.insert(k, r);
                },
            };
            let Some(r) = r else { break };
            let go_on = take(r);
            let mut state = lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            state.0 = i + 1;
            state.1 |= !go_on;
            drop(state);
            changed.notify_all();
            if !go_on {
                break;
            }
        }
        // Dropping the receiver stops the tasks still producing.
    });
}

/// How many items each task of [`produce_in_order`] may produce ahead of `take`.
const AHEAD_PER_TASK: usize = 2;

/// Drops `value` on the pool, off this thread (at once with one core): freeing many small
/// allocations made on the pool's threads takes the thread that frees them a while, and this one
/// is usually what the others wait for.
pub fn drop_on_pool<T: Send + 'static>(value: T) {
    if available() < 2 {
        drop(value);
    } else {
        rayon::spawn(move || drop(value));
    }
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

    /// Items of unequal cost come out in order, and none is produced more than the tasks' lead
    /// ahead of `take`.
    #[test]
    fn produces_unequal_items_in_order_within_the_lead() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let taken = AtomicUsize::new(0);
        let lead = AtomicUsize::new(0);
        let mut out = Vec::new();
        let cost = |i: usize| if i % 7 == 0 { 200_000 } else { 1_000 };
        super::produce_in_order(
            300,
            |i| {
                lead.fetch_max(i.saturating_sub(taken.load(Ordering::SeqCst)), Ordering::SeqCst);
                (0..cost(i)).fold(i, |a, b| std::hint::black_box(a ^ b)) ^ (0..cost(i)).fold(0, |a, b| a ^ b)
            },
            &mut |r| {
                out.push(r);
                taken.fetch_add(1, Ordering::SeqCst);
                true
            },
        );
        assert_eq!(out, (0..300).collect::<Vec<_>>());
        assert!(lead.load(Ordering::SeqCst) <= super::available() * super::AHEAD_PER_TASK, "{lead:?}");
    }

    /// A panic while taking is raised to the caller (no task is left waiting for its turn).
    #[test]
    fn a_panic_while_taking_is_raised() {
        let caught = std::panic::catch_unwind(|| {
            super::produce_in_order(100, |i| i, &mut |i| {
                assert!(i != 3, "item 3");
                true
            });
        });
        assert!(caught.is_err());
    }

    /// A panic while producing is raised to the caller (no task is left waiting).
    #[test]
    fn a_panic_while_producing_is_raised() {
        let caught = std::panic::catch_unwind(|| {
            super::produce_in_order(
                100,
                |i| {
                    assert!(i != 40, "item 40");
                    i
                },
                &mut |_| true,
            );
        });
        assert!(caught.is_err());
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
