//! Script checks (`Args`): exit 0 passing, 1 warning, anything else critical; the output is
//! stdout and stderr interleaved through one pipe, cut to its last `output_max_size` bytes
//! with Consul's `Captured N of M bytes` marker.
//!
//! Failures to start the command and timeouts are reported at once, bypassing the
//! thresholds, as Consul does.
//!
//! The command runs directly (no shell) in its own process group. On timeout the whole group
//! gets SIGKILL, so a shell's background children die with it; the same happens when the check
//! is removed while a run is in flight.

use super::{Outcome, Probe};
use crate::goerr;
use crate::output::TailBuffer;
use cairn_types::duration::format_go_duration;
use cairn_types::CheckStatus;
use std::os::fd::OwnedFd;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// How long to keep reading output after killing a timed-out group (a process that left the
/// group could hold the pipe open forever).
const DRAIN_AFTER_KILL: Duration = Duration::from_secs(1);

/// A script check.
pub(crate) struct ScriptProbe {
    pub(crate) args: Vec<String>,
    pub(crate) timeout: Duration,
    pub(crate) output_max: usize,
}

/// Sends SIGKILL to a process group when dropped, unless disarmed.
struct GroupKill {
    pgid: Option<i32>,
}

impl GroupKill {
    fn kill(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            // SAFETY: kill(2) takes plain integers and has no memory effects. The group cannot
            // have been recycled: its leader is our child and has not been reaped yet.
            let rc = unsafe { libc::kill(-pgid, libc::SIGKILL) };
            if rc != 0 {
                tracing::warn!(
                    pgid,
                    error = %std::io::Error::last_os_error(),
                    "failed to kill check process group"
                );
            }
        }
    }

    fn disarm(&mut self) {
        self.pgid = None;
    }
}

impl Drop for GroupKill {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Go's `exec` error text for a command that could not start.
fn spawn_error(program: &str, err: &std::io::Error) -> String {
    if !program.contains('/')
        && matches!(
            err.kind(),
            std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
        )
    {
        return format!("exec: {program:?}: executable file not found in $PATH");
    }
    format!("fork/exec {program}: {}", goerr::plain_io_text(err))
}

impl Probe for ScriptProbe {
    async fn run(&self) -> Outcome {
        let Some((program, rest)) = self.args.split_first() else {
            return Outcome::critical_now("exec: no command");
        };
        let (reader, writer) = match std::io::pipe() {
            Ok(p) => p,
            Err(e) => return Outcome::critical_now(format!("pipe: {}", goerr::plain_io_text(&e))),
        };
        let writer2 = match writer.try_clone() {
            Ok(w) => w,
            Err(e) => return Outcome::critical_now(format!("pipe: {}", goerr::plain_io_text(&e))),
        };
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(rest)
            .stdin(Stdio::null())
            .stdout(Stdio::from(writer))
            .stderr(Stdio::from(writer2))
            .process_group(0);
        let spawned = cmd.spawn();
        // The command holds the pipe's write ends; drop them so EOF comes when the group is
        // done writing.
        drop(cmd);
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                let text = spawn_error(program, &e);
                tracing::error!(error = %text, "check failed to invoke");
                return Outcome::critical_now(text);
            }
        };
        let mut group = GroupKill {
            pgid: child.id().and_then(|p| i32::try_from(p).ok()),
        };
        let mut pipe = match tokio::net::unix::pipe::Receiver::from_owned_fd(OwnedFd::from(reader))
        {
            Ok(p) => p,
            Err(e) => return Outcome::critical_now(format!("pipe: {}", goerr::plain_io_text(&e))),
        };
        let mut output = TailBuffer::new(self.output_max);

        // Like Go's cmd.Wait with a non-file writer: done when the process exited and the
        // output pipe reached EOF.
        let finished = tokio::time::timeout(self.timeout, async {
            let mut chunk = vec![0u8; 8192];
            loop {
                match pipe.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => output.write(&chunk[..n]),
                }
            }
            child.wait().await
        })
        .await;

        match finished {
            Ok(Ok(status)) => {
                group.disarm();
                let text = output.text_with_marker();
                tracing::trace!(output = %text, "check output");
                match status.code() {
                    Some(0) => Outcome::new(CheckStatus::Passing, text),
                    Some(1) => Outcome::new(CheckStatus::Warning, text),
                    _ => Outcome::new(CheckStatus::Critical, text),
                }
            }
            Ok(Err(e)) => {
                group.kill();
                let _ = child.wait().await;
                Outcome::critical_now(format!("wait: {}", goerr::plain_io_text(&e)))
            }
            Err(_) => {
                group.kill();
                let mut chunk = vec![0u8; 8192];
                let _ = tokio::time::timeout(DRAIN_AFTER_KILL, async {
                    loop {
                        match pipe.read(&mut chunk).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => output.write(&chunk[..n]),
                        }
                    }
                })
                .await;
                // Never start another run while this one is still alive.
                let _ = child.wait().await;
                let mut msg = format!(
                    "Timed out ({}) running check",
                    format_go_duration(self.timeout)
                );
                tracing::warn!(timeout = %format_go_duration(self.timeout), "timed out running check");
                let text = output.text_with_marker();
                if !text.is_empty() {
                    msg.push_str("\n\n");
                    msg.push_str(&text);
                }
                Outcome::critical_now(msg)
            }
        }
    }
}
