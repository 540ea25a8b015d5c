//! `cairn validate`: check config files and directories as the agent would load them.

use crate::cli::{parse, Ui};
use clap::{ArgAction, Parser};

/// Help of `cairn validate`.
pub const HELP: &str = r#"
Usage: cairn validate [options] FILE_OR_DIRECTORY...

  Checks agent configuration files: each file, or each config file in each
  directory, is read and validated exactly as "cairn agent" would, without
  starting an agent.

  Exits 0 when the configuration is valid, 1 otherwise.
"#;

/// Arguments of `cairn validate`.
#[derive(Debug, Parser)]
#[command(disable_help_flag = true, disable_version_flag = true)]
pub struct ValidateArgs {
    /// Config format of files without a .json or .hcl extension: hcl or json.
    #[arg(long = "config-format", value_name = "string", default_value = "")]
    config_format: String,
    /// Print nothing when the configuration is valid.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    quiet: bool,
    #[arg(hide = true)]
    args: Vec<String>,
}

/// `cairn validate`.
pub fn run(args: &[String], ui: &Ui) -> i32 {
    let Ok(a) = parse::<ValidateArgs>("validate", HELP, args, ui) else {
        return 1;
    };
    if a.args.is_empty() {
        ui.error("Must specify at least one config file or directory");
        return 1;
    }
    let format = match a.config_format.as_str() {
        "" => None,
        name => match cairn_config::Format::parse(name) {
            Some(f) => Some(f),
            None => {
                ui.error("Config validation failed: -config-format must be either 'hcl' or 'json'");
                return 1;
            }
        },
    };
    match cairn_config::validate_paths(&a.args, format) {
        Ok(warnings) => {
            for w in &warnings {
                ui.error(&format!("[WARN] {w}"));
            }
            if !a.quiet {
                ui.output(cairn_config::VALID_MESSAGE);
            }
            0
        }
        Err(e) => {
            ui.error(&format!("Config validation failed: {e}"));
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn valid_invalid_and_missing() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.json");
        std::fs::write(
            &good,
            r#"{"datacenter": "dc1", "data_dir": "/tmp/x", "server": true, "bootstrap_expect": 1}"#,
        )
        .unwrap();
        let bad = dir.path().join("bad.hcl");
        std::fs::write(&bad, "ports { http = \"eighty\" }").unwrap();

        let (ui, out) = Ui::capture();
        assert_eq!(
            run(&s(&[good.to_str().unwrap()]), &ui),
            0,
            "{}",
            out.stderr()
        );
        assert_eq!(out.stdout(), "Configuration is valid!\n");

        let (ui, out) = Ui::capture();
        assert_eq!(run(&s(&["-quiet", good.to_str().unwrap()]), &ui), 0);
        assert_eq!(out.stdout(), "");

        let (ui, out) = Ui::capture();
        assert_eq!(run(&s(&[bad.to_str().unwrap()]), &ui), 1);
        assert!(
            out.stderr().starts_with("Config validation failed: "),
            "{}",
            out.stderr()
        );

        let (ui, out) = Ui::capture();
        assert_eq!(run(&[], &ui), 1);
        assert_eq!(
            out.stderr(),
            "Must specify at least one config file or directory\n"
        );
    }
}
