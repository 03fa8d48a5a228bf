//! Progress of a long run, observed from outside: the pipeline and the outbox report their stages
//! and steps to a [`Progress`] they are given, and never print anything themselves. The app
//! passes a [`Bar`] (a progress bar on stderr, hidden when stderr is not a terminal) or
//! [`Silent`].

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Receives the stages of a run and their steps.
pub trait Progress: Send + Sync {
    /// A stage starts, with `total` steps: "conversation details", 40.
    fn start(&self, stage: &str, total: usize);
    /// `steps` more steps of the current stage are done.
    fn advance(&self, steps: usize);
    /// The current stage is done.
    fn finish(&self);
}

/// Reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Progress for Silent {
    fn start(&self, _: &str, _: usize) {}
    fn advance(&self, _: usize) {}
    fn finish(&self) {}
}

/// A progress bar on stderr: `conversation details [=====>     ] 12/40`.
#[derive(Debug)]
pub struct Bar {
    bar: ProgressBar,
}

impl Bar {
    /// A bar on stderr when `visible`, else one that draws nothing.
    pub fn on_stderr(visible: bool) -> Bar {
        let target = if visible { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
        let bar = ProgressBar::with_draw_target(None, target);
        let style = ProgressStyle::with_template("{msg:>24} [{bar:30}] {pos}/{len}")
            .expect("the progress template is valid")
            .progress_chars("=> ");
        bar.set_style(style);
        Bar { bar }
    }

    pub fn is_hidden(&self) -> bool {
        self.bar.is_hidden()
    }
}

impl Progress for Bar {
    fn start(&self, stage: &str, total: usize) {
        self.bar.reset();
        self.bar.set_length(total as u64);
        self.bar.set_message(stage.to_owned());
    }

    fn advance(&self, steps: usize) {
        self.bar.inc(steps as u64);
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hidden_bar_counts_but_draws_nothing() {
        let bar = Bar::on_stderr(false);
        assert!(bar.is_hidden());
        bar.start("sending", 3);
        bar.advance(2);
        assert_eq!((bar.bar.position(), bar.bar.length()), (2, Some(3)));
        bar.finish();
    }
}
