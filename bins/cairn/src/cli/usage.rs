//! Help text in Consul's layout: the command's text, then "HTTP API Options" and "Command
//! Options" sections listing `-flag=<value>` with the description wrapped at 72 columns and
//! indented by five spaces.

use crate::cli::args::is_bool_flag;
use crate::cli::http::HTTP_FLAG_NAMES;
use clap::Command;

/// Widest line of a flag description, indentation included.
const MAX_LINE: usize = 72;
/// Indentation of flag descriptions.
const INDENT: usize = 5;

/// Render `text` followed by the flags of `cmd`.
pub fn render(cmd: &Command, text: &str) -> String {
    let mut out = String::new();
    out.push_str(text.trim());
    out.push_str("\n\n");
    let mut flags: Vec<&clap::Arg> = cmd
        .get_arguments()
        .filter(|a| a.get_long().is_some() && !a.is_hide_set())
        .collect();
    flags.sort_by_key(|a| a.get_long().unwrap_or_default());
    let (http, own): (Vec<&clap::Arg>, Vec<&clap::Arg>) = flags
        .into_iter()
        .partition(|a| HTTP_FLAG_NAMES.contains(&a.get_long().unwrap_or_default()));
    for (title, section) in [("HTTP API Options", http), ("Command Options", own)] {
        if section.is_empty() {
            continue;
        }
        out.push_str(title);
        out.push_str("\n\n");
        for arg in section {
            let name = arg.get_long().unwrap_or_default();
            if is_bool_flag(arg) {
                out.push_str(&format!("  -{name}\n"));
            } else {
                let value = arg
                    .get_value_names()
                    .and_then(|v| v.first())
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "value".into());
                out.push_str(&format!("  -{name}=<{value}>\n"));
            }
            let about = arg
                .get_long_help()
                .or(arg.get_help())
                .map(|h| h.to_string())
                .unwrap_or_default()
                .replace('`', "");
            // clap drops the final period of one-line doc comments; Consul's texts keep it.
            let about = if about.ends_with(['.', '!', '?', ':']) || about.is_empty() {
                about
            } else {
                format!("{about}.")
            };
            for line in wrap(&about, MAX_LINE - INDENT) {
                out.push_str(&" ".repeat(INDENT));
                out.push_str(&line);
                out.push('\n');
            }
            out.push('\n');
        }
    }
    out.trim_end_matches('\n').to_string()
}

/// Greedy word wrap to `width` columns.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{ArgAction, CommandFactory, Parser};

    #[derive(Parser)]
    struct Demo {
        /// Recursively look at every key under the prefix, which is a long sentence that wraps
        /// onto the next line.
        #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true", default_value = "false")]
        recurse: bool,
        /// The `separator` between keys.
        #[arg(long, value_name = "string")]
        separator: Option<String>,
        #[command(flatten)]
        http: crate::cli::HttpFlags,
    }

    #[test]
    fn consul_layout() {
        let text = render(
            &Demo::command(),
            "\nUsage: cairn demo [options]\n\n  Does things.\n",
        );
        assert!(text.starts_with("Usage: cairn demo [options]\n\n  Does things.\n\nHTTP API Options\n\n  -ca-file=<value>\n"), "{text}");
        assert!(text.contains("\n\nCommand Options\n\n  -recurse\n     Recursively look at every key under the prefix, which is a long\n     sentence that wraps onto the next line.\n\n  -separator=<string>\n     The separator between keys."), "{text}");
        assert!(!text.ends_with('\n'));
        for line in text.lines() {
            assert!(line.chars().count() <= MAX_LINE, "too long: {line}");
        }
    }
}
