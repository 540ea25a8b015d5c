//! `cairn catalog datacenters|nodes|services`.

use super::{block_on, connect};
use crate::cli::format::{columnize, map_to_kv, tabwrite};
use crate::cli::{parse, HttpFlags, ServerFlags, Ui};
use cairn_client::NodeMeta;
use cairn_types::Node;
use clap::{ArgAction, Parser};
use std::collections::BTreeMap;
use std::io::Read;

/// Help of `cairn catalog`.
pub const PARENT_HELP: &str = r#"
Usage: cairn catalog <subcommand> [options] [args]

  Reads the catalog: the cluster-wide registry of nodes and services (not to
  be confused with one agent's local services).

  List all datacenters:

      $ cairn catalog datacenters

  List all nodes:

      $ cairn catalog nodes

  List all services:

      $ cairn catalog services
"#;

/// Help of `cairn catalog datacenters`.
pub const DATACENTERS_HELP: &str = r#"
Usage: cairn catalog datacenters [options]

  Lists the known datacenters, nearest first (by the median round trip time
  from this datacenter's servers).

      $ cairn catalog datacenters
"#;

/// Arguments of `cairn catalog datacenters`.
#[derive(Debug, Parser)]
#[command(disable_help_flag = true, disable_version_flag = true)]
pub struct DatacentersArgs {
    #[command(flatten)]
    http: HttpFlags,
    #[command(flatten)]
    server: ServerFlags,
    #[arg(hide = true)]
    args: Vec<String>,
}

/// `cairn catalog datacenters`.
pub fn datacenters(args: &[String], ui: &Ui) -> i32 {
    let Ok(a) = parse::<DatacentersArgs>("catalog datacenters", DATACENTERS_HELP, args, ui) else {
        return 1;
    };
    if !a.args.is_empty() {
        ui.error(&format!(
            "Too many arguments (expected 0, got {})",
            a.args.len()
        ));
        return 1;
    }
    let Ok(client) = connect(&a.http, Some(&a.server), ui) else {
        return 1;
    };
    block_on(async move {
        match client.catalog().datacenters().await {
            Ok(dcs) => {
                dcs.iter().for_each(|dc| ui.output(dc));
                0
            }
            Err(e) => {
                // Consul prints this and still exits 0; a failed query exits 1 here.
                ui.error(&format!("Error listing datacenters: {e}"));
                1
            }
        }
    })
}

/// Help of `cairn catalog nodes`.
pub const NODES_HELP: &str = r#"
Usage: cairn catalog nodes [options]

  Lists the nodes of a datacenter (the agent's unless -datacenter is given).

      $ cairn catalog nodes

  With full node IDs, tagged addresses and metadata:

      $ cairn catalog nodes -detailed

  Only nodes running a service:

      $ cairn catalog nodes -service=web

  Only nodes with some metadata:

      $ cairn catalog nodes -node-meta="foo=bar"

  Sorted by estimated round trip time from node-web:

      $ cairn catalog nodes -near=node-web
"#;

/// Arguments of `cairn catalog nodes`.
#[derive(Debug, Parser)]
#[command(disable_help_flag = true, disable_version_flag = true)]
pub struct NodesArgs {
    #[command(flatten)]
    http: HttpFlags,
    #[command(flatten)]
    server: ServerFlags,
    /// Also print full node IDs, tagged addresses and metadata.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    detailed: bool,
    /// Filter expression sent with the request (`@file` and `-` read it from a file or stdin).
    #[arg(long, value_name = "string", default_value = "")]
    filter: String,
    /// Sort nodes by estimated round trip time from this node ("_agent": this agent's node).
    #[arg(long, value_name = "string", default_value = "")]
    near: String,
    /// Only nodes with this `key=value` metadata; repeat to require several.
    #[arg(long = "node-meta", value_name = "key=value")]
    node_meta: Vec<String>,
    /// Only nodes providing this service `id or name`.
    #[arg(long, value_name = "id or name", default_value = "")]
    service: String,
    #[arg(hide = true)]
    args: Vec<String>,
}

/// Parse repeated `key=value` flags (Consul's `FlagMapValue`).
pub fn parse_meta(pairs: &[String]) -> Result<NodeMeta, String> {
    let mut map = BTreeMap::new();
    for pair in pairs {
        let Some((k, v)) = pair.split_once('=') else {
            return Err(format!("Missing \"=\" value in argument: {pair}"));
        };
        map.insert(k.to_string(), v.to_string());
    }
    Ok(map)
}

/// Consul's data-source convention for flags: `@file`, `-` for stdin, or the text itself.
pub fn load_data_source(value: &str, stdin: &mut dyn Read) -> Result<String, String> {
    if let Some(path) = value.strip_prefix('@') {
        return std::fs::read_to_string(path)
            .map_err(|e| format!("Failed to read file: {}", super::kv::go_io_error(path, &e)));
    }
    if value == "-" {
        let mut text = String::new();
        stdin
            .read_to_string(&mut text)
            .map_err(|e| format!("Failed to read stdin: {e}"))?;
        return Ok(text);
    }
    Ok(value.to_string())
}

/// `cairn catalog nodes`.
pub fn nodes(args: &[String], ui: &Ui) -> i32 {
    let Ok(a) = parse::<NodesArgs>("catalog nodes", NODES_HELP, args, ui) else {
        return 1;
    };
    if !a.args.is_empty() {
        ui.error(&format!(
            "Too many arguments (expected 0, got {})",
            a.args.len()
        ));
        return 1;
    }
    let meta = match parse_meta(&a.node_meta) {
        Ok(m) => m,
        Err(e) => {
            ui.error(&format!(
                "invalid value {:?} for flag -node-meta: {e}",
                a.node_meta.join(",")
            ));
            return 1;
        }
    };
    let Ok(client) = connect(&a.http, Some(&a.server), ui) else {
        return 1;
    };
    let mut opts = a.server.query_options();
    opts.near = a.near.clone();
    if !a.filter.is_empty() {
        match load_data_source(&a.filter, &mut std::io::stdin()) {
            Ok(f) => opts.filter = f,
            Err(e) => {
                ui.error(&format!("Could not process filter argument: {e}"));
                return 1;
            }
        }
    }
    block_on(async move {
        let nodes: Vec<Node> = if !a.service.is_empty() {
            match client
                .catalog()
                .service(&a.service, &[], &meta, &opts)
                .await
            {
                Ok((services, _)) => services
                    .into_iter()
                    .map(|s| Node {
                        id: s.id,
                        node: s.node,
                        address: s.address,
                        datacenter: s.datacenter,
                        tagged_addresses: s.tagged_addresses,
                        meta: s.node_meta,
                        create_index: s.create_index,
                        modify_index: s.modify_index,
                    })
                    .collect(),
                Err(e) => {
                    ui.error(&format!("Error listing nodes for service: {e}"));
                    return 1;
                }
            }
        } else {
            match client.catalog().nodes(&meta, &opts).await {
                Ok((nodes, _)) => nodes,
                Err(e) => {
                    ui.error(&format!("Error listing nodes: {e}"));
                    return 1;
                }
            }
        };
        if nodes.is_empty() {
            ui.error("No nodes match the given query - try expanding your search.");
            return 0;
        }
        ui.output(&nodes_table(&nodes, a.detailed));
        0
    })
}

/// The `catalog nodes` table (columns `Node ID Address DC`, plus `TaggedAddresses Meta` when
/// detailed; IDs cut at the first dash unless detailed).
pub fn nodes_table(nodes: &[Node], detailed: bool) -> String {
    let mut rows: Vec<Vec<String>> = Vec::with_capacity(nodes.len() + 1);
    let header: &[&str] = if detailed {
        &["Node", "ID", "Address", "DC", "TaggedAddresses", "Meta"]
    } else {
        &["Node", "ID", "Address", "DC"]
    };
    rows.push(header.iter().map(|s| s.to_string()).collect());
    for node in nodes {
        if detailed {
            rows.push(vec![
                node.node.clone(),
                node.id.clone(),
                node.address.clone(),
                node.datacenter.clone(),
                map_to_kv(&node.tagged_addresses, ", "),
                map_to_kv(&node.meta, ", "),
            ]);
        } else {
            let id = match node.id.find('-') {
                Some(i) if i > 0 => node.id[..i].to_string(),
                _ => node.id.clone(),
            };
            rows.push(vec![
                node.node.clone(),
                id,
                node.address.clone(),
                node.datacenter.clone(),
            ]);
        }
    }
    columnize(&rows)
}

/// Help of `cairn catalog services`.
pub const SERVICES_HELP: &str = r#"
Usage: cairn catalog services [options]

  Lists the services registered in a datacenter (the agent's unless
  -datacenter is given).

      $ cairn catalog services

  With their tags:

      $ cairn catalog services -tags

  Only services on one node:

      $ cairn catalog services -node=web

  Only services on nodes with some metadata:

      $ cairn catalog services -node-meta="foo=bar"
"#;

/// Arguments of `cairn catalog services`.
#[derive(Debug, Parser)]
#[command(disable_help_flag = true, disable_version_flag = true)]
pub struct ServicesArgs {
    #[command(flatten)]
    http: HttpFlags,
    #[command(flatten)]
    server: ServerFlags,
    /// Only the services of this node `id or name`.
    #[arg(long, value_name = "id or name", default_value = "")]
    node: String,
    /// Only services on nodes with this `key=value` metadata; repeat to require several.
    #[arg(long = "node-meta", value_name = "key=value")]
    node_meta: Vec<String>,
    /// Print each service's tags, comma-separated, beside its name.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    tags: bool,
    #[arg(hide = true)]
    args: Vec<String>,
}

/// `cairn catalog services`.
pub fn services(args: &[String], ui: &Ui) -> i32 {
    let Ok(a) = parse::<ServicesArgs>("catalog services", SERVICES_HELP, args, ui) else {
        return 1;
    };
    if !a.args.is_empty() {
        ui.error(&format!(
            "Too many arguments (expected 0, got {})",
            a.args.len()
        ));
        return 1;
    }
    let meta = match parse_meta(&a.node_meta) {
        Ok(m) => m,
        Err(e) => {
            ui.error(&format!(
                "invalid value {:?} for flag -node-meta: {e}",
                a.node_meta.join(",")
            ));
            return 1;
        }
    };
    let Ok(client) = connect(&a.http, Some(&a.server), ui) else {
        return 1;
    };
    let opts = a.server.query_options();
    block_on(async move {
        let services: BTreeMap<String, Vec<String>> = if !a.node.is_empty() {
            match client.catalog().node(&a.node, &opts).await {
                Ok((node, _)) => {
                    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
                    for svc in node.map(|n| n.services).unwrap_or_default().into_values() {
                        map.entry(svc.service).or_default().extend(svc.tags);
                    }
                    map
                }
                Err(e) => {
                    ui.error(&format!("Error listing services for node: {e}"));
                    return 1;
                }
            }
        } else {
            match client.catalog().services(&meta, &opts).await {
                Ok((s, _)) => s,
                Err(e) => {
                    ui.error(&format!("Error listing services: {e}"));
                    return 1;
                }
            }
        };
        if services.is_empty() {
            ui.error("No services match the given query - try expanding your search.");
            return 0;
        }
        if a.tags {
            ui.output(&services_with_tags(&services));
        } else {
            services.keys().for_each(|s| ui.output(s));
        }
        0
    })
}

/// `catalog services -tags`: names and sorted tags through Go's tabwriter (padding 6), trimmed.
pub fn services_with_tags(services: &BTreeMap<String, Vec<String>>) -> String {
    let rows: Vec<Vec<String>> = services
        .iter()
        .map(|(name, tags)| {
            let mut tags = tags.clone();
            tags.sort();
            vec![name.clone(), tags.join(",")]
        })
        .collect();
    tabwrite(&rows, 6, true).trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_columns() {
        let nodes = vec![
            Node {
                id: "1e2f3a4b-0000-1111-2222-333344445555".into(),
                node: "server-1".into(),
                address: "10.0.0.1".into(),
                datacenter: "dc1".into(),
                tagged_addresses: [
                    ("lan".to_string(), "10.0.0.1".to_string()),
                    ("wan".to_string(), "1.2.3.4".to_string()),
                ]
                .into(),
                meta: [("rack".to_string(), "a".to_string())].into(),
                ..Node::default()
            },
            Node {
                id: String::new(),
                node: "n2".into(),
                address: "10.0.0.22".into(),
                datacenter: "dc1".into(),
                ..Node::default()
            },
        ];
        assert_eq!(
            nodes_table(&nodes, false),
            "Node      ID        Address    DC\nserver-1  1e2f3a4b  10.0.0.1   dc1\nn2                  10.0.0.22  dc1"
        );
        assert_eq!(
            nodes_table(&nodes, true),
            format!(
                "Node      ID                                    Address    DC   TaggedAddresses            Meta\nserver-1  1e2f3a4b-0000-1111-2222-333344445555  10.0.0.1   dc1  lan=10.0.0.1, wan=1.2.3.4  rack=a\nn2                                              10.0.0.22  dc1  {}",
                // Empty TaggedAddresses padded to its width, then the glue; empty Meta last.
                " ".repeat("lan=10.0.0.1, wan=1.2.3.4".len() + 2)
            )
        );
    }

    #[test]
    fn services_tags_layout() {
        let mut s = BTreeMap::new();
        s.insert("consul".to_string(), vec![]);
        s.insert(
            "redis".to_string(),
            vec!["v2".to_string(), "primary".to_string()],
        );
        assert_eq!(
            services_with_tags(&s),
            "consul      \nredis       primary,v2"
        );
    }

    #[test]
    fn meta_pairs() {
        let m = parse_meta(&["a=b".into(), "c=d=e".into()]).unwrap();
        assert_eq!(m["c"], "d=e");
        assert!(parse_meta(&["nope".into()]).is_err());
    }
}
