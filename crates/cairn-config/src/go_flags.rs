//! Go-style single-dash flags (`-server`, `-node=s1`, `-bootstrap-expect 3`) for clap.
//!
//! Consul's CLI uses Go's `flag` package, where long options take one dash. clap wants two, so
//! binaries pass their arguments through [`normalize_args`] first: any `-name` or `-name=value`
//! whose name is longer than one character becomes `--name` / `--name=value`. Single-letter
//! flags (`-h`, `-n 3`), values after `--`, and lone `-` are left alone.

/// Rewrite single-dash long flags to double-dash. Stops rewriting after a bare `--`.
///
/// `value_flags` says which long flags take a value as the *next* argument, so that a value
/// which itself starts with a dash (`-datacenter -x`) is not rewritten. Pass an empty slice
/// when that does not matter.
pub fn normalize_args<I, S>(args: I, value_flags: &[&str]) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut out = Vec::new();
    let mut passthrough = false;
    let mut expect_value = false;
    for (i, arg) in args.into_iter().map(Into::into).enumerate() {
        if i == 0 || passthrough || expect_value {
            expect_value = false;
            out.push(arg);
            continue;
        }
        if arg == "--" {
            passthrough = true;
            out.push(arg);
            continue;
        }
        if let Some(rest) = arg.strip_prefix('-') {
            if !rest.starts_with('-') && rest.len() > 1 && !is_negative_number(rest) {
                let name = rest.split('=').next().unwrap_or(rest);
                if name.len() > 1 {
                    expect_value = !rest.contains('=') && value_flags.contains(&name);
                    out.push(format!("--{rest}"));
                    continue;
                }
            }
            if let Some(name) = rest.strip_prefix('-') {
                let name = name.split('=').next().unwrap_or(name);
                expect_value = !rest.contains('=') && value_flags.contains(&name);
            }
        }
        out.push(arg);
    }
    out
}

fn is_negative_number(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || c == '.')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(args: &[&str]) -> Vec<String> {
        normalize_args(args.iter().copied(), &["datacenter", "node"])
    }

    #[test]
    fn rewrites_single_dash_long_flags() {
        assert_eq!(
            n(&[
                "cairn",
                "agent",
                "-server",
                "-bootstrap-expect=3",
                "-node",
                "s1",
                "-h"
            ]),
            vec![
                "cairn",
                "agent",
                "--server",
                "--bootstrap-expect=3",
                "--node",
                "s1",
                "-h"
            ]
        );
    }

    #[test]
    fn leaves_values_and_passthrough_alone() {
        assert_eq!(
            n(&["cairn", "-datacenter", "-odd", "--", "-x", "-long"]),
            vec!["cairn", "--datacenter", "-odd", "--", "-x", "-long"]
        );
        assert_eq!(
            n(&["cairn", "kv", "put", "k", "-1"]),
            vec!["cairn", "kv", "put", "k", "-1"]
        );
        assert_eq!(n(&["cairn", "--node", "-n"]), vec!["cairn", "--node", "-n"]);
    }
}
