//! `cairn snapshot save|restore|inspect`: whole-state snapshots through `/v1/snapshot`.

use super::{block_on, connect};
use crate::cli::{parse, HttpFlags, Ui};
use cairn_types::{Consistency, QueryOptions};
use clap::{ArgAction, Parser};

/// Help of `cairn snapshot`.
pub const PARENT_HELP: &str = r#"
Usage: cairn snapshot <subcommand> [options] [args]

  Saves and restores the whole state of the servers (catalog, KV, sessions) as a
  snapshot file, and inspects such files.

      $ cairn snapshot save backup.snap
      $ cairn snapshot restore backup.snap
      $ cairn snapshot inspect backup.snap
"#;

/// Help of `cairn snapshot save`.
pub const SAVE_HELP: &str = r#"
Usage: cairn snapshot save [options] FILE

  Retrieves an atomic, point-in-time snapshot of the state of the servers and
  writes it to FILE. By default the leader serves it; -stale lets any server.
"#;

/// Help of `cairn snapshot restore`.
pub const RESTORE_HELP: &str = r#"
Usage: cairn snapshot restore [options] FILE

  Restores FILE into the cluster: the whole state is replaced, on every server.
  This is a destructive operation.
"#;

/// Help of `cairn snapshot inspect`.
pub const INSPECT_HELP: &str = r#"
Usage: cairn snapshot inspect FILE

  Displays what a snapshot file holds. Needs no agent.
"#;

/// Arguments of `cairn snapshot save`.
#[derive(Debug, Parser)]
#[command(disable_help_flag = true, disable_version_flag = true)]
pub struct SaveArgs {
    #[command(flatten)]
    http: HttpFlags,
    /// Let any server serve the snapshot, not only the leader.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    stale: bool,
    #[arg(hide = true)]
    args: Vec<String>,
}

/// Arguments of `cairn snapshot restore`.
#[derive(Debug, Parser)]
#[command(disable_help_flag = true, disable_version_flag = true)]
pub struct RestoreArgs {
    #[command(flatten)]
    http: HttpFlags,
    #[arg(hide = true)]
    args: Vec<String>,
}

/// Arguments of `cairn snapshot inspect`.
#[derive(Debug, Parser)]
#[command(disable_help_flag = true, disable_version_flag = true)]
pub struct InspectArgs {
    #[arg(hide = true)]
    args: Vec<String>,
}

fn one_file(args: &[String], name: &str, ui: &Ui) -> Option<String> {
    match args {
        [f] => Some(f.clone()),
        [] => {
            ui.error("Missing FILE argument");
            ui.error("");
            ui.error(&super::help(name));
            None
        }
        _ => {
            ui.error(&format!(
                "Too many arguments (expected 1, got {})",
                args.len()
            ));
            None
        }
    }
}

fn read_file(file: &str, ui: &Ui) -> Option<Vec<u8>> {
    std::fs::read(file)
        .map_err(|e| ui.error(&format!("Error opening snapshot file {file}: {e}")))
        .ok()
}

/// `cairn snapshot save`.
pub fn save(args: &[String], ui: &Ui) -> i32 {
    let Ok(a) = parse::<SaveArgs>("snapshot save", SAVE_HELP, args, ui) else {
        return 1;
    };
    let Some(file) = one_file(&a.args, "snapshot save", ui) else {
        return 1;
    };
    let Ok(client) = connect(&a.http, None, ui) else {
        return 1;
    };
    let opts = QueryOptions {
        consistency: if a.stale {
            Consistency::Stale
        } else {
            Consistency::Default
        },
        ..QueryOptions::default()
    };
    block_on(async move {
        let (bytes, _) = match client.snapshot_save(&opts).await {
            Ok(r) => r,
            Err(e) => {
                ui.error(&format!("Error saving snapshot: {e}"));
                return 1;
            }
        };
        // Verify before writing, so a damaged transfer never replaces a good backup.
        let summary = match cairn_catalog::inspect_archive(&bytes) {
            Ok(s) => s,
            Err(e) => {
                ui.error(&format!("Error verifying snapshot: {e}"));
                return 1;
            }
        };
        let tmp = format!("{file}.tmp");
        let written = std::fs::write(&tmp, &bytes).and_then(|_| std::fs::rename(&tmp, &file));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            ui.error(&format!("Error writing snapshot file {file}: {e}"));
            return 1;
        }
        ui.output(&format!(
            "Saved and verified snapshot to index {}",
            summary.index
        ));
        0
    })
}

/// `cairn snapshot restore`.
pub fn restore(args: &[String], ui: &Ui) -> i32 {
    let Ok(a) = parse::<RestoreArgs>("snapshot restore", RESTORE_HELP, args, ui) else {
        return 1;
    };
    let Some(file) = one_file(&a.args, "snapshot restore", ui) else {
        return 1;
    };
    let Some(bytes) = read_file(&file, ui) else {
        return 1;
    };
    let Ok(client) = connect(&a.http, None, ui) else {
        return 1;
    };
    block_on(async move {
        match client.snapshot_restore(bytes).await {
            Ok(()) => {
                ui.output("Restored snapshot");
                0
            }
            Err(e) => {
                ui.error(&format!("Error restoring snapshot: {e}"));
                1
            }
        }
    })
}

/// `cairn snapshot inspect`.
pub fn inspect(args: &[String], ui: &Ui) -> i32 {
    let Ok(a) = parse::<InspectArgs>("snapshot inspect", INSPECT_HELP, args, ui) else {
        return 1;
    };
    let Some(file) = one_file(&a.args, "snapshot inspect", ui) else {
        return 1;
    };
    let Some(bytes) = read_file(&file, ui) else {
        return 1;
    };
    match cairn_catalog::inspect_archive(&bytes) {
        Ok(s) => {
            let rows = [
                ("Index", s.index.to_string()),
                ("Size", s.size.to_string()),
                ("Version", s.version.to_string()),
                ("Nodes", s.nodes.to_string()),
                ("Services", s.services.to_string()),
                ("Checks", s.checks.to_string()),
                ("KV entries", s.kv_entries.to_string()),
                ("Sessions", s.sessions.to_string()),
            ];
            for (k, v) in rows {
                ui.output(&format!(" {k:<12} {v}"));
            }
            0
        }
        Err(e) => {
            ui.error(&format!("Error verifying snapshot: {e}"));
            1
        }
    }
}
