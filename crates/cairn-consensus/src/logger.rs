//! raft-rs logs through `slog`; forward them to `tracing` at a chosen level.

use crate::config::RaftLogLevel;
use slog::Drain;

pub(crate) fn raft_logger(id: u64, level: RaftLogLevel) -> slog::Logger {
    let min = match level {
        RaftLogLevel::Off => return slog::Logger::root(slog::Discard, slog::o!()),
        RaftLogLevel::Warn => slog::Level::Warning,
        RaftLogLevel::Info => slog::Level::Info,
        RaftLogLevel::Debug => slog::Level::Trace,
    };
    let drain = slog::LevelFilter::new(tracing_slog::TracingSlogDrain, min).fuse();
    slog::Logger::root(drain, slog::o!("raft_id" => id))
}
