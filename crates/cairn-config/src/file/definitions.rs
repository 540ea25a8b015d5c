//! `service`/`services` and `check`/`checks` definitions in config files.
//!
//! These decode into the same request types as `PUT /v1/agent/service/register` and
//! `/v1/agent/check/register` (keys in any case, snake_case or CamelCase, Go durations), after
//! folding HCL's block shapes into JSON's: a single `checks { … }` block is a one-element list,
//! repeated `check { … }` blocks add to `checks`, and `meta { … }`-style blocks given as lists of
//! objects become one object.

use crate::decode::{describe, Cx, FromValue};
use crate::error::ConfigError;
use cairn_types::lenient::{self, normalize_key};
use cairn_types::{AgentServiceRegistration, CheckType};
use serde_json::{Map, Value};

/// A service definition from a config source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceDefinition {
    /// The file (or other source) that defined it.
    pub source: String,
    /// The definition, as a registration body.
    pub registration: AgentServiceRegistration,
}

/// A node- or service-level check definition from a config source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckDefinition {
    /// The file (or other source) that defined it.
    pub source: String,
    /// The definition, as a check registration body.
    pub check: CheckType,
}

/// Keys of a service definition, normalized (lower-case, no `_`/`-`). Keys Cairn does not act on
/// (`proxy`, `connect`, `socket_path`, …) are known, so they do not draw an unknown-key warning.
const SERVICE_KEYS: &[&str] = &[
    "kind",
    "id",
    "name",
    "tags",
    "port",
    "address",
    "taggedaddresses",
    "enabletagoverride",
    "meta",
    "weights",
    "check",
    "checks",
    "token",
    "socketpath",
    "proxy",
    "connect",
    "namespace",
    "partition",
    "locality",
];

/// Keys of a check definition, normalized.
const CHECK_KEYS: &[&str] = &[
    "id",
    "checkid",
    "name",
    "notes",
    "serviceid",
    "status",
    "token",
    "scriptargs",
    "args",
    "http",
    "header",
    "method",
    "body",
    "disableredirects",
    "tlsservername",
    "tlsskipverify",
    "tcp",
    "tcpusetls",
    "udp",
    "grpc",
    "grpcusetls",
    "h2ping",
    "h2pingusetls",
    "osservice",
    "aliasnode",
    "aliasservice",
    "dockercontainerid",
    "shell",
    "interval",
    "timeout",
    "ttl",
    "deregistercriticalserviceafter",
    "successbeforepassing",
    "failuresbeforewarning",
    "failuresbeforecritical",
    "outputmaxsize",
    "namespace",
    "partition",
];

/// Object-valued keys that HCL may give as a list of blocks.
const OBJECT_KEYS: &[&str] = &[
    "meta",
    "weights",
    "taggedaddresses",
    "proxy",
    "connect",
    "header",
];

impl FromValue for ServiceDefinition {
    fn from_value(v: &Value, path: &str, cx: &mut Cx) -> Result<Self, ConfigError> {
        let object = single_object(v, path, cx)?;
        let shaped = shape_service(object, path, cx)?;
        let registration: AgentServiceRegistration = lenient::from_value(&Value::Object(shaped))
            .map_err(|e| cx.error(&lenient_path(path, e.path()), e.message()))?;
        Ok(ServiceDefinition {
            source: cx.source.to_owned(),
            registration,
        })
    }
}

impl FromValue for CheckDefinition {
    fn from_value(v: &Value, path: &str, cx: &mut Cx) -> Result<Self, ConfigError> {
        let object = single_object(v, path, cx)?;
        let shaped = shape_check(object, path, cx)?;
        let check: CheckType = lenient::from_value(&Value::Object(shaped))
            .map_err(|e| cx.error(&lenient_path(path, e.path()), e.message()))?;
        Ok(CheckDefinition {
            source: cx.source.to_owned(),
            check,
        })
    }
}

fn lenient_path(path: &str, inner: &str) -> String {
    if inner.is_empty() {
        path.to_owned()
    } else {
        format!("{path}.{inner}")
    }
}

fn single_object<'v>(
    v: &'v Value,
    path: &str,
    cx: &Cx,
) -> Result<&'v Map<String, Value>, ConfigError> {
    match v {
        Value::Object(map) => Ok(map),
        other => Err(cx.error(path, format!("expected an object, got {}", describe(other)))),
    }
}

fn shape_service(
    object: &Map<String, Value>,
    path: &str,
    cx: &mut Cx,
) -> Result<Map<String, Value>, ConfigError> {
    let mut out = Map::new();
    let mut extra_checks = Vec::new();
    for (key, value) in object {
        let norm = normalize_key(key);
        let child = format!("{path}.{key}");
        if !SERVICE_KEYS.contains(&norm.as_str()) {
            let source = cx.source.to_owned();
            cx.warn(format!("config: {source}: unknown key \"{child}\""));
            continue;
        }
        let value = match norm.as_str() {
            "check" => match value {
                // Repeated `check { … }` blocks inside one service: the first is `check`, the
                // rest join `checks`, in order.
                Value::Array(items) => {
                    let mut items = items.iter();
                    let first = items.next().cloned().unwrap_or(Value::Null);
                    extra_checks.extend(items.cloned());
                    shape_check_value(&first, &child, cx)?
                }
                other => shape_check_value(other, &child, cx)?,
            },
            "checks" => {
                let items = match value {
                    Value::Array(items) => items.clone(),
                    Value::Object(_) => vec![value.clone()],
                    // Not a list: left for the decoder to refuse with its path.
                    other => {
                        out.insert(key.clone(), other.clone());
                        continue;
                    }
                };
                let shaped = items
                    .iter()
                    .enumerate()
                    .map(|(i, c)| shape_check_value(c, &format!("{child}[{i}]"), cx))
                    .collect::<Result<Vec<_>, _>>()?;
                Value::Array(shaped)
            }
            "taggedaddresses" => {
                let mut folded = fold_objects(value);
                if let Value::Object(map) = &mut folded {
                    for entry in map.values_mut() {
                        *entry = fold_objects(entry);
                    }
                }
                folded
            }
            "weights" => with_default_weights(fold_objects(value)),
            n if OBJECT_KEYS.contains(&n) => fold_objects(value),
            _ => value.clone(),
        };
        out.insert(key.clone(), value);
    }
    if !extra_checks.is_empty() {
        let base = path.to_owned();
        let mut shaped = Vec::new();
        for (i, c) in extra_checks.iter().enumerate() {
            shaped.push(shape_check_value(
                c,
                &format!("{base}.check[{}]", i + 1),
                cx,
            )?);
        }
        let key = out
            .keys()
            .find(|k| normalize_key(k) == "checks")
            .cloned()
            .unwrap_or_else(|| "checks".to_owned());
        match out.entry(key).or_insert_with(|| Value::Array(Vec::new())) {
            Value::Array(items) => items.extend(shaped),
            _ => return Err(cx.error(path, "checks: expected a list")),
        }
    }
    Ok(out)
}

fn shape_check_value(v: &Value, path: &str, cx: &mut Cx) -> Result<Value, ConfigError> {
    match v {
        Value::Object(map) => Ok(Value::Object(shape_check(map, path, cx)?)),
        other => Ok(other.clone()),
    }
}

fn shape_check(
    object: &Map<String, Value>,
    path: &str,
    cx: &mut Cx,
) -> Result<Map<String, Value>, ConfigError> {
    let mut out = Map::new();
    for (key, value) in object {
        let norm = normalize_key(key);
        if !CHECK_KEYS.contains(&norm.as_str()) {
            let source = cx.source.to_owned();
            cx.warn(format!("config: {source}: unknown key \"{path}.{key}\""));
            continue;
        }
        let value = if norm == "header" {
            fold_objects(value)
        } else {
            value.clone()
        };
        out.insert(key.clone(), value);
    }
    Ok(out)
}

/// In a config file an absent weight is 1, not 0 (Consul's builder starts from
/// `{passing: 1, warning: 1}` and overrides what is given).
fn with_default_weights(v: Value) -> Value {
    match v {
        Value::Object(mut map) => {
            for member in ["passing", "warning"] {
                if !map.keys().any(|k| normalize_key(k) == member) {
                    map.insert(member.to_owned(), Value::from(1));
                }
            }
            Value::Object(map)
        }
        other => other,
    }
}

/// A list of objects (repeated HCL blocks) becomes one object, later keys winning.
fn fold_objects(v: &Value) -> Value {
    match v {
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_object) => {
            let mut merged = Map::new();
            for item in items {
                if let Value::Object(map) = item {
                    for (k, val) in map {
                        merged.insert(k.clone(), val.clone());
                    }
                }
            }
            Value::Object(merged)
        }
        other => other.clone(),
    }
}
