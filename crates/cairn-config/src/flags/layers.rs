//! Flags as config layers, decoded by the same code as config files.
//!
//! Consul merges list-valued flags *before* the config files (so that file entries are
//! appended after them) and every other flag *after* the files (so flags win). The two halves
//! are returned separately for that reason.

use super::AgentFlags;
use crate::error::{ConfigError, Warning};
use crate::file::{decode_layer, Layer};
use serde_json::{json, Map, Value};

/// Name of the command line as a config source in messages.
pub const COMMAND_LINE: &str = "command line";

/// The flags split into their list half and their value half.
pub(crate) struct FlagLayers {
    /// List flags (`-retry-join`, `-recursor`, …): merged before the config files.
    pub slices: Layer,
    /// Every other flag: merged after the config files.
    pub values: Layer,
}

impl AgentFlags {
    /// The config keys these flags set, as one JSON object in Consul's key names (list flags
    /// included). `-node-meta k:v` becomes `node_meta: {k: v}`; `-ui` becomes
    /// `ui_config.enabled`. Flags that are not config (`-dev`, `-config-*`, `-hcl`) are left
    /// out.
    pub fn to_config_value(&self) -> Value {
        let (mut slices, values) = self.split_values();
        for (k, v) in values {
            slices.insert(k, v);
        }
        Value::Object(slices)
    }

    pub(crate) fn to_layers(&self, warnings: &mut Vec<Warning>) -> Result<FlagLayers, ConfigError> {
        let (slices, values) = self.split_values();
        Ok(FlagLayers {
            slices: decode_layer(&Value::Object(slices), COMMAND_LINE, warnings)?,
            values: decode_layer(&Value::Object(values), COMMAND_LINE, warnings)?,
        })
    }

    fn split_values(&self) -> (Map<String, Value>, Map<String, Value>) {
        let mut slices = Map::new();
        let mut list = |key: &str, items: &[String]| {
            if !items.is_empty() {
                slices.insert(key.to_owned(), json!(items));
            }
        };
        list("retry_join", &self.retry_join);
        list("retry_join_wan", &self.retry_join_wan);
        list("start_join", &self.join);
        list("start_join_wan", &self.join_wan);
        list("recursors", &self.recursor);
        list("serf_lan_allowed_cidrs", &self.serf_lan_allowed_cidrs);
        list("serf_wan_allowed_cidrs", &self.serf_wan_allowed_cidrs);
        list("primary_gateways", &self.primary_gateway);

        let mut values = Map::new();
        let mut set = |path: &[&str], value: Option<Value>| {
            if let Some(value) = value {
                insert_path(&mut values, path, value);
            }
        };
        let s = |v: &Option<String>| v.as_ref().map(|s| json!(s));
        let i = |v: &Option<i64>| v.map(|n| json!(n));
        let b = |v: &Option<bool>| v.map(|x| json!(x));

        set(&["advertise_addr"], s(&self.advertise));
        set(&["advertise_addr_wan"], s(&self.advertise_wan));
        set(&["alt_domain"], s(&self.alt_domain));
        set(&["auto_reload_config"], b(&self.auto_reload_config));
        set(&["bind_addr"], s(&self.bind));
        set(&["bootstrap"], b(&self.bootstrap));
        set(&["bootstrap_expect"], i(&self.bootstrap_expect));
        set(&["check_output_max_size"], i(&self.check_output_max_size));
        set(&["client_addr"], s(&self.client));
        set(&["data_dir"], s(&self.data_dir));
        set(&["datacenter"], s(&self.datacenter));
        set(&["default_query_time"], s(&self.default_query_time));
        set(&["disable_host_node_id"], b(&self.disable_host_node_id));
        set(&["disable_keyring_file"], b(&self.disable_keyring_file));
        set(&["ports", "dns"], i(&self.dns_port));
        set(&["domain"], s(&self.domain));
        set(
            &["enable_local_script_checks"],
            b(&self.enable_local_script_checks),
        );
        set(&["enable_script_checks"], b(&self.enable_script_checks));
        set(&["encrypt"], s(&self.encrypt));
        set(&["ports", "grpc"], i(&self.grpc_port));
        set(&["ports", "grpc_tls"], i(&self.grpc_tls_port));
        set(&["ports", "http"], i(&self.http_port));
        set(&["ports", "https"], i(&self.https_port));
        set(&["log_file"], s(&self.log_file));
        set(&["log_json"], b(&self.log_json));
        set(&["log_level"], s(&self.log_level));
        set(&["log_rotate_bytes"], i(&self.log_rotate_bytes));
        set(&["log_rotate_duration"], s(&self.log_rotate_duration));
        set(&["log_rotate_max_files"], i(&self.log_rotate_max_files));
        set(&["max_query_time"], s(&self.max_query_time));
        set(&["node_name"], s(&self.node));
        set(&["node_id"], s(&self.node_id));
        set(&["pid_file"], s(&self.pid_file));
        set(&["protocol"], i(&self.protocol));
        set(&["raft_protocol"], i(&self.raft_protocol));
        set(
            &["read_replica"],
            b(&self.read_replica.or(self.non_voting_server)),
        );
        set(&["rejoin_after_leave"], b(&self.rejoin));
        set(&["retry_interval"], s(&self.retry_interval));
        set(&["retry_interval_wan"], s(&self.retry_interval_wan));
        set(&["retry_max"], i(&self.retry_max));
        set(&["retry_max_wan"], i(&self.retry_max_wan));
        set(&["segment"], s(&self.segment));
        set(&["serf_lan"], s(&self.serf_lan_bind));
        set(&["ports", "serf_lan"], i(&self.serf_lan_port));
        set(&["serf_wan"], s(&self.serf_wan_bind));
        set(&["ports", "serf_wan"], i(&self.serf_wan_port));
        set(&["server"], b(&self.server));
        set(&["ports", "server"], i(&self.server_port));
        set(&["enable_syslog"], b(&self.syslog));
        set(&["ui_config", "enabled"], b(&self.ui));
        set(&["ui_config", "content_path"], s(&self.ui_content_path));
        set(&["ui_config", "dir"], s(&self.ui_dir));
        if !self.allow_write_http_from.is_empty() {
            set(
                &["http_config", "allow_write_http_from"],
                Some(json!(self.allow_write_http_from)),
            );
        }
        if !self.node_meta.is_empty() {
            // Go's flag: split at the first ':'; a missing value is empty; later keys win.
            let mut meta = Map::new();
            for pair in &self.node_meta {
                let (k, v) = pair.split_once(':').unwrap_or((pair.as_str(), ""));
                meta.insert(k.to_owned(), json!(v));
            }
            set(&["node_meta"], Some(Value::Object(meta)));
        }
        (slices, values)
    }
}

fn insert_path(root: &mut Map<String, Value>, path: &[&str], value: Value) {
    match path {
        [] => {}
        [last] => {
            root.insert((*last).to_owned(), value);
        }
        [first, rest @ ..] => {
            let entry = root
                .entry((*first).to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(child) = entry {
                insert_path(child, rest, value);
            }
        }
    }
}
