//! Where the journal is: a SQLite file (the default) or a PostgreSQL URL. Shown everywhere
//! without its password.

use std::fmt;
use std::path::PathBuf;

use super::JournalError;

/// The journal location when neither `--journal` nor `RUNNER_JOURNAL` says otherwise.
pub const DEFAULT_LOCATION: &str = "runner-journal.sqlite";

/// The environment variable naming the journal.
pub const ENV_VAR: &str = "RUNNER_JOURNAL";

/// A parsed journal location. `Display` and `Debug` never show a password.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// An embedded SQLite file, created on first use.
    Sqlite(PathBuf),
    /// A PostgreSQL database, for several runners sharing one journal.
    Postgres {
        /// The URL as given (may hold a password: never print it).
        url: String,
        /// The URL with the password replaced by `***`.
        shown: String,
        /// The password, to scrub it from driver messages.
        password: Option<String>,
    },
}

impl Location {
    /// `postgres://` and `postgresql://` URLs are PostgreSQL; `sqlite:PATH` / `sqlite://PATH`
    /// and anything without a scheme is a SQLite file path.
    pub fn parse(text: &str) -> Result<Location, JournalError> {
        let given = text.trim();
        let bad = |why: &str| JournalError::Location { given: redact_text(given), why: why.to_owned() };
        if given.is_empty() {
            return Err(bad("it is empty"));
        }
        let lower = given.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            let mut url = url::Url::parse(given).map_err(|e| bad(&format!("it is not a valid URL ({e})")))?;
            let mut password = url.password().map(percent_decode);
            if url.password().is_some() {
                let _ = url.set_password(Some("***"));
            }
            // A password may also come as a query parameter.
            let pairs: Vec<(String, String)> =
                url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
            if pairs.iter().any(|(k, _)| k == "password") {
                let mut query = url.query_pairs_mut();
                query.clear();
                for (k, v) in &pairs {
                    if k == "password" {
                        password.get_or_insert_with(|| v.clone());
                        query.append_pair(k, "***");
                    } else {
                        query.append_pair(k, v);
                    }
                }
            }
            return Ok(Location::Postgres { url: given.to_owned(), shown: url.to_string(), password });
        }
        let path = if let Some(rest) = lower.strip_prefix("sqlite://").map(|_| &given["sqlite://".len()..]) {
            rest
        } else if lower.starts_with("sqlite:") {
            &given["sqlite:".len()..]
        } else if let Some((scheme, _)) = given.split_once("://") {
            return Err(bad(&format!("`{scheme}://` is not supported")));
        } else {
            given
        };
        if path.is_empty() {
            return Err(bad("the SQLite path is empty"));
        }
        Ok(Location::Sqlite(PathBuf::from(path)))
    }

    /// The location named by a flag, else by `RUNNER_JOURNAL`, else the default file.
    pub fn from_flag_or_env(flag: Option<&str>) -> Result<Location, JournalError> {
        match flag {
            Some(text) => Location::parse(text),
            None => match std::env::var(ENV_VAR) {
                Ok(text) if !text.trim().is_empty() => Location::parse(&text),
                _ => Location::parse(DEFAULT_LOCATION),
            },
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Location::Postgres { .. })
    }

    /// Replaces the password, wherever it appears in `text`, by `***`.
    pub(crate) fn scrub(&self, text: &str) -> String {
        match self {
            Location::Postgres { password: Some(p), .. } if !p.is_empty() => text.replace(p.as_str(), "***"),
            _ => text.to_owned(),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Sqlite(path) => write!(f, "{}", path.display()),
            Location::Postgres { shown, .. } => f.write_str(shown),
        }
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            Location::Postgres { shown, .. } => f.debug_tuple("Postgres").field(shown).finish(),
        }
    }
}

/// For messages about a location that did not parse: drop the user information (between
/// `://` and `@`) and the value of every `password=` parameter.
fn redact_text(text: &str) -> String {
    let text = match (text.find("://"), text.rfind('@')) {
        (Some(start), Some(at)) if at > start => format!("{}://***@{}", &text[..start], &text[at + 1..]),
        _ => text.to_owned(),
    };
    let Some((base, query)) = text.split_once('?') else { return text };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{base}?{}", query.join("&"))
}

fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("p={text}").as_bytes())
        .next()
        .map_or_else(|| text.to_owned(), |(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_that_does_not_parse_keeps_its_passwords_out_of_the_message() {
        for given in
            ["postgres://db:port/j?password=hunter2", "postgres://u:hunter2@db:port/j?sslmode=x&PASSWORD=hunter2"]
        {
            let e = Location::parse(given).unwrap_err().to_string();
            assert!(!e.contains("hunter2"), "{e}");
            assert!(e.contains("***"), "{e}");
        }
    }

    #[test]
    fn sqlite_paths_and_urls() {
        assert_eq!(Location::parse("j.sqlite").unwrap(), Location::Sqlite("j.sqlite".into()));
        assert_eq!(Location::parse("sqlite:///tmp/j.db").unwrap(), Location::Sqlite("/tmp/j.db".into()));
        assert_eq!(Location::parse("sqlite:j.db").unwrap(), Location::Sqlite("j.db".into()));
        assert!(matches!(Location::parse("mysql://h/db"), Err(JournalError::Location { .. })));
        assert!(matches!(Location::parse("  "), Err(JournalError::Location { .. })));
    }

    #[test]
    fn postgres_passwords_never_show() {
        let l = Location::parse("postgres://runner:s%3Dcret@db.example.com:5432/journal?sslmode=prefer").unwrap();
        assert!(l.is_postgres());
        assert_eq!(l.to_string(), "postgres://runner:***@db.example.com:5432/journal?sslmode=prefer");
        assert!(!format!("{l:?}").contains("cret"));
        assert_eq!(l.scrub("auth failed for s=cret"), "auth failed for ***");

        let l = Location::parse("postgresql://runner@db/journal?password=hunter2&application_name=r").unwrap();
        assert_eq!(l.to_string(), "postgresql://runner@db/journal?password=***&application_name=r");
        assert_eq!(l.scrub("hunter2"), "***");

        let e = Location::parse("postgres://runner:hunter2@db:port/journal").unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }
}
