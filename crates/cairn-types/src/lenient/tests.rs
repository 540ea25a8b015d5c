//! Unit tests of the lenient decoder.

use super::*;
use crate::duration::GoDuration;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Inner {
    #[serde(rename = "ServiceID")]
    service_id: String,
    interval: GoDuration,
    #[serde(rename = "TLSSkipVerify")]
    tls_skip_verify: bool,
}

#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Outer {
    name: String,
    port: u16,
    enable_tag_override: bool,
    meta: BTreeMap<String, String>,
    tags: Vec<String>,
    check: Option<Inner>,
    checks: Vec<Inner>,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Mode {
    Release,
    Delete,
}

#[derive(Debug, PartialEq, Deserialize)]
struct Required {
    #[serde(rename = "Key")]
    key: String,
}

#[test]
fn keys_match_in_any_case_and_snake_case() {
    let out: Outer = from_str(
        r#"{"name":"web","PORT":80,"enable_tag_override":true,
            "check":{"serviceid":"a","Interval":"10s","tls_skip_verify":true}}"#,
    )
    .unwrap();
    assert_eq!(out.name, "web");
    assert_eq!(out.port, 80);
    assert!(out.enable_tag_override);
    let check = out.check.unwrap();
    assert_eq!(check.service_id, "a");
    assert_eq!(check.interval, GoDuration(Duration::from_secs(10)));
    assert!(check.tls_skip_verify);
}

#[test]
fn dashed_keys_match_too() {
    let out: Inner = from_str(r#"{"service-id":"x","tls-skip-verify":true}"#).unwrap();
    assert_eq!(out.service_id, "x");
    assert!(out.tls_skip_verify);
}

#[test]
fn map_keys_stay_verbatim() {
    let out: Outer = from_str(r#"{"Meta":{"Version":"1","snake_key":"2","UPPER":"3"}}"#).unwrap();
    let keys: Vec<&str> = out.meta.keys().map(String::as_str).collect();
    assert_eq!(keys, ["UPPER", "Version", "snake_key"]);
}

#[test]
fn unknown_keys_are_ignored() {
    let out: Outer = from_str(r#"{"Name":"x","Bogus":{"deep":[1,2,{"a":null}]},"z":1}"#).unwrap();
    assert_eq!(out.name, "x");
}

#[test]
fn exact_spelling_wins_over_normalized_duplicate() {
    // Both keys reach `Name`; the exactly spelled one is taken whatever the order.
    let out: Outer = from_str(r#"{"name":"lower","Name":"exact"}"#).unwrap();
    assert_eq!(out.name, "exact");
    let out: Outer = from_str(r#"{"Name":"exact","NAME":"upper"}"#).unwrap();
    assert_eq!(out.name, "exact");
}

#[test]
fn null_members_leave_defaults() {
    let out: Outer = from_str(r#"{"Name":null,"Port":null,"Check":null,"Tags":null}"#).unwrap();
    assert_eq!(out, Outer::default());
    // A top-level null is an empty struct, as Go leaves the target untouched.
    let out: Outer = from_str("null").unwrap();
    assert_eq!(out, Outer::default());
}

#[test]
fn null_inside_lists_and_maps_is_the_zero_value() {
    let out: Outer = from_str(r#"{"Tags":["a",null],"Meta":{"k":null}}"#).unwrap();
    assert_eq!(out.tags, ["a", ""]);
    assert_eq!(out.meta.get("k").map(String::as_str), Some(""));
}

#[test]
fn enum_variants_match_leniently() {
    let m: Mode = from_str(r#""Delete""#).unwrap();
    assert_eq!(m, Mode::Delete);
    let m: Mode = from_str(r#""release""#).unwrap();
    assert_eq!(m, Mode::Release);
    let err = from_str::<Mode>(r#""destroy""#).unwrap_err();
    assert!(err.to_string().contains("unknown variant"), "{err}");
}

#[test]
fn errors_carry_the_path() {
    let err = from_str::<Outer>(r#"{"checks":[{},{"interval":"5x"}]}"#).unwrap_err();
    assert_eq!(err.path(), "Checks[1].Interval");
    assert!(err.message().contains("5x"), "{err}");
    assert!(err.to_string().starts_with("Checks[1].Interval: "), "{err}");

    let err = from_str::<Outer>(r#"{"port":"eighty"}"#).unwrap_err();
    assert_eq!(err.path(), "Port");
    assert!(err.message().contains("invalid type"), "{err}");

    let err = from_str::<Outer>(r#"{"port":70000}"#).unwrap_err();
    assert_eq!(err.path(), "Port");
}

#[test]
fn syntax_errors_are_one_line() {
    let err = from_str::<Outer>("{\n\"Name\": \n").unwrap_err();
    assert_eq!(err.path(), "");
    assert!(!err.to_string().contains('\n'));
    assert!(from_str::<Outer>("").is_err());
    assert!(from_str::<Outer>(r#"{"Name":"x"} trailing"#).is_err());
}

#[test]
fn long_or_multiline_user_text_is_cut_to_one_line() {
    let bad = format!("\"{}\\n{}\"", "x".repeat(5000), "y");
    let err = from_str::<Mode>(&bad).unwrap_err();
    let text = err.to_string();
    assert!(!text.contains('\n'));
    assert!(
        text.chars().count() <= MAX_MESSAGE_CHARS + 1,
        "{}",
        text.len()
    );
}

#[test]
fn required_fields_still_required() {
    let err = from_str::<Required>("{}").unwrap_err();
    assert!(err.to_string().contains("missing field `Key`"), "{err}");
    let ok: Required = from_str(r#"{"key":"a"}"#).unwrap();
    assert_eq!(ok.key, "a");
}

#[test]
fn structs_are_not_filled_from_lists() {
    assert!(from_str::<Inner>(r#"["a","10s",true]"#).is_err());
}

#[test]
fn wrong_shapes_are_errors_not_panics() {
    assert!(from_str::<Outer>(r#"{"Tags":"a"}"#).is_err());
    assert!(from_str::<Outer>(r#"{"Meta":[1]}"#).is_err());
    assert!(from_str::<Outer>(r#"{"Check":"x"}"#).is_err());
    assert!(from_str::<Outer>("42").is_err());
    assert!(from_str::<Outer>(r#"{"Port":-1}"#).is_err());
    assert!(from_str::<Outer>(r#"{"Port":1.5}"#).is_err());
}

#[test]
fn generic_values_pass_through() {
    let v: serde_json::Value = from_str(r#"{"A":[1,-2,3.5,"s",null,true]}"#).unwrap();
    assert_eq!(v, serde_json::json!({"A":[1,-2,3.5,"s",null,true]}));
}

#[test]
fn normalize_key_examples() {
    assert_eq!(normalize_key("ServiceID"), "serviceid");
    assert_eq!(normalize_key("service_id"), "serviceid");
    assert_eq!(normalize_key("Service-Id"), "serviceid");
    assert_eq!(normalize_key("GRPCUseTLS"), normalize_key("grpc_use_tls"));
}
