//! `cairn event`: fire a user event.

use super::{block_on, connect};
use crate::cli::{parse, HttpFlags, Ui};
use cairn_client::EventFire;
use clap::Parser;

/// Help of `cairn event`.
pub const HELP: &str = r#"
Usage: cairn event [options] [payload]

  Sends a custom user event through the datacenter's gossip pool. The event
  needs a name; the payload is optional. Regular expressions on node name,
  service and tag limit which agents act on it.
"#;

/// Arguments of `cairn event`.
#[derive(Debug, Parser)]
#[command(disable_help_flag = true, disable_version_flag = true)]
pub struct EventArgs {
    #[command(flatten)]
    http: HttpFlags,
    /// Name of the event.
    #[arg(long, value_name = "string", default_value = "")]
    name: String,
    /// Regular expression to filter on node names.
    #[arg(long, value_name = "string", default_value = "")]
    node: String,
    /// Regular expression to filter on service instances.
    #[arg(long, value_name = "string", default_value = "")]
    service: String,
    /// Regular expression to filter on service tags. Must be used with -service.
    #[arg(long, value_name = "string", default_value = "")]
    tag: String,
    #[arg(hide = true)]
    args: Vec<String>,
}

/// `cairn event`.
pub fn run(args: &[String], ui: &Ui) -> i32 {
    let Ok(a) = parse::<EventArgs>("event", HELP, args, ui) else {
        return 1;
    };
    if a.name.is_empty() {
        ui.error("Event name must be specified");
        ui.error("");
        ui.error(&super::help("event"));
        return 1;
    }
    for (what, re) in [("node", &a.node), ("service", &a.service), ("tag", &a.tag)] {
        if !re.is_empty() {
            if let Err(e) = regex::Regex::new(re) {
                ui.error(&format!("Failed to compile {what} filter regexp: {e}"));
                return 1;
            }
        }
    }
    if !a.tag.is_empty() && a.service.is_empty() {
        ui.error("Cannot provide tag filter without service filter.");
        return 1;
    }
    let payload = match a.args.as_slice() {
        [] => Vec::new(),
        [p] => p.as_bytes().to_vec(),
        _ => {
            ui.error("Too many command line arguments.");
            ui.error("");
            ui.error(&super::help("event"));
            return 1;
        }
    };
    let Ok(client) = connect(&a.http, None, ui) else {
        return 1;
    };
    block_on(async move {
        if let Err(e) = client.agent().node_name().await {
            ui.error(&format!("Error querying Consul agent: {e}"));
            return 1;
        }
        let fire = EventFire {
            name: a.name.clone(),
            payload,
            node_filter: a.node.clone(),
            service_filter: a.service.clone(),
            tag_filter: a.tag.clone(),
        };
        match client.event_fire(&fire).await {
            Ok(event) => {
                ui.output(&format!("Event ID: {}", event.id));
                0
            }
            Err(e) => {
                ui.error(&format!("Error firing event: {e}"));
                1
            }
        }
    })
}
