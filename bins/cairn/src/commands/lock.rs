//! `cairn lock`: run a child process while holding a lock or a semaphore slot.

use super::{block_on, connect, exec};
use crate::cli::{parse, HttpFlags, ServerFlags, Ui};
use cairn_client::{Client, Error, Lock, Lost, Semaphore, SessionOptions, SEMAPHORE_KEY};
use cairn_types::GoDuration;
use clap::{ArgAction, Parser};
use std::process::Stdio;
use std::time::Duration;
use tokio::sync::watch;

/// How long the child gets between SIGTERM and SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(5);
/// Pause between monitor retries.
const MONITOR_RETRY_TIME: Duration = Duration::from_secs(1);

/// Help of `cairn lock`.
pub const HELP: &str = r#"
Usage: cairn lock [options] prefix child...

  Takes a lock (or a semaphore slot) under the given KV prefix, then runs the
  child command, which may assume it holds the lock while it runs. If the
  lock is lost or the agent becomes unreachable, the child gets SIGTERM and
  some time to exit before it is killed.

  With -n=1 (the default) there is a single holder: mutual exclusion. A
  larger -n turns the lock into a semaphore with that many holders.

  The token used must be allowed to write under the prefix.
"#;

fn parse_duration(text: &str) -> Result<Duration, String> {
    GoDuration::parse(text)
        .map(|d| d.0)
        .map_err(|e| e.to_string())
}

/// Arguments of `cairn lock`.
#[derive(Debug, Parser)]
#[command(disable_help_flag = true, disable_version_flag = true)]
pub struct LockArgs {
    #[command(flatten)]
    http: HttpFlags,
    #[command(flatten)]
    server: ServerFlags,
    /// Exit 2 when the child exits with an error; otherwise the child's failure is not
    /// propagated. The default value is false.
    #[arg(long = "child-exit-code", action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    child_exit_code: bool,
    /// How many 500 errors (or unreachable-agent errors) to ride out, one second apart, while
    /// monitoring the lock before treating it as lost. 0 disables retries. The default value
    /// is 3.
    #[arg(
        long = "monitor-retry",
        value_name = "int",
        default_value_t = 3,
        allow_negative_numbers = true
    )]
    monitor_retry: i64,
    /// Maximum number of concurrent holders; above 1 the lock becomes a semaphore. The
    /// default value is 1.
    #[arg(
        long = "n",
        value_name = "int",
        default_value_t = 1,
        allow_negative_numbers = true
    )]
    limit: i64,
    /// Name of the lock session; generated from the child command when not given.
    #[arg(long, value_name = "string", default_value = "")]
    name: String,
    /// Pass stdin to the child process.
    #[arg(long = "pass-stdin", action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    pass_stdin: bool,
    /// Run the child through a shell ($SHELL, /bin/sh by default). The default value is true.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true", default_value = "true")]
    shell: bool,
    /// Give up acquiring the lock after this long, as a duration like "1s" or "3h". The
    /// default value is 0 (wait forever).
    #[arg(long, value_name = "duration", default_value = "0s", value_parser = parse_duration)]
    timeout: Duration,
    /// DEPRECATED. Use -timeout instead.
    #[arg(long, value_name = "duration", value_parser = parse_duration, hide = true)]
    r#try: Option<Duration>,
    /// Print what the command does.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    verbose: bool,
    #[arg(hide = true)]
    args: Vec<String>,
}

/// A lock or a semaphore.
enum Holder {
    Lock(Lock),
    Semaphore(Semaphore),
}

impl Holder {
    async fn acquire(
        &mut self,
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<Option<Lost>, Error> {
        match self {
            Holder::Lock(l) => l.acquire(stop).await,
            Holder::Semaphore(s) => s.acquire(stop).await,
        }
    }

    async fn release(&mut self) -> Result<(), Error> {
        match self {
            Holder::Lock(l) => l.release().await,
            Holder::Semaphore(s) => s.release().await,
        }
    }

    async fn destroy(&self) -> Result<(), Error> {
        match self {
            Holder::Lock(l) => l.destroy().await,
            Holder::Semaphore(s) => s.destroy().await,
        }
    }
}

/// The lock key `cairn lock` uses under a prefix (Consul's `path.Join(prefix, ".lock")`).
pub fn lock_key(prefix: &str) -> String {
    let prefix = prefix.trim_end_matches('/');
    if prefix.is_empty() {
        SEMAPHORE_KEY.to_string()
    } else {
        format!("{prefix}/{SEMAPHORE_KEY}")
    }
}

/// `cairn lock`.
pub fn run(args: &[String], ui: &Ui) -> i32 {
    let Ok(a) = parse::<LockArgs>("lock", HELP, args, ui) else {
        return 1;
    };
    if a.limit <= 0 {
        ui.error("Lock holder limit must be positive");
        return 1;
    }
    if a.args.len() < 2 {
        ui.error("Key prefix and child command must be specified");
        return 1;
    }
    let prefix = a.args[0].trim_start_matches('/').to_string();
    let child_args = a.args[1..].to_vec();
    let timeout = a.r#try.unwrap_or(a.timeout);
    let name = if a.name.is_empty() {
        format!("Consul lock for '{}' at '{}'", child_args.join(" "), prefix)
    } else {
        a.name.clone()
    };
    if a.monitor_retry < 0 {
        ui.error("Number for 'monitor-retry' must be >= 0");
        return 1;
    }
    let Ok(client) = connect(&a.http, Some(&a.server), ui) else {
        return 1;
    };
    let opts = SessionOptions {
        session_name: name,
        session_ttl: Duration::from_secs(15),
        monitor_retries: u32::try_from(a.monitor_retry).unwrap_or(u32::MAX),
        monitor_retry_time: MONITOR_RETRY_TIME,
        try_for: (!timeout.is_zero()).then_some(timeout),
    };
    block_on(hold_and_run(client, a, prefix, child_args, opts, ui))
}

async fn hold_and_run(
    client: Client,
    a: LockArgs,
    prefix: String,
    child_args: Vec<String>,
    opts: SessionOptions,
    ui: &Ui,
) -> i32 {
    if let Err(e) = client.agent().node_name().await {
        ui.error(&format!("Error querying Consul agent: {e}"));
        return 1;
    }
    let verbose = |msg: &str| {
        if a.verbose {
            ui.output(msg);
        }
    };
    let shutdown = shutdown_signal();
    let mut holder = if a.limit == 1 {
        let key = lock_key(&prefix);
        verbose(&format!("Setting up lock at path: {key}"));
        Holder::Lock(Lock::new(client.clone(), &key).with_options(opts))
    } else {
        verbose(&format!(
            "Setting up semaphore (limit {}) at prefix: {prefix}",
            a.limit
        ));
        let limit = usize::try_from(a.limit).unwrap_or(usize::MAX);
        match Semaphore::new(client.clone(), &prefix, limit) {
            Ok(s) => Holder::Semaphore(s.with_options(opts)),
            Err(e) => {
                ui.error(&format!("Lock setup failed: {e}"));
                return 1;
            }
        }
    };
    verbose("Attempting lock acquisition");
    let mut lost = match holder.acquire(wait_for(shutdown.clone())).await {
        Ok(Some(lost)) => lost,
        Ok(None) => {
            ui.error("Shutdown triggered or timeout during lock acquisition");
            return 1;
        }
        Err(e) => {
            ui.error(&format!("Lock acquisition failed: {e}"));
            return 1;
        }
    };
    let mut child_code = 0;
    if *shutdown.borrow() {
        ui.error("Shutdown triggered during lock acquisition");
    } else {
        verbose("Starting handler");
        child_code = run_child(&a, &child_args, ui, &mut lost, shutdown.clone()).await;
    }
    if let Err(e) = holder.release().await {
        ui.error(&format!("Lock release failed: {e}"));
        return 1;
    }
    match holder.destroy().await {
        Ok(()) => verbose("Cleanup succeeded"),
        Err(Error::InUse(_)) => verbose("Cleanup aborted, lock in use"),
        Err(e) => {
            ui.error(&format!("Lock cleanup failed: {e}"));
            return 1;
        }
    }
    if a.child_exit_code {
        child_code
    } else {
        0
    }
}

/// Run the child while the lock is held; returns 2 when the child failed, 0 otherwise.
async fn run_child(
    a: &LockArgs,
    args: &[String],
    ui: &Ui,
    lost: &mut Lost,
    shutdown: watch::Receiver<bool>,
) -> i32 {
    let verbose = |msg: &str| {
        if a.verbose {
            ui.output(msg);
        }
    };
    let Some(mut cmd) = exec::command(args, a.shell) else {
        ui.error("Error executing handler: no command");
        return 2;
    };
    cmd.env("CONSUL_LOCK_HELD", "true")
        .stdin(if a.pass_stdin {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit());
    if a.pass_stdin {
        verbose("Stdin passed to handler process");
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            ui.error(&format!("Error starting handler: {e}"));
            return 2;
        }
    };
    let pid = child.id();
    tokio::select! {
        status = child.wait() => {
            let code = match status {
                Ok(s) if s.success() => 0,
                Ok(s) => {
                    ui.error(&format!("Error running handler: {}", exec::exit_text(s)));
                    2
                }
                Err(e) => {
                    ui.error(&format!("Error running handler: {e}"));
                    2
                }
            };
            verbose("Child terminated, releasing lock");
            return code;
        }
        _ = lost.wait() => verbose("Lock lost, killing child"),
        _ = wait_for(shutdown) => verbose("Shutdown triggered, killing child"),
    }
    // Terminate gracefully, then hard.
    if let Some(pid) = pid {
        verbose(&format!("Terminating child pid {pid}"));
        if let Err(e) = exec::signal(pid, libc::SIGTERM) {
            ui.error(&format!("Failed to terminate {pid}: {e}"));
        }
        match tokio::time::timeout(KILL_GRACE, child.wait()).await {
            Ok(_) => verbose("Child terminated"),
            Err(_) => {
                verbose(&format!(
                    "Child did not exit after grace period of {}",
                    cairn_types::duration::format_go_duration(KILL_GRACE)
                ));
                verbose(&format!("Killing child pid {pid}"));
                if let Err(e) = child.kill().await {
                    ui.error(&format!("Failed to kill {pid}: {e}"));
                }
            }
        }
    }
    0
}

/// A flag that turns true on SIGINT or SIGTERM.
fn shutdown_signal() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            return;
        };
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        let _ = tx.send(true);
    });
    rx
}

async fn wait_for(mut flag: watch::Receiver<bool>) {
    if flag.wait_for(|v| *v).await.is_err() {
        // The signal task is gone (no signal support): never trigger.
        std::future::pending::<()>().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_key_layout() {
        assert_eq!(lock_key("service/web"), "service/web/.lock");
        assert_eq!(lock_key("service/web/"), "service/web/.lock");
        assert_eq!(lock_key(""), ".lock");
    }

    #[test]
    fn argument_checks() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let (ui, out) = Ui::capture();
        assert_eq!(run(&s(&["-n=0", "p", "true"]), &ui), 1);
        assert_eq!(out.stderr(), "Lock holder limit must be positive\n");
        let (ui, out) = Ui::capture();
        assert_eq!(run(&s(&["p"]), &ui), 1);
        assert_eq!(
            out.stderr(),
            "Key prefix and child command must be specified\n"
        );
        let (ui, out) = Ui::capture();
        assert_eq!(run(&s(&["-monitor-retry=-1", "p", "true"]), &ui), 1);
        assert_eq!(out.stderr(), "Number for 'monitor-retry' must be >= 0\n");
        // Flags after the prefix belong to the child.
        let parsed = parse::<LockArgs>(
            "lock",
            HELP,
            &s(&["-n", "3", "-timeout=2s", "p", "ls", "-la"]),
            &ui,
        )
        .unwrap();
        assert_eq!(parsed.limit, 3);
        assert_eq!(parsed.timeout, Duration::from_secs(2));
        assert_eq!(parsed.args, s(&["p", "ls", "-la"]));
    }
}
