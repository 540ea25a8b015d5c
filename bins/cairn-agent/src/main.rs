//! `cairn-agent`: runs an agent, exactly as `cairn agent` does, without the rest of the CLI.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(cairn_agent::cli::agent_command(args));
}
