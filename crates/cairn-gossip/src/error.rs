//! The crate's error type.

use crate::codec::lzw::LzwError;
use crate::codec::msgpack::DecodeError;

/// Everything that can go wrong in cairn-gossip.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A message body failed to decode.
    #[error("decode: {0}")]
    Decode(#[from] DecodeError),
    /// A compressed payload failed to decompress.
    #[error("decompress: {0}")]
    Lzw(#[from] LzwError),
    /// A message type byte we do not know.
    #[error("unknown message type {0}")]
    UnknownMessageType(u8),
    /// A message arrived empty or cut short.
    #[error("truncated message")]
    Truncated,
    /// A packet's CRC did not match.
    #[error("checksum mismatch")]
    BadChecksum,
    /// A compressed payload used an algorithm other than LZW.
    #[error("unknown compression algorithm {0}")]
    UnknownCompression(u8),
    /// Input larger than the protocol allows.
    #[error("message too large ({0} bytes)")]
    TooLarge(usize),
    /// A key of the wrong length, or another keyring misuse.
    #[error("keyring: {0}")]
    Keyring(String),
    /// Decryption failed with every installed key, or the payload was malformed.
    #[error("decrypt: {0}")]
    Decrypt(&'static str),
    /// The remote sent plaintext while encryption is required, or the reverse.
    #[error("encryption mismatch: {0}")]
    EncryptionMismatch(&'static str),
    /// Invalid configuration.
    #[error("config: {0}")]
    Config(String),
    /// Tags (or other meta) encode larger than memberlist's 512-byte limit.
    #[error("encoded tags exceed {0} bytes")]
    MetaTooLarge(usize),
    /// A user event or query too large to send.
    #[error("{0}")]
    SizeLimit(String),
    /// The operation is not valid in the current state (e.g. join after leave).
    #[error("{0}")]
    State(&'static str),
    /// The remote end reported an error over a stream.
    #[error("remote error: {0}")]
    Remote(String),
    /// A network operation failed (driver only).
    #[error("io: {0}")]
    Io(String),
    /// The driver has shut down.
    #[error("gossip agent has shut down")]
    Shutdown,
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
