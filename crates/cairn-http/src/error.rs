//! Errors a backend (or a handler) answers with. Bodies are plain text, as Consul writes them.

use cairn_catalog::CatalogError;

/// An API error: an HTTP status and a one-line plain-text body.
///
/// Backends return these from [`crate::ConsensusApi`] and [`crate::AgentApi`]; the texts of the
/// named variants are Consul's, byte for byte, because clients branch on them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// No raft leader is known (HTTP 500).
    #[error("No cluster leader")]
    NoLeader,
    /// The requested datacenter is unknown (HTTP 500).
    #[error("No path to datacenter")]
    NoPathToDatacenter,
    /// Any other error, with its status code and body.
    #[error("{message}")]
    Status {
        /// HTTP status code.
        status: u16,
        /// Plain-text body.
        message: String,
    },
}

impl ApiError {
    /// An error with an explicit status code.
    pub fn with_status(status: u16, message: impl Into<String>) -> ApiError {
        ApiError::Status {
            status,
            message: message.into(),
        }
    }

    /// HTTP 400 with `message` as the body.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::with_status(400, message)
    }

    /// HTTP 403 with `message` as the body (ACL denials).
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::with_status(403, message)
    }

    /// HTTP 404 with `message` as the body.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::with_status(404, message)
    }

    /// HTTP 500 with `message` as the body (Consul's answer to every unclassified error).
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::with_status(500, message)
    }

    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        match self {
            ApiError::NoLeader | ApiError::NoPathToDatacenter => 500,
            ApiError::Status { status, .. } => *status,
        }
    }
}

/// A command the state machine refused: HTTP 500 with its (Consul-worded) text, as Consul
/// answers RPC errors.
impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> ApiError {
        ApiError::internal(e.to_string())
    }
}

/// Why [`crate::HttpServer::serve`] stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// Accepting or serving connections failed.
    #[error("http server: {0}")]
    Io(#[from] std::io::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_errors_carry_consul_texts_and_codes() {
        assert_eq!(ApiError::NoLeader.to_string(), "No cluster leader");
        assert_eq!(ApiError::NoLeader.status(), 500);
        assert_eq!(
            ApiError::NoPathToDatacenter.to_string(),
            "No path to datacenter"
        );
        assert_eq!(ApiError::bad_request("Invalid index").status(), 400);
        assert_eq!(ApiError::not_found("x").to_string(), "x");
        let e: ApiError = CatalogError::InvalidSession("abc".into()).into();
        assert_eq!(
            (e.status(), e.to_string()),
            (500, "invalid session \"abc\"".to_string())
        );
    }
}
