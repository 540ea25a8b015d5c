//! `cairn maint`: node and service maintenance mode.

use super::{block_on, connect};
use crate::cli::{parse, HttpFlags, Ui};
use clap::{ArgAction, Parser};

/// Help of `cairn maint`.
pub const HELP: &str = r#"
Usage: cairn maint [options]

  Puts the node, or one of its services, in maintenance mode, or takes it out.
  In maintenance, it is left out of DNS and API query results: the agent
  registers an extra critical check for it, whose notes carry the -reason
  given (or a default).

  Maintenance survives agent restarts; disable it explicitly to return the
  node or service to service.

  Without -service, the whole node is affected.

  Without -enable or -disable, the current maintenance state is listed
  (nothing is printed when nothing is in maintenance).
"#;

/// Arguments of `cairn maint`.
#[derive(Debug, Parser)]
#[command(disable_help_flag = true, disable_version_flag = true)]
pub struct MaintArgs {
    #[command(flatten)]
    http: HttpFlags,
    /// Disable maintenance mode.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    disable: bool,
    /// Enable maintenance mode.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    enable: bool,
    /// Text describing the maintenance reason.
    #[arg(long, value_name = "string", default_value = "")]
    reason: String,
    /// Control maintenance mode for a specific service ID.
    #[arg(long, value_name = "string", default_value = "")]
    service: String,
    #[arg(hide = true)]
    args: Vec<String>,
}

/// `cairn maint`.
pub fn run(args: &[String], ui: &Ui) -> i32 {
    let Ok(a) = parse::<MaintArgs>("maint", HELP, args, ui) else {
        return 1;
    };
    if a.enable && a.disable {
        ui.error("Only one of -enable or -disable may be provided");
        return 1;
    }
    if !a.enable && !a.reason.is_empty() {
        ui.error("Reason may only be provided with -enable");
        return 1;
    }
    if !a.enable && !a.disable && !a.service.is_empty() {
        ui.error("Service requires either -enable or -disable");
        return 1;
    }
    let Ok(client) = connect(&a.http, None, ui) else {
        return 1;
    };
    block_on(async move {
        let agent = client.agent();
        let node_name = match agent.node_name().await {
            Ok(n) => n,
            Err(e) => {
                ui.error(&format!("Error querying Consul agent: {e}"));
                return 1;
            }
        };
        if !a.enable && !a.disable {
            let checks = match agent.checks().await {
                Ok(c) => c,
                Err(e) => {
                    ui.error(&format!("Error getting checks: {e}"));
                    return 1;
                }
            };
            for check in checks.values() {
                if check.check_id == "_node_maintenance" {
                    ui.output("Node:");
                    ui.output(&format!("  Name:   {node_name}"));
                    ui.output(&format!("  Reason: {}", check.notes));
                    ui.output("");
                } else if check.check_id.starts_with("_service_maintenance:") {
                    ui.output("Service:");
                    ui.output(&format!("  ID:     {}", check.service_id));
                    ui.output(&format!("  Reason: {}", check.notes));
                    ui.output("");
                }
            }
            return 0;
        }
        let (result, done) = match (a.enable, a.service.is_empty()) {
            (true, true) => (
                agent.enable_node_maintenance(&a.reason).await,
                "Node maintenance is now enabled".to_string(),
            ),
            (true, false) => (
                agent
                    .enable_service_maintenance(&a.service, &a.reason)
                    .await,
                format!("Service maintenance is now enabled for {:?}", a.service),
            ),
            (false, true) => (
                agent.disable_node_maintenance().await,
                "Node maintenance is now disabled".to_string(),
            ),
            (false, false) => (
                agent.disable_service_maintenance(&a.service).await,
                format!("Service maintenance is now disabled for {:?}", a.service),
            ),
        };
        match result {
            Ok(()) => {
                ui.output(&done);
                0
            }
            Err(e) => {
                let what = match (a.enable, a.service.is_empty()) {
                    (true, true) => "enabling node",
                    (true, false) => "enabling service",
                    (false, true) => "disabling node",
                    (false, false) => "disabling service",
                };
                ui.error(&format!("Error {what} maintenance: {e}"));
                1
            }
        }
    })
}
