//! OAuth client-credentials login: the one place that holds and renews the access token.
//!
//! `POST {login}/oauth/token` with `Authorization: Basic base64(id:secret)` and the form
//! `grant_type=client_credentials`. There is no refresh token: a new token is asked for shortly
//! before the current one expires (by the injected clock), and once more after a 401. Tokens and
//! the secret never appear in `Debug`, logs or errors.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Url;
use serde::Deserialize;
use tokio::sync::Mutex;

use super::client::{Authorization, Call, Transport};
use super::config::Secret;
use super::error::{ApiError, Endpoint, Failure};

/// An access token. `Debug` prints `***`; the value only leaves through [`AccessToken::expose`].
#[derive(Clone)]
pub(crate) struct AccessToken {
    value: Arc<str>,
    /// Which login produced it, so a 401 only discards the token that failed.
    generation: u64,
}

impl AccessToken {
    pub(crate) fn expose(&self) -> &str {
        &self.value
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(***)")
    }
}

/// The token answer. No `Debug`: it holds the token.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: u64,
}

struct Cached {
    token: AccessToken,
    renew_at: Instant,
}

/// Logs in and keeps the current token.
pub(crate) struct Auth {
    client_id: String,
    secret: Secret,
    token_url: Url,
    cached: Mutex<Option<Cached>>,
    logins: std::sync::atomic::AtomicU64,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("client_id", &self.client_id)
            .field("secret", &self.secret)
            .field("token_url", &self.token_url.as_str())
            .finish_non_exhaustive()
    }
}

impl Auth {
    pub(crate) fn new(client_id: String, secret: Secret, login_url: &Url) -> Self {
        Auth {
            client_id,
            secret,
            token_url: join(login_url, &["oauth", "token"]),
            cached: Mutex::new(None),
            logins: Default::default(),
        }
    }

    /// A token valid for a while yet: the cached one, or a fresh one. Concurrent callers wait
    /// for one login rather than each logging in.
    pub(crate) async fn token(&self, transport: &Transport) -> Result<AccessToken, ApiError> {
        let mut cached = self.cached.lock().await;
        let asked_at = transport.now();
        if let Some(current) = cached.as_ref().filter(|c| asked_at < c.renew_at) {
            return Ok(current.token.clone());
        }
        let form = [("grant_type", "client_credentials")];
        let call = Call::form(Endpoint::Token, self.token_url.clone(), &form);
        let credentials = Authorization::Basic { user: &self.client_id, password: &self.secret };
        // Boxed: a login is itself a request, and requests ask for tokens.
        let answer = Box::pin(transport.execute(&call, credentials)).await.map_err(|e| e.into_api_error())?;
        // Not `answer.json()`: a decode error could quote the token.
        let granted: TokenAnswer = serde_json::from_slice(&answer.body).map_err(|_| ApiError {
            correlation_id: answer.correlation_id.clone(),
            ..ApiError::new(
                Endpoint::Token,
                Failure::Decode { detail: "expected `access_token` and `expires_in`".to_owned() },
            )
        })?;
        let lifetime = Duration::from_secs(granted.expires_in).min(MAX_LIFETIME);
        let generation = self.logins.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let token = AccessToken { value: granted.access_token.into(), generation };
        tracing::debug!(expires_in = granted.expires_in, "logged in to Genesys Cloud");
        *cached = Some(Cached { token: token.clone(), renew_at: asked_at + lifetime - renewal_margin(lifetime) });
        Ok(token)
    }

    /// Forgets `token` after Genesys refused it (401), so the next [`Auth::token`] logs in
    /// again. A newer token that another request already fetched is kept.
    pub(crate) async fn forget(&self, token: &AccessToken) {
        let mut cached = self.cached.lock().await;
        if cached.as_ref().is_some_and(|c| c.token.generation == token.generation) {
            *cached = None;
        }
    }
}

/// Tokens live 24 hours by default; a longer `expires_in` is not trusted beyond two days.
const MAX_LIFETIME: Duration = Duration::from_secs(2 * 86_400);

/// How long before expiry a token is renewed: a tenth of its lifetime, at most five minutes.
fn renewal_margin(lifetime: Duration) -> Duration {
    (lifetime / 10).min(Duration::from_secs(300))
}

/// `base` with path segments appended (percent-encoded).
pub(crate) fn join(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renews_a_tenth_before_expiry_at_most_five_minutes() {
        assert_eq!(renewal_margin(Duration::from_secs(86_400)), Duration::from_secs(300));
        assert_eq!(renewal_margin(Duration::from_secs(300)), Duration::from_secs(30));
    }

    #[test]
    fn join_encodes_ids_and_keeps_a_base_path() {
        let base = Url::parse("http://127.0.0.1:9/prefix/").unwrap();
        assert_eq!(
            join(&base, &["api", "v2", "conversations", "a/b c"]).as_str(),
            "http://127.0.0.1:9/prefix/api/v2/conversations/a%2Fb%20c"
        );
    }

    #[test]
    fn debug_hides_the_secret_and_the_token() {
        let auth = Auth::new("id".into(), Secret::new("hunter2"), &Url::parse("https://login.mypurecloud.ie").unwrap());
        assert!(!format!("{auth:?}").contains("hunter2"));
        let token = AccessToken { value: "tok-123".into(), generation: 1 };
        assert!(!format!("{token:?}").contains("tok-123"));
    }
}
