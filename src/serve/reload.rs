//! Watching the campaign files and templates: a fingerprint of every file's path, size and
//! modification time, compared every few seconds (no file-watching dependency).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::campaign::CampaignSet;
use crate::campaign::diagnostic;
use crate::campaign::load::{self, LoadOptions};
use crate::cli::CampaignArgs;

/// Every watched file with its size and modification time, sorted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fingerprint(Vec<(PathBuf, u64, Option<SystemTime>)>);

impl Fingerprint {
    /// The campaign paths (files, or directories of them) and the templates directory,
    /// recursively. A path that cannot be read counts as absent.
    pub fn of(args: &CampaignArgs) -> Fingerprint {
        let mut files = Vec::new();
        for path in args.campaign_paths().iter().chain(std::iter::once(&args.templates)) {
            walk(path, &mut files, 0);
        }
        files.sort();
        files.dedup();
        Fingerprint(files)
    }
}

fn walk(path: &Path, files: &mut Vec<(PathBuf, u64, Option<SystemTime>)>, depth: usize) {
    let Ok(meta) = std::fs::metadata(path) else { return };
    if meta.is_dir() {
        if depth > 8 {
            return;
        }
        let Ok(entries) = std::fs::read_dir(path) else { return };
        for entry in entries.flatten() {
            walk(&entry.path(), files, depth + 1);
        }
    } else {
        files.push((path.to_owned(), meta.len(), meta.modified().ok()));
    }
}

/// What a reload found.
pub enum Reloaded {
    /// Nothing changed on disk.
    Unchanged,
    /// A new valid set (warnings are logged).
    Valid(Box<CampaignSet>),
    /// The files changed but do not make a valid set: the diagnostics, rendered as `validate`
    /// renders them, and its summary line.
    Invalid(String),
}

/// Watches the files of one `CampaignArgs`. A change is loaded only once the files have stayed
/// the same for one check interval: a file caught half-written (which may still parse, say
/// with a shorter audience condition) is never taken.
pub struct Watcher {
    args: CampaignArgs,
    /// The fingerprint of the set in effect (or of the last change reported invalid).
    last: Fingerprint,
    /// A change seen at the previous check, waiting to be seen again unchanged.
    pending: Option<Fingerprint>,
}

impl Watcher {
    /// Takes the fingerprint, then loads the set with `load`: an edit made while (or after)
    /// the set loads is seen by the first check, never missed.
    pub fn start<T>(args: CampaignArgs, load: impl FnOnce(&CampaignArgs) -> T) -> (Watcher, T) {
        let last = Fingerprint::of(&args);
        let loaded = load(&args);
        (Watcher { args, last, pending: None }, loaded)
    }

    /// Loads the files again when their fingerprint changed and then stayed the same since the
    /// previous check. An invalid change is reported once (until the files change again).
    pub fn check(&mut self) -> Reloaded {
        let now = Fingerprint::of(&self.args);
        if now == self.last {
            self.pending = None;
            return Reloaded::Unchanged;
        }
        if self.pending.as_ref() != Some(&now) {
            // Changed since the last check: maybe still being written. Wait one interval.
            self.pending = Some(now);
            return Reloaded::Unchanged;
        }
        let loaded = load::load(&LoadOptions {
            campaigns: self.args.campaign_paths(),
            templates_dir: self.args.templates.clone(),
        });
        // Changed again while loading: what was read may be half of it; wait again.
        let after = Fingerprint::of(&self.args);
        if after != now {
            self.pending = Some(after);
            return Reloaded::Unchanged;
        }
        self.pending = None;
        self.last = now;
        match loaded.set {
            Some(set) => {
                if !loaded.diagnostics.is_empty() {
                    tracing::warn!("{}", diagnostic::render(&loaded.diagnostics, false));
                }
                Reloaded::Valid(Box::new(set))
            }
            None => Reloaded::Invalid(format!(
                "{}{}",
                diagnostic::render(&loaded.diagnostics, false),
                diagnostic::summary(&loaded.diagnostics, loaded.files)
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "name: a\nmessage:\n  text: Hi\nschedule:\n  cron: \"0 9 * * *\"\n";

    fn args(dir: &Path) -> CampaignArgs {
        CampaignArgs { campaigns: vec![dir.join("campaigns")], templates: dir.join("templates") }
    }

    fn setup(dir: &Path) -> (CampaignArgs, PathBuf) {
        std::fs::create_dir_all(dir.join("campaigns")).unwrap();
        std::fs::create_dir_all(dir.join("templates")).unwrap();
        let file = dir.join("campaigns/a.yaml");
        std::fs::write(&file, GOOD).unwrap();
        (args(dir), file)
    }

    /// Checks until something other than `Unchanged` comes, at most `n` times.
    fn settle(watcher: &mut Watcher, n: usize) -> (usize, Reloaded) {
        for i in 1..=n {
            match watcher.check() {
                Reloaded::Unchanged => continue,
                other => return (i, other),
            }
        }
        (n, Reloaded::Unchanged)
    }

    #[test]
    fn reloads_a_good_change_and_reports_a_bad_one() {
        let dir = tempfile::tempdir().unwrap();
        let (args, file) = setup(dir.path());
        let (mut watcher, ()) = Watcher::start(args, |_| ());
        assert!(matches!(watcher.check(), Reloaded::Unchanged));

        // A good change (the size changes, so no mtime resolution is needed): taken at the
        // second check, once it has stayed the same for one interval.
        std::fs::write(&file, GOOD.replace("0 9", "30 10")).unwrap();
        let (checks, Reloaded::Valid(set)) = settle(&mut watcher, 3) else { panic!("expected a valid set") };
        assert_eq!(checks, 2);
        assert_eq!(set.campaigns[0].schedule.as_ref().unwrap().cron_text, "30 10 * * *");
        assert!(matches!(watcher.check(), Reloaded::Unchanged));

        // A bad change: reported with validate's rendering, once.
        std::fs::write(&file, GOOD.replace("0 9 * * *", "0 25 * * *")).unwrap();
        let (_, Reloaded::Invalid(text)) = settle(&mut watcher, 3) else { panic!("expected an invalid set") };
        assert!(text.contains("a.yaml:5:"), "{text}");
        assert!(text.contains("is not a valid cron schedule"), "{text}");
        assert!(text.contains("1 error"), "{text}");
        assert!(matches!(settle(&mut watcher, 3).1, Reloaded::Unchanged));

        // A new template file counts as a change too.
        std::fs::write(dir.path().join("templates/t.j2"), "Hello").unwrap();
        assert!(matches!(settle(&mut watcher, 3).1, Reloaded::Invalid(_)));
    }

    /// A file caught half-written, which still parses (here: the audience condition cut off,
    /// so everyone matches), is not loaded: the next check sees it changed again.
    #[test]
    fn a_file_still_being_written_is_not_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let (args, file) = setup(dir.path());
        let (mut watcher, ()) = Watcher::start(args, |_| ());
        let full = "name: a\nmessage:\n  text: Hi\nschedule:\n  cron: \"0 9 * * *\"\naudience:\n  field: session.direction\n  equals: inbound\n";
        let half = &full[..full.find("audience:").unwrap()];
        std::fs::write(&file, format!("{half}# ")).unwrap();
        assert!(matches!(watcher.check(), Reloaded::Unchanged), "a fresh change was loaded at once");
        std::fs::write(&file, full).unwrap();
        assert!(matches!(watcher.check(), Reloaded::Unchanged), "a change still going on was loaded");
        let Reloaded::Valid(set) = watcher.check() else { panic!("the settled change was not loaded") };
        assert!(set.campaigns[0].audience.is_some(), "the half-written file was taken");
        assert!(matches!(watcher.check(), Reloaded::Unchanged));
    }

    /// The starting fingerprint is taken before the set loads: an edit made while it loads is
    /// seen by the checks that follow.
    #[test]
    fn an_edit_during_the_first_load_is_not_missed() {
        let dir = tempfile::tempdir().unwrap();
        let (args, file) = setup(dir.path());
        let (mut watcher, ()) = Watcher::start(args, |_| {
            std::fs::write(&file, GOOD.replace("0 9", "45 11")).unwrap();
        });
        let (_, Reloaded::Valid(set)) = settle(&mut watcher, 3) else { panic!("the edit was missed") };
        assert_eq!(set.campaigns[0].schedule.as_ref().unwrap().cron_text, "45 11 * * *");
    }
}
