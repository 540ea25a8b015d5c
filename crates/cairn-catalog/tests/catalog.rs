//! Node, service and check registration and their index effects.

mod common;

use cairn_catalog::{ApplyResult, CatalogError, Command, HealthFilter, RegisterRequest, Table};
use cairn_types::CheckStatus;
use common::*;

#[test]
fn register_node_service_and_checks_atomically() {
    let mut h = Harness::new();
    let i = h.ok(Command::Register(Box::new(RegisterRequest {
        node: node("n1", "10.0.0.1"),
        service: Some(service("web-1", "web", &["v1"], 80)),
        checks: vec![
            check("n1", "serfHealth", "", CheckStatus::Passing),
            check("", "web-check", "web-1", CheckStatus::Passing),
        ],
        ..RegisterRequest::default()
    })));
    let v = h.view();
    let (nodes, idx) = v.nodes();
    assert_eq!((nodes.len(), idx), (1, i));
    assert_eq!((nodes[0].create_index, nodes[0].modify_index), (i, i));
    let (instances, idx) = v.service_nodes("web", &[]);
    assert_eq!(idx, i);
    assert_eq!(instances.len(), 1);
    assert_eq!(instances[0].address, "10.0.0.1");
    assert_eq!(instances[0].service_port, 80);
    let (checks, _) = v.node_checks("n1");
    assert_eq!(checks.len(), 2);
    let web_check = checks
        .iter()
        .find(|c| c.check_id == "web-check")
        .expect("service check");
    assert_eq!(
        web_check.node, "n1",
        "empty check node means the registered node"
    );
    assert_eq!(
        web_check.service_name, "web",
        "service name copied into the check"
    );
    assert_eq!(web_check.service_tags, vec!["v1"]);
}

#[test]
fn registration_errors_use_consul_texts_and_change_nothing() {
    let mut h = Harness::new();
    let before = h.view().last_index();
    let r = h.apply(Command::Register(Box::new(RegisterRequest {
        node: node("", "10.0.0.1"),
        ..RegisterRequest::default()
    })));
    assert_eq!(r, ApplyResult::Error(CatalogError::MissingNodeName));
    assert_eq!(
        CatalogError::MissingNodeName.to_string(),
        "Must provide node"
    );
    let r = h.apply(Command::Register(Box::new(RegisterRequest {
        node: node("n1", ""),
        ..RegisterRequest::default()
    })));
    assert_eq!(
        r.error().map(ToString::to_string).as_deref(),
        Some("Must provide address if SkipNodeUpdate is not set")
    );
    // A service check whose service does not exist fails the whole registration.
    let r = h.apply(register_checks(
        "n1",
        vec![check("n1", "c", "missing-svc", CheckStatus::Passing)],
        0,
    ));
    assert_eq!(
        r.error().map(ToString::to_string).as_deref(),
        Some("failed inserting check on node \"n1\": Missing service registration")
    );
    assert!(
        h.view().nodes().0.is_empty(),
        "the node of a failed registration is not kept"
    );
    assert!(
        h.view().last_index() > before,
        "the applied index still moves"
    );
    // A check naming another node.
    let r = h.apply(register_checks(
        "n1",
        vec![check("n2", "c", "", CheckStatus::Passing)],
        0,
    ));
    assert_eq!(
        r.error().map(ToString::to_string).as_deref(),
        Some("check node \"n2\" does not match node \"n1\"")
    );
    // A service ID without a name.
    let r = h.apply(register_service("n1", service("id-only", "", &[], 1)));
    assert_eq!(r, ApplyResult::Error(CatalogError::MissingServiceName));
}

#[test]
fn service_id_defaults_to_name_and_check_id_to_check_name() {
    let mut h = Harness::new();
    h.ok(register_service("n1", service("", "redis", &[], 6379)));
    let mut c = check("n1", "", "", CheckStatus::Passing);
    c.name = "disk".into();
    h.ok(register_checks("n1", vec![c], 0));
    let v = h.view();
    assert_eq!(v.node_service("n1", "redis").0.map(|s| s.port), Some(6379));
    assert!(v.node_check("n1", "disk").0.is_some());
}

#[test]
fn identical_reregistration_moves_no_index() {
    let mut h = Harness::new();
    let i = h.ok(register_service("n1", service("web-1", "web", &["a"], 80)));
    h.ok(register_service("n1", service("web-1", "web", &["a"], 80)));
    let v = h.view();
    assert_eq!(v.table_index(Table::Services), i);
    assert_eq!(v.table_index(Table::Nodes), i);
    assert_eq!(v.service_nodes("web", &[]).1, i);
}

#[test]
fn service_index_is_per_service_name() {
    let mut h = Harness::new();
    let i_web = h.ok(register_service("n1", service("web-1", "web", &[], 80)));
    let i_db = h.ok(register_service("n1", service("db-1", "db", &[], 5432)));
    let v = h.view();
    assert_eq!(
        v.service_nodes("web", &[]).1,
        i_web,
        "db write does not move web"
    );
    assert_eq!(v.service_nodes("db", &[]).1, i_db);
    assert_eq!(v.services().1, i_db, "the services table moves with both");
    // A node check moves every service on the node.
    let i_chk = h.ok(register_checks(
        "n1",
        vec![check("n1", "serfHealth", "", CheckStatus::Passing)],
        0,
    ));
    let v = h.view();
    assert_eq!(v.service_health("web", &[], HealthFilter::All).1, i_chk);
    assert_eq!(v.service_health("db", &[], HealthFilter::All).1, i_chk);
    // A service check moves only its service.
    let i_web_chk = h.ok(register_checks(
        "n1",
        vec![check("n1", "w", "web-1", CheckStatus::Passing)],
        0,
    ));
    let v = h.view();
    assert_eq!(v.service_health("web", &[], HealthFilter::All).1, i_web_chk);
    assert_eq!(v.service_health("db", &[], HealthFilter::All).1, i_chk);
    assert_eq!(
        v.node_checks("n1").1,
        i_web_chk,
        "check lists report the checks table"
    );
}

#[test]
fn missing_service_reports_extinction_index() {
    let mut h = Harness::new();
    let i_reg = h.ok(register_service("n1", service("web-1", "web", &[], 80)));
    // Never-seen service with no extinction yet: falls back to the tables.
    assert_eq!(h.view().service_nodes("nope", &[]).1, i_reg);
    let i_del = h.ok(Command::DeregisterService {
        node: "n1".into(),
        service_id: "web-1".into(),
        now_ms: 0,
    });
    let v = h.view();
    assert_eq!(v.service_nodes("web", &[]), (vec![], i_del));
    assert_eq!(v.service_nodes("nope", &[]).1, i_del);
    assert!(v.services().0.is_empty());
}

#[test]
fn services_lists_tag_union() {
    let mut h = Harness::new();
    h.ok(register_service(
        "n1",
        service("web-1", "web", &["b", "a"], 80),
    ));
    h.ok(register_service(
        "n2",
        service("web-2", "web", &["c", "a"], 80),
    ));
    h.ok(register_service("n2", service("db", "db", &[], 1)));
    let (services, _) = h.view().services();
    assert_eq!(
        services.get("web"),
        Some(&vec!["a".to_string(), "b".into(), "c".into()])
    );
    assert_eq!(services.get("db"), Some(&vec![]));
}

#[test]
fn tag_filter_is_case_insensitive_and_requires_all_tags() {
    let mut h = Harness::new();
    h.ok(register_service(
        "n1",
        service("web-1", "web", &["Primary", "v1"], 80),
    ));
    h.ok(register_service("n2", service("web-2", "web", &["v1"], 80)));
    let v = h.view();
    let ids = |tags: &[&str]| -> Vec<String> {
        let tags: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
        v.service_nodes("WEB", &tags)
            .0
            .into_iter()
            .map(|s| s.service_id)
            .collect()
    };
    assert_eq!(ids(&["primary"]), vec!["web-1"]);
    assert_eq!(ids(&["v1"]), vec!["web-1", "web-2"]);
    assert_eq!(ids(&["primary", "v2"]), Vec::<String>::new());
}

#[test]
fn node_and_service_names_are_case_insensitive() {
    let mut h = Harness::new();
    h.ok(register_service("Node-A", service("Web-1", "Web", &[], 80)));
    let v = h.view();
    assert_eq!(
        v.node("node-a").0.map(|n| n.node),
        Some("Node-A".to_string())
    );
    assert_eq!(v.service_nodes("web", &[]).0.len(), 1);
    assert!(v.node_service("NODE-A", "web-1").0.is_some());
    h.ok(Command::DeregisterService {
        node: "node-a".into(),
        service_id: "WEB-1".into(),
        now_ms: 0,
    });
    assert!(h.view().service_nodes("Web", &[]).0.is_empty());
}

#[test]
fn node_services_index_and_unknown_node() {
    let mut h = Harness::new();
    h.ok(register_node("n1"));
    let i = h.ok(register_service("n1", service("web-1", "web", &[], 80)));
    h.ok(register_service("n2", service("other", "other", &[], 80)));
    let (ns, idx) = h.view().node_services("n1");
    let ns = ns.expect("known node");
    assert_eq!(idx, i, "node.<name> ignores writes on other nodes");
    assert_eq!(ns.services.keys().collect::<Vec<_>>(), vec!["web-1"]);
    let i_del = h.ok(Command::DeregisterNode {
        node: "n2".into(),
        now_ms: 0,
    });
    assert_eq!(
        h.view().node_services("n2"),
        (None, i_del),
        "node extinction index"
    );
}

#[test]
fn deregister_service_removes_its_checks_and_bumps_tables() {
    let mut h = Harness::new();
    h.ok(register_service("n1", service("web-1", "web", &[], 80)));
    h.ok(register_checks(
        "n1",
        vec![
            check("n1", "web-chk", "web-1", CheckStatus::Passing),
            check("n1", "node-chk", "", CheckStatus::Passing),
        ],
        0,
    ));
    let i = h.ok(Command::DeregisterService {
        node: "n1".into(),
        service_id: "web-1".into(),
        now_ms: 0,
    });
    let v = h.view();
    let ids: Vec<String> = v
        .node_checks("n1")
        .0
        .into_iter()
        .map(|c| c.check_id)
        .collect();
    assert_eq!(ids, vec!["node-chk"]);
    assert_eq!(v.table_index(Table::Checks), i);
    assert_eq!(v.table_index(Table::Services), i);
    assert_eq!(v.table_index(Table::Nodes), i);
}

#[test]
fn deregister_node_removes_everything_on_it() {
    let mut h = Harness::new();
    h.ok(register_service("n1", service("web-1", "web", &[], 80)));
    h.ok(register_service("n2", service("web-2", "web", &[], 80)));
    h.ok(register_checks(
        "n1",
        vec![check("n1", "serfHealth", "", CheckStatus::Passing)],
        0,
    ));
    let i = h.ok(Command::DeregisterNode {
        node: "n1".into(),
        now_ms: 0,
    });
    let v = h.view();
    assert_eq!(v.nodes().0.len(), 1);
    assert!(v.node_checks("n1").0.is_empty());
    let (web, idx) = v.service_nodes("web", &[]);
    assert_eq!(web.len(), 1);
    assert_eq!(idx, i, "the remaining service's index moved");
    // Deregistering an unknown node is a no-op.
    h.ok(Command::DeregisterNode {
        node: "ghost".into(),
        now_ms: 0,
    });
    assert_eq!(h.view().table_index(Table::Nodes), i);
}

#[test]
fn renaming_a_service_in_place_moves_both_names() {
    let mut h = Harness::new();
    h.ok(register_service("n1", service("svc-1", "old", &[], 80)));
    let i = h.ok(register_service("n1", service("svc-1", "new", &[], 80)));
    let v = h.view();
    assert_eq!(v.service_nodes("old", &[]), (vec![], i));
    assert_eq!(v.service_nodes("new", &[]).0.len(), 1);
    assert!(!v.services().0.contains_key("old"));
}

#[test]
fn update_check_changes_status_and_health_filters() {
    let mut h = Harness::new();
    h.ok(register_service("n1", service("web-1", "web", &[], 80)));
    h.ok(register_service("n2", service("web-2", "web", &[], 80)));
    h.ok(register_checks(
        "n1",
        vec![check("n1", "serfHealth", "", CheckStatus::Passing)],
        0,
    ));
    h.ok(register_checks(
        "n2",
        vec![check("n2", "w2", "web-2", CheckStatus::Passing)],
        0,
    ));
    let ids = |h: &Harness, f| -> Vec<String> {
        h.view()
            .service_health("web", &[], f)
            .0
            .into_iter()
            .map(|e| e.service.id)
            .collect()
    };
    assert_eq!(ids(&h, HealthFilter::PassingOnly), vec!["web-1", "web-2"]);
    h.ok(Command::UpdateCheck {
        node: "n2".into(),
        check_id: "w2".into(),
        status: CheckStatus::Warning,
        output: "slow".into(),
        now_ms: 0,
    });
    assert_eq!(ids(&h, HealthFilter::PassingOnly), vec!["web-1"]);
    assert_eq!(ids(&h, HealthFilter::NotCritical), vec!["web-1", "web-2"]);
    h.ok(Command::UpdateCheck {
        node: "n1".into(),
        check_id: "serfHealth".into(),
        status: CheckStatus::Critical,
        output: "dead".into(),
        now_ms: 0,
    });
    assert_eq!(ids(&h, HealthFilter::NotCritical), vec!["web-2"]);
    assert_eq!(ids(&h, HealthFilter::All), vec!["web-1", "web-2"]);
    let (critical, _) = h.view().checks_in_state(Some(CheckStatus::Critical));
    assert_eq!(critical.len(), 1);
    assert_eq!(critical[0].output, "dead");
    assert_eq!(h.view().checks_in_state(None).0.len(), 2);
    let r = h.apply(Command::UpdateCheck {
        node: "n1".into(),
        check_id: "nope".into(),
        status: CheckStatus::Passing,
        output: String::new(),
        now_ms: 0,
    });
    assert_eq!(
        r.error().map(ToString::to_string).as_deref(),
        Some("Missing check 'nope' registration")
    );
}

#[test]
fn service_entries_carry_node_and_service_checks() {
    let mut h = Harness::new();
    h.ok(register_service("n1", service("web-1", "web", &[], 80)));
    h.ok(register_service("n1", service("db-1", "db", &[], 5432)));
    h.ok(register_checks(
        "n1",
        vec![
            check("n1", "serfHealth", "", CheckStatus::Passing),
            check("n1", "web-chk", "web-1", CheckStatus::Passing),
            check("n1", "db-chk", "db-1", CheckStatus::Passing),
        ],
        0,
    ));
    let (entries, _) = h.view().service_health("web", &[], HealthFilter::All);
    assert_eq!(entries.len(), 1);
    let ids: Vec<&str> = entries[0]
        .checks
        .iter()
        .map(|c| c.check_id.as_str())
        .collect();
    assert_eq!(
        ids,
        vec!["serfHealth", "web-chk"],
        "node checks first, no other service's"
    );
    assert_eq!(entries[0].node.node, "n1");
    let (checks, _) = h.view().service_checks("web");
    assert_eq!(
        checks
            .iter()
            .map(|c| c.check_id.as_str())
            .collect::<Vec<_>>(),
        vec!["web-chk"]
    );
}

#[test]
fn node_id_rename_replaces_the_old_name() {
    let mut h = Harness::new();
    let mut n = node("old-name", "10.0.0.9");
    n.id = "11111111-2222-3333-4444-555555555555".into();
    let i1 = h.ok(Command::Register(Box::new(RegisterRequest {
        node: n.clone(),
        service: Some(service("web-1", "web", &[], 80)),
        ..RegisterRequest::default()
    })));
    n.node = "new-name".into();
    h.ok(Command::Register(Box::new(RegisterRequest {
        node: n.clone(),
        ..RegisterRequest::default()
    })));
    let v = h.view();
    let names: Vec<String> = v.nodes().0.into_iter().map(|n| n.node).collect();
    assert_eq!(names, vec!["new-name"]);
    let renamed = v.node_by_id(&n.id.to_uppercase()).0.expect("found by ID");
    assert_eq!(
        renamed.create_index, i1,
        "a rename keeps the creation index"
    );
    assert!(
        v.service_nodes("web", &[]).0.is_empty(),
        "services of the old name are gone"
    );
}

#[test]
fn healthy_node_name_is_reserved_against_other_ids() {
    let mut h = Harness::new();
    let mut a = node("shared", "10.0.0.1");
    a.id = "aaaaaaaa-0000-0000-0000-000000000000".into();
    h.ok(Command::Register(Box::new(RegisterRequest {
        node: a,
        checks: vec![check("shared", "serfHealth", "", CheckStatus::Passing)],
        ..RegisterRequest::default()
    })));
    let mut b = node("shared", "10.0.0.2");
    b.id = "bbbbbbbb-0000-0000-0000-000000000000".into();
    let r = h.apply(Command::Register(Box::new(RegisterRequest {
        node: b.clone(),
        ..RegisterRequest::default()
    })));
    assert!(
        matches!(r, ApplyResult::Error(CatalogError::NodeNameReserved(_))),
        "{r:?}"
    );
    // Once the holder's serfHealth is critical, the name can be taken.
    h.ok(Command::UpdateCheck {
        node: "shared".into(),
        check_id: "serfHealth".into(),
        status: CheckStatus::Critical,
        output: String::new(),
        now_ms: 0,
    });
    h.ok(Command::Register(Box::new(RegisterRequest {
        node: b.clone(),
        ..RegisterRequest::default()
    })));
    assert_eq!(h.view().node("shared").0.map(|n| n.id), Some(b.id.clone()));
    assert!(h
        .view()
        .node_by_id("aaaaaaaa-0000-0000-0000-000000000000")
        .0
        .is_none());
}

#[test]
fn skip_node_update_keeps_node_record() {
    let mut h = Harness::new();
    let i = h.ok(register_node("n1"));
    h.ok(Command::Register(Box::new(RegisterRequest {
        node: node("n1", ""),
        service: Some(service("s", "s", &[], 1)),
        skip_node_update: true,
        ..RegisterRequest::default()
    })));
    let n = h.view().node("n1").0.expect("node");
    assert_eq!((n.address.as_str(), n.modify_index), ("10.0.0.1", i));
}

#[test]
fn missing_registration_texts_match_consul() {
    assert_eq!(
        CatalogError::MissingNode.to_string(),
        "Missing node registration"
    );
    assert_eq!(
        CatalogError::MissingService.to_string(),
        "Missing service registration"
    );
}

#[test]
fn http_bodies_convert_to_commands() {
    let body = r#"{
        "Node": "web-node", "Address": "10.1.2.3", "NodeMeta": {"rack": "r1"},
        "Service": {"Service": "web", "Port": 8080, "Tags": ["v2"]},
        "Check": {"CheckID": "service:web", "ServiceID": "web", "Status": "passing"},
        "Checks": [{"Name": "mem", "Status": "warning"}]
    }"#;
    let reg: cairn_types::CatalogRegistration = serde_json::from_str(body).expect("body");
    let mut h = Harness::new();
    h.ok(Command::Register(Box::new(
        RegisterRequest::from_registration(reg, 0),
    )));
    let v = h.view();
    let node = v.node("web-node").0.expect("node");
    assert_eq!(node.meta.get("rack").map(String::as_str), Some("r1"));
    let (entries, _) = v.service_health("web", &["v2".into()], HealthFilter::All);
    assert_eq!(entries.len(), 1);
    let ids: Vec<&str> = entries[0]
        .checks
        .iter()
        .map(|c| c.check_id.as_str())
        .collect();
    assert_eq!(ids, vec!["mem", "service:web"]);

    let dereg = |json: &str| -> Command {
        let d: cairn_types::CatalogDeregistration = serde_json::from_str(json).expect("body");
        Command::deregister(&d, 0)
    };
    h.ok(dereg(r#"{"Node": "web-node", "CheckID": "mem"}"#));
    assert!(h.view().node_check("web-node", "mem").0.is_none());
    h.ok(dereg(r#"{"Node": "web-node", "ServiceID": "web"}"#));
    assert!(h.view().service_nodes("web", &[]).0.is_empty());
    assert!(h.view().node("web-node").0.is_some());
    h.ok(dereg(r#"{"Node": "web-node"}"#));
    assert!(h.view().node("web-node").0.is_none());
}

#[test]
fn registering_with_other_name_case_keeps_the_node_record() {
    let mut h = Harness::new();
    let i = h.ok(register_node("Node-A"));
    h.ok(register_service("node-a", service("s", "s", &[], 1)));
    let n = h.view().node("NODE-A").0.expect("node");
    assert_eq!((n.node.as_str(), n.modify_index), ("Node-A", i));
    assert_eq!(h.view().nodes().0.len(), 1);
}

#[test]
fn node_meta_filters() {
    let mut h = Harness::new();
    let mut a = node("a", "10.0.0.1");
    a.meta.insert("rack".into(), "r1".into());
    a.meta.insert("env".into(), "prod".into());
    let mut b = node("b", "10.0.0.2");
    b.meta.insert("rack".into(), "r2".into());
    for (n, svc) in [
        (a, service("web-a", "web", &["x"], 80)),
        (b, service("web-b", "web", &["y"], 80)),
    ] {
        h.ok(Command::Register(Box::new(RegisterRequest {
            node: n,
            service: Some(svc),
            ..RegisterRequest::default()
        })));
    }
    let filters: std::collections::BTreeMap<String, String> =
        [("rack".to_string(), "r1".to_string())]
            .into_iter()
            .collect();
    let v = h.view();
    let names: Vec<String> = v
        .nodes_by_meta(&filters)
        .0
        .into_iter()
        .map(|n| n.node)
        .collect();
    assert_eq!(names, vec!["a"]);
    let (services, _) = v.services_by_node_meta(&filters);
    assert_eq!(services.get("web"), Some(&vec!["x".to_string()]));
    let none: std::collections::BTreeMap<String, String> = [("rack".to_string(), "r9".to_string())]
        .into_iter()
        .collect();
    assert!(v.services_by_node_meta(&none).0.is_empty());
    assert_eq!(
        v.nodes_by_meta(&Default::default()).0.len(),
        2,
        "no filter keeps all"
    );
}
