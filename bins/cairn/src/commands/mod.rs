//! The commands. Each module has its clap arguments, its help text and a `run` function
//! returning the exit code; this module maps command names to them.

pub mod catalog;
pub mod event;
pub mod exec;
pub mod info;
pub mod kv;
pub mod lock;
pub mod maint;
pub mod members;
pub mod operator;
pub mod services;
pub mod simple;
pub mod snapshot;
pub mod validate;
pub mod version;
pub mod watch;

use crate::cli::{usage, HttpFlags, ServerFlags, Ui, RUN_RESULT_HELP};
use cairn_client::Client;
use clap::CommandFactory;
use std::future::Future;

/// Run a command by its full name; returns the exit code (or [`RUN_RESULT_HELP`]).
pub fn dispatch(name: &str, args: &[String], ui: &Ui) -> i32 {
    match name {
        "catalog" | "kv" | "operator" | "operator raft" | "services" | "snapshot" => {
            RUN_RESULT_HELP
        }
        "catalog datacenters" => catalog::datacenters(args, ui),
        "catalog nodes" => catalog::nodes(args, ui),
        "catalog services" => catalog::services(args, ui),
        "event" => event::run(args, ui),
        "force-leave" => simple::force_leave(args, ui),
        "info" => info::run(args, ui),
        "join" => simple::join(args, ui),
        "keygen" => simple::keygen(args, ui),
        "kv delete" => kv::delete(args, ui),
        "kv export" => kv::export(args, ui),
        "kv get" => kv::get(args, ui),
        "kv import" => kv::import(args, ui),
        "kv put" => kv::put(args, ui),
        "leave" => simple::leave(args, ui),
        "lock" => lock::run(args, ui),
        "maint" => maint::run(args, ui),
        "members" => members::run(args, ui),
        "operator raft list-peers" => operator::list_peers(args, ui),
        "operator raft remove-peer" => operator::remove_peer(args, ui),
        "operator raft transfer-leader" => operator::transfer_leader(args, ui),
        "reload" => simple::reload(args, ui),
        "services deregister" => services::deregister(args, ui),
        "snapshot inspect" => snapshot::inspect(args, ui),
        "snapshot restore" => snapshot::restore(args, ui),
        "snapshot save" => snapshot::save(args, ui),
        "services register" => services::register(args, ui),
        "validate" => validate::run(args, ui),
        "version" => version::run(args, ui),
        "watch" => watch::run(args, ui),
        _ => RUN_RESULT_HELP,
    }
}

/// The help text of a command (without its subcommand list).
pub fn help(name: &str) -> String {
    match name {
        "agent" => "Usage: cairn agent [options]\n\n  Starts a Cairn agent.".to_string(),
        "catalog" => catalog::PARENT_HELP.trim().to_string(),
        "catalog datacenters" => render::<catalog::DatacentersArgs>(catalog::DATACENTERS_HELP),
        "catalog nodes" => render::<catalog::NodesArgs>(catalog::NODES_HELP),
        "catalog services" => render::<catalog::ServicesArgs>(catalog::SERVICES_HELP),
        "event" => render::<event::EventArgs>(event::HELP),
        "force-leave" => render::<simple::ForceLeaveArgs>(simple::FORCE_LEAVE_HELP),
        "info" => render::<info::InfoArgs>(info::HELP),
        "join" => render::<simple::JoinArgs>(simple::JOIN_HELP),
        "keygen" => render::<simple::KeygenArgs>(simple::KEYGEN_HELP),
        "kv" => kv::PARENT_HELP.trim().to_string(),
        "kv delete" => render::<kv::DeleteArgs>(kv::DELETE_HELP),
        "kv export" => render::<kv::ExportArgs>(kv::EXPORT_HELP),
        "kv get" => render::<kv::GetArgs>(kv::GET_HELP),
        "kv import" => render::<kv::ImportArgs>(kv::IMPORT_HELP),
        "kv put" => render::<kv::PutArgs>(kv::PUT_HELP),
        "leave" => render::<simple::LeaveArgs>(simple::LEAVE_HELP),
        "lock" => render::<lock::LockArgs>(lock::HELP),
        "maint" => render::<maint::MaintArgs>(maint::HELP),
        "members" => render::<members::MembersArgs>(members::HELP),
        "operator" => operator::PARENT_HELP.trim().to_string(),
        "operator raft" => operator::RAFT_HELP.trim().to_string(),
        "operator raft list-peers" => render::<operator::ListPeersArgs>(operator::LIST_PEERS_HELP),
        "operator raft remove-peer" => {
            render::<operator::RemovePeerArgs>(operator::REMOVE_PEER_HELP)
        }
        "operator raft transfer-leader" => {
            render::<operator::TransferLeaderArgs>(operator::TRANSFER_LEADER_HELP)
        }
        "reload" => render::<simple::ReloadArgs>(simple::RELOAD_HELP),
        "snapshot" => snapshot::PARENT_HELP.trim().to_string(),
        "snapshot inspect" => render::<snapshot::InspectArgs>(snapshot::INSPECT_HELP),
        "snapshot restore" => render::<snapshot::RestoreArgs>(snapshot::RESTORE_HELP),
        "snapshot save" => render::<snapshot::SaveArgs>(snapshot::SAVE_HELP),
        "services" => services::PARENT_HELP.trim().to_string(),
        "services deregister" => render::<services::DeregisterArgs>(services::DEREGISTER_HELP),
        "services register" => render::<services::RegisterArgs>(services::REGISTER_HELP),
        "validate" => render::<validate::ValidateArgs>(validate::HELP),
        "version" => render::<version::VersionArgs>(version::HELP),
        "watch" => render::<watch::WatchArgs>(watch::HELP),
        other => format!("Usage: cairn {other}"),
    }
}

fn render<T: CommandFactory>(text: &str) -> String {
    usage::render(&T::command(), text)
}

/// A client for the flags, or Consul's `Error connecting to Consul agent: …` (exit 1).
pub fn connect(http: &HttpFlags, server: Option<&ServerFlags>, ui: &Ui) -> Result<Client, i32> {
    http.client(server).map_err(|e| {
        ui.error(&format!("Error connecting to Consul agent: {e}"));
        1
    })
}

/// Run an async command body on a small single-threaded runtime.
pub fn block_on(body: impl Future<Output = i32>) -> i32 {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(body),
        Err(e) => {
            eprintln!("Error starting runtime: {e}");
            1
        }
    }
}
