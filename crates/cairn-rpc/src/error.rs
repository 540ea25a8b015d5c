//! Errors of the RPC layer, and how they travel as gRPC statuses.
//!
//! A handler's [`RpcError`] crosses the wire as a gRPC status whose message is the error's
//! Consul-style text and whose `cairn-error-kind` metadata entry names the [`ErrorKind`], so the
//! calling side gets back exactly the kind and message the server produced.

use tonic::metadata::MetadataValue;
use tonic::{Code, Status};

/// The metadata key carrying an error's kind.
const KIND_KEY: &str = "cairn-error-kind";

/// What went wrong, coarse enough to branch on (retry elsewhere, answer 404, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The cluster has no leader right now (Consul's `No cluster leader`); retry later.
    NoLeader,
    /// The requested thing does not exist.
    NotFound,
    /// The request was malformed or invalid.
    BadRequest,
    /// The caller may not do this (ACLs).
    PermissionDenied,
    /// The server did not answer in time; the outcome of a write is unknown.
    Timeout,
    /// The server failed while handling the request.
    Internal,
    /// The server could not be reached, or is shutting down.
    Unavailable,
}

impl ErrorKind {
    /// A stable name for the kind, used on the wire.
    pub fn as_str(&self) -> &'static str {
        match self {
            ErrorKind::NoLeader => "no-leader",
            ErrorKind::NotFound => "not-found",
            ErrorKind::BadRequest => "bad-request",
            ErrorKind::PermissionDenied => "permission-denied",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Internal => "internal",
            ErrorKind::Unavailable => "unavailable",
        }
    }

    /// The kind named `s` by [`ErrorKind::as_str`].
    pub fn parse(s: &str) -> Option<ErrorKind> {
        Some(match s {
            "no-leader" => ErrorKind::NoLeader,
            "not-found" => ErrorKind::NotFound,
            "bad-request" => ErrorKind::BadRequest,
            "permission-denied" => ErrorKind::PermissionDenied,
            "timeout" => ErrorKind::Timeout,
            "internal" => ErrorKind::Internal,
            "unavailable" => ErrorKind::Unavailable,
            _ => return None,
        })
    }

    fn code(&self) -> Code {
        match self {
            ErrorKind::NoLeader | ErrorKind::Unavailable => Code::Unavailable,
            ErrorKind::NotFound => Code::NotFound,
            ErrorKind::BadRequest => Code::InvalidArgument,
            ErrorKind::PermissionDenied => Code::PermissionDenied,
            ErrorKind::Timeout => Code::DeadlineExceeded,
            ErrorKind::Internal => Code::Internal,
        }
    }

    /// The kind a status from something other than a Cairn handler (the transport, another
    /// gRPC server) most likely means.
    fn from_code(code: Code) -> ErrorKind {
        match code {
            Code::NotFound => ErrorKind::NotFound,
            Code::InvalidArgument | Code::OutOfRange | Code::FailedPrecondition => {
                ErrorKind::BadRequest
            }
            Code::PermissionDenied | Code::Unauthenticated => ErrorKind::PermissionDenied,
            Code::DeadlineExceeded => ErrorKind::Timeout,
            Code::Unavailable | Code::Cancelled | Code::Aborted | Code::ResourceExhausted => {
                ErrorKind::Unavailable
            }
            _ => ErrorKind::Internal,
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed forwarded request: a kind to branch on and the Consul-style message to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RpcError {
    kind: ErrorKind,
    message: String,
    /// Set when the request never left this process (no connection could be made), so a
    /// retry cannot apply a write twice. Local knowledge; not carried over the wire.
    not_sent: bool,
}

impl RpcError {
    /// An error of `kind` with `message` (shown to HTTP clients as is).
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        RpcError {
            kind,
            message: message.into(),
            not_sent: false,
        }
    }

    /// Mark this error as "the request was never sent" (connection failures).
    pub fn never_sent(mut self) -> Self {
        self.not_sent = true;
        self
    }

    /// Whether the request certainly never reached the server (safe to retry anything).
    pub fn was_not_sent(&self) -> bool {
        self.not_sent
    }

    /// Consul's `No cluster leader`.
    pub fn no_leader() -> Self {
        RpcError::new(ErrorKind::NoLeader, "No cluster leader")
    }

    /// A [`ErrorKind::NotFound`] error.
    pub fn not_found(message: impl Into<String>) -> Self {
        RpcError::new(ErrorKind::NotFound, message)
    }

    /// A [`ErrorKind::BadRequest`] error.
    pub fn bad_request(message: impl Into<String>) -> Self {
        RpcError::new(ErrorKind::BadRequest, message)
    }

    /// A [`ErrorKind::PermissionDenied`] error.
    pub fn permission_denied(message: impl Into<String>) -> Self {
        RpcError::new(ErrorKind::PermissionDenied, message)
    }

    /// A [`ErrorKind::Timeout`] error.
    pub fn timeout(message: impl Into<String>) -> Self {
        RpcError::new(ErrorKind::Timeout, message)
    }

    /// A [`ErrorKind::Internal`] error.
    pub fn internal(message: impl Into<String>) -> Self {
        RpcError::new(ErrorKind::Internal, message)
    }

    /// A [`ErrorKind::Unavailable`] error.
    pub fn unavailable(message: impl Into<String>) -> Self {
        RpcError::new(ErrorKind::Unavailable, message)
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, as the server produced it.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether the same request may succeed against another server or a little later.
    pub fn is_retryable(&self) -> bool {
        matches!(self.kind, ErrorKind::NoLeader | ErrorKind::Unavailable)
    }

    pub(crate) fn into_status(self) -> Status {
        let mut status = Status::new(self.kind.code(), self.message);
        status
            .metadata_mut()
            .insert(KIND_KEY, MetadataValue::from_static(self.kind.as_str()));
        status
    }

    /// Whether `status` came from the connection rather than from a handler: the connection
    /// may be broken and should not be reused.
    pub(crate) fn is_transport_failure(status: &Status) -> bool {
        !Self::is_tagged(status) && matches!(status.code(), Code::Unavailable | Code::Unknown)
    }

    /// Whether `status` reports that no connection could be made (the channel tried to
    /// reconnect to a server that is gone): the request certainly never left this process.
    pub(crate) fn is_connect_failure(status: &Status) -> bool {
        if Self::is_tagged(status) || status.code() != Code::Unavailable {
            return false;
        }
        let mut cur: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(status);
        while let Some(e) = cur {
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                use std::io::ErrorKind as K;
                if matches!(
                    io.kind(),
                    K::ConnectionRefused
                        | K::HostUnreachable
                        | K::NetworkUnreachable
                        | K::AddrNotAvailable
                ) {
                    return true;
                }
            }
            // hyper-util's connector wraps every failure to establish TCP in this error.
            if e.to_string().starts_with("tcp connect error") {
                return true;
            }
            cur = e.source();
        }
        false
    }

    /// Whether `status` was made from an [`RpcError`] by a Cairn handler.
    pub(crate) fn is_tagged(status: &Status) -> bool {
        status.metadata().get(KIND_KEY).is_some()
    }

    pub(crate) fn from_status(status: &Status) -> Self {
        let tagged = status
            .metadata()
            .get(KIND_KEY)
            .and_then(|v| v.to_str().ok())
            .and_then(ErrorKind::parse);
        match tagged {
            Some(kind) => RpcError::new(kind, status.message()),
            None => {
                let kind = ErrorKind::from_code(status.code());
                let message = if status.message().is_empty() {
                    format!("rpc failed: {}", status.code())
                } else {
                    status.message().to_string()
                };
                RpcError::new(kind, message)
            }
        }
    }
}

/// The RPC server could not start or failed while serving.
#[derive(Debug, thiserror::Error)]
#[error("rpc server: {0}")]
pub struct ServeError(pub(crate) String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_a_status() {
        for kind in [
            ErrorKind::NoLeader,
            ErrorKind::NotFound,
            ErrorKind::BadRequest,
            ErrorKind::PermissionDenied,
            ErrorKind::Timeout,
            ErrorKind::Internal,
            ErrorKind::Unavailable,
        ] {
            let e = RpcError::new(kind, format!("boom ü {kind}"));
            let back = RpcError::from_status(&e.clone().into_status());
            assert_eq!(back, e);
            assert_eq!(ErrorKind::parse(kind.as_str()), Some(kind));
        }
    }

    #[test]
    fn untagged_statuses_map_by_code() {
        let e = RpcError::from_status(&Status::unavailable("connection refused"));
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert_eq!(e.message(), "connection refused");
        let e = RpcError::from_status(&Status::new(Code::Unknown, ""));
        assert_eq!(e.kind(), ErrorKind::Internal);
        assert!(!e.message().is_empty());
    }
}
