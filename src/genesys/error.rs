//! Errors of the Genesys API, typed, with human messages.
//!
//! An [`ApiError`] keeps what Genesys said (status, `code`, `message`, the `ININ-Correlation-Id`
//! that Genesys support asks for) and which endpoint answered, and its `Display` says what the
//! operator can do about it: the permission to add to the OAuth client's role, the setting to
//! check, the entity that does not exist. Secrets never enter these values.

use std::fmt;

/// The endpoints the client calls. Each knows its path and the permission it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST {login}/oauth/token`.
    Token,
    /// `POST /api/v2/analytics/conversations/details/query`.
    ConversationQuery,
    /// `GET /api/v2/conversations/{conversationId}`.
    Conversation,
    /// `POST /api/v2/externalcontacts/bulk/contacts` (many contacts by id).
    BulkContacts,
    /// `GET /api/v2/routing/wrapupcodes`.
    WrapupCodes,
    /// `POST /api/v2/conversations/messages/agentless`.
    AgentlessMessage,
}

impl Endpoint {
    /// Method and path template, as the API reference writes them.
    pub fn route(self) -> &'static str {
        match self {
            Endpoint::Token => "POST /oauth/token",
            Endpoint::ConversationQuery => "POST /api/v2/analytics/conversations/details/query",
            Endpoint::Conversation => "GET /api/v2/conversations/{conversationId}",
            Endpoint::BulkContacts => "POST /api/v2/externalcontacts/bulk/contacts",
            Endpoint::WrapupCodes => "GET /api/v2/routing/wrapupcodes",
            Endpoint::AgentlessMessage => "POST /api/v2/conversations/messages/agentless",
        }
    }

    /// The permission the OAuth client's role needs for this endpoint.
    pub fn permission(self) -> Option<&'static str> {
        match self {
            Endpoint::Token => None,
            Endpoint::ConversationQuery => Some("analytics:conversationDetail:view"),
            Endpoint::Conversation => Some("conversation:communication:view"),
            Endpoint::BulkContacts => Some("externalContacts:contact:view"),
            Endpoint::WrapupCodes => Some("routing:wrapupCode:view"),
            Endpoint::AgentlessMessage => Some("conversation:message:create"),
        }
    }

    /// What the id in the path names, for "not found" messages.
    fn entity(self) -> &'static str {
        match self {
            Endpoint::Conversation => "conversation",
            Endpoint::BulkContacts => "external contact",
            _ => "resource",
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.route())
    }
}

/// What went wrong with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Genesys answered with an error status.
    Status {
        status: u16,
        /// Genesys `code` (`missing.permissions`, ...) or, at login, OAuth `error` (`invalid_client`).
        code: Option<String>,
        /// Genesys `message` or, at login, `error_description`.
        message: Option<String>,
    },
    /// No answer within the configured `timeout`.
    Timeout,
    /// The connection to `host` could not be made (DNS, refused, TLS): the request was never sent.
    Connect { host: String, detail: String },
    /// The connection failed after the request may have been sent.
    Transport { detail: String },
    /// The request could not be put together (never sent).
    Build { detail: String },
    /// A success answer whose body is not what the API documents.
    Decode { detail: String },
}

/// A failed Genesys request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub endpoint: Endpoint,
    /// The id the error is about (in the path, or one id of a bulk request), if any.
    pub target: Option<String>,
    pub failure: Failure,
    /// The `ININ-Correlation-Id` answer header: quote it to Genesys support.
    pub correlation_id: Option<String>,
}

impl ApiError {
    pub fn new(endpoint: Endpoint, failure: Failure) -> Self {
        ApiError { endpoint, target: None, failure, correlation_id: None }
    }

    /// The HTTP status, when Genesys answered.
    pub fn status(&self) -> Option<u16> {
        match &self.failure {
            Failure::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The Genesys error `code` (or the OAuth `error` at login).
    pub fn code(&self) -> Option<&str> {
        match &self.failure {
            Failure::Status { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// The Genesys error `message`.
    pub fn message(&self) -> Option<&str> {
        match &self.failure {
            Failure::Status { message, .. } => message.as_deref(),
            _ => None,
        }
    }

    /// What the operator should check or do.
    pub fn hint(&self) -> String {
        match (&self.failure, self.endpoint) {
            (Failure::Connect { host, .. }, Endpoint::Token) => format!(
                "cannot reach the login host {host}: check GENESYS_REGION (or GENESYS_LOGIN_URL) and the network"
            ),
            (Failure::Connect { host, .. }, _) => {
                format!("cannot reach {host}: check GENESYS_REGION (or GENESYS_ENV_URL) and the network")
            }
            (Failure::Timeout, _) => {
                "Genesys did not answer in time: retry later, or raise `timeout` in the config file".to_owned()
            }
            (Failure::Transport { .. }, _) => "the connection to Genesys broke before the answer arrived".to_owned(),
            (Failure::Build { .. }, _) => "this is a bug in runner: please report it".to_owned(),
            (Failure::Decode { .. }, _) => "Genesys answered with something the runner does not understand".to_owned(),
            (Failure::Status { status, code, .. }, Endpoint::Token) => login_hint(*status, code.as_deref()),
            (Failure::Status { status, .. }, endpoint) => api_hint(*status, endpoint, self.target.as_deref()),
        }
    }
}

fn login_hint(status: u16, code: Option<&str>) -> String {
    match (status, code) {
        (_, Some("unauthorized_client")) => {
            "login refused: the OAuth client may not use the client-credentials grant; create an OAuth client of grant type \"Client Credentials\"".to_owned()
        }
        (400 | 401, _) => {
            "login refused: the client id or secret is wrong, the OAuth client is disabled or deleted, or it belongs to an org in another region; check GENESYS_CLIENT_ID, GENESYS_CLIENT_SECRET and GENESYS_REGION".to_owned()
        }
        (429, _) => "too many logins: wait a minute and try again".to_owned(),
        (500..=599, _) => "the Genesys login service is unavailable: try again later".to_owned(),
        _ => "login failed: check GENESYS_REGION (or GENESYS_LOGIN_URL), GENESYS_CLIENT_ID and GENESYS_CLIENT_SECRET".to_owned(),
    }
}

fn api_hint(status: u16, endpoint: Endpoint, target: Option<&str>) -> String {
    match status {
        401 => "the access token was refused even after a fresh login: check that the OAuth client is still active and its credentials (GENESYS_CLIENT_ID, GENESYS_CLIENT_SECRET)".to_owned(),
        403 => match endpoint.permission() {
            Some(permission) => format!(
                "the OAuth client lacks the permission `{permission}`: add it to the OAuth client's role (and give the role the divisions the data is in)"
            ),
            None => "the OAuth client is not allowed to do this".to_owned(),
        },
        404 => match (endpoint, target) {
            (Endpoint::AgentlessMessage, _) => {
                "not found: check GENESYS_DEPLOYMENT_ID (the web messaging deployment) and the external contact id".to_owned()
            }
            (_, Some(id)) => format!("{} `{id}` does not exist", endpoint.entity()),
            (_, None) => "not found".to_owned(),
        },
        429 => "Genesys rate limit: it still answered 429 after the retries; lower `requests_per_minute` in the config file or ask Genesys to raise the org's limit".to_owned(),
        400 | 422 => "Genesys rejected the request".to_owned(),
        500..=599 => "Genesys is unavailable: try again later".to_owned(),
        _ => "unexpected answer from Genesys".to_owned(),
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.endpoint)?;
        if let Some(target) = &self.target {
            write!(f, " ({target})")?;
        }
        f.write_str(": ")?;
        match &self.failure {
            Failure::Status { status, code, message } => {
                write!(f, "HTTP {status}")?;
                if let Some(code) = code {
                    write!(f, " {code}")?;
                }
                if let Some(message) = message {
                    write!(f, " \"{message}\"")?;
                }
            }
            Failure::Timeout => f.write_str("timed out")?,
            Failure::Connect { detail, .. } => write!(f, "connection failed ({detail})")?,
            Failure::Transport { detail } => write!(f, "connection lost ({detail})")?,
            Failure::Build { detail } => write!(f, "request not built ({detail})")?,
            Failure::Decode { detail } => write!(f, "unexpected answer ({detail})")?,
        }
        write!(f, ": {}", self.hint())?;
        if let Some(id) = &self.correlation_id {
            write!(f, " [ININ-Correlation-Id {id}]")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// Why a message send did not succeed. The distinction matters: a `Failed` send may be tried
/// again later; an `Uncertain` one may already be on the customer's screen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Definitely not sent: Genesys refused it, or the request never left.
    #[error("not sent: {0}")]
    Failed(ApiError),
    /// The request may have reached Genesys but no clear answer came back (timeout, broken
    /// connection, gateway error). Never retried automatically, to avoid a duplicate message.
    #[error("may or may not have been sent (not retried, to avoid a duplicate): {0}")]
    Uncertain(ApiError),
}

impl SendError {
    pub fn api_error(&self) -> &ApiError {
        match self {
            SendError::Failed(e) | SendError::Uncertain(e) => e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(endpoint: Endpoint, status: u16, code: &str) -> ApiError {
        ApiError::new(
            endpoint,
            Failure::Status { status, code: Some(code.to_owned()), message: Some("Nope".to_owned()) },
        )
    }

    #[test]
    fn forbidden_names_the_permission_of_each_endpoint() {
        for (endpoint, permission) in [
            (Endpoint::ConversationQuery, "analytics:conversationDetail:view"),
            (Endpoint::Conversation, "conversation:communication:view"),
            (Endpoint::BulkContacts, "externalContacts:contact:view"),
            (Endpoint::WrapupCodes, "routing:wrapupCode:view"),
            (Endpoint::AgentlessMessage, "conversation:message:create"),
        ] {
            let text = status(endpoint, 403, "missing.permissions").to_string();
            assert!(text.contains(permission), "{text}");
            assert!(text.contains("role"), "{text}");
        }
    }

    #[test]
    fn not_found_names_the_entity_and_id() {
        let mut e = status(Endpoint::Conversation, 404, "not.found");
        e.target = Some("c-1".to_owned());
        assert!(e.to_string().contains("conversation `c-1` does not exist"), "{e}");
    }

    #[test]
    fn login_refusal_points_at_credentials_and_region() {
        let e = status(Endpoint::Token, 400, "invalid_client");
        let text = e.to_string();
        assert!(text.contains("GENESYS_CLIENT_SECRET") && text.contains("GENESYS_REGION"), "{text}");
    }

    #[test]
    fn correlation_id_is_shown() {
        let mut e = status(Endpoint::WrapupCodes, 503, "service.unavailable");
        e.correlation_id = Some("corr-9".to_owned());
        let text = e.to_string();
        assert!(text.contains("corr-9") && text.contains("unavailable"), "{text}");
    }
}
