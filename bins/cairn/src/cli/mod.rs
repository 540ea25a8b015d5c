//! The command-line framework: Consul's argument conventions on top of clap, Consul-style help,
//! output sinks and the table formats Consul prints.

pub mod args;
pub mod format;
pub mod http;
pub mod ui;
pub mod usage;

pub use args::parse;
pub use http::{HttpFlags, ServerFlags};
pub use ui::Ui;

/// Exit code a parent command returns to ask for its help (printed with exit code 1), as
/// mitchellh/cli's `RunResultHelp`.
pub const RUN_RESULT_HELP: i32 = -18511;
