//! `cairn version` (also `cairn -v`, `-version`, `--version`).

use crate::cli::{parse, Ui};
use clap::Parser;

/// Cairn's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The Consul HTTP API release Cairn answers like.
pub const CONSUL_API_VERSION: &str = "1.20";

/// Help of `cairn version`.
pub const HELP: &str = r#"
Usage: cairn version [options]

  Prints the Cairn version and the Consul API version it is compatible with.
"#;

/// Arguments of `cairn version`.
#[derive(Debug, Parser)]
#[command(disable_help_flag = true, disable_version_flag = true)]
pub struct VersionArgs {
    /// Output format {pretty|json}.
    #[arg(long, value_name = "string", default_value = "pretty")]
    format: String,
    #[arg(hide = true)]
    args: Vec<String>,
}

/// The pretty output: `Cairn v0.1.0` first, as Consul's `Consul v1.x.y`.
pub fn pretty() -> String {
    format!(
        "Cairn v{VERSION}\nConsul API {CONSUL_API_VERSION} compatible\nProtocol 2 spoken by default, understands 2 to 3 (agent will automatically use protocol >2 when speaking to compatible agents)"
    )
}

/// `cairn version`.
pub fn run(args: &[String], ui: &Ui) -> i32 {
    let Ok(a) = parse::<VersionArgs>("version", HELP, args, ui) else {
        return 1;
    };
    match a.format.as_str() {
        "pretty" => ui.output(&pretty()),
        "json" => {
            let doc = serde_json::json!({
                "Version": VERSION,
                "Revision": "",
                "Prerelease": "",
                "ConsulAPIVersion": CONSUL_API_VERSION,
                "RPC": {"Default": 2, "Min": 2, "Max": 3},
            });
            ui.output(&serde_json::to_string_pretty(&doc).unwrap_or_default());
        }
        other => {
            ui.error(&format!("Unsupported format \"{other}\""));
            return 1;
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_line_is_cairn_version_then_api_line() {
        let (ui, out) = Ui::capture();
        assert_eq!(run(&[], &ui), 0);
        let text = out.stdout();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("Cairn v0.1.0"));
        assert_eq!(lines.next(), Some("Consul API 1.20 compatible"));
        let (ui, out) = Ui::capture();
        assert_eq!(run(&["-format=json".to_string()], &ui), 0);
        let v: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
        assert_eq!(v["Version"], "0.1.0");
        let (ui, _) = Ui::capture();
        assert_eq!(run(&["-format=xml".to_string()], &ui), 1);
    }
}
