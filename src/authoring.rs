//! What helps people write campaigns: `runner schema`, `runner new NAME`, `runner completions
//! SHELL` and writing the HTML preview (`--report FILE`). `app` calls these and prints; errors
//! are returned, not printed.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::campaign::{CampaignSet, schema};
use crate::engine::decide::Plan;
use crate::error::AppError;
use crate::report::Heading;
use crate::report::html;

/// `runner schema`: the campaign JSON Schema, as committed in `schema/campaign.schema.json`.
pub fn schema_text() -> String {
    schema::to_pretty_string()
}

/// `--report FILE`: writes the HTML preview of a plan (decided with explanations).
pub fn write_report(path: &Path, plan: &Plan, heading: &Heading, set: &CampaignSet) -> Result<(), AppError> {
    let warnings: Vec<String> = set
        .warnings
        .iter()
        .map(|d| {
            let place =
                d.span.map_or_else(|| d.file.display().to_string(), |s| format!("{}:{}", d.file.display(), s.line));
            match &d.help {
                Some(help) => format!("{place}: {} ({help})", d.message),
                None => format!("{place}: {}", d.message),
            }
        })
        .collect();
    let page = html::html(plan, heading, &html::CampaignInfo::of(set), &warnings);
    std::fs::write(path, page)
        .map_err(|e| AppError::Usage(format!("cannot write the report `{}`: {e}", path.display())))
}

/// `runner completions SHELL`: the completion script for `runner`.
pub fn completions(shell: clap_complete::Shell) -> Vec<u8> {
    let mut command = <crate::cli::Cli as clap::CommandFactory>::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, "runner", &mut out);
    out
}

/// Whether `name` is a valid campaign name (the loader's rule): letters, digits, `-`, `_`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// `runner new NAME`: writes `DIR/NAME.yaml` with [`scaffold`], never over an existing file.
/// Returns the path written.
pub fn new_campaign(name: &str, dir: &Path) -> Result<PathBuf, AppError> {
    if !valid_name(name) {
        let suggestion: String =
            name.trim().chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '-' }).collect();
        let hint = if valid_name(&suggestion) { format!(", e.g. `{suggestion}`") } else { String::new() };
        return Err(AppError::Usage(format!(
            "`{name}` is not a valid campaign name: use letters, digits, `-` and `_` only{hint}"
        )));
    }
    let path = dir.join(format!("{name}.yaml"));
    let io = |what: &str, e: std::io::Error| AppError::Usage(format!("cannot {what} `{}`: {e}", path.display()));
    std::fs::create_dir_all(dir).map_err(|e| io("create the directory for", e))?;
    let mut file = match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(AppError::Usage(format!(
                "`{}` already exists: it was left as it is; choose another name or edit that file",
                path.display()
            )));
        }
        Err(e) => return Err(io("create", e)),
    };
    file.write_all(scaffold(name).as_bytes()).map_err(|e| io("write", e))?;
    Ok(path)
}

/// A commented campaign that validates: the schema line, an audience, a history condition, an
/// inline message with fallbacks, limits. It starts disabled so that a live run never sends the
/// example text; the comments say how to preview it and switch it on.
pub fn scaffold(name: &str) -> String {
    SCAFFOLD.replace("{NAME}", name)
}

const SCAFFOLD: &str = r#"# yaml-language-server: $schema=../schema/campaign.schema.json
#
# {NAME}: a new campaign. Edit the parts below, then:
#   runner validate                                   check it (names the line of every problem)
#   runner --dry-run --snapshot snapshots/demo.json --report preview.html
#                                                     see who would get which message
# Every key is explained in the README ("Writing campaigns"); editors with the YAML extension
# show the explanations and examples as you type.

name: {NAME}
description: Say in one sentence who this campaign reaches and why.

# Off until you are happy with it: a disabled campaign is checked but sends nothing and is left
# out of previews. Set it to true to preview it and send it.
enabled: false

# When several campaigns would message the same customer, the highest priority wins.
priority: 0

# Who to reach: live web-messaging sessions for which ALL of these hold.
audience:
  all:
    # A participant attribute set by the Messenger or the flow (always text).
    - field: customer.attributes.page
      contains: pricing
      ignore_case: true
    # Attributes are text: compare them as numbers with `as: number`.
    - field: customer.attributes.cart_value
      as: number
      at_least: 50
    # Give people a couple of minutes on the page before reaching out.
    - field: session.age
      older_than: 2m

# The customer's earlier conversations that ended in the last 30 days.
history:
  look_back: 30d
  conditions:
    # Nobody we talked to in the last day...
    - last_contact: { older_than: 1d }
    # ...and nobody who asked not to be contacted.
    - wrap_up_codes: { none_of: [Do Not Contact] }

# What to say. A value the customer does not have stops the message (it is never sent half
# filled in), so give a fallback with default(...).
message:
  text: |
    Hi {{ customer.contact.first_name | default("there") }}, can we help you choose a plan?
    Reply here and one of our specialists will join you.

# At most one message per customer a week, and at most 50 per run.
limits:
  once_every: 7d
  max_per_run: 50
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::compile::TemplateFiles;
    use crate::campaign::load::load_sources;

    #[test]
    fn the_scaffold_validates_without_warnings() {
        let templates = TemplateFiles { dir: PathBuf::from("templates"), files: Some(Vec::new()) };
        let loaded = load_sources(vec![(PathBuf::from("campaigns/offer.yaml"), scaffold("offer"))], templates);
        assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
        let set = loaded.set.unwrap();
        let campaign = &set.campaigns[0];
        assert_eq!(campaign.name, "offer");
        assert!(!campaign.enabled);
        assert!(campaign.audience.is_some() && !campaign.history.conditions.is_empty());
        assert!(scaffold("offer").starts_with(schema::MODELINE));
    }

    #[test]
    fn names_follow_the_loader() {
        assert!(valid_name("cart-rescue_2"));
        for bad in ["", "cart rescue", "ünïcode", "a/b", "../x"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn refuses_bad_names_and_existing_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = new_campaign("offer", dir.path()).unwrap();
        assert_eq!(path, dir.path().join("offer.yaml"));
        std::fs::write(&path, "mine").unwrap();
        let e = new_campaign("offer", dir.path()).unwrap_err();
        assert!(e.to_string().contains("already exists"), "{e}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "mine", "left untouched");
        let e = new_campaign("summer sale", dir.path()).unwrap_err();
        assert!(e.to_string().contains("`summer-sale`"), "{e}");
        assert!(new_campaign("../escape", dir.path()).is_err());
    }
}
