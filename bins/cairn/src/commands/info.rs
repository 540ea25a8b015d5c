//! `cairn info`.

use super::{block_on, connect};
use crate::cli::{parse, HttpFlags, Ui};
use clap::Parser;

/// Help of `cairn info`.
pub const HELP: &str = r#"
Usage: cairn info [options]

  Prints the agent's runtime statistics for operators, grouped by subsystem.
"#;

/// Arguments of `cairn info`.
#[derive(Debug, Parser)]
#[command(disable_help_flag = true, disable_version_flag = true)]
pub struct InfoArgs {
    #[command(flatten)]
    http: HttpFlags,
    #[arg(hide = true)]
    args: Vec<String>,
}

/// `cairn info`.
pub fn run(args: &[String], ui: &Ui) -> i32 {
    let Ok(a) = parse::<InfoArgs>("info", HELP, args, ui) else {
        return 1;
    };
    let Ok(client) = connect(&a.http, None, ui) else {
        return 1;
    };
    block_on(async move {
        let info = match client.agent().self_info().await {
            Ok(v) => v,
            Err(e) => {
                ui.error(&format!("Error querying agent: {e}"));
                return 1;
            }
        };
        match render(&info) {
            Ok(text) => {
                if !text.is_empty() {
                    ui.output(&text);
                }
                0
            }
            Err(e) => {
                ui.error(&e);
                1
            }
        }
    })
}

/// `Stats` of `/v1/agent/self` as `section:` lines followed by tab-indented `key = value`
/// lines, both sorted.
pub fn render(info: &serde_json::Value) -> Result<String, String> {
    let Some(stats) = info.get("Stats").and_then(|s| s.as_object()) else {
        return Err(format!(
            "Agent response did not contain 'Stats' key: {info}"
        ));
    };
    let mut lines = Vec::new();
    let mut sections: Vec<(&String, &serde_json::Value)> = stats.iter().collect();
    sections.sort_by_key(|(k, _)| *k);
    for (section, values) in sections {
        lines.push(format!("{section}:"));
        let Some(values) = values.as_object() else {
            return Err(format!("Got invalid subkey in stats: {values}"));
        };
        let mut entries: Vec<(&String, &serde_json::Value)> = values.iter().collect();
        entries.sort_by_key(|(k, _)| *k);
        for (key, value) in entries {
            let text = match value {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            lines.push(format!("\t{key} = {text}"));
        }
    }
    Ok(lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_sections_and_keys() {
        let info = serde_json::json!({"Stats": {
            "raft": {"state": "Leader", "applied_index": "17"},
            "agent": {"services": "1", "checks": "0"}
        }});
        assert_eq!(
            render(&info).unwrap(),
            "agent:\n\tchecks = 0\n\tservices = 1\nraft:\n\tapplied_index = 17\n\tstate = Leader"
        );
        assert!(render(&serde_json::json!({}))
            .unwrap_err()
            .starts_with("Agent response did not contain 'Stats' key"));
    }
}
