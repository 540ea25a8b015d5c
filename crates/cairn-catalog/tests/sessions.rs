//! Sessions: creation rules, locks, lock-delay, invalidation, TTL tracking.

mod common;

use cairn_catalog::{
    validate_session_ttl, ApplyResult, CatalogError, Command, SessionTtlTracker, Table,
    SESSION_TTL_MIN,
};
use cairn_types::{CheckStatus, ServiceCheckRef, SessionBehavior};
use common::*;
use std::time::{Duration, Instant};

const NO_DELAY: Duration = Duration::ZERO;

fn with_node(name: &str) -> Harness {
    let mut h = Harness::new();
    h.ok(register_checks(
        name,
        vec![check(name, "serfHealth", "", CheckStatus::Passing)],
        0,
    ));
    h
}

#[test]
fn create_requires_node_and_healthy_checks() {
    let mut h = with_node("n1");
    let r = h.apply(create_session(
        "s1",
        "ghost",
        SessionBehavior::Release,
        NO_DELAY,
    ));
    assert_eq!(r, ApplyResult::Error(CatalogError::MissingNode));
    let mut s = session("s1", "n1", SessionBehavior::Release, NO_DELAY);
    s.node_checks = vec!["nope".into()];
    let r = h.apply(Command::SessionCreate { session: s.clone() });
    assert_eq!(
        r.error().map(ToString::to_string).as_deref(),
        Some("Missing check 'nope' registration")
    );
    h.ok(register_checks(
        "n1",
        vec![check("n1", "bad", "", CheckStatus::Critical)],
        0,
    ));
    s.node_checks = vec!["serfHealth".into(), "bad".into()];
    let r = h.apply(Command::SessionCreate { session: s.clone() });
    assert_eq!(
        r.error().map(ToString::to_string).as_deref(),
        Some("Check 'bad' is in critical state")
    );
    s.id.clear();
    s.node_checks = vec!["serfHealth".into()];
    let r = h.apply(Command::SessionCreate { session: s.clone() });
    assert_eq!(r, ApplyResult::Error(CatalogError::MissingSessionId));
    s.id = "s1".into();
    let (i, r) = h.apply_at(Command::SessionCreate { session: s });
    assert_eq!(r, ApplyResult::SessionId("s1".into()));
    let (info, idx) = h.view().session("s1");
    let info = info.expect("created");
    assert_eq!((info.create_index, info.modify_index, idx), (i, i, i));
    let r = h.apply(create_session(
        "s1",
        "n1",
        SessionBehavior::Release,
        NO_DELAY,
    ));
    assert!(matches!(
        r,
        ApplyResult::Error(CatalogError::SessionExists(_))
    ));
}

#[test]
fn session_lists_and_node_sessions() {
    let mut h = with_node("n1");
    h.ok(register_node("n2"));
    h.ok(create_session(
        "a",
        "n1",
        SessionBehavior::Release,
        NO_DELAY,
    ));
    h.ok(create_session(
        "b",
        "n2",
        SessionBehavior::Release,
        NO_DELAY,
    ));
    let i = h.ok(create_session(
        "c",
        "N1",
        SessionBehavior::Release,
        NO_DELAY,
    ));
    let v = h.view();
    assert_eq!(v.sessions().0.len(), 3);
    let ids: Vec<String> = v.node_sessions("n1").0.into_iter().map(|s| s.id).collect();
    assert_eq!(ids, vec!["a", "c"]);
    assert_eq!(v.node_sessions("n1").1, i);
}

#[test]
fn acquire_release_and_lock_index() {
    let mut h = with_node("n1");
    h.ok(create_session(
        "s1",
        "n1",
        SessionBehavior::Release,
        NO_DELAY,
    ));
    h.ok(create_session(
        "s2",
        "n1",
        SessionBehavior::Release,
        NO_DELAY,
    ));
    assert_eq!(h.apply(acquire("lock", "s1", 0)), ApplyResult::Bool(true));
    let e = h.view().kv_get("lock").0.expect("key");
    assert_eq!((e.lock_index, e.session.as_str()), (1, "s1"));
    // Re-acquiring by the holder is fine and does not count as a new acquisition.
    assert_eq!(h.apply(acquire("lock", "s1", 0)), ApplyResult::Bool(true));
    assert_eq!(h.view().kv_get("lock").0.map(|e| e.lock_index), Some(1));
    // Another session cannot take it, nor release it.
    assert_eq!(h.apply(acquire("lock", "s2", 0)), ApplyResult::Bool(false));
    assert_eq!(h.apply(release("lock", "s2")), ApplyResult::Bool(false));
    // Release by the holder clears the session and keeps LockIndex.
    assert_eq!(h.apply(release("lock", "s1")), ApplyResult::Bool(true));
    let e = h.view().kv_get("lock").0.expect("key");
    assert_eq!(
        (e.lock_index, e.session.as_str(), e.value.as_slice()),
        (1, "", &b"released"[..])
    );
    // A new acquisition bumps LockIndex.
    assert_eq!(h.apply(acquire("lock", "s2", 0)), ApplyResult::Bool(true));
    assert_eq!(h.view().kv_get("lock").0.map(|e| e.lock_index), Some(2));
    assert_eq!(
        h.apply(release("missing-key", "s2")),
        ApplyResult::Bool(false)
    );
}

#[test]
fn lock_errors_use_consul_texts() {
    let mut h = with_node("n1");
    let r = h.apply(acquire("k", "", 0));
    assert_eq!(
        r.error().map(ToString::to_string).as_deref(),
        Some("missing session")
    );
    let r = h.apply(acquire("k", "no-such", 0));
    assert_eq!(
        r.error().map(ToString::to_string).as_deref(),
        Some("invalid session \"no-such\"")
    );
    assert!(h.view().kv_get("k").0.is_none());
}

#[test]
fn plain_set_keeps_lock_holder_but_resets_lock_index() {
    let mut h = with_node("n1");
    h.ok(create_session(
        "s1",
        "n1",
        SessionBehavior::Release,
        NO_DELAY,
    ));
    h.ok(acquire("k", "s1", 0));
    h.ok(kv_set("k", "overwritten"));
    let e = h.view().kv_get("k").0.expect("key");
    assert_eq!((e.session.as_str(), e.lock_index), ("s1", 0));
}

#[test]
fn destroy_with_release_behaviour_releases_and_starts_lock_delay() {
    let mut h = with_node("n1");
    h.ok(create_session(
        "s1",
        "n1",
        SessionBehavior::Release,
        Duration::from_secs(15),
    ));
    h.ok(create_session(
        "s2",
        "n1",
        SessionBehavior::Release,
        NO_DELAY,
    ));
    h.ok(acquire("a", "s1", 1_000));
    h.ok(acquire("b", "s1", 1_000));
    let i = h.ok(Command::SessionDestroy {
        id: "s1".into(),
        now_ms: 10_000,
    });
    let v = h.view();
    for key in ["a", "b"] {
        let e = v.kv_get(key).0.expect("released keys stay");
        assert_eq!((e.session.as_str(), e.modify_index), ("", i));
        assert_eq!(v.kv_lock_delay(key), Some(25_000));
    }
    assert!(v.session("s1").0.is_none());
    assert_eq!(v.table_index(Table::Sessions), i);
    // Within the delay nobody can acquire; after it they can.
    assert_eq!(
        h.apply(acquire("a", "s2", 24_999)),
        ApplyResult::Bool(false)
    );
    assert_eq!(h.apply(acquire("a", "s2", 25_000)), ApplyResult::Bool(true));
    assert_eq!(
        h.view().kv_lock_delay("a"),
        None,
        "an expired delay is dropped"
    );
}

#[test]
fn lock_delay_is_capped_at_sixty_seconds() {
    let mut h = with_node("n1");
    h.ok(create_session(
        "s1",
        "n1",
        SessionBehavior::Release,
        Duration::from_secs(600),
    ));
    h.ok(acquire("k", "s1", 0));
    h.ok(Command::SessionDestroy {
        id: "s1".into(),
        now_ms: 1_000,
    });
    assert_eq!(h.view().kv_lock_delay("k"), Some(61_000));
}

#[test]
fn destroy_with_delete_behaviour_deletes_held_keys() {
    let mut h = with_node("n1");
    h.ok(create_session(
        "s1",
        "n1",
        SessionBehavior::Delete,
        Duration::from_secs(1),
    ));
    h.ok(acquire("held", "s1", 0));
    h.ok(kv_set("free", "x"));
    let i = h.ok(Command::SessionDestroy {
        id: "s1".into(),
        now_ms: 5,
    });
    let v = h.view();
    assert!(v.kv_get("held").0.is_none());
    assert!(v.kv_get("free").0.is_some());
    assert_eq!(v.kv_list("held").1, i, "deleted key leaves a tombstone");
    assert_eq!(v.kv_lock_delay("held"), Some(1_005));
}

#[test]
fn destroying_unknown_session_is_a_no_op() {
    let mut h = with_node("n1");
    let before = h.view().table_index(Table::Sessions);
    assert_eq!(
        h.apply(Command::SessionDestroy {
            id: "nope".into(),
            now_ms: 0
        }),
        ApplyResult::Ok
    );
    assert_eq!(h.view().table_index(Table::Sessions), before);
}

#[test]
fn critical_node_check_invalidates_tied_sessions() {
    let mut h = with_node("n1");
    let mut s = session(
        "s1",
        "n1",
        SessionBehavior::Release,
        Duration::from_secs(15),
    );
    s.node_checks = vec!["serfHealth".into()];
    h.ok(Command::SessionCreate { session: s });
    h.ok(create_session(
        "untied",
        "n1",
        SessionBehavior::Release,
        NO_DELAY,
    ));
    h.ok(acquire("leader", "s1", 0));
    // A warning does not invalidate.
    h.ok(Command::UpdateCheck {
        node: "n1".into(),
        check_id: "serfHealth".into(),
        status: CheckStatus::Warning,
        output: String::new(),
        now_ms: 100,
    });
    assert!(h.view().session("s1").0.is_some());
    let i = h.ok(Command::UpdateCheck {
        node: "n1".into(),
        check_id: "serfHealth".into(),
        status: CheckStatus::Critical,
        output: String::new(),
        now_ms: 200,
    });
    let v = h.view();
    assert!(v.session("s1").0.is_none());
    assert!(
        v.session("untied").0.is_some(),
        "sessions not tied to the check survive"
    );
    let e = v.kv_get("leader").0.expect("released");
    assert_eq!((e.session.as_str(), e.modify_index), ("", i));
    assert_eq!(v.kv_lock_delay("leader"), Some(15_200));
}

#[test]
fn service_check_ties_and_check_deregistration_invalidate() {
    let mut h = with_node("n1");
    h.ok(register_service("n1", service("web-1", "web", &[], 80)));
    h.ok(register_checks(
        "n1",
        vec![check("n1", "web-chk", "web-1", CheckStatus::Passing)],
        0,
    ));
    let mut s = session("s1", "n1", SessionBehavior::Delete, NO_DELAY);
    s.node_checks = vec![];
    s.service_checks = Some(vec![ServiceCheckRef {
        id: "web-chk".into(),
        ..ServiceCheckRef::default()
    }]);
    h.ok(Command::SessionCreate { session: s });
    h.ok(acquire("k", "s1", 0));
    h.ok(Command::DeregisterCheck {
        node: "n1".into(),
        check_id: "web-chk".into(),
        now_ms: 0,
    });
    let v = h.view();
    assert!(v.session("s1").0.is_none());
    assert!(
        v.kv_get("k").0.is_none(),
        "delete behaviour removed the key"
    );
}

#[test]
fn node_deregistration_invalidates_its_sessions() {
    let mut h = with_node("n1");
    h.ok(register_node("n2"));
    h.ok(create_session(
        "s1",
        "n1",
        SessionBehavior::Release,
        NO_DELAY,
    ));
    h.ok(create_session(
        "s2",
        "n2",
        SessionBehavior::Release,
        NO_DELAY,
    ));
    h.ok(acquire("k1", "s1", 0));
    h.ok(acquire("k2", "s2", 0));
    h.ok(Command::DeregisterNode {
        node: "n1".into(),
        now_ms: 0,
    });
    let v = h.view();
    assert!(v.session("s1").0.is_none());
    assert!(v.session("s2").0.is_some());
    assert_eq!(v.kv_get("k1").0.map(|e| e.session), Some(String::new()));
    assert_eq!(v.kv_get("k2").0.map(|e| e.session), Some("s2".to_string()));
}

#[test]
fn kv_delete_of_held_key_forgets_the_lock() {
    let mut h = with_node("n1");
    h.ok(create_session(
        "s1",
        "n1",
        SessionBehavior::Release,
        Duration::from_secs(10),
    ));
    h.ok(acquire("k", "s1", 0));
    h.ok(Command::KvDelete { key: "k".into() });
    h.ok(kv_set("k", "new"));
    h.ok(Command::SessionDestroy {
        id: "s1".into(),
        now_ms: 0,
    });
    // The recreated key was never locked by s1, so destroy leaves it alone.
    let e = h.view().kv_get("k").0.expect("key");
    assert_eq!(e.value, b"new");
    assert_eq!(h.view().kv_lock_delay("k"), None);
}

#[test]
fn ttl_validation_matches_consul_texts() {
    assert_eq!(validate_session_ttl("", SESSION_TTL_MIN), Ok(None));
    assert_eq!(validate_session_ttl("0s", SESSION_TTL_MIN), Ok(None));
    assert_eq!(
        validate_session_ttl("30s", SESSION_TTL_MIN),
        Ok(Some(Duration::from_secs(30)))
    );
    assert_eq!(
        validate_session_ttl("5s", SESSION_TTL_MIN).map_err(|e| e.to_string()),
        Err("Invalid Session TTL '5000000000', must be between [10s=24h0m0s]".to_string())
    );
    assert_eq!(
        validate_session_ttl("100000s", SESSION_TTL_MIN).map_err(|e| e.to_string()),
        Err("Invalid Session TTL '100000000000000', must be between [10s=24h0m0s]".to_string())
    );
    assert!(validate_session_ttl("10z", SESSION_TTL_MIN)
        .map_err(|e| e.to_string())
        .is_err_and(|e| e.starts_with("Session TTL '10z' invalid: ")));
}

#[test]
fn ttl_tracker_expires_after_twice_the_ttl_and_renewals_reset() {
    let t0 = Instant::now();
    let mut tr = SessionTtlTracker::new();
    tr.track("a".into(), Duration::from_secs(10), t0);
    tr.track("b".into(), Duration::from_secs(30), t0);
    assert_eq!(tr.next_deadline(), Some(t0 + Duration::from_secs(20)));
    assert!(tr.expired(t0 + Duration::from_secs(19)).is_empty());
    assert!(tr.renew("a", t0 + Duration::from_secs(15)));
    assert!(tr.expired(t0 + Duration::from_secs(34)).is_empty());
    assert_eq!(
        tr.expired(t0 + Duration::from_secs(35)),
        vec!["a".to_string()]
    );
    assert!(
        !tr.renew("a", t0 + Duration::from_secs(36)),
        "expired sessions are forgotten"
    );
    let cmds = tr.expire_commands(t0 + Duration::from_secs(60), 99);
    assert_eq!(
        cmds,
        vec![Command::SessionDestroy {
            id: "b".into(),
            now_ms: 99
        }]
    );
    assert!(tr.is_empty());
}

#[test]
fn ttl_tracker_reset_all_restarts_every_timer_from_view() {
    let mut h = with_node("n1");
    let mut s = session("ttl", "n1", SessionBehavior::Release, NO_DELAY);
    s.ttl = "10s".into();
    h.ok(Command::SessionCreate { session: s });
    h.ok(create_session(
        "no-ttl",
        "n1",
        SessionBehavior::Release,
        NO_DELAY,
    ));
    let t0 = Instant::now();
    let mut tr = SessionTtlTracker::new();
    tr.track("stale-from-old-term".into(), Duration::from_secs(10), t0);
    tr.reset_all(h.view().session_ttls(), t0);
    assert_eq!(tr.len(), 1);
    assert_eq!(
        tr.expired(t0 + Duration::from_secs(20)),
        vec!["ttl".to_string()]
    );
}
