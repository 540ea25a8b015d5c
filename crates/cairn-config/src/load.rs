//! Loading order and merge, as Consul's `newBuilder`/`build` do it:
//!
//! 1. dev-mode defaults (with `-dev`);
//! 2. list-valued flags (`-retry-join`, `-recursor`, …), so file entries append after them;
//! 3. every `-config-file`/`-config-dir` in command-line order; inside a directory, only
//!    `*.json` and `*.hcl` files (any file with `-config-format`), by name, no subdirectories;
//! 4. all other flags, which therefore override the files;
//! 5. `-hcl` fragments, in order.
//!
//! Later sources override earlier scalars, lists append, free-form maps (`node_meta`,
//! `http_config.response_headers`, …) are replaced by a later non-empty map, and blocks
//! (`ports`, `dns_config`, …) merge key by key.

use crate::build::Builder;
use crate::error::{ConfigError, Warning};
use crate::file::{decode_layer, parse_layer, Format, Layer};
use crate::flags::{AgentFlags, ConfigPath};
use crate::runtime::RuntimeConfig;
use serde_json::json;
use std::path::Path;

/// What Consul's `validate` command prints on success.
pub const VALID_MESSAGE: &str = "Configuration is valid!";
/// Name of the dev-mode defaults as a source in messages.
const DEV_SOURCE: &str = "dev";

/// Knobs for [`load_from_sources`].
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `-dev`.
    pub dev: bool,
    /// `-config-format`: read every file as this format.
    pub config_format: Option<Format>,
    /// Host name used when no node name is set; `None` reads the system's.
    pub hostname: Option<String>,
}

/// One config source for [`load_from_sources`].
#[derive(Debug, Clone)]
pub enum Source {
    /// A file or directory path, read as `-config-file`/`-config-dir` would be.
    Path(ConfigPath),
    /// Literal text with a name for messages.
    Text {
        /// Name used in messages.
        name: String,
        /// Syntax.
        format: Format,
        /// The config text.
        text: String,
    },
}

/// Load the agent configuration the way `consul agent` does: flags, config files and
/// directories, dev defaults; then apply defaults and validate. Returns the warnings to log.
pub fn load(flags: &AgentFlags) -> Result<(RuntimeConfig, Vec<Warning>), ConfigError> {
    let format = match flags.config_format.as_deref() {
        None | Some("") => None,
        Some(name) => Some(Format::parse(name).ok_or_else(|| ConfigError::Invalid {
            source_name: None,
            key: "config-format".into(),
            message: "config: -config-format must be either 'hcl' or 'json'".into(),
        })?),
    };
    let options = LoadOptions {
        dev: flags.dev_mode(),
        config_format: format,
        hostname: None,
    };
    let sources: Vec<Source> = flags
        .config_paths
        .iter()
        .cloned()
        .map(Source::Path)
        .collect();
    load_with(flags, &sources, &options)
}

/// Like [`load`], with explicit sources (files, directories or literal text) in place of the
/// flags' `-config-file`/`-config-dir`, and injectable options (host name) for tests.
pub fn load_from_sources(
    flags: &AgentFlags,
    sources: &[Source],
    options: &LoadOptions,
) -> Result<(RuntimeConfig, Vec<Warning>), ConfigError> {
    load_with(flags, sources, options)
}

/// A dev-mode configuration (`-dev -node=<node_name>`) with extra HCL applied last, for tests
/// and embedding: `dev_config("n1", "ports { http = 18500 dns = -1 }")`.
pub fn dev_config(node_name: &str, extra_hcl: &str) -> Result<RuntimeConfig, ConfigError> {
    let flags = AgentFlags {
        dev: Some(true),
        node: Some(node_name.to_owned()),
        hcl: vec![extra_hcl.to_owned()],
        ..AgentFlags::default()
    };
    let options = LoadOptions {
        dev: true,
        config_format: None,
        hostname: Some(node_name.to_owned()),
    };
    load_with(&flags, &[], &options).map(|(c, _)| c)
}

/// What `cairn validate FILE_OR_DIR...` checks: the paths load and validate as the agent
/// would load them (without flags). Print [`VALID_MESSAGE`] on success, or
/// `Config validation failed: <error>` on failure.
pub fn validate_paths(
    paths: &[String],
    config_format: Option<Format>,
) -> Result<Vec<Warning>, ConfigError> {
    let sources: Vec<Source> = paths
        .iter()
        .map(|p| Source::Path(ConfigPath::File(p.clone())))
        .collect();
    let options = LoadOptions {
        config_format,
        ..LoadOptions::default()
    };
    load_with(&AgentFlags::default(), &sources, &options).map(|(_, w)| w)
}

fn load_with(
    flags: &AgentFlags,
    sources: &[Source],
    options: &LoadOptions,
) -> Result<(RuntimeConfig, Vec<Warning>), ConfigError> {
    let mut warnings = Vec::new();
    let dev = options.dev || flags.dev_mode();
    let flag_layers = flags.to_layers(&mut warnings)?;

    let mut merged = Layer::default();
    if dev {
        merged.merge(dev_layer(&mut warnings)?);
    }
    merged.merge(flag_layers.slices);
    for source in sources {
        for layer in read_source(source, options.config_format, &mut warnings)? {
            merged.merge(layer);
        }
    }
    merged.merge(flag_layers.values);
    for (i, fragment) in flags.hcl.iter().enumerate() {
        let name = format!("flags-{i}.hcl");
        merged.merge(parse_layer(fragment, Format::Hcl, &name, &mut warnings)?);
    }

    let hostname = options.hostname.clone().or_else(system_hostname);
    let runtime = Builder::new(merged, dev, hostname, &mut warnings).build()?;
    for w in &warnings {
        tracing::debug!(warning = %w, "config warning");
    }
    Ok((runtime, warnings))
}

/// Consul's `DevSource`: what `-dev` changes before any file or flag is applied.
fn dev_layer(warnings: &mut Vec<Warning>) -> Result<Layer, ConfigError> {
    let dev = json!({
        "bind_addr": "127.0.0.1",
        "disable_anonymous_signature": true,
        "disable_keyring_file": true,
        "enable_debug": true,
        "ui_config": {"enabled": true},
        "log_level": "DEBUG",
        "server": true,
        "gossip_lan": {
            "gossip_interval": "100ms", "probe_interval": "100ms",
            "probe_timeout": "100ms", "suspicion_mult": 3
        },
        "gossip_wan": {
            "gossip_interval": "100ms", "probe_interval": "100ms",
            "probe_timeout": "100ms", "suspicion_mult": 3
        },
        "performance": {"raft_multiplier": 1},
        "ports": {"grpc": 8502}
    });
    decode_layer(&dev, DEV_SOURCE, warnings)
}

fn read_source(
    source: &Source,
    forced: Option<Format>,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<Layer>, ConfigError> {
    match source {
        Source::Text { name, format, text } => Ok(non_empty(text)
            .map(|t| parse_layer(t, *format, name, warnings))
            .transpose()?
            .into_iter()
            .collect()),
        // Consul treats both flags alike: a directory is read as a directory, a file as a file.
        Source::Path(path) => read_path(path.path(), forced, warnings),
    }
}

/// Consul skips sources with no data.
fn non_empty(text: &str) -> Option<&str> {
    (!text.is_empty()).then_some(text)
}

fn unknown_extension(path: &str) -> ConfigError {
    ConfigError::File {
        path: path.to_owned(),
        message: format!(
            "file {path} has unknown extension; must be .hcl or .json, or config format must be set"
        ),
    }
}

fn read_path(
    path: &str,
    forced: Option<Format>,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<Layer>, ConfigError> {
    let metadata = std::fs::metadata(path).map_err(|e| ConfigError::File {
        path: path.to_owned(),
        message: format!("Open failed on {path}. {e}"),
    })?;
    if metadata.is_dir() {
        return read_dir(path, forced, warnings);
    }
    let format = forced
        .or_else(|| Format::from_path(path))
        .ok_or_else(|| unknown_extension(path))?;
    Ok(read_file(path, format, warnings)?.into_iter().collect())
}

fn read_file(
    path: &str,
    format: Format,
    warnings: &mut Vec<Warning>,
) -> Result<Option<Layer>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
        path: path.to_owned(),
        message: format!("failed to read {path}: {e}"),
    })?;
    non_empty(&text)
        .map(|t| parse_layer(t, format, path, warnings))
        .transpose()
}

/// Every `*.json`/`*.hcl` file directly in `dir` (any file when the format is forced), by
/// name. Symlinks are followed; subdirectories are skipped.
fn read_dir(
    dir: &str,
    forced: Option<Format>,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<Layer>, ConfigError> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| ConfigError::File {
            path: dir.to_owned(),
            message: format!("Readdir failed on {dir}. {e}"),
        })?
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut layers = Vec::new();
    for name in names {
        let path = Path::new(dir).join(&name);
        let path_text = path.to_string_lossy().into_owned();
        let metadata = std::fs::metadata(&path).map_err(|e| ConfigError::File {
            path: path_text.clone(),
            message: format!("Stat failed on {path_text}. {e}"),
        })?;
        if metadata.is_dir() {
            continue;
        }
        let Some(format) = forced.or_else(|| Format::from_path(&name)) else {
            warnings.push(Warning(format!(
                "skipping file {path_text}, extension must be .hcl or .json, or config format must be set"
            )));
            continue;
        };
        layers.extend(read_file(&path_text, format, warnings)?);
    }
    Ok(layers)
}

/// The system host name, read without any network call.
fn system_hostname() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
}
