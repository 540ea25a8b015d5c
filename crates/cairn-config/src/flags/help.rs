//! Usage text in Consul's layout: flags with one dash, sorted by name, `=<value>` after flags
//! that take one, help wrapped under each flag.

use super::AgentFlags;
use clap::CommandFactory;

const SYNOPSIS: &str = "\
Usage: cairn agent [options]

  Starts the Cairn agent and runs until an interrupt is received. The
  agent represents a single node in a cluster.
";

/// Width help lines are wrapped to.
const WIDTH: usize = 78;

/// The full `cairn agent -help` text.
pub fn help_text() -> String {
    let mut command = AgentFlags::command();
    command.build();
    let mut flags: Vec<(String, String, String)> = command
        .get_arguments()
        .filter_map(|arg| {
            let long = arg.get_long()?;
            if long == "help" {
                return None;
            }
            let takes_value = arg.get_num_args().is_some_and(|n| n.min_values() >= 1);
            let name = if takes_value {
                let placeholder = arg
                    .get_value_names()
                    .and_then(|names| names.first())
                    .map(|n| n.as_str().to_owned())
                    .unwrap_or_else(|| "value".into());
                format!("-{long}=<{placeholder}>")
            } else {
                format!("-{long}")
            };
            let mut help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            // clap drops the final period of a one-sentence doc comment; Consul keeps it.
            if !help.ends_with(['.', '/']) {
                help.push('.');
            }
            Some((long.to_owned(), name, help))
        })
        .collect();
    flags.sort();

    let mut out = String::from(SYNOPSIS);
    out.push_str("\nCommand Options\n");
    for (_, name, help) in flags {
        out.push_str("\n  ");
        out.push_str(&name);
        out.push('\n');
        for line in wrap(&help, WIDTH - 5) {
            out.push_str("     ");
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}
