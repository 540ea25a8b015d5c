//! Go `flag`-package semantics on top of clap.
//!
//! Consul parses each command's arguments with Go's `flag` package: flags take one or two
//! dashes (`-recurse`, `--recurse`), values follow as `-flag=value` or `-flag value`, booleans
//! accept only `-flag` or `-flag=true|false`, and parsing stops at the first argument that is
//! not a flag (or after `--`), so `cairn kv put key -x` stores `-x` and `cairn lock p ls -la`
//! passes `-la` to `ls`. [`normalize`] rewrites such arguments into an unambiguous clap form
//! (`--flag=value`, then `--` before the first positional) using the command's clap
//! definition, and reports Go's error texts for unknown flags and missing values.

use crate::cli::ui::Ui;
use crate::cli::usage;
use clap::{Command, Parser};

/// A parse that did not yield arguments: what to exit with (the message is already printed).
pub type Parsed<T> = Result<T, i32>;

/// Why [`normalize`] refused the arguments, in Go's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagError(pub String);

/// Whether a clap argument is one of our Go-style booleans (`num_args(0..=1)`).
pub fn is_bool_flag(arg: &clap::Arg) -> bool {
    arg.get_num_args().is_some_and(|r| r.min_values() == 0)
}

/// Rewrite Go-style `args` (after the command name) for clap, given the command's definition.
pub fn normalize(cmd: &Command, args: &[String]) -> Result<Vec<String>, FlagError> {
    let mut out = Vec::with_capacity(args.len() + 1);
    let mut iter = args.iter().peekable();
    while let Some(arg) = iter.next() {
        if arg == "--" {
            out.push("--".to_string());
            out.extend(iter.cloned());
            return Ok(out);
        }
        if arg == "-" || !arg.starts_with('-') {
            out.push("--".to_string());
            out.push(arg.clone());
            out.extend(iter.cloned());
            return Ok(out);
        }
        let body = arg
            .strip_prefix("--")
            .or_else(|| arg.strip_prefix('-'))
            .unwrap_or(arg);
        if body.is_empty() || body.starts_with('-') || body.starts_with('=') {
            return Err(FlagError(format!("bad flag syntax: {arg}")));
        }
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        let Some(spec) = cmd.get_arguments().find(|a| a.get_long() == Some(name)) else {
            return Err(FlagError(format!("flag provided but not defined: -{name}")));
        };
        if is_bool_flag(spec) {
            let value = match inline {
                None => true,
                Some(v) => cairn_client::parse_go_bool(v).ok_or_else(|| {
                    FlagError(format!(
                        "invalid boolean value {v:?} for -{name}: parse error"
                    ))
                })?,
            };
            out.push(format!("--{name}={value}"));
        } else {
            let value = match inline {
                Some(v) => v.to_string(),
                None => match iter.next() {
                    Some(v) => v.clone(),
                    None => return Err(FlagError(format!("flag needs an argument: -{name}"))),
                },
            };
            out.push(format!("--{name}={value}"));
        }
    }
    Ok(out)
}

/// Parse a command's arguments Consul's way. On failure prints Go's message and the command's
/// help to stderr and returns exit code 1.
pub fn parse<T: Parser>(name: &str, help: &str, args: &[String], ui: &Ui) -> Parsed<T> {
    let cmd = T::command();
    let fail = |message: &str| {
        ui.error(message);
        ui.error(&usage::render(&cmd, help));
        1
    };
    let normalized = normalize(&cmd, args).map_err(|e| fail(&e.0))?;
    let argv = std::iter::once(name.to_string()).chain(normalized);
    T::try_parse_from(argv).map_err(|e| fail(&go_message(&e)))
}

/// Go's wording for the errors clap can still find (values that do not parse).
fn go_message(err: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue};
    let get = |kind| match err.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    match (get(ContextKind::InvalidArg), get(ContextKind::InvalidValue)) {
        (Some(arg), Some(value)) => {
            let flag = arg.split(['=', ' ', '<']).next().unwrap_or(&arg);
            let flag = flag.trim_start_matches('-');
            format!("invalid value {value:?} for flag -{flag}: parse error")
        }
        _ => err
            .kind()
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| err.to_string().lines().next().unwrap_or("").to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ArgAction;

    #[derive(Parser, Debug)]
    struct Demo {
        #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true", default_value = "false")]
        cas: bool,
        #[arg(long = "modify-index", default_value_t = 0)]
        modify_index: u64,
        #[arg(long)]
        session: Option<String>,
        args: Vec<String>,
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    fn demo(args: &[&str]) -> Result<Demo, String> {
        let (ui, captured) = Ui::capture();
        parse::<Demo>("demo", "Usage: demo", &s(args), &ui).map_err(|_| captured.stderr())
    }

    #[test]
    fn single_and_double_dash_forms() {
        let d = demo(&["-cas", "-modify-index=5", "k", "v"]).unwrap();
        assert!(d.cas);
        assert_eq!(d.modify_index, 5);
        assert_eq!(d.args, vec!["k", "v"]);
        let d = demo(&["--cas", "--modify-index", "6", "k"]).unwrap();
        assert!(d.cas);
        assert_eq!(d.modify_index, 6);
        let d = demo(&["-modify-index", "7", "-cas=false", "k"]).unwrap();
        assert!(!d.cas);
        assert_eq!(d.modify_index, 7);
    }

    #[test]
    fn parsing_stops_at_first_positional() {
        let d = demo(&["k", "-cas", "--modify-index=3"]).unwrap();
        assert!(!d.cas);
        assert_eq!(d.args, vec!["k", "-cas", "--modify-index=3"]);
        let d = demo(&["-cas", "--", "-k"]).unwrap();
        assert_eq!(d.args, vec!["-k"]);
        let d = demo(&["k", "-"]).unwrap();
        assert_eq!(d.args, vec!["k", "-"]);
        let d = demo(&["-", "x"]).unwrap();
        assert_eq!(d.args, vec!["-", "x"]);
    }

    #[test]
    fn values_may_start_with_a_dash() {
        let d = demo(&["-session", "-odd", "k"]).unwrap();
        assert_eq!(d.session.as_deref(), Some("-odd"));
    }

    #[test]
    fn go_error_texts() {
        let err = demo(&["-nope"]).unwrap_err();
        assert!(
            err.starts_with("flag provided but not defined: -nope\n"),
            "{err}"
        );
        assert!(err.contains("Usage: demo"), "{err}");
        let err = demo(&["-session"]).unwrap_err();
        assert!(
            err.starts_with("flag needs an argument: -session\n"),
            "{err}"
        );
        let err = demo(&["-cas=maybe"]).unwrap_err();
        assert!(
            err.starts_with("invalid boolean value \"maybe\" for -cas: parse error"),
            "{err}"
        );
        let err = demo(&["-modify-index=abc"]).unwrap_err();
        assert!(
            err.starts_with("invalid value \"abc\" for flag -modify-index: parse error"),
            "{err}"
        );
        let err = demo(&["---x"]).unwrap_err();
        assert!(err.starts_with("bad flag syntax: ---x"), "{err}");
    }
}
