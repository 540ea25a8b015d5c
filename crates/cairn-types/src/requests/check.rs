//! Check definitions as clients send them (`Check`/`Checks` of a service registration, and the
//! body of `PUT /v1/agent/check/register`).

use crate::catalog::AgentService;
use crate::duration::GoDuration;
use crate::health::{CheckDefinition, CheckStatus, HealthCheck};
use crate::wire::{is_false, is_zero_u32};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A check definition (Consul's `CheckType` / `CheckDefinition` / api `AgentServiceCheck`).
///
/// Decoding accepts both `CheckID` and `ID` (check registration uses `ID`; a service's embedded
/// checks use `CheckID`) and both `ScriptArgs` and `Args`; the first of each pair wins, as in
/// Consul. Durations accept Go strings or integer nanoseconds. Serialization writes Consul's
/// names and omits empty fields (`omitempty`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", from = "CheckTypeWire")]
pub struct CheckType {
    /// Check ID; empty means the agent picks one (the name, or `service:<id>[:N]`).
    #[serde(rename = "CheckID", skip_serializing_if = "String::is_empty")]
    pub check_id: String,
    /// Human-readable name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Operator notes.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub notes: String,
    /// Service the check belongs to (check registration only; ignored inside a service).
    #[serde(rename = "ServiceID", skip_serializing_if = "String::is_empty")]
    pub service_id: String,
    /// Initial status as sent (`passing`, `warning`, `critical`; empty means critical).
    /// Kept as text so the API layer can answer invalid values with Consul's own message.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub status: String,
    /// ACL token to register the check with.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub token: String,
    /// Command and arguments of a script or Docker check.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub script_args: Vec<String>,
    /// URL of an HTTP check.
    #[serde(rename = "HTTP", skip_serializing_if = "String::is_empty")]
    pub http: String,
    /// Request headers of an HTTP check.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub header: BTreeMap<String, Vec<String>>,
    /// Method of an HTTP check (default GET).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub method: String,
    /// Request body of an HTTP check.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub body: String,
    /// Don't follow HTTP redirects.
    #[serde(skip_serializing_if = "is_false")]
    pub disable_redirects: bool,
    /// SNI server name for TLS checks.
    #[serde(rename = "TLSServerName", skip_serializing_if = "String::is_empty")]
    pub tls_server_name: String,
    /// Skip TLS certificate verification.
    #[serde(rename = "TLSSkipVerify", skip_serializing_if = "is_false")]
    pub tls_skip_verify: bool,
    /// `host:port` of a TCP check.
    #[serde(rename = "TCP", skip_serializing_if = "String::is_empty")]
    pub tcp: String,
    /// Use TLS for a TCP check.
    #[serde(rename = "TCPUseTLS", skip_serializing_if = "is_false")]
    pub tcp_use_tls: bool,
    /// `host:port` of a UDP check.
    #[serde(rename = "UDP", skip_serializing_if = "String::is_empty")]
    pub udp: String,
    /// `host:port[/service]` of a gRPC health check.
    #[serde(rename = "GRPC", skip_serializing_if = "String::is_empty")]
    pub grpc: String,
    /// Use TLS for a gRPC check.
    #[serde(rename = "GRPCUseTLS", skip_serializing_if = "is_false")]
    pub grpc_use_tls: bool,
    /// `host:port` of an HTTP/2 ping check.
    #[serde(rename = "H2PING", skip_serializing_if = "String::is_empty")]
    pub h2ping: String,
    /// Use TLS for an HTTP/2 ping check (defaults to true when `H2PING` is set).
    #[serde(rename = "H2PingUseTLS", skip_serializing_if = "is_false")]
    pub h2ping_use_tls: bool,
    /// OS service (systemd/Windows) to watch.
    #[serde(rename = "OSService", skip_serializing_if = "String::is_empty")]
    pub os_service: String,
    /// Node whose health an alias check mirrors.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub alias_node: String,
    /// Service whose health an alias check mirrors.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub alias_service: String,
    /// Container of a Docker check.
    #[serde(rename = "DockerContainerID", skip_serializing_if = "String::is_empty")]
    pub docker_container_id: String,
    /// Shell of a Docker check.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub shell: String,
    /// Run interval (zero: not an interval check).
    #[serde(skip_serializing_if = "GoDuration::is_zero")]
    pub interval: GoDuration,
    /// Timeout of one run (zero: the check type's default).
    #[serde(skip_serializing_if = "GoDuration::is_zero")]
    pub timeout: GoDuration,
    /// TTL of a TTL check.
    #[serde(rename = "TTL", skip_serializing_if = "GoDuration::is_zero")]
    pub ttl: GoDuration,
    /// Deregister the service after the check has been critical this long (zero: never).
    #[serde(skip_serializing_if = "GoDuration::is_zero")]
    pub deregister_critical_service_after: GoDuration,
    /// Consecutive successes needed before passing.
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub success_before_passing: u32,
    /// Consecutive failures needed before warning.
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub failures_before_warning: u32,
    /// Consecutive failures needed before critical.
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub failures_before_critical: u32,
    /// Largest output kept, in bytes (zero: the agent default, 4096).
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub output_max_size: u32,
}

/// A check registration body (`PUT /v1/agent/check/register`): the same fields as [`CheckType`].
pub type AgentCheckRegistration = CheckType;

impl CheckType {
    /// Whether no field is set (Consul skips an empty `Check` object in a service definition).
    pub fn is_empty(&self) -> bool {
        *self == CheckType::default()
    }

    /// Whether this is an alias check.
    pub fn is_alias(&self) -> bool {
        !self.alias_node.is_empty() || !self.alias_service.is_empty()
    }

    /// Whether this check runs a command (script or Docker).
    pub fn is_script(&self) -> bool {
        !self.script_args.is_empty()
    }

    /// Consul's check type word (`HealthCheck.Type`): `grpc`, `http`, `ttl`, `tcp`, `udp`,
    /// `alias`, `docker`, `script`, `h2ping`, `os_service`, or empty; first match in that order.
    pub fn kind(&self) -> &'static str {
        let every = !self.interval.is_zero();
        if !self.grpc.is_empty() && every {
            "grpc"
        } else if !self.http.is_empty() && every {
            "http"
        } else if !self.ttl.is_zero() {
            "ttl"
        } else if !self.tcp.is_empty() && every {
            "tcp"
        } else if !self.udp.is_empty() && every {
            "udp"
        } else if self.is_alias() {
            "alias"
        } else if self.is_script() && !self.docker_container_id.is_empty() && every {
            "docker"
        } else if self.is_script() {
            "script"
        } else if !self.h2ping.is_empty() && every {
            "h2ping"
        } else if !self.os_service.is_empty() && every {
            "os_service"
        } else {
            ""
        }
    }

    /// Check the definition the way Consul does, with Consul's messages.
    pub fn validate(&self) -> Result<(), String> {
        let interval_check = self.is_script()
            || !self.http.is_empty()
            || !self.tcp.is_empty()
            || !self.udp.is_empty()
            || !self.grpc.is_empty()
            || !self.h2ping.is_empty()
            || !self.os_service.is_empty();
        let has_interval = !self.interval.is_zero();
        let has_ttl = !self.ttl.is_zero();
        if has_interval && has_ttl {
            return Err("Interval and TTL cannot both be specified".into());
        }
        if interval_check && !has_interval {
            return Err(
                "Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks"
                    .into(),
            );
        }
        if interval_check && self.is_alias() {
            return Err("Interval cannot be set for Alias checks".into());
        }
        if self.is_alias() && has_ttl {
            return Err("TTL must be not be set for Alias checks".into());
        }
        if !interval_check && !self.is_alias() && !has_ttl {
            return Err("TTL must be > 0 for TTL checks".into());
        }
        if self.failures_before_warning > self.failures_before_critical {
            return Err("FailuresBeforeWarning can't be higher than FailuresBeforeCritical".into());
        }
        Ok(())
    }
}

impl CheckType {
    /// The initial status: empty means critical; anything else must be `passing`, `warning`
    /// or `critical`.
    pub fn initial_status(&self) -> Result<CheckStatus, String> {
        match self.status.as_str() {
            "" => Ok(CheckStatus::Critical),
            "passing" => Ok(CheckStatus::Passing),
            "warning" => Ok(CheckStatus::Warning),
            "critical" => Ok(CheckStatus::Critical),
            other => Err(format!("Invalid check status: \"{other}\"")),
        }
    }

    /// How the check runs, as `HealthCheck.Definition` shows it.
    pub fn to_definition(&self) -> CheckDefinition {
        CheckDefinition {
            http: self.http.clone(),
            tls_server_name: self.tls_server_name.clone(),
            tls_skip_verify: self.tls_skip_verify,
            header: self.header.clone(),
            method: self.method.clone(),
            body: self.body.clone(),
            disable_redirects: self.disable_redirects,
            tcp: self.tcp.clone(),
            tcp_use_tls: self.tcp_use_tls,
            udp: self.udp.clone(),
            h2ping: self.h2ping.clone(),
            os_service: self.os_service.clone(),
            h2ping_use_tls: self.h2ping_use_tls,
            interval: self.interval,
            output_max_size: self.output_max_size,
            timeout: self.timeout,
            deregister_critical_service_after: self.deregister_critical_service_after,
            script_args: self.script_args.clone(),
            docker_container_id: self.docker_container_id.clone(),
            shell: self.shell.clone(),
            grpc: self.grpc.clone(),
            grpc_use_tls: self.grpc_use_tls,
            alias_node: self.alias_node.clone(),
            alias_service: self.alias_service.clone(),
            ttl: self.ttl,
        }
    }

    /// The catalog health check this definition registers on `node`, tied to `service` if
    /// given (else to `ServiceID` as sent). The check ID defaults to the name, as in Consul's
    /// `CheckDefinition.HealthCheck`; indexes are left zero.
    pub fn to_health_check(
        &self,
        node: &str,
        service: Option<&AgentService>,
    ) -> Result<HealthCheck, String> {
        let duration_text = |d: GoDuration| {
            if d.is_zero() {
                String::new()
            } else {
                d.to_string()
            }
        };
        let (service_id, service_name, service_tags) = match service {
            Some(s) => (s.id.clone(), s.service.clone(), s.tags.clone()),
            None => (self.service_id.clone(), String::new(), Vec::new()),
        };
        Ok(HealthCheck {
            node: node.to_owned(),
            check_id: if self.check_id.is_empty() {
                self.name.clone()
            } else {
                self.check_id.clone()
            },
            name: self.name.clone(),
            status: self.initial_status()?,
            notes: self.notes.clone(),
            service_id,
            service_name,
            service_tags,
            check_type: self.kind().to_owned(),
            interval: duration_text(self.interval),
            timeout: duration_text(self.timeout),
            definition: self.to_definition(),
            ..HealthCheck::default()
        })
    }
}

/// What clients may send; folds the aliases into [`CheckType`].
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct CheckTypeWire {
    #[serde(rename = "CheckID")]
    check_id: String,
    #[serde(rename = "ID")]
    id: String,
    name: String,
    notes: String,
    #[serde(rename = "ServiceID")]
    service_id: String,
    status: String,
    token: String,
    script_args: Vec<String>,
    args: Vec<String>,
    #[serde(rename = "HTTP")]
    http: String,
    header: BTreeMap<String, Vec<String>>,
    method: String,
    body: String,
    disable_redirects: bool,
    #[serde(rename = "TLSServerName")]
    tls_server_name: String,
    #[serde(rename = "TLSSkipVerify")]
    tls_skip_verify: bool,
    #[serde(rename = "TCP")]
    tcp: String,
    #[serde(rename = "TCPUseTLS")]
    tcp_use_tls: bool,
    #[serde(rename = "UDP")]
    udp: String,
    #[serde(rename = "GRPC")]
    grpc: String,
    #[serde(rename = "GRPCUseTLS")]
    grpc_use_tls: bool,
    #[serde(rename = "H2PING")]
    h2ping: String,
    #[serde(rename = "H2PingUseTLS")]
    h2ping_use_tls: Option<bool>,
    #[serde(rename = "OSService")]
    os_service: String,
    alias_node: String,
    alias_service: String,
    #[serde(rename = "DockerContainerID")]
    docker_container_id: String,
    shell: String,
    interval: GoDuration,
    timeout: GoDuration,
    #[serde(rename = "TTL")]
    ttl: GoDuration,
    deregister_critical_service_after: GoDuration,
    success_before_passing: u32,
    failures_before_warning: u32,
    failures_before_critical: u32,
    output_max_size: u32,
}

impl From<CheckTypeWire> for CheckType {
    fn from(w: CheckTypeWire) -> Self {
        let h2ping_use_tls = w.h2ping_use_tls.unwrap_or(!w.h2ping.is_empty());
        CheckType {
            check_id: if w.check_id.is_empty() {
                w.id
            } else {
                w.check_id
            },
            name: w.name,
            notes: w.notes,
            service_id: w.service_id,
            status: w.status,
            token: w.token,
            script_args: if w.script_args.is_empty() {
                w.args
            } else {
                w.script_args
            },
            http: w.http,
            header: w.header,
            method: w.method,
            body: w.body,
            disable_redirects: w.disable_redirects,
            tls_server_name: w.tls_server_name,
            tls_skip_verify: w.tls_skip_verify,
            tcp: w.tcp,
            tcp_use_tls: w.tcp_use_tls,
            udp: w.udp,
            grpc: w.grpc,
            grpc_use_tls: w.grpc_use_tls,
            h2ping: w.h2ping,
            h2ping_use_tls,
            os_service: w.os_service,
            alias_node: w.alias_node,
            alias_service: w.alias_service,
            docker_container_id: w.docker_container_id,
            shell: w.shell,
            interval: w.interval,
            timeout: w.timeout,
            ttl: w.ttl,
            deregister_critical_service_after: w.deregister_critical_service_after,
            success_before_passing: w.success_before_passing,
            failures_before_warning: w.failures_before_warning,
            failures_before_critical: w.failures_before_critical,
            output_max_size: w.output_max_size,
        }
    }
}
