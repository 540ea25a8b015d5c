//! Cairn agent configuration: Consul's command-line flags, JSON and HCL config files with
//! Consul's loading order and merge rules, defaults, and validation that names the file, the
//! key and the problem.
//!
//! ```no_run
//! use cairn_config::{load, AgentFlags, ConfigError};
//!
//! let args: Vec<String> = std::env::args().skip(2).collect(); // after `cairn agent`
//! let flags = match AgentFlags::parse_from_go_args(args) {
//!     Ok(flags) => flags,
//!     Err(ConfigError::HelpRequested(text)) => { println!("{text}"); return; }
//!     Err(e) => { eprintln!("{e}"); std::process::exit(1); }
//! };
//! match load(&flags) {
//!     Ok((config, warnings)) => {
//!         for w in &warnings { eprintln!("[WARN] {w}"); }
//!         println!("node {} in {}", config.node_name, config.datacenter);
//!     }
//!     Err(e) => { eprintln!("==> {e}"); std::process::exit(1); }
//! }
//! ```
//!
//! Module map: [`flags`] (the `consul agent` flags), [`mod@file`] (what a config file may say),
//! [`hcl1`] (Consul's HCL dialect), [`load()`] (loading order and merge), [`runtime`] (the
//! resolved configuration).

#![warn(missing_docs)]

mod build;
mod decode;
pub mod error;
pub mod file;
pub mod flags;
pub mod go_flags;
pub mod hcl1;
mod load;
pub mod runtime;

pub use build::{DEFAULT_DATACENTER, DEFAULT_DOMAIN};
pub use decode::Ignored;
pub use error::{ConfigError, Warning};
pub use file::{CheckDefinition, ConfigFile, Format, ServiceDefinition};
pub use flags::{AgentFlags, ConfigPath};
pub use load::{
    dev_config, load, load_from_sources, validate_paths, LoadOptions, Source, VALID_MESSAGE,
};
pub use runtime::{ListenAddr, LogLevel, RuntimeConfig};
