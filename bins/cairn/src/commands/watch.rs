//! `cairn watch`: follow a view of the cluster with blocking queries; print it once, or run a
//! handler with the JSON on stdin every time it changes.

use super::{block_on, connect, exec};
use crate::cli::format::go_json;
use crate::cli::{parse, HttpFlags, ServerFlags, Ui};
use cairn_client::{event_id_to_index, Backoff, BlockingQuery, Client};
use cairn_types::{Consistency, QueryMeta, QueryOptions};
use clap::{ArgAction, Parser};
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Stdio;
use tokio::io::AsyncWriteExt;

/// Help of `cairn watch`.
pub const HELP: &str = r#"
Usage: cairn watch [options] [child...]

  Watches a view of the cluster for changes. With a child command, the child
  runs with the latest result as JSON on stdin each time the view changes;
  without one, the current result is printed and the command exits.

  -type is required; the other options depend on the type: key (-key),
  keyprefix (-prefix), services, nodes, service (-service, -tag,
  -passingonly), checks (-service or -state), event (-name).
"#;

/// Arguments of `cairn watch`.
#[derive(Debug, Parser)]
#[command(disable_help_flag = true, disable_version_flag = true)]
pub struct WatchArgs {
    #[command(flatten)]
    http: HttpFlags,
    #[command(flatten)]
    server: ServerFlags,
    /// Specifies the key to watch. Only for 'key' type.
    #[arg(long, value_name = "string", default_value = "")]
    key: String,
    /// Specifies an event name to watch. Only for 'event' type.
    #[arg(long, value_name = "string", default_value = "")]
    name: String,
    /// Alias of -passingonly=true.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true", default_value = "false", hide = true)]
    passing: bool,
    /// Specifies if only hosts passing all checks are displayed. Optional for 'service' type,
    /// must be one of `[true|false]`. Defaults false.
    #[arg(long, value_name = "[true|false]", default_value = "")]
    passingonly: String,
    /// Specifies the key prefix to watch. Only for 'keyprefix' type.
    #[arg(long, value_name = "string", default_value = "")]
    prefix: String,
    /// Specifies the service to watch. Required for 'service' type, optional for 'checks'
    /// type.
    #[arg(long, value_name = "string", default_value = "")]
    service: String,
    /// Run the handler through a shell ($SHELL, /bin/sh by default).
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true", default_value = "true")]
    shell: bool,
    /// Specifies the states to watch. Optional for 'checks' type.
    #[arg(long, value_name = "string", default_value = "")]
    state: String,
    /// Specifies the service tag to filter on; repeat for several. Optional for 'service'
    /// type.
    #[arg(long, value_name = "value")]
    tag: Vec<String>,
    /// Specifies the watch type. One of key, keyprefix, services, nodes, service, checks, or
    /// event.
    #[arg(long = "type", value_name = "string", default_value = "")]
    watch_type: String,
    #[arg(hide = true)]
    args: Vec<String>,
}

/// What to watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Watch {
    /// One key.
    Key(String),
    /// Every key under a prefix.
    KeyPrefix(String),
    /// The service catalog.
    Services,
    /// The node catalog.
    Nodes,
    /// Healthy-or-not instances of a service.
    Service {
        /// Service name.
        name: String,
        /// Tags every instance must carry.
        tags: Vec<String>,
        /// Only instances with all checks passing.
        passing: bool,
    },
    /// Checks of a service, or checks in a state.
    Checks {
        /// Service name (exclusive with `state`).
        service: String,
        /// State (`any`, `passing`, `warning`, `critical`).
        state: String,
    },
    /// User events, optionally by name.
    Event(String),
}

/// The watch plan the flags describe, or Consul's error text.
pub fn plan(a: &WatchArgs) -> Result<Watch, String> {
    // Parameters given, as Consul's watch.Parse sees them; each type consumes its own and any
    // left over is an error.
    let mut given: BTreeMap<&str, bool> = BTreeMap::new();
    let passing_only = if a.passingonly.is_empty() {
        a.passing
    } else {
        given.insert("passingonly", true);
        cairn_client::parse_go_bool(&a.passingonly).ok_or_else(|| {
            format!(
                "Failed to parse passingonly flag: strconv.ParseBool: parsing {:?}: invalid syntax",
                a.passingonly
            )
        })?
    };
    for (name, value) in [
        ("key", &a.key),
        ("prefix", &a.prefix),
        ("service", &a.service),
        ("state", &a.state),
        ("name", &a.name),
    ] {
        if !value.is_empty() {
            given.insert(name, true);
        }
    }
    if !a.tag.is_empty() {
        given.insert("tag", true);
    }
    let (watch, consumed): (Watch, &[&str]) = match a.watch_type.as_str() {
        "key" => {
            if a.key.is_empty() {
                return Err("Must specify a single key to watch".into());
            }
            (Watch::Key(a.key.clone()), &["key"])
        }
        "keyprefix" => {
            if a.prefix.is_empty() {
                return Err("Must specify a single prefix to watch".into());
            }
            (Watch::KeyPrefix(a.prefix.clone()), &["prefix"])
        }
        "services" => (Watch::Services, &[]),
        "nodes" => (Watch::Nodes, &[]),
        "service" => {
            if a.service.is_empty() {
                return Err("Must specify a single service to watch".into());
            }
            (
                Watch::Service {
                    name: a.service.clone(),
                    tags: a.tag.clone(),
                    passing: passing_only,
                },
                &["service", "tag", "passingonly"],
            )
        }
        "checks" => {
            if !a.service.is_empty() && !a.state.is_empty() {
                return Err("Cannot specify service and state".into());
            }
            let state = if a.service.is_empty() && a.state.is_empty() {
                "any".to_string()
            } else {
                a.state.clone()
            };
            (
                Watch::Checks {
                    service: a.service.clone(),
                    state,
                },
                // Tag filters on check states are not supported yet: -tag is refused here
                // rather than silently ignored.
                &["service", "state"],
            )
        }
        "event" => (Watch::Event(a.name.clone()), &["name"]),
        other => return Err(format!("Unsupported watch type: {other}")),
    };
    let left: Vec<&str> = given
        .keys()
        .copied()
        .filter(|k| !consumed.contains(k))
        .collect();
    if !left.is_empty() {
        return Err(format!("Invalid parameters: [{}]", left.join(" ")));
    }
    Ok(watch)
}

fn json<T: serde::Serialize>(value: T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

impl Watch {
    /// One round of the watch: the result as JSON and its metadata.
    pub async fn query(
        &self,
        client: &Client,
        opts: &QueryOptions,
    ) -> cairn_client::Result<(Value, QueryMeta)> {
        let no_meta = BTreeMap::new();
        Ok(match self {
            Watch::Key(key) => {
                let (entry, meta) = client.kv().get(key, opts).await?;
                (json(entry), meta)
            }
            Watch::KeyPrefix(prefix) => {
                let (entries, meta) = client.kv().list(prefix, opts).await?;
                (json(entries), meta)
            }
            Watch::Services => {
                let (services, meta) = client.catalog().services(&no_meta, opts).await?;
                (json(services), meta)
            }
            Watch::Nodes => {
                let (nodes, meta) = client.catalog().nodes(&no_meta, opts).await?;
                (json(nodes), meta)
            }
            Watch::Service {
                name,
                tags,
                passing,
            } => {
                let (entries, meta) = client.health().service(name, tags, *passing, opts).await?;
                (json(entries), meta)
            }
            Watch::Checks { service, state } => {
                let (checks, meta) = if state.is_empty() {
                    client.health().checks(service, opts).await?
                } else {
                    client.health().state(state, opts).await?
                };
                (json(checks), meta)
            }
            Watch::Event(name) => {
                let (events, meta) = client.event_list(name, opts).await?;
                // Keep only events after the one the previous round ended with.
                let after = events
                    .iter()
                    .position(|e| event_id_to_index(&e.id) == Some(opts.min_query_index))
                    .map(|i| i + 1)
                    .unwrap_or(0);
                (json(&events[after..]), meta)
            }
        })
    }

    fn type_name(&self) -> &'static str {
        match self {
            Watch::Key(_) => "key",
            Watch::KeyPrefix(_) => "keyprefix",
            Watch::Services => "services",
            Watch::Nodes => "nodes",
            Watch::Service { .. } => "service",
            Watch::Checks { .. } => "checks",
            Watch::Event(_) => "event",
        }
    }
}

/// `cairn watch`.
pub fn run(args: &[String], ui: &Ui) -> i32 {
    let Ok(a) = parse::<WatchArgs>("watch", HELP, args, ui) else {
        return 1;
    };
    if a.watch_type.is_empty() {
        ui.error("Watch type must be specified");
        ui.error("");
        ui.error(&super::help("watch"));
        return 1;
    }
    let watch = match plan(&a) {
        Ok(w) => w,
        Err(e) => {
            ui.error(&e);
            return 1;
        }
    };
    let Ok(client) = connect(&a.http, Some(&a.server), ui) else {
        return 1;
    };
    let base = QueryOptions {
        consistency: if a.server.stale && !matches!(watch, Watch::Event(_)) {
            Consistency::Stale
        } else {
            Consistency::Default
        },
        ..QueryOptions::default()
    };
    block_on(async move {
        if let Err(e) = client.agent().node_name().await {
            ui.error(&format!("Error querying Consul agent: {e}"));
            return 1;
        }
        tokio::select! {
            code = follow(&client, &watch, &base, &a, ui) => code,
            _ = interrupted() => 0,
        }
    })
}

async fn interrupted() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(mut int), Ok(mut term)) => {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        }
        _ => std::future::pending::<()>().await,
    }
}

/// The watch loop: act on each changed result until the handler fails (exit 1) or, without a
/// handler, after printing the first result (exit 0).
async fn follow(
    client: &Client,
    watch: &Watch,
    base: &QueryOptions,
    a: &WatchArgs,
    ui: &Ui,
) -> i32 {
    let mut query = BlockingQuery::new(None).with_backoff(Backoff::consul_watch());
    let mut last: Option<Value> = None;
    let mut backoff = Backoff::consul_watch();
    loop {
        let round = query
            .next(base, |opts| async move { watch.query(client, &opts).await })
            .await;
        let update = match round {
            Ok(u) => {
                backoff.success();
                u
            }
            Err(e) => {
                let retry = backoff.failure();
                ui.error(&format!(
                    "[ERR] consul.watch: Watch (type: {}) errored: {e}, retry in {}",
                    watch.type_name(),
                    cairn_types::duration::format_go_duration(retry)
                ));
                continue;
            }
        };
        if !update.changed && last.is_some() {
            continue;
        }
        if last.as_ref() == Some(&update.value) {
            continue;
        }
        last = Some(update.value.clone());
        if a.args.is_empty() {
            ui.output(&go_json(&update.value, "    "));
            return 0;
        }
        if let Err(e) = run_handler(&a.args, a.shell, update.meta.index, &update.value).await {
            ui.error(&format!("Error executing handler: {e}"));
            return 1;
        }
    }
}

/// Run the handler with the result on stdin (one line of JSON) and `CONSUL_INDEX` set.
pub async fn run_handler(
    args: &[String],
    shell: bool,
    index: u64,
    value: &Value,
) -> Result<(), String> {
    let mut cmd = exec::command(args, shell).ok_or("no handler command")?;
    cmd.env("CONSUL_INDEX", index.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit());
    let mut child = cmd.spawn().map_err(|e| e.to_string())?;
    let mut input = go_json(value, "");
    input.push('\n');
    if let Some(mut stdin) = child.stdin.take() {
        // A handler that does not read its input is fine.
        let _ = stdin.write_all(input.as_bytes()).await;
    }
    let status = child.wait().await.map_err(|e| e.to_string())?;
    if status.success() {
        Ok(())
    } else {
        Err(exec::exit_text(status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> WatchArgs {
        let (ui, out) = Ui::capture();
        let s: Vec<String> = v.iter().map(|x| x.to_string()).collect();
        parse::<WatchArgs>("watch", HELP, &s, &ui).unwrap_or_else(|_| panic!("{}", out.stderr()))
    }

    #[test]
    fn plans_and_consul_errors() {
        assert_eq!(
            plan(&args(&["-type=key", "-key=a/b"])),
            Ok(Watch::Key("a/b".into()))
        );
        assert_eq!(
            plan(&args(&[
                "-type",
                "service",
                "-service=web",
                "-tag=v1",
                "-passingonly=true"
            ])),
            Ok(Watch::Service {
                name: "web".into(),
                tags: vec!["v1".into()],
                passing: true
            })
        );
        assert_eq!(
            plan(&args(&["-type=service", "-service=web", "-passing"])),
            Ok(Watch::Service {
                name: "web".into(),
                tags: vec![],
                passing: true
            })
        );
        assert_eq!(
            plan(&args(&["-type=checks"])),
            Ok(Watch::Checks {
                service: String::new(),
                state: "any".into()
            })
        );
        assert_eq!(
            plan(&args(&["-type=key"])),
            Err("Must specify a single key to watch".into())
        );
        assert_eq!(
            plan(&args(&["-type=keyprefix"])),
            Err("Must specify a single prefix to watch".into())
        );
        assert_eq!(
            plan(&args(&["-type=service"])),
            Err("Must specify a single service to watch".into())
        );
        assert_eq!(
            plan(&args(&["-type=checks", "-service=a", "-state=critical"])),
            Err("Cannot specify service and state".into())
        );
        assert_eq!(
            plan(&args(&["-type=bogus"])),
            Err("Unsupported watch type: bogus".into())
        );
        assert_eq!(
            plan(&args(&["-type=checks", "-tag=x"])),
            Err("Invalid parameters: [tag]".into())
        );
        assert_eq!(
            plan(&args(&["-type=services", "-key=x", "-prefix=y"])),
            Err("Invalid parameters: [key prefix]".into())
        );
        assert!(plan(&args(&[
            "-type=service",
            "-service=a",
            "-passingonly=maybe"
        ]))
        .unwrap_err()
        .starts_with("Failed to parse passingonly flag"));
    }

    #[test]
    fn handler_arguments_are_not_parsed_as_flags() {
        let a = args(&["-type=nodes", "jq", "-r", ".[]"]);
        assert_eq!(a.args, vec!["jq", "-r", ".[]"]);
    }

    #[tokio::test]
    async fn handler_gets_json_and_index() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let script = format!("cat > {0}; echo \" $CONSUL_INDEX\" >> {0}", out.display());
        run_handler(&[script], true, 42, &serde_json::json!({"a": "<b>"}))
            .await
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "{\"a\":\"\\u003cb\\u003e\"}\n 42\n"
        );
        let err = run_handler(&["exit 4".into()], true, 1, &Value::Null)
            .await
            .unwrap_err();
        assert_eq!(err, "exit status 4");
    }
}
