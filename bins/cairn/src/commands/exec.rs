//! Child processes for `lock` and `watch`: run through a shell like Consul's `ExecScript`
//! (`$SHELL -c "<args joined>"`, `/bin/sh` by default) or directly, and signal them.

use tokio::process::Command;

/// The command for `args`: through the shell when `shell`, else `args[0]` with the rest.
pub fn command(args: &[String], shell: bool) -> Option<Command> {
    if shell {
        let sh = std::env::var("SHELL")
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "/bin/sh".to_string());
        let mut cmd = Command::new(sh);
        cmd.arg("-c").arg(args.join(" "));
        Some(cmd)
    } else {
        let (program, rest) = args.split_first()?;
        let mut cmd = Command::new(program);
        cmd.args(rest);
        Some(cmd)
    }
}

/// Send `signal` to process `pid`.
pub fn signal(pid: u32, signal: i32) -> std::io::Result<()> {
    let pid = libc::pid_t::try_from(pid).map_err(|_| std::io::Error::other("pid out of range"))?;
    // SAFETY: kill(2) has no memory-safety preconditions; it only sends a signal.
    let rc = unsafe { libc::kill(pid, signal) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Go's `exec.ExitError` text: `exit status 3`, `signal: terminated`.
pub fn exit_text(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => format!("signal: {}", signal_name(sig)),
        _ => "exit status unknown".to_string(),
    }
}

fn signal_name(sig: i32) -> String {
    match sig {
        libc::SIGHUP => "hangup".into(),
        libc::SIGINT => "interrupt".into(),
        libc::SIGKILL => "killed".into(),
        libc::SIGTERM => "terminated".into(),
        libc::SIGQUIT => "quit".into(),
        other => format!("signal {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn shell_and_direct_commands() {
        let out = command(&["echo".into(), "a".into(), "$((1+1))".into()], true)
            .unwrap()
            .output()
            .await
            .unwrap();
        assert_eq!(out.stdout, b"a 2\n");
        let out = command(&["echo".into(), "$((1+1))".into()], false)
            .unwrap()
            .output()
            .await
            .unwrap();
        assert_eq!(out.stdout, b"$((1+1))\n");
        assert!(command(&[], false).is_none());
        let status = command(&["exit 3".into()], true)
            .unwrap()
            .status()
            .await
            .unwrap();
        assert_eq!(exit_text(status), "exit status 3");
    }
}
