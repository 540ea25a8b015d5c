//! The command table: names, synopses, and the top-level help listing them.

/// One command of the CLI (nested commands have spaces: `kv get`).
#[derive(Debug, Clone, Copy)]
pub struct CommandInfo {
    /// Full name.
    pub name: &'static str,
    /// One-line description shown in listings.
    pub synopsis: &'static str,
}

/// Every command, sorted by name.
pub const COMMANDS: &[CommandInfo] = &[
    c("agent", "Runs a Consul agent"),
    c("catalog", "Interact with the catalog"),
    c("catalog datacenters", "Lists all known datacenters"),
    c("catalog nodes", "Lists all nodes in the given datacenter"),
    c(
        "catalog services",
        "Lists all registered services in a datacenter",
    ),
    c("event", "Fire a new event"),
    c(
        "force-leave",
        "Forces a member of the cluster to enter the \"left\" state",
    ),
    c("info", "Provides debugging information for operators."),
    c("join", "Tell Consul agent to join cluster"),
    c("keygen", "Generates a new encryption key"),
    c("kv", "Interact with the key-value store"),
    c("kv delete", "Removes data from the KV store"),
    c("kv export", "Exports part of the KV tree in JSON format"),
    c("kv get", "Retrieves or lists data from the KV store"),
    c("kv import", "Imports part of the KV tree in JSON format"),
    c("kv put", "Sets or updates data in the KV store"),
    c(
        "leave",
        "Gracefully leaves the Consul cluster and shuts down",
    ),
    c("lock", "Execute a command holding a lock"),
    c("maint", "Controls node or service maintenance mode"),
    c("members", "Lists the members of a Consul cluster"),
    c(
        "operator",
        "Provides cluster-level tools for Consul operators",
    ),
    c(
        "operator raft",
        "Provides commands for interacting with Consul's Raft subsystem",
    ),
    c(
        "operator raft list-peers",
        "Display the current Raft peer configuration",
    ),
    c(
        "operator raft remove-peer",
        "Remove a Consul server from the Raft configuration",
    ),
    c(
        "operator raft transfer-leader",
        "Transfer raft leadership to another node",
    ),
    c("reload", "Triggers the agent to reload configuration files"),
    c("services", "Interact with services"),
    c(
        "services deregister",
        "Deregister services with the local agent",
    ),
    c(
        "services register",
        "Register services with the local agent",
    ),
    c(
        "snapshot",
        "Saves, restores and inspects snapshots of the servers' state",
    ),
    c(
        "snapshot inspect",
        "Displays information about a snapshot file",
    ),
    c("snapshot restore", "Restores a snapshot into the cluster"),
    c("snapshot save", "Saves a snapshot of the servers' state"),
    c("validate", "Validate config files/directories"),
    c("version", "Prints the Consul version"),
    c("watch", "Watch for changes in Consul"),
];

const fn c(name: &'static str, synopsis: &'static str) -> CommandInfo {
    CommandInfo { name, synopsis }
}

/// The longest command named by the leading words of `words` (`["kv", "get", "x"]` → `kv get`,
/// 2 words).
pub fn longest_match(words: &[String]) -> Option<(&'static str, usize)> {
    let mut best = None;
    for n in 1..=words.len().min(3) {
        let candidate = words[..n].join(" ");
        if let Some(info) = COMMANDS.iter().find(|c| c.name == candidate) {
            best = Some((info.name, n));
        }
    }
    best
}

/// Direct children of `parent` (`""`: top-level commands).
pub fn children(parent: &str) -> Vec<&'static CommandInfo> {
    COMMANDS
        .iter()
        .filter(|c| match parent {
            "" => !c.name.contains(' '),
            p => c
                .name
                .strip_prefix(p)
                .and_then(|rest| rest.strip_prefix(' '))
                .is_some_and(|rest| !rest.contains(' ')),
        })
        .collect()
}

/// The top-level help (mitchellh/cli's basic help function).
pub fn top_level_help() -> String {
    let mut out = String::from("Usage: cairn [--version] [--help] <command> [<args>]\n\n");
    out.push_str("Available commands are:\n");
    let commands = children("");
    let width = commands.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for info in commands {
        out.push_str(&format!("    {:width$}    {}\n", info.name, info.synopsis));
    }
    out
}

/// A command's help followed by its subcommands, as mitchellh/cli prints it.
pub fn command_help(name: &str, help: &str) -> String {
    let mut out = help.to_string();
    let subs = children(name);
    if !subs.is_empty() {
        let prefix = name.len() + 1;
        let width = subs
            .iter()
            .map(|c| c.name.len() - prefix)
            .max()
            .unwrap_or(0);
        out.push_str("\n\nSubcommands:");
        for sub in subs {
            out.push_str(&format!(
                "\n    {:width$}    {}",
                &sub.name[prefix..],
                sub.synopsis
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn sorted_and_unique() {
        let names: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(names, sorted);
    }

    #[test]
    fn longest_prefix() {
        assert_eq!(
            longest_match(&words(&["kv", "get", "x"])),
            Some(("kv get", 2))
        );
        assert_eq!(longest_match(&words(&["kv", "nope"])), Some(("kv", 1)));
        assert_eq!(
            longest_match(&words(&["operator", "raft", "list-peers"])),
            Some(("operator raft list-peers", 3))
        );
        assert_eq!(longest_match(&words(&["nope"])), None);
    }

    #[test]
    fn subcommand_listing() {
        let help = command_help("kv", "Usage: cairn kv <subcommand>");
        assert!(help.ends_with(
            "Subcommands:\n    delete    Removes data from the KV store\n    export    Exports part of the KV tree in JSON format\n    get       Retrieves or lists data from the KV store\n    import    Imports part of the KV tree in JSON format\n    put       Sets or updates data in the KV store"
        ), "{help}");
        let top = top_level_help();
        assert!(
            top.contains("\n    kv             Interact with the key-value store\n"),
            "{top}"
        );
        assert!(!top.contains("kv get"));
    }
}
