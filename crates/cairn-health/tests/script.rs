//! Script checks: exit codes, output, timeouts that kill the process group, permissions.

mod common;

use cairn_health::{CheckError, CheckManager, CheckOptions, ManagerConfig};
use cairn_types::requests::CheckType;
use cairn_types::CheckStatus::{Critical, Passing, Warning};
use common::*;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(5);

fn scripts_on() -> ManagerConfig {
    ManagerConfig {
        enable_script_checks: true,
        ..ManagerConfig::default()
    }
}

fn sh(script: &str) -> CheckType {
    CheckType {
        script_args: vec!["/bin/sh".into(), "-c".into(), script.into()],
        interval: secs(1),
        ..CheckType::default()
    }
}

/// Whether `pid` is gone (or a zombie waiting for its reaper).
fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.trim_start().starts_with('Z'))
            .unwrap_or(false),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_map_to_statuses_and_output_interleaves() {
    let (m, mut ev) = CheckManager::new(scripts_on()).unwrap();
    m.add(
        "ok",
        sh("echo out; echo err >&2; echo out2"),
        CheckOptions::api(),
    )
    .unwrap();
    m.add("warn", sh("echo degraded; exit 1"), CheckOptions::api())
        .unwrap();
    m.add("crit", sh("echo broken; exit 2"), CheckOptions::api())
        .unwrap();
    let mut def = sh("kill -9 $$");
    def.status = "passing".into();
    m.add("signal", def, CheckOptions::api()).unwrap();

    let mut seen = std::collections::HashMap::new();
    while seen.len() < 4 {
        let u = next_update(&mut ev, WAIT).await;
        m.remove(&u.check_id);
        seen.entry(u.check_id.clone()).or_insert(u);
    }
    assert_eq!(
        (seen["ok"].status, seen["ok"].output.as_str()),
        (Passing, "out\nerr\nout2\n")
    );
    assert_eq!(
        (seen["warn"].status, seen["warn"].output.as_str()),
        (Warning, "degraded\n")
    );
    assert_eq!(seen["signal"].status, Critical);
    // "crit" starts critical, so its first critical run changes only the output.
    let c = &seen["crit"];
    assert_eq!(
        (c.status, c.output.as_str(), c.status_changed),
        (Critical, "broken\n", false)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_is_cut_with_consuls_marker() {
    let (m, mut ev) = CheckManager::new(scripts_on()).unwrap();
    let mut def = sh("printf '0123456789abcdefghij'");
    def.output_max_size = 8;
    m.add("big", def, CheckOptions::api()).unwrap();
    let u = next_update(&mut ev, WAIT).await;
    assert_eq!(u.status, Passing);
    assert_eq!(u.output, "Captured 8 of 20 bytes\n...\ncdefghij");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_kills_the_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("grandchild.pid");
    let script = format!(
        "sleep 60 & echo $! > {}; echo started; wait",
        pidfile.display()
    );
    let (m, mut ev) = CheckManager::new(scripts_on()).unwrap();
    let mut def = sh(&script);
    def.timeout = millis(1500);
    def.interval = secs(2);
    def.status = "passing".into();
    // Thresholds do not delay a timeout (Consul reports it directly).
    def.failures_before_critical = 5;
    m.add("hang", def, CheckOptions::api()).unwrap();

    let u = next_update(&mut ev, Duration::from_secs(8)).await;
    assert_eq!(u.status, Critical);
    assert_eq!(u.output, "Timed out (1.5s) running check\n\nstarted\n");

    let pid: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while !process_gone(pid) {
        assert!(
            std::time::Instant::now() < deadline,
            "grandchild {pid} survived the timeout"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_check_mid_run_kills_its_group() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("child.pid");
    let script = format!("sleep 60 & echo $! > {}; wait", pidfile.display());
    let (m, _ev) = CheckManager::new(scripts_on()).unwrap();
    let mut def = sh(&script);
    def.interval = secs(1);
    m.add("long", def, CheckOptions::api()).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !pidfile.exists() || std::fs::read_to_string(&pidfile).unwrap().trim().is_empty() {
        assert!(std::time::Instant::now() < deadline, "script never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pid: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(!process_gone(pid));
    m.remove("long");
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while !process_gone(pid) {
        assert!(
            std::time::Instant::now() < deadline,
            "child {pid} survived removal"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_program_is_critical_with_gos_text() {
    let (m, mut ev) = CheckManager::new(scripts_on()).unwrap();
    let def = CheckType {
        script_args: vec!["cairn-no-such-program".into(), "x".into()],
        interval: secs(1),
        status: "passing".into(),
        ..CheckType::default()
    };
    m.add("missing", def, CheckOptions::api()).unwrap();
    let u = next_update(&mut ev, WAIT).await;
    assert_eq!(u.status, Critical);
    assert_eq!(
        u.output,
        "exec: \"cairn-no-such-program\": executable file not found in $PATH"
    );
    let def = CheckType {
        script_args: vec!["/nonexistent/check.sh".into()],
        interval: secs(1),
        status: "passing".into(),
        ..CheckType::default()
    };
    m.add("missing2", def, CheckOptions::api()).unwrap();
    let u = next_update(&mut ev, WAIT).await;
    assert_eq!(
        u.output,
        "fork/exec /nonexistent/check.sh: no such file or directory"
    );
}

#[tokio::test]
async fn script_permissions_follow_the_source() {
    let def = sh("true");
    // Nothing enabled: both sources refused, each with its own text.
    let (m, _ev) = CheckManager::new(ManagerConfig::default()).unwrap();
    let err = m.add("a", def.clone(), CheckOptions::config()).unwrap_err();
    assert_eq!(err, CheckError::ScriptsDisabled);
    assert_eq!(
        err.to_string(),
        "Scripts are disabled on this agent; to enable, configure 'enable_script_checks' or 'enable_local_script_checks' to true"
    );
    let err = m.add("a", def.clone(), CheckOptions::api()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Scripts are disabled on this agent from remote calls; to enable, configure 'enable_script_checks' to true"
    );
    // Docker checks run commands too.
    let docker = CheckType {
        docker_container_id: "abc".into(),
        ..def.clone()
    };
    assert_eq!(
        m.add("d", docker, CheckOptions::api()).unwrap_err(),
        CheckError::ScriptsDisabledRemote
    );
    assert!(m.is_empty());

    // Local only: config files yes, API no.
    let local = ManagerConfig {
        enable_local_script_checks: true,
        ..ManagerConfig::default()
    };
    let (m, _ev) = CheckManager::new(local).unwrap();
    m.add("a", def.clone(), CheckOptions::config()).unwrap();
    assert_eq!(
        m.add("b", def.clone(), CheckOptions::api()).unwrap_err(),
        CheckError::ScriptsDisabledRemote
    );
    // Re-registering the config check through update keeps its source.
    m.update("a", sh("exit 0")).unwrap();

    // enable_script_checks allows both.
    let (m, _ev) = CheckManager::new(scripts_on()).unwrap();
    m.add("a", def.clone(), CheckOptions::config()).unwrap();
    m.add("b", def, CheckOptions::api()).unwrap();
    assert_eq!(m.check_ids(), vec!["a".to_owned(), "b".to_owned()]);
}
