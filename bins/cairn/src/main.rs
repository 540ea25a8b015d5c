//! `cairn`: the Consul-compatible command-line tool. Same subcommands, single-dash flags,
//! output texts and exit codes as `consul`, so scripts written for `consul` work unchanged.

mod cli;
mod commands;
mod registry;

use cli::{Ui, RUN_RESULT_HELP};

/// Exit code for a missing or unknown command. Consul's CLI framework (mitchellh/cli) exits
/// 127 here, after printing the command list; scripts that test for non-zero see a failure
/// either way.
const UNKNOWN_COMMAND_EXIT: i32 = 127;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(run(args, &Ui::stdio()));
}

/// What the command line asks for, read the way mitchellh/cli reads it.
#[derive(Debug, Default, PartialEq, Eq)]
struct Invocation {
    command: Option<&'static str>,
    args: Vec<String>,
    help: bool,
    version: bool,
    top_flags: Vec<String>,
    unknown: Option<String>,
}

fn read_invocation(args: &[String]) -> Invocation {
    let mut inv = Invocation::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if arg == "--" {
            break;
        }
        if matches!(arg.as_str(), "-h" | "-help" | "--help") {
            inv.help = true;
            i += 1;
            continue;
        }
        if inv.command.is_none() && inv.unknown.is_none() {
            if matches!(arg.as_str(), "-v" | "-version" | "--version") {
                inv.version = true;
                i += 1;
                continue;
            }
            if arg.starts_with('-') {
                inv.top_flags.push(arg.clone());
                i += 1;
                continue;
            }
            if !arg.is_empty() {
                match registry::longest_match(&args[i..]) {
                    Some((name, words)) => {
                        inv.command = Some(name);
                        inv.args = args[i + words..].to_vec();
                        i += words;
                        continue;
                    }
                    None => {
                        inv.unknown = Some(arg.clone());
                        inv.args = args[i + 1..].to_vec();
                    }
                }
            }
        }
        i += 1;
    }
    inv
}

/// Run the CLI with `args` (without the program name); returns the exit code.
fn run(args: Vec<String>, ui: &Ui) -> i32 {
    // `cairn agent` owns its arguments and its runtime.
    if args.first().map(String::as_str) == Some("agent") {
        return cairn_agent::cli::agent_command(args[1..].to_vec());
    }
    let inv = read_invocation(&args);
    if inv.version && inv.command.is_none() {
        return commands::version::run(&[], ui);
    }
    let Some(name) = inv.command else {
        // Help for the CLI itself; unknown or missing commands print it and exit 127 as
        // Consul does.
        ui.output(&registry::top_level_help());
        return if inv.help && inv.unknown.is_none() {
            0
        } else {
            UNKNOWN_COMMAND_EXIT
        };
    };
    if inv.help {
        ui.output(&registry::command_help(name, &commands::help(name)));
        return 0;
    }
    if !inv.top_flags.is_empty() {
        ui.output("Invalid flags before the subcommand. If these flags are for\nthe subcommand, please put them after the subcommand.\n");
        ui.output(&registry::command_help(name, &commands::help(name)));
        return 1;
    }
    let code = commands::dispatch(name, &inv.args, ui);
    if code == RUN_RESULT_HELP {
        ui.output(&registry::command_help(name, &commands::help(name)));
        return 1;
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn invocation_reading() {
        let inv = read_invocation(&s(&["kv", "get", "-recurse", "app"]));
        assert_eq!(inv.command, Some("kv get"));
        assert_eq!(inv.args, s(&["-recurse", "app"]));
        assert!(!inv.help);
        let inv = read_invocation(&s(&["kv", "put", "k", "-h"]));
        assert!(inv.help);
        let inv = read_invocation(&s(&["kv", "put", "k", "--", "-h"]));
        assert!(!inv.help);
        let inv = read_invocation(&s(&["--version"]));
        assert!(inv.version);
        let inv = read_invocation(&s(&["members", "-version"]));
        assert!(!inv.version, "version flags only count before the command");
        let inv = read_invocation(&s(&["-x", "members"]));
        assert_eq!(inv.top_flags, s(&["-x"]));
        let inv = read_invocation(&s(&["frobnicate"]));
        assert_eq!(inv.unknown.as_deref(), Some("frobnicate"));
    }

    #[test]
    fn unknown_and_missing_commands_exit_127_with_usage() {
        let (ui, out) = Ui::capture();
        assert_eq!(run(s(&["frobnicate"]), &ui), 127);
        assert!(out
            .stdout()
            .starts_with("Usage: cairn [--version] [--help] <command> [<args>]"));
        let (ui, _) = Ui::capture();
        assert_eq!(run(vec![], &ui), 127);
        let (ui, out) = Ui::capture();
        assert_eq!(run(s(&["--help"]), &ui), 0);
        assert!(out.stdout().contains("Available commands are:"));
    }

    #[test]
    fn parent_commands_print_help_and_exit_1() {
        let (ui, out) = Ui::capture();
        assert_eq!(run(s(&["kv"]), &ui), 1);
        assert!(
            out.stdout().contains("Subcommands:\n    delete"),
            "{}",
            out.stdout()
        );
        let (ui, out) = Ui::capture();
        assert_eq!(run(s(&["operator", "raft"]), &ui), 1);
        assert!(out.stdout().contains("list-peers"));
    }

    #[test]
    fn help_flag_shows_command_help_and_exits_0() {
        for args in [
            &["kv", "get", "-h"][..],
            &["kv", "get", "--help"],
            &["kv", "get", "-help"],
        ] {
            let (ui, out) = Ui::capture();
            assert_eq!(run(s(args), &ui), 0);
            let text = out.stdout();
            assert!(
                text.starts_with("Usage: cairn kv get [options] [KEY_OR_PREFIX]"),
                "{text}"
            );
            assert!(text.contains("HTTP API Options"), "{text}");
            assert!(text.contains("  -recurse\n"), "{text}");
        }
    }

    #[test]
    fn flags_before_the_command_are_refused() {
        let (ui, out) = Ui::capture();
        assert_eq!(run(s(&["-http-addr=x", "members"]), &ui), 1);
        assert!(out
            .stdout()
            .starts_with("Invalid flags before the subcommand."));
    }

    #[test]
    fn agent_is_dispatched_with_raw_args() {
        let (ui, _) = Ui::capture();
        // The placeholder refuses; the point is that flags are not parsed by us.
        assert_eq!(run(s(&["agent", "-dev", "--weird", "-node=x"]), &ui), 1);
    }
}
