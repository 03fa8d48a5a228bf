//! Tests of loading and compiling campaigns, with snapshots of the rendered diagnostics.

use std::path::PathBuf;
use std::sync::Arc;

use super::compile::{TemplateFile, TemplateFiles};
use super::diagnostic::{render, summary};
use super::load::{Loaded, load_sources};

fn templates(files: &[(&str, &str)]) -> TemplateFiles {
    let files = files
        .iter()
        .map(|(name, text)| TemplateFile {
            name: (*name).to_owned(),
            path: PathBuf::from("templates").join(name),
            text: Arc::from(*text),
        })
        .collect();
    TemplateFiles { dir: PathBuf::from("templates"), files: Some(files) }
}

fn load_with(files: &[(&str, &str)], template_files: TemplateFiles) -> Loaded {
    let sources = files.iter().map(|(name, text)| (PathBuf::from("campaigns").join(name), (*text).to_owned())).collect();
    load_sources(sources, template_files)
}

fn load(files: &[(&str, &str)]) -> Loaded {
    load_with(files, templates(&[]))
}

/// The rendered diagnostics and the summary line, as a user sees them.
fn report(loaded: &Loaded) -> String {
    format!("{}\n{}", render(&loaded.diagnostics, false), summary(&loaded.diagnostics, loaded.files))
}

fn one(text: &str) -> String {
    report(&load(&[("offer.yaml", text)]))
}

