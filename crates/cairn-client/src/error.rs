//! Errors of the client.

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The agent answered with a non-success status. `body` is the agent's plain-text reason,
    /// trimmed. The message is worded as Consul's Go client words it, so CLI output matches:
    /// `Unexpected response code: 500 (No cluster leader)`.
    #[error("Unexpected response code: {status} ({body})")]
    Status {
        /// HTTP status code.
        status: u16,
        /// Response body, trimmed.
        body: String,
    },
    /// The request did not reach the agent or the connection broke
    /// (`Put "http://127.0.0.1:8500/v1/kv/a": dial tcp 127.0.0.1:8500: connect: connection refused`).
    #[error("{method} \"{url}\": {reason}")]
    Transport {
        /// HTTP method, capitalised as Go prints it (`Get`, `Put`, `Delete`, `Post`).
        method: &'static str,
        /// The URL requested.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The agent's answer could not be decoded.
    #[error("Failed to decode response: {0}")]
    Decode(String),
    /// The request itself is invalid and was not sent (Consul's client refuses the same:
    /// `Invalid key. Key must not begin with a '/': /a`).
    #[error("{0}")]
    Invalid(String),
    /// A lock or semaphore key exists but was made for the other kind of primitive or by
    /// someone else (`Existing key does not match lock use`).
    #[error("{0}")]
    Conflict(String),
    /// A lock or semaphore cannot be destroyed because a holder still uses it
    /// (`Lock in use`, `Semaphore in use`).
    #[error("{0}")]
    InUse(String),
    /// A lock or semaphore operation failed (`failed to create session: …`).
    #[error("{0}")]
    Lock(String),
    /// The client configuration is unusable (bad address, unsupported scheme, unreadable token
    /// file).
    #[error("{0}")]
    Config(String),
}

impl Error {
    /// The HTTP status of a [`Error::Status`] error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether a lock monitor should retry after this error: HTTP 5xx or a transport failure,
    /// as Consul's `IsRetryableError`.
    pub fn is_retryable(&self) -> bool {
        self.is_server_error() || matches!(self, Error::Transport { .. })
    }

    /// Whether this is a server-side error (HTTP 5xx) worth retrying, as Consul's lock monitor
    /// treats them.
    pub fn is_server_error(&self) -> bool {
        matches!(self.status(), Some(s) if (500..600).contains(&s))
    }
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;
