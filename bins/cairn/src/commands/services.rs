//! `cairn services register|deregister`.

use super::{block_on, connect};
use crate::cli::{parse, HttpFlags, ServerFlags, Ui};
use cairn_config::{ConfigFile, Format};
use cairn_types::{AgentServiceRegistration, ServiceAddress};
use clap::Parser;
use std::collections::BTreeMap;

/// Help of `cairn services`.
pub const PARENT_HELP: &str = r#"
Usage: cairn services <subcommand> [options] [args]

  Registers and deregisters services with the local agent.

  Register a service from a definition file:

      $ cairn services register web.json

  Deregister it:

      $ cairn services deregister web.json
"#;

/// Help of `cairn services register`.
pub const REGISTER_HELP: &str = r#"
Usage: cairn services register [options] [FILE...]

  Registers one or more services with the local agent, from agent config
  files (HCL or JSON, with "service" or "services" blocks) or from flags,
  and returns. Deregister them with "cairn services deregister" when done.

      $ cairn services register web.json

  Flags given with files fill in what the files leave out.
"#;

/// Arguments of `cairn services register`.
#[derive(Debug, Parser)]
#[command(disable_help_flag = true, disable_version_flag = true)]
pub struct RegisterArgs {
    #[command(flatten)]
    http: HttpFlags,
    #[command(flatten)]
    server: ServerFlags,
    /// Address of the service to register for arg-based registration.
    #[arg(long, value_name = "string", default_value = "")]
    address: String,
    /// ID of the service to register for arg-based registration (defaults to -name).
    #[arg(long, value_name = "string", default_value = "")]
    id: String,
    /// The service's kind.
    #[arg(long, value_name = "string", default_value = "")]
    kind: String,
    /// Metadata to set on the service, as key=value; repeat for several.
    #[arg(long, value_name = "key=value")]
    meta: Vec<String>,
    /// Name of the service to register for arg-based registration.
    #[arg(long, value_name = "string", default_value = "")]
    name: String,
    /// Port of the service to register for arg-based registration.
    #[arg(long, value_name = "int", default_value_t = 0)]
    port: u16,
    /// Tag to add to the service; repeat for several.
    #[arg(long, value_name = "value")]
    tag: Vec<String>,
    /// Tagged address to set on the service, as key=value (value is address:port); repeat for
    /// several.
    #[arg(long = "tagged-address", value_name = "key=value")]
    tagged_address: Vec<String>,
    #[arg(hide = true)]
    args: Vec<String>,
}

/// Service definitions from agent config files.
pub fn services_from_files(files: &[String]) -> Result<Vec<AgentServiceRegistration>, String> {
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).map_err(|e| super::kv::go_io_error(file, &e))?;
        let format = Format::from_path(file).unwrap_or(if text.trim_start().starts_with('{') {
            Format::Json
        } else {
            Format::Hcl
        });
        let (config, _warnings) =
            ConfigFile::parse(&text, format, file).map_err(|e| e.to_string())?;
        out.extend(config.services.into_iter().map(|d| d.registration));
    }
    Ok(out)
}

/// Parse `host:port` (Consul's `ParseServiceAddr`; a bare host has port 0).
pub fn parse_service_addr(text: &str) -> Result<ServiceAddress, String> {
    let (host, port) = match text.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() || !p.is_empty() => (h, p),
        _ => (text, ""),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = if port.is_empty() {
        0
    } else {
        port.parse::<u16>()
            .map_err(|_| format!("Error parsing port {port:?}"))?
    };
    Ok(ServiceAddress {
        address: host.to_string(),
        port,
    })
}

fn key_values(pairs: &[String]) -> Result<BTreeMap<String, String>, String> {
    super::catalog::parse_meta(pairs)
}

/// Fill what a file definition leaves out from the flags (Consul's `CombineArgs`).
pub fn combine(file: &mut AgentServiceRegistration, flags: &AgentServiceRegistration) {
    if file.id.is_empty() {
        file.id.clone_from(&flags.id);
    }
    if file.name.is_empty() {
        file.name.clone_from(&flags.name);
    }
    if file.address.is_empty() {
        file.address.clone_from(&flags.address);
    }
    if file.port == 0 {
        file.port = flags.port;
    }
    if file.kind.is_empty() {
        file.kind.clone_from(&flags.kind);
    }
    file.meta.extend(flags.meta.clone());
    file.tagged_addresses.extend(flags.tagged_addresses.clone());
    file.tags.extend(flags.tags.iter().cloned());
}

/// `cairn services register`.
pub fn register(args: &[String], ui: &Ui) -> i32 {
    let Ok(a) = parse::<RegisterArgs>("services register", REGISTER_HELP, args, ui) else {
        return 1;
    };
    let mut tagged = BTreeMap::new();
    let pairs = match key_values(&a.tagged_address) {
        Ok(p) => p,
        Err(e) => {
            ui.error(&format!("invalid value for flag -tagged-address: {e}"));
            return 1;
        }
    };
    for (k, v) in pairs {
        match parse_service_addr(&v) {
            Ok(addr) => {
                tagged.insert(k, addr);
            }
            Err(e) => {
                ui.error(&format!("Invalid Tagged Address: {e}"));
                return 1;
            }
        }
    }
    let meta = match key_values(&a.meta) {
        Ok(m) => m,
        Err(e) => {
            ui.error(&format!("invalid value for flag -meta: {e}"));
            return 1;
        }
    };
    let from_flags = AgentServiceRegistration {
        kind: a.kind.clone(),
        id: a.id.clone(),
        name: a.name.clone(),
        address: a.address.clone(),
        port: a.port,
        tags: a.tag.clone(),
        meta,
        tagged_addresses: tagged,
        ..AgentServiceRegistration::default()
    };
    if a.args.is_empty() && a.name.is_empty() {
        ui.error("Service registration requires at least one argument or flags.");
        return 1;
    }
    if !a.args.is_empty() && !a.name.is_empty() {
        ui.error("Service registration requires arguments or -id, not both.");
        return 1;
    }
    let services = if a.args.is_empty() {
        vec![from_flags]
    } else {
        match services_from_files(&a.args) {
            Ok(mut list) => {
                list.iter_mut().for_each(|s| combine(s, &from_flags));
                list
            }
            Err(e) => {
                ui.error(&format!("Error: {e}"));
                return 1;
            }
        }
    };
    let Ok(client) = connect(&a.http, Some(&a.server), ui) else {
        return 1;
    };
    block_on(async move {
        for svc in &services {
            if let Err(e) = client.agent().service_register(svc).await {
                ui.error(&format!("Error registering service {:?}: {e}", svc.name));
                return 1;
            }
            ui.output(&format!("Registered service: {}", svc.name));
        }
        0
    })
}

/// Help of `cairn services deregister`.
pub const DEREGISTER_HELP: &str = r#"
Usage: cairn services deregister [options] [FILE...]

  Deregisters services registered with the local agent, named by the same
  definition files used to register them:

      $ cairn services deregister web.json db.json

  or by ID:

      $ cairn services deregister -id=web

  This only affects the agent the services were registered with.
"#;

/// Arguments of `cairn services deregister`.
#[derive(Debug, Parser)]
#[command(disable_help_flag = true, disable_version_flag = true)]
pub struct DeregisterArgs {
    #[command(flatten)]
    http: HttpFlags,
    #[command(flatten)]
    server: ServerFlags,
    /// ID to delete. This must not be set if arguments are given.
    #[arg(long, value_name = "string", default_value = "")]
    id: String,
    #[arg(hide = true)]
    args: Vec<String>,
}

/// `cairn services deregister`.
pub fn deregister(args: &[String], ui: &Ui) -> i32 {
    let Ok(a) = parse::<DeregisterArgs>("services deregister", DEREGISTER_HELP, args, ui) else {
        return 1;
    };
    if a.args.is_empty() && a.id.is_empty() {
        ui.error("Service deregistration requires at least one argument or -id.");
        return 1;
    }
    if !a.args.is_empty() && !a.id.is_empty() {
        ui.error("Service deregistration requires arguments or -id, not both.");
        return 1;
    }
    let services = if a.args.is_empty() {
        vec![AgentServiceRegistration {
            id: a.id.clone(),
            ..AgentServiceRegistration::default()
        }]
    } else {
        match services_from_files(&a.args) {
            Ok(list) => list,
            Err(e) => {
                ui.error(&format!("Error: {e}"));
                return 1;
            }
        }
    };
    let Ok(client) = connect(&a.http, Some(&a.server), ui) else {
        return 1;
    };
    block_on(async move {
        for svc in &services {
            let id = svc.service_id();
            if id.is_empty() {
                continue;
            }
            if let Err(e) = client.agent().service_deregister(id).await {
                ui.error(&format!("Error registering service {:?}: {e}", svc.name));
                return 1;
            }
            ui.output(&format!("Deregistered service: {id}"));
        }
        0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_in_json_and_hcl() {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("web.json");
        std::fs::write(
            &json,
            r#"{"service": {"name": "web", "port": 80, "tags": ["v1"], "check": {"ttl": "10s"}}}"#,
        )
        .unwrap();
        let hcl = dir.path().join("db.hcl");
        std::fs::write(&hcl, "services {\n  name = \"db\"\n  port = 5432\n}\nservices {\n  id = \"db2\"\n  name = \"db\"\n}\n").unwrap();
        let list = services_from_files(&[
            json.to_str().unwrap().to_string(),
            hcl.to_str().unwrap().to_string(),
        ])
        .unwrap();
        let names: Vec<(&str, &str, u16)> = list
            .iter()
            .map(|s| (s.name.as_str(), s.service_id(), s.port))
            .collect();
        assert_eq!(
            names,
            vec![("web", "web", 80), ("db", "db", 5432), ("db", "db2", 0)]
        );
        assert!(list[0].check.is_some() || !list[0].checks.is_empty());
        let err =
            services_from_files(&[format!("{}/missing.json", dir.path().display())]).unwrap_err();
        assert!(err.contains("no such file or directory"), "{err}");
    }

    #[test]
    fn flags_fill_file_gaps() {
        let mut file = AgentServiceRegistration {
            name: "web".into(),
            tags: vec!["a".into()],
            ..AgentServiceRegistration::default()
        };
        let flags = AgentServiceRegistration {
            name: "ignored".into(),
            port: 8080,
            tags: vec!["b".into()],
            ..AgentServiceRegistration::default()
        };
        combine(&mut file, &flags);
        assert_eq!(file.name, "web");
        assert_eq!(file.port, 8080);
        assert_eq!(file.tags, vec!["a", "b"]);
    }

    #[test]
    fn service_addresses() {
        assert_eq!(
            parse_service_addr("10.0.0.1:80").unwrap(),
            ServiceAddress {
                address: "10.0.0.1".into(),
                port: 80
            }
        );
        assert_eq!(parse_service_addr("[::1]:80").unwrap().address, "::1");
        assert_eq!(parse_service_addr("host").unwrap().port, 0);
        assert!(parse_service_addr("h:notaport").is_err());
    }
}
