//! Commands that make one agent call: `reload`, `leave`, `join`, `force-leave`, and `keygen`,
//! which makes none.

use super::{block_on, connect};
use crate::cli::{parse, HttpFlags, ServerFlags, Ui};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use clap::{ArgAction, Parser};
use std::io::Read;

/// Help of `cairn reload`.
pub const RELOAD_HELP: &str = r#"
Usage: cairn reload

  Makes the agent reload its configuration files, like sending it SIGHUP.
"#;

/// Arguments of `cairn reload`.
#[derive(Debug, Parser)]
#[command(disable_help_flag = true, disable_version_flag = true)]
pub struct ReloadArgs {
    #[command(flatten)]
    http: HttpFlags,
    #[arg(hide = true)]
    args: Vec<String>,
}

/// `cairn reload`.
pub fn reload(args: &[String], ui: &Ui) -> i32 {
    let Ok(a) = parse::<ReloadArgs>("reload", RELOAD_HELP, args, ui) else {
        return 1;
    };
    let Ok(client) = connect(&a.http, None, ui) else {
        return 1;
    };
    block_on(async move {
        match client.agent().reload().await {
            Ok(()) => {
                ui.output("Configuration reload triggered");
                0
            }
            Err(e) => {
                ui.error(&format!("Error reloading: {e}"));
                1
            }
        }
    })
}

/// Help of `cairn leave`.
pub const LEAVE_HELP: &str = r#"
Usage: cairn leave [options]

  Makes the agent leave the cluster gracefully and shut down.
"#;

/// Arguments of `cairn leave`.
#[derive(Debug, Parser)]
#[command(disable_help_flag = true, disable_version_flag = true)]
pub struct LeaveArgs {
    #[command(flatten)]
    http: HttpFlags,
    #[arg(hide = true)]
    args: Vec<String>,
}

/// `cairn leave`.
pub fn leave(args: &[String], ui: &Ui) -> i32 {
    let Ok(a) = parse::<LeaveArgs>("leave", LEAVE_HELP, args, ui) else {
        return 1;
    };
    if !a.args.is_empty() {
        ui.error(&format!(
            "Error found unexpected args: [{}]",
            a.args.join(" ")
        ));
        ui.output(&super::help("leave"));
        return 1;
    }
    let Ok(client) = connect(&a.http, None, ui) else {
        return 1;
    };
    block_on(async move {
        match client.agent().leave().await {
            Ok(()) => {
                ui.output("Graceful leave complete");
                0
            }
            Err(e) => {
                ui.error(&format!("Error leaving: {e}"));
                1
            }
        }
    })
}

/// Help of `cairn join`.
pub const JOIN_HELP: &str = r#"
Usage: cairn join [options] address ...

  Makes a running agent join a cluster through one or more of its members.
"#;

/// Arguments of `cairn join`.
#[derive(Debug, Parser)]
#[command(disable_help_flag = true, disable_version_flag = true)]
pub struct JoinArgs {
    #[command(flatten)]
    http: HttpFlags,
    /// Join a server to another server in the WAN pool.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    wan: bool,
    #[arg(hide = true)]
    args: Vec<String>,
}

/// `cairn join`.
pub fn join(args: &[String], ui: &Ui) -> i32 {
    let Ok(a) = parse::<JoinArgs>("join", JOIN_HELP, args, ui) else {
        return 1;
    };
    if a.args.is_empty() {
        ui.error("At least one address to join must be specified.");
        ui.error("");
        ui.error(&super::help("join"));
        return 1;
    }
    let Ok(client) = connect(&a.http, None, ui) else {
        return 1;
    };
    block_on(async move {
        let mut joined = 0;
        for addr in &a.args {
            match client.agent().join(addr, a.wan).await {
                Ok(()) => joined += 1,
                Err(e) => ui.error(&format!("Error joining address '{addr}': {e}")),
            }
        }
        if joined == 0 {
            ui.error("Failed to join any nodes.");
            return 1;
        }
        ui.output(&format!(
            "Successfully joined cluster by contacting {joined} nodes."
        ));
        0
    })
}

/// Help of `cairn force-leave`.
pub const FORCE_LEAVE_HELP: &str = r#"
Usage: cairn force-leave [options] name

  Moves a member of the cluster to the "left" state. A member that is in
  fact alive rejoins on its own; this is for clearing out "failed" nodes that
  will not come back, which agents would otherwise keep trying to reach for
  a while before reaping them.
"#;

/// Arguments of `cairn force-leave`.
#[derive(Debug, Parser)]
#[command(disable_help_flag = true, disable_version_flag = true)]
pub struct ForceLeaveArgs {
    #[command(flatten)]
    http: HttpFlags,
    #[command(flatten)]
    server: ServerFlags,
    /// Also remove the node from the member list entirely.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    prune: bool,
    /// Act on the WAN pool.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    wan: bool,
    #[arg(hide = true)]
    args: Vec<String>,
}

/// `cairn force-leave`.
pub fn force_leave(args: &[String], ui: &Ui) -> i32 {
    let Ok(a) = parse::<ForceLeaveArgs>("force-leave", FORCE_LEAVE_HELP, args, ui) else {
        return 1;
    };
    if a.args.len() != 1 {
        ui.error("A single node name must be specified to force leave.");
        ui.error("");
        ui.error(&super::help("force-leave"));
        return 1;
    }
    let Ok(client) = connect(&a.http, Some(&a.server), ui) else {
        return 1;
    };
    block_on(async move {
        match client.agent().force_leave(&a.args[0], a.prune, a.wan).await {
            Ok(()) => 0,
            Err(e) => {
                ui.error(&format!("Error force leaving: {e}"));
                1
            }
        }
    })
}

/// Help of `cairn keygen`.
pub const KEYGEN_HELP: &str = r#"
Usage: cairn keygen

  Prints a new random gossip encryption key (32 bytes, base64), in the form
  the agent's -encrypt flag and "encrypt" setting take.
"#;

/// Arguments of `cairn keygen`.
#[derive(Debug, Parser)]
#[command(disable_help_flag = true, disable_version_flag = true)]
pub struct KeygenArgs {
    #[arg(hide = true)]
    args: Vec<String>,
}

/// 32 random bytes from the kernel.
pub fn random_key() -> std::io::Result<[u8; 32]> {
    let mut key = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut key)?;
    Ok(key)
}

/// `cairn keygen`.
pub fn keygen(args: &[String], ui: &Ui) -> i32 {
    if parse::<KeygenArgs>("keygen", KEYGEN_HELP, args, ui).is_err() {
        return 1;
    }
    match random_key() {
        Ok(key) => {
            ui.output(&B64.encode(key));
            0
        }
        Err(e) => {
            ui.error(&format!("Error reading random data: {e}"));
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keygen_prints_distinct_32_byte_keys() {
        let (ui, out) = Ui::capture();
        assert_eq!(keygen(&[], &ui), 0);
        assert_eq!(keygen(&[], &ui), 0);
        let text = out.stdout();
        let keys: Vec<&str> = text.lines().collect();
        assert_eq!(keys.len(), 2);
        assert_ne!(keys[0], keys[1]);
        for k in keys {
            assert_eq!(B64.decode(k).unwrap().len(), 32);
        }
    }
}
