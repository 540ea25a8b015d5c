use super::*;
use serde_json::json;

fn doc() -> serde_json::Value {
    json!({
        "Node": "node1",
        "Address": "10.0.0.1",
        "Port": 8080,
        "Weight": 1.5,
        "Enabled": true,
        "Tags": ["primary", "v1"],
        "Empty": [],
        "Meta": {"env": "prod", "team-name": "core", "blank": ""},
        "Service": {"Service": "web", "Meta": {"version": "2"}, "Tags": []},
        "Checks": [
            {"CheckID": "serfHealth", "Status": "passing"},
            {"CheckID": "service:web", "Status": "critical", "Output": "connection refused"}
        ],
        "Proxy": null
    })
}

fn m(expr: &str) -> bool {
    Filter::parse(expr)
        .unwrap_or_else(|e| panic!("{expr}: {e}"))
        .matches(&doc())
}

fn err(expr: &str) -> String {
    Filter::parse(expr).map(|_| ()).unwrap_err().to_string()
}

#[test]
fn equality_with_every_value_form() {
    assert!(m(r#"Node == "node1""#));
    assert!(m("Node == `node1`"));
    assert!(m("Service.Service == web"));
    assert!(!m(r#"Node != "node1""#));
    assert!(m(r#"Node!="other""#));
    assert!(m("Port == 8080"));
    assert!(!m("Port == 80"));
    assert!(m("Weight == 1.5"));
    assert!(m("Enabled == true"));
    assert!(m("Enabled == True"));
    assert!(!m("Enabled == false"));
    assert!(m("Meta.env == prod"));
    assert!(m(r#"Meta["team-name"] == "core""#));
    assert!(m(r#"Meta[ "team-name" ] == core"#));
}

#[test]
fn emptiness() {
    assert!(m("Empty is empty"));
    assert!(m("Tags is not empty"));
    assert!(m("Meta.blank is empty"));
    assert!(m("Meta.missing is empty"));
    assert!(!m("Meta.missing is not empty"));
    assert!(m("Proxy is empty"));
    assert!(m("Service.Tags is empty"));
}

#[test]
fn membership_and_contains() {
    assert!(m("primary in Tags"));
    assert!(m(r#""v1" in Tags"#));
    assert!(m("v2 not in Tags"));
    assert!(m("Tags contains primary"));
    assert!(m("Tags not contains v9"));
    assert!(m("env in Meta"));
    assert!(m("nope not in Meta"));
    assert!(m(r#"Address contains "10.0""#));
    assert!(m(r#""refused" in Checks.Output"#));
}

#[test]
fn regex_matching() {
    assert!(m(r#"Node matches "^node[0-9]+$""#));
    assert!(m(r#"Node not matches "^web""#));
    assert!(!m(r#"Port matches "80""#), "numbers are not text");
    assert!(err(r#"Node matches "(""#).starts_with("error parsing regexp"));
}

#[test]
fn lists_in_paths_match_any_element() {
    assert!(m("Checks.Status == critical"));
    assert!(m("Checks.Status == passing"));
    assert!(!m("Checks.Status == warning"));
    assert!(m("Checks.Status != passing"), "some check is not passing");
    assert!(m(r#"Checks.CheckID == "serfHealth""#));
}

#[test]
fn missing_fields_follow_bexpr_map_rules() {
    assert!(!m("Meta.missing == x"));
    assert!(m("Meta.missing != x"));
    assert!(!m("x in Meta.missing"));
    assert!(m("x not in Meta.missing"));
    assert!(!m("Nope.Deeper == x"));
    assert!(m("Proxy.Mode != x"));
}

#[test]
fn boolean_logic_and_precedence() {
    assert!(m("Node == node1 and Port == 8080"));
    assert!(!m("Node == node1 and Port == 1"));
    assert!(m("Node == x or Port == 8080"));
    assert!(m("not Node == x"));
    assert!(!m("not not Node == x"));
    // and binds tighter than or.
    assert!(m("Node == node1 or Port == 1 and Enabled == false"));
    assert!(!m("(Node == node1 or Port == 1) and Enabled == false"));
    assert!(m("( Node == node1 )"));
    assert!(m("not (Node == x and Port == 8080)"));
    assert!(m("\n\tNode == node1\n"));
    // Keywords are not selector prefixes.
    assert!(!Filter::parse("notes == x").unwrap().matches(&doc()));
    assert!(Filter::parse("orange == x or android == y").is_ok());
}

#[test]
fn parse_errors_are_one_line_and_positioned() {
    let e = err("foo");
    assert!(e.starts_with("1:4 (3): no match found, expected:"), "{e}");
    assert!(!e.contains('\n'));
    assert_eq!(
        err("Address == 10.10.10.10"),
        "1:12 (11): rule \"number\": Invalid number literal"
    );
    assert!(err(r#"Node == "abc"#).contains("Unterminated string literal"));
    assert!(err("Node == `abc").contains("Unterminated string literal"));
    assert!(err("(Node == x").contains("Unmatched parentheses"));
    assert!(err(r#"Meta[abc] == x"#).contains("Invalid index"));
    assert!(err(r#"Meta["abc" == x"#).contains("Unclosed index expression"));
    assert!(err("x in 5").contains("Invalid selector"));
    let e = err("Node == x y");
    assert!(
        e.starts_with("1:11 (10): no match found, expected: \"and\", \"or\""),
        "{e}"
    );
    assert!(err("Node == node-1").starts_with("1:13 (12): no match found"));
    assert!(err("Node ==").starts_with("1:8 (7): no match found"));
    assert!(err("").starts_with("1:1 (0): no match found"));
    assert!(err("Node == x and").contains("no match found"));
    assert!(err("Node === x").contains("no match found"));
}

#[test]
fn string_escapes() {
    let d = json!({"K": "a\"b\\c\u{e9}"});
    let f = Filter::parse(r#"K == "a\"b\\c\u00e9""#).unwrap();
    assert!(f.matches(&d));
    assert!(err(r#"K == "\q""#).contains("Invalid escape sequence"));
}

#[test]
fn retain_filters_lists_and_map_values() {
    let f = Filter::parse("Port > 1").err();
    assert!(f.is_some(), "> is not an operator");
    let f = Filter::parse("Service == web").unwrap();
    let mut list = vec![json!({"Service": "web"}), json!({"Service": "db"})];
    f.retain(&mut list);
    assert_eq!(list, vec![json!({"Service": "web"})]);
    let mut map = std::collections::BTreeMap::from([
        ("a".to_string(), json!({"Service": "db"})),
        ("b".to_string(), json!({"Service": "web"})),
    ]);
    f.retain_values(&mut map);
    assert_eq!(map.keys().collect::<Vec<_>>(), vec!["b"]);
}

#[test]
fn garbage_never_panics() {
    let samples = [
        "((((",
        "))))",
        "\"",
        "`",
        "[",
        "]",
        "a[",
        "a[\"",
        "a.",
        "a..b == c",
        "-",
        "--1",
        "a == -",
        "a == -1",
        "a == 01",
        "not",
        "not ",
        "and",
        "a is",
        "a is not",
        "in a",
        "\u{1F600} == x",
        "a == \u{1F600}",
        "a\u{0} == b",
        "a == \"\\u12\"",
        "a == \"\\u",
    ];
    for s in samples {
        let _ = Filter::parse(s).map(|f| f.matches(&doc()));
    }
    // Every prefix of a valid expression parses or errors without panicking.
    let full = r#"(Meta["a b"] == `x` or not Tags contains "y") and 1.5 in Checks.Status"#;
    for (i, _) in full.char_indices() {
        let _ = Filter::parse(&full[..i]);
    }
}
