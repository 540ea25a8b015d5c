//! Helpers shared by the integration tests.
#![allow(dead_code)]

use cairn_config::{
    load_from_sources, AgentFlags, ConfigError, ConfigPath, Format, LoadOptions, RuntimeConfig,
    Source, Warning,
};
use std::path::Path;

pub const HOST: &str = "testhost";

/// Parse Go-style flags or panic.
pub fn flags(args: &[&str]) -> AgentFlags {
    AgentFlags::parse_from_go_args(args.iter().copied()).unwrap_or_else(|e| panic!("{e}"))
}

fn options(flags: &AgentFlags) -> LoadOptions {
    LoadOptions {
        dev: flags.dev_mode(),
        config_format: flags.config_format.as_deref().and_then(Format::parse),
        hostname: Some(HOST.into()),
    }
}

/// Load with the flags' own `-config-file`/`-config-dir` paths and a fixed host name.
pub fn load_args(args: &[&str]) -> Result<(RuntimeConfig, Vec<Warning>), ConfigError> {
    let f = flags(args);
    let sources: Vec<Source> = f.config_paths.iter().cloned().map(Source::Path).collect();
    load_from_sources(&f, &sources, &options(&f))
}

/// Load literal config text (plus flags) with a fixed host name.
pub fn load_text(
    args: &[&str],
    name: &str,
    format: Format,
    text: &str,
) -> Result<(RuntimeConfig, Vec<Warning>), ConfigError> {
    let f = flags(args);
    let source = Source::Text {
        name: name.into(),
        format,
        text: text.into(),
    };
    load_from_sources(&f, &[source], &options(&f))
}

pub fn ok(r: Result<(RuntimeConfig, Vec<Warning>), ConfigError>) -> (RuntimeConfig, Vec<String>) {
    match r {
        Ok((c, w)) => (c, w.into_iter().map(|w| w.0).collect()),
        Err(e) => panic!("unexpected error: {e}"),
    }
}

pub fn err(r: Result<(RuntimeConfig, Vec<Warning>), ConfigError>) -> ConfigError {
    match r {
        Ok((c, _)) => panic!("unexpectedly loaded: {c:?}"),
        Err(e) => e,
    }
}

/// Write a file under `dir` and return its path as text.
pub fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path.to_string_lossy().into_owned()
}

pub fn dir_source(dir: &Path) -> Source {
    Source::Path(ConfigPath::Dir(dir.to_string_lossy().into_owned()))
}
