//! Errors and warnings of configuration loading.

use std::fmt;

/// Why an agent configuration could not be loaded. Every variant renders as one line (help text
/// aside) that names the file or flag and the key at fault, so the agent can print it and exit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `-h`/`-help`/`--help` was given; the payload is the usage text to print (exit status 0).
    #[error("{0}")]
    HelpRequested(String),
    /// The command line could not be parsed (unknown flag, bad value, stray argument).
    #[error("{0}")]
    Flags(String),
    /// A config file or directory could not be read.
    #[error("config: {message}")]
    File {
        /// The file or directory.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// A source could not be decoded: bad syntax, or a value of the wrong type.
    #[error("Error parsing {source_name}: {}", join_key(key, message))]
    Parse {
        /// The file (or `command line`, `flags-0.hcl`, …) holding the value.
        source_name: String,
        /// Dotted path of the key (`ports.http`, `services[1].Check.Interval`); empty for
        /// syntax errors.
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// The merged configuration breaks a rule (Consul's messages, which name the key).
    #[error("{}{message}", source_prefix(source_name))]
    Invalid {
        /// Where the offending value was set, when one source can be blamed.
        source_name: Option<String>,
        /// Dotted path of the key at fault.
        key: String,
        /// Consul's message for the problem.
        message: String,
    },
}

impl ConfigError {
    /// The dotted key the error is about, if any.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Parse { key, .. } | ConfigError::Invalid { key, .. }
                if !key.is_empty() =>
            {
                Some(key)
            }
            _ => None,
        }
    }

    /// The file (or other source) the error is about, if known.
    pub fn source_name(&self) -> Option<&str> {
        match self {
            ConfigError::Parse { source_name, .. } => Some(source_name),
            ConfigError::Invalid { source_name, .. } => source_name.as_deref(),
            ConfigError::File { path, .. } => Some(path),
            _ => None,
        }
    }

    pub(crate) fn parse(source: &str, key: &str, message: impl Into<String>) -> Self {
        ConfigError::Parse {
            source_name: source.to_owned(),
            key: key.to_owned(),
            message: message.into(),
        }
    }
}

fn join_key(key: &str, message: &str) -> String {
    if key.is_empty() {
        message.to_owned()
    } else {
        format!("{key}: {message}")
    }
}

fn source_prefix(source: &Option<String>) -> String {
    match source {
        Some(s) => format!("{s}: "),
        None => String::new(),
    }
}

/// A problem that does not stop the agent (unknown key, deprecated key, risky setting). The
/// agent logs each one at warn level at start-up, as Consul does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning(pub String);

impl Warning {
    /// The warning text.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
