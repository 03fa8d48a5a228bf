//! The scheduler core, pure: given the campaigns' schedules, what already ran and `now`, what is
//! due, what was missed or skipped, and when to wake up next. No clock, no I/O: the serve loop
//! passes `now` in.
//!
//! Time handling: cron fields are matched on the wall clock of the schedule's IANA zone (croner
//! over jiff). On a spring-forward day a time inside the gap (`30 2 * * *` on 2026-03-29 in
//! Europe/Berlin) runs at the first instant after the gap (03:00 CEST); on a fall-back day a
//! fixed time in the repeated hour (`30 2 * * *` on 2026-10-25) runs once, at its first
//! instance (02:30 CEST), and interval jobs (`*/15 * * * *`) run on both instances. `start` and
//! `end` are whole days (inclusive) in the schedule's zone.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp, ZonedDateTime};

use super::cron_time::Local;

use crate::campaign::{CampaignSet, Schedule, WindowZone};

/// The next occurrence of a schedule strictly after `after` (or at it, with `inclusive`),
/// within its start and end days. `None`: none (the end date has passed).
pub fn next_occurrence(schedule: &Schedule, after: Timestamp, inclusive: bool) -> Option<Timestamp> {
    let tz = &schedule.time_zone;
    let mut from = after.to_zoned_datetime(tz.clone());
    let mut inclusive = inclusive;
    if let Some(start) = schedule.start {
        if from.date() < start {
            from = start.to_zoned_datetime(tz.clone()).ok()?;
            inclusive = true;
        }
    }
    let Local(next) = schedule.cron.find_next_occurrence(&Local(from), inclusive).ok()?;
    if schedule.end.is_some_and(|end| next.date() > end) {
        return None;
    }
    Some(next.timestamp())
}

/// The next `n` occurrences after `after`, in the schedule's zone.
pub fn upcoming(schedule: &Schedule, after: Timestamp, n: usize) -> Vec<ZonedDateTime> {
    let mut out = Vec::with_capacity(n);
    let mut at = after;
    let mut inclusive = false;
    while out.len() < n {
        let Some(next) = next_occurrence(schedule, at, inclusive) else { break };
        out.push(next.to_zoned_datetime(schedule.time_zone.clone()));
        at = next;
        inclusive = false;
    }
    out
}

/// Whether an occurrence falls inside the schedule's active window, when that window is in the
/// schedule's zone. A window in the customer's zone is checked per customer when deciding.
pub fn in_schedule_window(schedule: &Schedule, at: Timestamp) -> bool {
    match &schedule.active_window {
        Some(w) if w.time_zone == WindowZone::Schedule => {
            w.contains(at.to_zoned_datetime(schedule.time_zone.clone()).datetime())
        }
        _ => true,
    }
}

/// What the scheduler tells the loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Run this occurrence now.
    Due { campaign: String, occurrence: Timestamp },
    /// Occurrences more than the allowed lateness late (downtime, a stalled machine): not run.
    /// `count` of them from `first` to `last`.
    Missed { campaign: String, first: Timestamp, last: Timestamp, count: usize },
    /// The previous run of the campaign (for `running`) is still going: this one is skipped.
    Overlap { campaign: String, occurrence: Timestamp, running: Timestamp },
    /// The occurrence is outside the active window (in the schedule's zone): skipped.
    OutsideWindow { campaign: String, occurrence: Timestamp },
}

#[derive(Debug)]
struct State {
    schedule: Schedule,
    /// The next occurrence not yet handled.
    next: Option<Timestamp>,
    /// The occurrence now running, if any.
    running: Option<Timestamp>,
    /// The last occurrence handled (run or skipped): a changed schedule never repeats it.
    last: Option<Timestamp>,
}

/// At most this many missed occurrences are walked one by one; past it the scheduler jumps.
const MAX_MISSED_WALK: usize = 10_000;

/// The scheduler's state: per scheduled campaign, its next occurrence and whether it runs.
#[derive(Debug)]
pub struct Scheduler {
    max_lateness: SignedDuration,
    states: BTreeMap<String, State>,
    /// Campaigns that left the set (disabled, renamed, removed), by name: the last occurrence
    /// handled and the run still going, if any. A campaign that comes back never repeats an
    /// occurrence already handled, nor overlaps its own run.
    departed: BTreeMap<String, Departed>,
}

#[derive(Debug, Clone, Copy)]
struct Departed {
    last: Option<Timestamp>,
    running: Option<Timestamp>,
}

impl Scheduler {
    /// `max_lateness`: how late an occurrence may still run (a wake-up is never exactly on
    /// time; after downtime, older occurrences are skipped, not caught up).
    pub fn new(max_lateness: SignedDuration) -> Scheduler {
        Scheduler { max_lateness, states: BTreeMap::new(), departed: BTreeMap::new() }
    }

    /// Takes a (new) campaign set: the enabled campaigns with a schedule. A campaign whose
    /// schedule did not change keeps its next occurrence and running state; a new or changed
    /// one starts with its first occurrence no more than `max_lateness` before `now`. Returns
    /// the names of the campaigns it schedules.
    pub fn set_campaigns(&mut self, set: &CampaignSet, now: Timestamp) -> Vec<String> {
        let mut states = BTreeMap::new();
        for c in set.enabled() {
            let Some(schedule) = &c.schedule else { continue };
            let state = match self.states.remove(&c.name) {
                Some(old) if same_schedule(&old.schedule, schedule) => State { schedule: schedule.clone(), ..old },
                old => {
                    let before = old
                        .map(|o| Departed { last: o.last, running: o.running })
                        .or_else(|| self.departed.remove(&c.name))
                        .unwrap_or(Departed { last: None, running: None });
                    let next = match (next_occurrence(schedule, self.earliest(now), true), before.last) {
                        (Some(next), Some(last)) if next <= last => next_occurrence(schedule, last, false),
                        (next, _) => next,
                    };
                    State { schedule: schedule.clone(), next, running: before.running, last: before.last }
                }
            };
            self.departed.remove(&c.name);
            states.insert(c.name.clone(), state);
        }
        // Those no longer in the set: remembered by name, should they come back.
        for (name, old) in std::mem::replace(&mut self.states, states) {
            self.departed.insert(name, Departed { last: old.last, running: old.running });
        }
        self.states.keys().cloned().collect()
    }

    fn earliest(&self, now: Timestamp) -> Timestamp {
        now.checked_sub(self.max_lateness).unwrap_or(now)
    }

    /// Everything that happened up to `now`, in time order per campaign. A `Due` occurrence is
    /// marked running until [`Scheduler::finished`].
    pub fn poll(&mut self, now: Timestamp) -> Vec<Event> {
        let earliest = self.earliest(now);
        let mut events = Vec::new();
        for (name, state) in &mut self.states {
            let mut missed: Option<(Timestamp, Timestamp, usize)> = None;
            while let Some(at) = state.next.filter(|at| *at <= now) {
                if at < earliest {
                    state.last = Some(at);
                    let m = missed.get_or_insert((at, at, 0));
                    m.1 = at;
                    m.2 += 1;
                    state.next = if m.2 >= MAX_MISSED_WALK {
                        next_occurrence(&state.schedule, earliest, true)
                    } else {
                        next_occurrence(&state.schedule, at, false)
                    };
                    continue;
                }
                state.next = next_occurrence(&state.schedule, at, false);
                state.last = Some(at);
                if let Some((first, last, count)) = missed.take() {
                    events.push(Event::Missed { campaign: name.clone(), first, last, count });
                }
                if !in_schedule_window(&state.schedule, at) {
                    events.push(Event::OutsideWindow { campaign: name.clone(), occurrence: at });
                } else if let Some(running) = state.running {
                    events.push(Event::Overlap { campaign: name.clone(), occurrence: at, running });
                } else {
                    state.running = Some(at);
                    events.push(Event::Due { campaign: name.clone(), occurrence: at });
                }
            }
            if let Some((first, last, count)) = missed {
                events.push(Event::Missed { campaign: name.clone(), first, last, count });
            }
        }
        events
    }

    /// The run of `occurrence` ended.
    pub fn finished(&mut self, campaign: &str, occurrence: Timestamp) {
        if let Some(state) = self.states.get_mut(campaign) {
            if state.running == Some(occurrence) {
                state.running = None;
            }
        }
        if let Some(gone) = self.departed.get_mut(campaign) {
            if gone.running == Some(occurrence) {
                gone.running = None;
            }
        }
    }

    /// When something is next due; `None` when no campaign has an occurrence left.
    pub fn next_wake(&self) -> Option<Timestamp> {
        self.states.values().filter_map(|s| s.next).min()
    }

    /// Whether any run is going (of a campaign in the set or one that left it).
    pub fn any_running(&self) -> bool {
        self.states.values().any(|s| s.running.is_some()) || self.departed.values().any(|d| d.running.is_some())
    }

    /// The next occurrence of a campaign.
    pub fn next_of(&self, campaign: &str) -> Option<Timestamp> {
        self.states.get(campaign).and_then(|s| s.next)
    }
}

fn same_schedule(a: &Schedule, b: &Schedule) -> bool {
    a.cron_text == b.cron_text
        && a.time_zone_name == b.time_zone_name
        && a.start == b.start
        && a.end == b.end
        && a.active_window == b.active_window
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::tests::{set_of, ts};

    fn schedule(yaml_schedule: &str) -> Schedule {
        let set = set_of(&[("a", yaml_schedule)]);
        set.campaigns[0].schedule.clone().expect("a schedule")
    }

    fn berlin(s: &Schedule, n: usize, after: &str) -> Vec<String> {
        upcoming(s, ts(after), n).iter().map(|z| z.strftime("%Y-%m-%d %H:%M %Z").to_string()).collect()
    }

    #[test]
    fn spring_forward_runs_after_the_gap() {
        let s = schedule("cron: \"30 2 * * *\"\ntime_zone: Europe/Berlin");
        assert_eq!(
            berlin(&s, 3, "2026-03-27T12:00:00Z"),
            ["2026-03-28 02:30 CET", "2026-03-29 03:00 CEST", "2026-03-30 02:30 CEST"]
        );
        // 03:00 CEST is 01:00 UTC: the skipped 02:30 runs at the first instant after the gap.
        assert_eq!(next_occurrence(&s, ts("2026-03-28T12:00:00Z"), false), Some(ts("2026-03-29T01:00:00Z")));
    }

    #[test]
    fn fall_back_runs_a_fixed_time_once() {
        let s = schedule("cron: \"30 2 * * *\"\ntime_zone: Europe/Berlin");
        assert_eq!(
            berlin(&s, 3, "2026-10-24T12:00:00Z"),
            ["2026-10-25 02:30 CEST", "2026-10-26 02:30 CET", "2026-10-27 02:30 CET"]
        );
        // The first 02:30 (CEST, 00:30 UTC); the repeated 02:30 CET (01:30 UTC) does not run.
        assert_eq!(next_occurrence(&s, ts("2026-10-25T00:30:00Z"), false), Some(ts("2026-10-26T01:30:00Z")));
    }

    #[test]
    fn fall_back_runs_an_interval_in_both_hours() {
        let s = schedule("cron: \"0 * * * *\"\ntime_zone: Europe/Berlin");
        let times: Vec<String> =
            upcoming(&s, ts("2026-10-24T23:30:00Z"), 4).iter().map(|z| z.timestamp().to_string()).collect();
        // 02:00 CEST (00:00Z) and 02:00 CET (01:00Z) both run: every hour of real time.
        assert_eq!(
            times,
            ["2026-10-25T00:00:00Z", "2026-10-25T01:00:00Z", "2026-10-25T02:00:00Z", "2026-10-25T03:00:00Z"]
        );
    }

    #[test]
    fn start_and_end_days_are_inclusive_in_the_zone() {
        let s = schedule("cron: \"0 9 * * *\"\ntime_zone: Europe/Berlin\nstart: 2026-12-01\nend: 2026-12-03");
        assert_eq!(
            berlin(&s, 5, "2026-11-01T00:00:00Z"),
            ["2026-12-01 09:00 CET", "2026-12-02 09:00 CET", "2026-12-03 09:00 CET"]
        );
        assert_eq!(next_occurrence(&s, ts("2026-12-03T08:00:00Z"), false), None);
        // Midnight of the start day in Berlin is 23:00 UTC the day before.
        let m = schedule("cron: \"0 0 * * *\"\ntime_zone: Europe/Berlin\nstart: 2026-12-01");
        assert_eq!(next_occurrence(&m, ts("2026-11-20T00:00:00Z"), false), Some(ts("2026-11-30T23:00:00Z")));
    }

    #[test]
    fn schedule_window_skips_occurrences() {
        let s = schedule(
            "cron: \"0 * * * *\"\ntime_zone: Europe/Berlin\nactive_window:\n  from: \"09:00\"\n  to: \"18:00\"\n  days: [mon, tue, wed, thu, fri]",
        );
        assert!(in_schedule_window(&s, ts("2026-12-01T08:00:00Z"))); // Tue 09:00 CET
        assert!(!in_schedule_window(&s, ts("2026-12-01T07:59:00Z"))); // 08:59
        assert!(!in_schedule_window(&s, ts("2026-12-01T17:00:00Z"))); // 18:00: `to` is exclusive
        assert!(!in_schedule_window(&s, ts("2026-12-05T10:00:00Z"))); // Saturday
        let night = schedule("cron: \"0 * * * *\"\nactive_window:\n  from: \"22:00\"\n  to: \"06:00\"\n  days: [fri]");
        assert!(in_schedule_window(&night, ts("2026-12-04T23:00:00Z"))); // Fri 23:00
        assert!(in_schedule_window(&night, ts("2026-12-05T05:00:00Z"))); // Sat 05:00, Friday's night
        assert!(!in_schedule_window(&night, ts("2026-12-05T23:00:00Z"))); // Sat 23:00
        let mut sched = Scheduler::new(SignedDuration::from_secs(30));
        let set = set_of(&[(
            "w",
            "cron: \"0 * * * *\"\ntime_zone: Europe/Berlin\nactive_window:\n  from: \"09:00\"\n  to: \"10:00\"",
        )]);
        sched.set_campaigns(&set, ts("2026-12-01T06:30:00Z"));
        let events = sched.poll(ts("2026-12-01T07:00:00Z")); // 08:00 Berlin
        assert_eq!(events, [Event::OutsideWindow { campaign: "w".into(), occurrence: ts("2026-12-01T07:00:00Z") }]);
        let events = sched.poll(ts("2026-12-01T08:00:00Z")); // 09:00 Berlin
        assert_eq!(events, [Event::Due { campaign: "w".into(), occurrence: ts("2026-12-01T08:00:00Z") }]);
    }

    fn every_15() -> CampaignSet {
        set_of(&[("a", "cron: \"*/15 * * * *\"")])
    }

    #[test]
    fn due_on_time_then_next_wake() {
        let mut s = Scheduler::new(SignedDuration::from_secs(30));
        assert_eq!(s.set_campaigns(&every_15(), ts("2026-12-01T10:01:00Z")), ["a"]);
        assert_eq!(s.next_wake(), Some(ts("2026-12-01T10:15:00Z")));
        assert!(s.poll(ts("2026-12-01T10:14:59Z")).is_empty());
        let due = s.poll(ts("2026-12-01T10:15:00.200Z"));
        assert_eq!(due, [Event::Due { campaign: "a".into(), occurrence: ts("2026-12-01T10:15:00Z") }]);
        assert_eq!(s.next_wake(), Some(ts("2026-12-01T10:30:00Z")));
    }

    #[test]
    fn no_catch_up_after_downtime_by_default() {
        let mut s = Scheduler::new(SignedDuration::from_secs(30));
        s.set_campaigns(&every_15(), ts("2026-12-01T10:01:00Z"));
        // Asleep from 10:01 to 11:05: 10:15, 10:30, 10:45 and 11:00 are missed, none runs.
        let events = s.poll(ts("2026-12-01T11:05:00Z"));
        assert_eq!(
            events,
            [Event::Missed {
                campaign: "a".into(),
                first: ts("2026-12-01T10:15:00Z"),
                last: ts("2026-12-01T11:00:00Z"),
                count: 4
            }]
        );
        assert_eq!(s.next_wake(), Some(ts("2026-12-01T11:15:00Z")));
        assert!(!s.any_running());
    }

    #[test]
    fn lateness_allows_a_late_occurrence() {
        let mut s = Scheduler::new(SignedDuration::from_mins(5));
        s.set_campaigns(&every_15(), ts("2026-12-01T10:01:00Z"));
        // Started at 10:01 with 5 minutes allowed, 10:00 was still due; at 11:04, 11:00 is 4
        // minutes late (allowed), the earlier ones are missed.
        let events = s.poll(ts("2026-12-01T11:04:00Z"));
        assert_eq!(
            events,
            [
                Event::Missed {
                    campaign: "a".into(),
                    first: ts("2026-12-01T10:00:00Z"),
                    last: ts("2026-12-01T10:45:00Z"),
                    count: 4
                },
                Event::Due { campaign: "a".into(), occurrence: ts("2026-12-01T11:00:00Z") },
            ]
        );
        // At start, an occurrence up to the lateness before `now` still runs.
        let mut s = Scheduler::new(SignedDuration::from_mins(5));
        s.set_campaigns(&every_15(), ts("2026-12-01T10:03:00Z"));
        assert_eq!(s.next_wake(), Some(ts("2026-12-01T10:00:00Z")));
        let mut s = Scheduler::new(SignedDuration::from_secs(30));
        s.set_campaigns(&every_15(), ts("2026-12-01T10:03:00Z"));
        assert_eq!(s.next_wake(), Some(ts("2026-12-01T10:15:00Z")));
    }

    #[test]
    fn runs_of_a_campaign_never_overlap() {
        let mut s = Scheduler::new(SignedDuration::from_secs(30));
        s.set_campaigns(&every_15(), ts("2026-12-01T10:01:00Z"));
        let first = ts("2026-12-01T10:15:00Z");
        assert_eq!(s.poll(first), [Event::Due { campaign: "a".into(), occurrence: first }]);
        // Still running at 10:30: skipped, logged as an overlap.
        let second = ts("2026-12-01T10:30:00Z");
        assert_eq!(s.poll(second), [Event::Overlap { campaign: "a".into(), occurrence: second, running: first }]);
        s.finished("a", first);
        let third = ts("2026-12-01T10:45:00Z");
        assert_eq!(s.poll(third), [Event::Due { campaign: "a".into(), occurrence: third }]);
    }

    #[test]
    fn a_long_downtime_is_not_walked_minute_by_minute_forever() {
        let mut s = Scheduler::new(SignedDuration::from_secs(30));
        s.set_campaigns(&set_of(&[("a", "cron: \"* * * * *\"")]), ts("2026-01-01T00:00:30Z"));
        let events = s.poll(ts("2027-01-01T00:00:10Z"));
        let [Event::Missed { count, first, .. }, Event::Due { occurrence, .. }] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!((*count, *first), (MAX_MISSED_WALK, ts("2026-01-01T00:00:00Z")));
        assert_eq!(*occurrence, ts("2027-01-01T00:00:00Z"));
    }

    #[test]
    fn a_reload_keeps_unchanged_schedules_and_drops_removed_ones() {
        let mut s = Scheduler::new(SignedDuration::from_secs(30));
        let both = set_of(&[("a", "cron: \"*/15 * * * *\""), ("b", "cron: \"0 * * * *\"")]);
        s.set_campaigns(&both, ts("2026-12-01T10:01:00Z"));
        let at = ts("2026-12-01T10:15:00Z");
        assert_eq!(s.poll(at), [Event::Due { campaign: "a".into(), occurrence: at }]);
        // `a` is reloaded unchanged while it runs: still running, no second run of 10:15.
        let changed = set_of(&[("a", "cron: \"*/15 * * * *\""), ("b", "cron: \"30 * * * *\"")]);
        assert_eq!(s.set_campaigns(&changed, ts("2026-12-01T10:16:00Z")), ["a", "b"]);
        assert!(s.any_running());
        assert_eq!(s.next_of("b"), Some(ts("2026-12-01T10:30:00Z")));
        // A changed schedule never repeats an occurrence already handled.
        s.finished("a", at);
        let hourly = set_of(&[("a", "cron: \"15 * * * *\""), ("b", "cron: \"30 * * * *\"")]);
        s.set_campaigns(&hourly, ts("2026-12-01T10:15:10Z"));
        assert_eq!(s.next_of("a"), Some(ts("2026-12-01T11:15:00Z")));
        let only_b = set_of(&[("b", "cron: \"30 * * * *\"")]);
        assert_eq!(s.set_campaigns(&only_b, ts("2026-12-01T10:17:00Z")), ["b"]);
        assert!(!s.any_running());
    }

    /// A campaign that leaves the set (disabled, renamed) and comes back keeps its last handled
    /// occurrence: with a lateness that would still allow it, it does not run again (a dry
    /// run takes no lease to stop it). Nor does it overlap its own run still going.
    #[test]
    fn a_campaign_that_leaves_and_comes_back_never_repeats_an_occurrence() {
        let mut s = Scheduler::new(SignedDuration::from_mins(5));
        let a = set_of(&[("a", "cron: \"*/15 * * * *\""), ("b", "cron: \"0 * * * *\"")]);
        let only_b = set_of(&[("b", "cron: \"0 * * * *\"")]);
        s.set_campaigns(&a, ts("2026-12-01T10:10:00Z"));
        let at = ts("2026-12-01T10:15:00Z");
        assert_eq!(s.poll(at), [Event::Due { campaign: "a".into(), occurrence: at }]);
        // `a` leaves while running, comes back (same schedule) before its run ends.
        assert_eq!(s.set_campaigns(&only_b, ts("2026-12-01T10:15:05Z")), ["b"]);
        assert!(s.any_running());
        s.set_campaigns(&a, ts("2026-12-01T10:15:10Z"));
        assert_eq!(s.next_of("a"), Some(ts("2026-12-01T10:30:00Z")), "10:15 would run again");
        assert_eq!(
            s.poll(ts("2026-12-01T10:30:00Z")),
            [Event::Overlap { campaign: "a".into(), occurrence: ts("2026-12-01T10:30:00Z"), running: at }]
        );
        // Leaves again, its run ends meanwhile, comes back with a changed schedule: 10:30 was
        // handled, so the next is 10:45 though 10:30 is within the lateness.
        s.set_campaigns(&only_b, ts("2026-12-01T10:31:00Z"));
        s.finished("a", at);
        assert!(!s.any_running());
        let a_changed = set_of(&[("a", "cron: \"*/15 * * * *\"\ntime_zone: Europe/Berlin")]);
        s.set_campaigns(&a_changed, ts("2026-12-01T10:32:00Z"));
        assert_eq!(s.next_of("a"), Some(ts("2026-12-01T10:45:00Z")));
        let t = ts("2026-12-01T10:45:00Z");
        assert_eq!(s.poll(t), [Event::Due { campaign: "a".into(), occurrence: t }]);
    }
}
