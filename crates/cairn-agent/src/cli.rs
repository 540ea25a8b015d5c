//! `cairn agent` (and the `cairn-agent` binary): parse Consul's agent flags and config files,
//! start the agent, and run until a signal or `PUT /v1/agent/leave` stops it. Shared by both
//! binaries so they stay thin.

use crate::logging::{ConsulLogLayer, LogHub};
use crate::Agent;
use cairn_config::{AgentFlags, ConfigError, LogLevel, RuntimeConfig};
use std::sync::Arc;
use tracing_subscriber::layer::SubscriberExt;

/// Run `cairn agent` with the arguments after `agent`; returns the process exit code.
pub fn agent_command(args: Vec<String>) -> i32 {
    let flags = match AgentFlags::parse_from_go_args(args) {
        Ok(f) => f,
        Err(ConfigError::HelpRequested(text)) => {
            println!("{text}");
            return 0;
        }
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let (config, warnings) = match cairn_config::load(&flags) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("==> {e}");
            return 1;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("cairn-agent")
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("==> Error starting runtime: {e}");
            return 1;
        }
    };
    let hub = LogHub::new();
    let level = match config.log.level {
        LogLevel::Trace => tracing::Level::TRACE,
        LogLevel::Debug => tracing::Level::DEBUG,
        LogLevel::Info => tracing::Level::INFO,
        LogLevel::Warn => tracing::Level::WARN,
        LogLevel::Error => tracing::Level::ERROR,
    };
    // hickory logs every DNS request at info; keep it to warnings.
    let filter = tracing_subscriber::filter::Targets::new()
        .with_default(level)
        .with_target("hickory_server", tracing::Level::WARN)
        .with_target("hickory_proto", tracing::Level::WARN)
        .with_target("hickory_net", tracing::Level::WARN);
    let subscriber = tracing_subscriber::registry()
        .with(filter)
        .with(ConsulLogLayer::new(hub.clone(), level, config.log.json));
    if tracing::subscriber::set_global_default(subscriber).is_err() {
        eprintln!("==> logging was already initialised");
    }
    print_banner(&config);
    for w in &warnings {
        tracing::warn!(target: "agent", "{w}");
    }
    let reload_flags = flags.clone();
    let reload: crate::ReloadFn = Arc::new(move || {
        cairn_config::load(&reload_flags)
            .map(|(cfg, warnings)| {
                for w in warnings {
                    tracing::warn!(target: "agent", "{w}");
                }
                cfg
            })
            .map_err(|e| e.to_string())
    });
    runtime.block_on(run(config, hub, reload))
}

fn print_banner(cfg: &RuntimeConfig) {
    let port = |p: Option<u16>| p.map_or("-1".to_string(), |p| p.to_string());
    let clients: Vec<String> = cfg.client_addrs.iter().map(|a| a.to_string()).collect();
    println!("==> Starting Cairn agent...");
    println!(
        "               Version: '{}' (Consul API {})",
        env!("CARGO_PKG_VERSION"),
        crate::CONSUL_COMPAT_VERSION
    );
    println!("             Node name: '{}'", cfg.node_name);
    println!(
        "            Datacenter: '{}' (Segment: '<all>')",
        cfg.datacenter
    );
    println!(
        "                Server: {} (Bootstrap: {})",
        cfg.server, cfg.bootstrap
    );
    println!(
        "           Client Addr: [{}] (HTTP: {}, HTTPS: {}, gRPC: {}, DNS: {})",
        clients.join(" "),
        port(cfg.ports.http),
        port(cfg.ports.https),
        port(cfg.ports.grpc),
        port(cfg.ports.dns)
    );
    println!(
        "          Cluster Addr: {} (LAN: {}, WAN: {})",
        crate::advertise_addr(cfg),
        cfg.ports.serf_lan,
        port(cfg.ports.serf_wan)
    );
    println!("     Gossip Encryption: {}", cfg.encrypt.key.is_some());
    println!("           ACL Enabled: {}", cfg.acl.enabled);
    println!("    ACL Default Policy: {}", cfg.acl.default_policy);
    println!();
    println!("==> Log data will now stream in as it occurs:");
    println!();
}

#[cfg(unix)]
async fn run(config: RuntimeConfig, hub: LogHub, reload: crate::ReloadFn) -> i32 {
    use tokio::signal::unix::{signal, SignalKind};
    let leave_on_terminate = config.join.leave_on_terminate;
    let skip_leave_on_interrupt = config.join.skip_leave_on_interrupt;
    let agent = match Agent::start(config, hub, Some(reload)).await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("==> Error starting agent: {e}");
            return 1;
        }
    };
    println!("==> Cairn agent running!");
    let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        eprintln!("==> Error installing signal handlers");
        agent.shutdown().await;
        return 1;
    };
    loop {
        let graceful = tokio::select! {
            _ = agent.stopped() => {
                println!("==> Gracefully shutting down agent...");
                true
            }
            _ = int.recv() => {
                println!("==> Caught signal: interrupt");
                !skip_leave_on_interrupt
            }
            _ = term.recv() => {
                println!("==> Caught signal: terminated");
                leave_on_terminate
            }
            _ = hup.recv() => {
                println!("==> Caught signal: hangup");
                println!("==> Reloading configuration...");
                if let Err(e) = agent.reload().await {
                    tracing::error!(target: "agent", error = %e, "reload failed");
                }
                continue;
            }
        };
        if graceful {
            println!("==> Gracefully shutting down agent...");
            agent.set_leaving();
        }
        // A second signal while shutting down exits at once.
        tokio::select! {
            _ = agent.shutdown() => {}
            _ = int.recv() => return 1,
            _ = term.recv() => return 1,
        }
        return 0;
    }
}

#[cfg(not(unix))]
async fn run(config: RuntimeConfig, hub: LogHub, reload: crate::ReloadFn) -> i32 {
    let agent = match Agent::start(config, hub, Some(reload)).await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("==> Error starting agent: {e}");
            return 1;
        }
    };
    let _ = tokio::signal::ctrl_c().await;
    agent.shutdown().await;
    0
}
