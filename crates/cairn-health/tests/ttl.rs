//! TTL checks, re-registration, errors and the reaper, on tokio's paused clock.

mod common;

use cairn_health::{CheckError, CheckEvent, CheckManager, CheckOptions, ManagerConfig};
use cairn_types::requests::CheckType;
use cairn_types::CheckStatus::{Critical, Passing, Warning};
use common::*;
use std::time::Duration;

fn ttl_def(ttl_secs: u64) -> CheckType {
    CheckType {
        name: "ttl".into(),
        ttl: secs(ttl_secs),
        ..CheckType::default()
    }
}

#[tokio::test(start_paused = true)]
async fn ttl_expires_to_critical_and_updates_reset_it() {
    let (m, mut ev) = CheckManager::new(ManagerConfig::default()).unwrap();
    let mut def = ttl_def(10);
    def.status = "passing".into();
    m.add("t1", def, CheckOptions::api()).unwrap();
    assert_eq!(m.state("t1").unwrap().status, Passing);
    assert!(m.is_ttl("t1"));

    // Not fed: critical at the TTL, with Consul's output, once.
    tokio::time::sleep(Duration::from_secs(9)).await;
    assert_quiet(&mut ev, Duration::from_millis(500)).await;
    let u = next_update(&mut ev, Duration::from_secs(2)).await;
    assert_eq!(
        (u.check_id.as_str(), u.status, u.output.as_str()),
        ("t1", Critical, "TTL expired")
    );
    assert!(u.status_changed);
    assert_quiet(&mut ev, Duration::from_secs(60)).await;

    // Fed: passing, and the TTL restarts from the update.
    assert_eq!(m.ttl_update("t1", Passing, "all good").unwrap(), "all good");
    let u = next_update(&mut ev, Duration::from_secs(1)).await;
    assert_eq!((u.status, u.output.as_str()), (Passing, "all good"));
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_secs(6)).await;
        m.ttl_update("t1", Passing, "all good").unwrap();
    }
    // Same status and output: no events while fed.
    assert_quiet(&mut ev, Duration::from_secs(5)).await;
    let u = next_update(&mut ev, Duration::from_secs(6)).await;
    assert_eq!(u.status, Critical);
    assert_eq!(
        u.output,
        "TTL expired (last output before timeout follows): all good"
    );

    // Output-only changes are events too, flagged as such.
    m.ttl_update("t1", Warning, "slow").unwrap();
    assert_eq!(
        next_update(&mut ev, Duration::from_secs(1)).await.status,
        Warning
    );
    m.ttl_update("t1", Warning, "slower").unwrap();
    let u = next_update(&mut ev, Duration::from_secs(1)).await;
    assert_eq!(
        (u.status, u.output.as_str(), u.status_changed),
        (Warning, "slower", false)
    );
}

#[tokio::test(start_paused = true)]
async fn ttl_output_is_truncated_with_consuls_marker() {
    let (m, mut ev) = CheckManager::new(ManagerConfig::default()).unwrap();
    let mut def = ttl_def(30);
    def.output_max_size = 10;
    m.add("t", def, CheckOptions::api()).unwrap();
    let stored = m.ttl_update("t", Passing, "0123456789abcdef").unwrap();
    assert_eq!(stored, "0123456789 ... (captured 10 of 16 bytes)");
    assert_eq!(
        next_update(&mut ev, Duration::from_secs(1)).await.output,
        stored
    );

    // The agent-wide limit applies when the check sets none; the check can only lower it.
    let cfg = ManagerConfig {
        check_output_max_size: 4,
        ..ManagerConfig::default()
    };
    let (m, _ev) = CheckManager::new(cfg).unwrap();
    let mut def = ttl_def(30);
    def.output_max_size = 100;
    m.add("t", def, CheckOptions::api()).unwrap();
    assert_eq!(
        m.ttl_update("t", Passing, "abcdefgh").unwrap(),
        "abcd ... (captured 4 of 8 bytes)"
    );
}

#[tokio::test(start_paused = true)]
async fn ttl_errors_use_consuls_texts() {
    let (m, _ev) = CheckManager::new(ManagerConfig::default()).unwrap();
    let err = m.ttl_update("nope", Passing, "").unwrap_err();
    assert_eq!(
        err.to_string(),
        "Unknown check ID \"nope\". Ensure that the check ID is passed, not the check name."
    );
    m.add(
        "alias",
        CheckType {
            alias_service: "web".into(),
            ..CheckType::default()
        },
        CheckOptions::api(),
    )
    .unwrap();
    let err = m.ttl_update("alias", Passing, "").unwrap_err();
    assert_eq!(err, CheckError::NotTtl("alias".into()));
    assert_eq!(
        err.to_string(),
        "CheckID \"alias\" does not have associated TTL"
    );
    assert!(m.update("nope", ttl_def(1)).is_err());
}

#[tokio::test(start_paused = true)]
async fn initial_status_defaults_to_critical_and_is_not_an_event() {
    let (m, mut ev) = CheckManager::new(ManagerConfig::default()).unwrap();
    m.add("a", ttl_def(30), CheckOptions::api()).unwrap();
    assert_eq!(m.state("a").unwrap().status, Critical);
    let mut def = ttl_def(30);
    def.status = "warning".into();
    m.add("b", def, CheckOptions::api()).unwrap();
    assert_eq!(m.state("b").unwrap().status, Warning);
    // Restored state wins over the definition.
    let opts = CheckOptions {
        initial_status: Some(Passing),
        initial_output: "restored".into(),
        ..CheckOptions::api()
    };
    m.add("c", ttl_def(30), opts).unwrap();
    let s = m.state("c").unwrap();
    assert_eq!((s.status, s.output.as_str()), (Passing, "restored"));
    assert_quiet(&mut ev, Duration::from_secs(1)).await;

    let mut bad = ttl_def(30);
    bad.status = "fine".into();
    let err = m.add("d", bad, CheckOptions::api()).unwrap_err();
    assert_eq!(err.to_string(), "Invalid check status: \"fine\"");
    assert_eq!(m.len(), 3);
}

#[tokio::test(start_paused = true)]
async fn unchanged_definition_is_not_reset_and_changed_one_keeps_status() {
    let (m, mut ev) = CheckManager::new(ManagerConfig::default()).unwrap();
    m.add("t", ttl_def(10), CheckOptions::api()).unwrap();
    m.ttl_update("t", Passing, "ok").unwrap();
    next_update(&mut ev, Duration::from_secs(1)).await;

    // Same run definition (other name and notes) 8 s later: the TTL keeps counting from the
    // update, so it expires 2 s later, not 10.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let mut same = ttl_def(10);
    same.name = "renamed".into();
    same.notes = "notes".into();
    m.add("t", same.clone(), CheckOptions::api()).unwrap();
    m.update("t", same).unwrap();
    assert_eq!(m.state("t").unwrap().status, Passing);
    let u = tokio::time::timeout(Duration::from_secs(3), ev.recv()).await;
    assert!(
        matches!(u, Ok(Some(CheckEvent::Update(ref u))) if u.status == Critical),
        "{u:?}"
    );

    // A changed definition restarts the runner but keeps status and output.
    m.ttl_update("t", Passing, "fed").unwrap();
    next_update(&mut ev, Duration::from_secs(1)).await;
    tokio::time::sleep(Duration::from_secs(8)).await;
    m.update("t", ttl_def(20)).unwrap();
    let s = m.state("t").unwrap();
    assert_eq!((s.status, s.output.as_str()), (Passing, "fed"));
    assert_quiet(&mut ev, Duration::from_secs(19)).await;
    let u = next_update(&mut ev, Duration::from_secs(2)).await;
    assert_eq!(u.status, Critical);
    // The restarted runner has no last output of its own.
    assert_eq!(u.output, "TTL expired");
}

#[tokio::test(start_paused = true)]
async fn removed_check_stops_reporting() {
    let (m, mut ev) = CheckManager::new(ManagerConfig::default()).unwrap();
    m.add("t", ttl_def(5), CheckOptions::api()).unwrap();
    assert!(m.remove("t"));
    assert!(!m.remove("t"));
    assert!(m.state("t").is_none());
    assert_quiet(&mut ev, Duration::from_secs(30)).await;
    assert!(m.is_empty());
}

#[tokio::test(start_paused = true)]
async fn discard_check_output_empties_outputs() {
    let cfg = ManagerConfig {
        discard_check_output: true,
        ..ManagerConfig::default()
    };
    let (m, mut ev) = CheckManager::new(cfg).unwrap();
    m.add("t", ttl_def(5), CheckOptions::api()).unwrap();
    m.ttl_update("t", Passing, "lots of text").unwrap();
    let u = next_update(&mut ev, Duration::from_secs(1)).await;
    assert_eq!((u.status, u.output.as_str()), (Passing, ""));
    // Output-only changes are no changes at all then.
    m.ttl_update("t", Passing, "other text").unwrap();
    assert_quiet(&mut ev, Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn reaper_reports_services_critical_too_long() {
    let cfg = ManagerConfig {
        reap_interval: Duration::from_secs(30),
        deregister_interval_min: Duration::from_secs(60),
        ..ManagerConfig::default()
    };
    let (m, mut ev) = CheckManager::new(cfg).unwrap();
    let mut def = ttl_def(10);
    def.status = "passing".into();
    // Below the one-minute minimum: raised to it.
    def.deregister_critical_service_after = secs(20);
    m.add(
        "svc-ttl",
        def.clone(),
        CheckOptions::api().for_service("web-1"),
    )
    .unwrap();
    // A node check with the same setting is never reaped.
    m.add("node-ttl", def, CheckOptions::api()).unwrap();

    let start = tokio::time::Instant::now();
    // Critical at 10 s; reapable after 60 s more; seen by the reaper tick at 90 s.
    let r = next_reap(&mut ev, Duration::from_secs(200)).await;
    assert_eq!(
        (r.service_id.as_str(), r.check_id.as_str()),
        ("web-1", "svc-ttl")
    );
    assert!(r.critical_for > Duration::from_secs(60), "{r:?}");
    let at = start.elapsed();
    assert!(
        at >= Duration::from_secs(70) && at <= Duration::from_secs(91),
        "{at:?}"
    );

    // Feeding the check clears its critical time: no more reaps.
    m.remove("node-ttl");
    m.ttl_update("svc-ttl", Passing, "").unwrap();
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_secs(5)).await;
        m.ttl_update("svc-ttl", Passing, "").unwrap();
    }
    while let Some(e) = ev.try_recv() {
        assert!(!matches!(e, CheckEvent::Reap(_)), "{e:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn invalid_definitions_are_refused_with_consuls_texts() {
    let (m, _ev) = CheckManager::new(ManagerConfig::default()).unwrap();
    let err = m.add("", ttl_def(5), CheckOptions::api()).unwrap_err();
    assert_eq!(err.to_string(), "CheckID missing");
    let err = m
        .add(
            "x",
            CheckType {
                http: "http://127.0.0.1/".into(),
                ..CheckType::default()
            },
            CheckOptions::api(),
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Check is not valid: Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks"
    );
    let err = m
        .add(
            "x",
            CheckType {
                os_service: "sshd".into(),
                interval: secs(10),
                ..CheckType::default()
            },
            CheckOptions::api(),
        )
        .unwrap_err();
    assert_eq!(err.to_string(), "not implemented");
    assert!(m.is_empty());
}
