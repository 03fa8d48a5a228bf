//! Settings of the live Genesys client: credentials and hosts from the environment, tuning from
//! an optional YAML file.
//!
//! Environment: `GENESYS_CLIENT_ID`, `GENESYS_CLIENT_SECRET`, `GENESYS_REGION` (a domain such as
//! `mypurecloud.ie`), `GENESYS_DEPLOYMENT_ID` (the web messaging deployment that sends), and
//! optionally `GENESYS_ENV_URL` / `GENESYS_LOGIN_URL` to override the API and login bases
//! (local fakes; then the region may be left out). The secret never appears in `Debug` output.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::SignedDuration;
use reqwest::Url;
use serde::Deserialize;

use crate::campaign::duration;

/// The Genesys Cloud regions, as domains (`https://api.<domain>`, `https://login.<domain>`).
pub const REGIONS: &[&str] = &[
    "mypurecloud.com",
    "mypurecloud.ie",
    "mypurecloud.de",
    "mypurecloud.com.au",
    "mypurecloud.jp",
    "usw2.pure.cloud",
    "cac1.pure.cloud",
    "apne2.pure.cloud",
    "apne3.pure.cloud",
    "euw2.pure.cloud",
    "euc2.pure.cloud",
    "aps1.pure.cloud",
    "apse1.pure.cloud",
    "sae1.pure.cloud",
    "mec1.pure.cloud",
    "mxc1.pure.cloud",
    "use2.us-gov-pure.cloud",
];

pub const ENV_CLIENT_ID: &str = "GENESYS_CLIENT_ID";
pub const ENV_CLIENT_SECRET: &str = "GENESYS_CLIENT_SECRET";
pub const ENV_REGION: &str = "GENESYS_REGION";
pub const ENV_ENV_URL: &str = "GENESYS_ENV_URL";
pub const ENV_LOGIN_URL: &str = "GENESYS_LOGIN_URL";
pub const ENV_DEPLOYMENT_ID: &str = "GENESYS_DEPLOYMENT_ID";

/// A secret string: `Debug` prints `***`, and there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Everything the live client needs.
#[derive(Debug, Clone)]
pub struct GenesysConfig {
    /// The region domain, when given (`mypurecloud.ie`).
    pub region: Option<String>,
    /// API base (`https://api.mypurecloud.ie/`).
    pub api_url: Url,
    /// Login base (`https://login.mypurecloud.ie/`).
    pub login_url: Url,
    pub client_id: String,
    pub client_secret: Secret,
    /// The web messaging deployment id: the sender (`fromAddress`) of proactive messages.
    pub deployment_id: String,
    pub tuning: Tuning,
}

/// Pacing, retries and query sizes. Defaults suit an org with the default API limits.
#[derive(Debug, Clone, PartialEq)]
pub struct Tuning {
    /// How far back active sessions may have started.
    pub look_back: SignedDuration,
    /// Requests per minute across the whole run (Genesys' default limit is 300 per token).
    pub requests_per_minute: u32,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Contact ids per history analytics query.
    pub history_batch_size: usize,
    /// Retries of a request after 429, 502, 503, 504 or a failed connection.
    pub max_retries: u32,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            look_back: SignedDuration::from_hours(24),
            requests_per_minute: 300,
            concurrency: 8,
            timeout: Duration::from_secs(30),
            history_batch_size: 50,
            max_retries: 4,
        }
    }
}

/// The config file, as written. All keys optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TuningFile {
    look_back: Option<String>,
    requests_per_minute: Option<u32>,
    concurrency: Option<usize>,
    timeout: Option<String>,
    history_batch_size: Option<usize>,
    max_retries: Option<u32>,
}

/// Why the configuration is unusable. Each message says what to set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("missing setting{}: {}; set {} in the environment", plural(.0.len()), .0.join(", "), if .0.len() == 1 { "it" } else { "them" })]
    Missing(Vec<&'static str>),
    #[error("{ENV_REGION}=`{given}` is not a Genesys Cloud region{}; known regions: {}", suggestion(.did_you_mean), REGIONS.join(", "))]
    UnknownRegion { given: String, did_you_mean: Option<&'static str> },
    #[error("{variable}=`{given}`: {why}")]
    BadUrl { variable: &'static str, given: String, why: String },
    #[error("config file {}: {message}", .path.display())]
    File { path: PathBuf, message: String },
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn suggestion(did_you_mean: &Option<&'static str>) -> String {
    did_you_mean.map(|r| format!(" (did you mean `{r}`?)")).unwrap_or_default()
}

impl GenesysConfig {
    /// Reads the settings from `env` (pass `|k| std::env::var(k).ok()` in production) and the
    /// optional YAML config file. Every missing variable is named in one error.
    pub fn from_env(env: &impl Fn(&str) -> Option<String>, file: Option<&Path>) -> Result<GenesysConfig, ConfigError> {
        let get = |name: &str| env(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let client_id = get(ENV_CLIENT_ID);
        let client_secret = get(ENV_CLIENT_SECRET);
        let deployment_id = get(ENV_DEPLOYMENT_ID);
        let region = get(ENV_REGION);
        let env_url = get(ENV_ENV_URL);
        let login_url = get(ENV_LOGIN_URL);
        let both_urls = env_url.is_some() && login_url.is_some();

        let missing: Vec<&'static str> = [
            (ENV_CLIENT_ID, client_id.is_none()),
            (ENV_CLIENT_SECRET, client_secret.is_none()),
            (ENV_REGION, region.is_none() && !both_urls),
            (ENV_DEPLOYMENT_ID, deployment_id.is_none()),
        ]
        .into_iter()
        .filter_map(|(name, is_missing)| is_missing.then_some(name))
        .collect();
        let (Some(client_id), Some(client_secret), Some(deployment_id)) = (client_id, client_secret, deployment_id)
        else {
            return Err(ConfigError::Missing(missing));
        };
        if !missing.is_empty() {
            return Err(ConfigError::Missing(missing));
        }

        let region = region.map(|r| r.to_ascii_lowercase());
        if let Some(given) = region.as_ref().filter(|r| !REGIONS.contains(&r.as_str()) && !both_urls) {
            return Err(ConfigError::UnknownRegion { given: given.clone(), did_you_mean: closest_region(given) });
        }
        let default_base = |prefix: &str| region.as_ref().map(|r| format!("https://{prefix}.{r}")).unwrap_or_default();
        let api_url = base_url(ENV_ENV_URL, env_url.unwrap_or_else(|| default_base("api")))?;
        let login_url = base_url(ENV_LOGIN_URL, login_url.unwrap_or_else(|| default_base("login")))?;

        let tuning = match file {
            Some(path) => read_tuning(path)?,
            None => Tuning::default(),
        };
        Ok(GenesysConfig {
            region,
            api_url,
            login_url,
            client_id,
            client_secret: Secret(client_secret),
            deployment_id,
            tuning,
        })
    }
}

/// The known region nearest to a typo, if any is near.
fn closest_region(given: &str) -> Option<&'static str> {
    let bare = given
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_start_matches("api.")
        .trim_start_matches("login.")
        .trim_end_matches('/');
    REGIONS
        .iter()
        .map(|r| (strsim::levenshtein(bare, r), *r))
        .filter(|(distance, _)| *distance <= 3)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, r)| r)
}

/// Parses an API or login base: https, or http to a loopback host (local fakes only).
fn base_url(variable: &'static str, given: String) -> Result<Url, ConfigError> {
    let bad = |why: &str| ConfigError::BadUrl { variable, given: given.clone(), why: why.to_owned() };
    let url = Url::parse(&given).map_err(|e| bad(&format!("not a URL ({e})")))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(bad("plain http is only allowed to a loopback host (127.0.0.1, localhost, [::1]); use https"));
        }
        _ => return Err(bad("must start with https://")),
    }
    if url.host().is_none() {
        return Err(bad("no host"));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(bad("must be a bare base URL such as https://api.mypurecloud.ie"));
    }
    Ok(url)
}

fn is_loopback(url: &Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    let ip = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || ip.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn read_tuning(path: &Path) -> Result<Tuning, ConfigError> {
    let err = |message: String| ConfigError::File { path: path.to_owned(), message };
    let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read it ({e})")))?;
    let raw: TuningFile = if text.trim().is_empty() {
        TuningFile::default()
    } else {
        yaml_serde::from_str(&text).map_err(|e| err(e.to_string()))?
    };
    let defaults = Tuning::default();
    let positive = |name: &str, value: Option<u64>| match value {
        Some(0) => Err(err(format!("`{name}` must be at least 1"))),
        _ => Ok(()),
    };
    positive("requests_per_minute", raw.requests_per_minute.map(u64::from))?;
    positive("concurrency", raw.concurrency.map(|v| v as u64))?;
    positive("history_batch_size", raw.history_batch_size.map(|v| v as u64))?;
    let parse_duration = |name: &str, text: Option<String>| {
        text.map(|text| match duration::parse(&text) {
            Ok(d) if d.is_zero() => Err(err(format!("`{name}` must be longer than 0s"))),
            Ok(d) => Ok(d),
            Err(e) => Err(err(format!("`{name}`: {e}"))),
        })
        .transpose()
    };
    let look_back = parse_duration("look_back", raw.look_back)?;
    let timeout = parse_duration("timeout", raw.timeout)?;
    Ok(Tuning {
        look_back: look_back.unwrap_or(defaults.look_back),
        requests_per_minute: raw.requests_per_minute.unwrap_or(defaults.requests_per_minute),
        concurrency: raw.concurrency.unwrap_or(defaults.concurrency),
        timeout: timeout.map_or(defaults.timeout, |d| d.unsigned_abs()),
        history_batch_size: raw.history_batch_size.unwrap_or(defaults.history_batch_size),
        max_retries: raw.max_retries.unwrap_or(defaults.max_retries),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    fn full() -> Vec<(&'static str, &'static str)> {
        vec![
            (ENV_CLIENT_ID, "id-1"),
            (ENV_CLIENT_SECRET, "s3cret-value"),
            (ENV_REGION, "mypurecloud.ie"),
            (ENV_DEPLOYMENT_ID, "dep-1"),
        ]
    }

    #[test]
    fn region_gives_the_default_hosts() {
        let c = GenesysConfig::from_env(&env(&full()), None).unwrap();
        assert_eq!(c.api_url.as_str(), "https://api.mypurecloud.ie/");
        assert_eq!(c.login_url.as_str(), "https://login.mypurecloud.ie/");
        assert_eq!(c.tuning, Tuning::default());
    }

    #[test]
    fn a_typo_in_the_region_gets_a_suggestion() {
        let mut vars = full();
        vars[2] = (ENV_REGION, "mypurecloud.i");
        let e = GenesysConfig::from_env(&env(&vars), None).unwrap_err();
        assert_eq!(
            e,
            ConfigError::UnknownRegion { given: "mypurecloud.i".into(), did_you_mean: Some("mypurecloud.ie") }
        );
        assert!(e.to_string().contains("did you mean `mypurecloud.ie`"));
        vars[2] = (ENV_REGION, "https://api.mypurecloud.de");
        let e = GenesysConfig::from_env(&env(&vars), None).unwrap_err();
        assert!(e.to_string().contains("did you mean `mypurecloud.de`"), "{e}");
    }

    #[test]
    fn an_unknown_region_is_accepted_only_with_both_urls() {
        let mut vars = full();
        vars[2] = (ENV_REGION, "example.org");
        assert!(GenesysConfig::from_env(&env(&vars), None).is_err());
        vars.push((ENV_ENV_URL, "https://api.example.org"));
        assert!(GenesysConfig::from_env(&env(&vars), None).is_err());
        vars.push((ENV_LOGIN_URL, "https://login.example.org"));
        let c = GenesysConfig::from_env(&env(&vars), None).unwrap();
        assert_eq!(c.login_url.as_str(), "https://login.example.org/");
    }

    #[test]
    fn urls_replace_the_region_and_loopback_may_be_http() {
        let vars = [
            (ENV_CLIENT_ID, "id"),
            (ENV_CLIENT_SECRET, "secret"),
            (ENV_DEPLOYMENT_ID, "dep"),
            (ENV_ENV_URL, "http://127.0.0.1:8080"),
            (ENV_LOGIN_URL, "http://localhost:9090/"),
        ];
        let c = GenesysConfig::from_env(&env(&vars), None).unwrap();
        assert_eq!(c.region, None);
        assert_eq!(c.api_url.as_str(), "http://127.0.0.1:8080/");
        let vars = [
            (ENV_CLIENT_ID, "id"),
            (ENV_CLIENT_SECRET, "secret"),
            (ENV_DEPLOYMENT_ID, "dep"),
            (ENV_ENV_URL, "http://[::1]:8080"),
            (ENV_LOGIN_URL, "ftp://localhost"),
        ];
        let e = GenesysConfig::from_env(&env(&vars), None).unwrap_err();
        assert!(matches!(e, ConfigError::BadUrl { variable: ENV_LOGIN_URL, .. }), "{e}");
    }

    #[test]
    fn the_file_sets_the_tuning_and_rejects_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runner.yaml");
        std::fs::write(&path, "look_back: 6h\nrequests_per_minute: 120\ntimeout: 10s\nmax_retries: 2\n").unwrap();
        let c = GenesysConfig::from_env(&env(&full()), Some(&path)).unwrap();
        assert_eq!(c.tuning.look_back, SignedDuration::from_hours(6));
        assert_eq!(c.tuning.requests_per_minute, 120);
        assert_eq!(c.tuning.timeout, Duration::from_secs(10));
        assert_eq!(c.tuning.max_retries, 2);
        assert_eq!(c.tuning.concurrency, 8);

        std::fs::write(&path, "lookback: 6h\n").unwrap();
        let e = GenesysConfig::from_env(&env(&full()), Some(&path)).unwrap_err().to_string();
        assert!(e.contains("lookback"), "{e}");
        std::fs::write(&path, "timeout: soon\n").unwrap();
        let e = GenesysConfig::from_env(&env(&full()), Some(&path)).unwrap_err().to_string();
        assert!(e.contains("`timeout`"), "{e}");
        std::fs::write(&path, "concurrency: 0\n").unwrap();
        let e = GenesysConfig::from_env(&env(&full()), Some(&path)).unwrap_err().to_string();
        assert!(e.contains("`concurrency` must be at least 1"), "{e}");
    }
}
