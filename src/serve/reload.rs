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

/// Watches the files of one `CampaignArgs`.
pub struct Watcher {
    args: CampaignArgs,
    last: Fingerprint,
}

impl Watcher {
    /// Starts from the fingerprint of the set loaded at start.
    pub fn new(args: CampaignArgs, current: Fingerprint) -> Watcher {
        Watcher { args, last: current }
    }

    /// Loads the files again when their fingerprint changed. An invalid change is reported
    /// once (until the files change again).
    pub fn check(&mut self) -> Reloaded {
        let now = Fingerprint::of(&self.args);
        if now == self.last {
            return Reloaded::Unchanged;
        }
        self.last = now;
        let loaded = load::load(&LoadOptions {
            campaigns: self.args.campaign_paths(),
            templates_dir: self.args.templates.clone(),
        });
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

    #[test]
    fn reloads_a_good_change_and_reports_a_bad_one() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("campaigns")).unwrap();
        std::fs::create_dir_all(dir.path().join("templates")).unwrap();
        let file = dir.path().join("campaigns/a.yaml");
        std::fs::write(&file, GOOD).unwrap();
        let args = args(dir.path());
        let mut watcher = Watcher::new(args.clone(), Fingerprint::of(&args));
        assert!(matches!(watcher.check(), Reloaded::Unchanged));

        // A good change (the size changes, so no mtime resolution is needed).
        std::fs::write(&file, GOOD.replace("0 9", "30 10")).unwrap();
        let Reloaded::Valid(set) = watcher.check() else { panic!("expected a valid set") };
        assert_eq!(set.campaigns[0].schedule.as_ref().unwrap().cron_text, "30 10 * * *");
        assert!(matches!(watcher.check(), Reloaded::Unchanged));

        // A bad change: reported with validate's rendering, once.
        std::fs::write(&file, GOOD.replace("0 9 * * *", "0 25 * * *")).unwrap();
        let Reloaded::Invalid(text) = watcher.check() else { panic!("expected an invalid set") };
        assert!(text.contains("a.yaml:5:"), "{text}");
        assert!(text.contains("is not a valid cron schedule"), "{text}");
        assert!(text.contains("1 error"), "{text}");
        assert!(matches!(watcher.check(), Reloaded::Unchanged));

        // A new template file counts as a change too.
        std::fs::write(dir.path().join("templates/t.j2"), "Hello").unwrap();
        assert!(matches!(watcher.check(), Reloaded::Invalid(_)));
    }
}
