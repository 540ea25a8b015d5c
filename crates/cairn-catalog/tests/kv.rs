//! KV commands and their index effects.

mod common;

use cairn_catalog::{ApplyResult, CatalogError, Command, Table};
use common::*;

#[test]
fn set_creates_then_updates_keeping_create_index() {
    let mut h = Harness::new();
    let i1 = h.ok(kv_set("a/b", "1"));
    let i2 = h.ok(kv_set("a/b", "2"));
    let (e, idx) = h.view().kv_get("a/b");
    let e = e.expect("key exists");
    assert_eq!(e.value, b"2");
    assert_eq!((e.create_index, e.modify_index), (i1, i2));
    assert_eq!(idx, i2, "a present key reports its ModifyIndex");
    assert_eq!(h.view().table_index(Table::Kv), i2);
}

#[test]
fn identical_set_moves_no_index() {
    let mut h = Harness::new();
    let i1 = h.ok(kv_set("k", "v"));
    h.ok(kv_set("k", "v"));
    let (e, idx) = h.view().kv_get("k");
    assert_eq!(e.map(|e| e.modify_index), Some(i1));
    assert_eq!(idx, i1);
    assert_eq!(h.view().table_index(Table::Kv), i1);
}

#[test]
fn empty_key_is_rejected() {
    let mut h = Harness::new();
    assert_eq!(
        h.apply(kv_set("", "v")),
        ApplyResult::Error(CatalogError::MissingKey)
    );
    assert_eq!(h.view().kv_list("").0.len(), 0);
}

#[test]
fn missing_key_reports_table_index_and_never_zero() {
    let mut h = Harness::new();
    assert_eq!(h.view().kv_get("nope"), (None, 1));
    let i = h.ok(kv_set("x", "1"));
    assert_eq!(h.view().kv_get("nope"), (None, i));
}

#[test]
fn cas_zero_creates_only_and_nonzero_must_match() {
    let mut h = Harness::new();
    let cas = |key: &str, v: &str, index| Command::KvCas {
        key: key.into(),
        value: v.as_bytes().to_vec(),
        flags: 7,
        index,
    };
    assert_eq!(
        h.apply(cas("k", "a", 5)),
        ApplyResult::Bool(false),
        "no key to match"
    );
    let (i1, r) = h.apply_at(cas("k", "a", 0));
    assert_eq!(r, ApplyResult::Bool(true));
    assert_eq!(
        h.apply(cas("k", "b", 0)),
        ApplyResult::Bool(false),
        "exists"
    );
    assert_eq!(
        h.apply(cas("k", "b", i1 + 100)),
        ApplyResult::Bool(false),
        "stale"
    );
    assert_eq!(h.apply(cas("k", "b", i1)), ApplyResult::Bool(true));
    let e = h.view().kv_get("k").0.expect("present");
    assert_eq!((e.value.as_slice(), e.flags), (&b"b"[..], 7));
}

#[test]
fn cas_race_only_one_writer_wins() {
    let mut h = Harness::new();
    let i = h.ok(kv_set("counter", "0"));
    // Two clients read ModifyIndex i and both try to write.
    let first = h.apply(Command::KvCas {
        key: "counter".into(),
        value: b"1".to_vec(),
        flags: 0,
        index: i,
    });
    let second = h.apply(Command::KvCas {
        key: "counter".into(),
        value: b"1-other".to_vec(),
        flags: 0,
        index: i,
    });
    assert_eq!(
        (first, second),
        (ApplyResult::Bool(true), ApplyResult::Bool(false))
    );
    assert_eq!(
        h.view().kv_get("counter").0.map(|e| e.value),
        Some(b"1".to_vec())
    );
}

#[test]
fn delete_leaves_tombstone_so_prefix_index_does_not_go_back() {
    let mut h = Harness::new();
    h.ok(kv_set("app/a", "1"));
    let i_b = h.ok(kv_set("app/b", "2"));
    h.ok(kv_set("other", "x"));
    assert_eq!(h.view().kv_list("app/").1, i_b);
    let i_del = h.ok(Command::KvDelete {
        key: "app/b".into(),
    });
    let (list, idx) = h.view().kv_list("app/");
    assert_eq!(list.len(), 1);
    assert_eq!(
        idx, i_del,
        "the tombstone of app/b keeps the prefix index at the delete"
    );
    // A missing key reports the table index, which includes the tombstone.
    assert_eq!(h.view().kv_get("app/b"), (None, i_del));
    assert_eq!(
        (h.view().tombstone_index(), h.view().tombstone_count()),
        (i_del, 1)
    );
    // Reaping below the tombstone keeps it; reaping up to it drops it, and the prefix index
    // then falls back to app/a.
    h.ok(Command::TombstoneReap {
        up_to_index: i_del - 1,
    });
    assert_eq!(h.view().tombstone_count(), 1);
    h.ok(Command::TombstoneReap { up_to_index: i_del });
    assert_eq!(h.view().tombstone_count(), 0);
    let (_, idx) = h.view().kv_list("app/");
    assert!(
        idx < i_del,
        "after reaping, the index is the remaining entry's"
    );
}

#[test]
fn delete_of_missing_key_changes_nothing() {
    let mut h = Harness::new();
    let i = h.ok(kv_set("k", "v"));
    h.ok(Command::KvDelete {
        key: "ghost".into(),
    });
    assert_eq!(h.view().table_index(Table::Kv), i);
}

#[test]
fn delete_cas_semantics() {
    let mut h = Harness::new();
    let i = h.ok(kv_set("k", "v"));
    let del = |index| Command::KvDeleteCas {
        key: "k".into(),
        index,
    };
    assert_eq!(h.apply(del(i + 1)), ApplyResult::Bool(false));
    assert_eq!(
        h.apply(del(0)),
        ApplyResult::Bool(false),
        "0 never deletes an existing key"
    );
    assert_eq!(h.apply(del(i)), ApplyResult::Bool(true));
    assert!(h.view().kv_get("k").0.is_none());
    assert_eq!(
        h.apply(del(i)),
        ApplyResult::Bool(true),
        "a missing key counts as deleted"
    );
}

#[test]
fn delete_tree_removes_only_the_prefix_and_tombstones_it() {
    let mut h = Harness::new();
    for k in ["a/1", "a/2", "a/3/x", "ab", "b"] {
        h.ok(kv_set(k, "v"));
    }
    let i = h.ok(Command::KvDeleteTree {
        prefix: "a/".into(),
    });
    let keys: Vec<String> = h.view().kv_list("").0.into_iter().map(|e| e.key).collect();
    assert_eq!(keys, vec!["ab", "b"]);
    assert_eq!(h.view().kv_list("a/").1, i, "tombstone at the prefix");
    assert_eq!(h.view().kv_list("a").1, i);
    // Deleting a tree with nothing under it changes nothing.
    h.ok(Command::KvDeleteTree {
        prefix: "zzz/".into(),
    });
    assert_eq!(h.view().table_index(Table::Kv), i);
}

#[test]
fn delete_tree_of_root_clears_everything() {
    let mut h = Harness::new();
    h.ok(kv_set("a", "1"));
    h.ok(kv_set("b", "2"));
    let i = h.ok(Command::KvDeleteTree {
        prefix: String::new(),
    });
    assert_eq!(h.view().kv_list(""), (vec![], i));
}

#[test]
fn list_index_is_max_modify_index_under_prefix() {
    let mut h = Harness::new();
    let i1 = h.ok(kv_set("p/a", "1"));
    let i2 = h.ok(kv_set("q/a", "1"));
    assert_eq!(
        h.view().kv_list("p/").1,
        i1,
        "writes elsewhere do not move it"
    );
    assert_eq!(h.view().kv_list("").1, i2, "root reports the table index");
    assert_eq!(
        h.view().kv_list("nothing/").1,
        i2,
        "empty prefix: table index"
    );
}

#[test]
fn keys_with_separator_follow_consul() {
    let mut h = Harness::new();
    for k in ["web/a", "web/b/c", "web/b/d", "web/b.txt", "web2", "x"] {
        h.ok(kv_set(k, "v"));
    }
    let v = h.view();
    assert_eq!(
        v.kv_keys("web/", "/").0,
        vec!["web/a", "web/b.txt", "web/b/"]
    );
    assert_eq!(v.kv_keys("", "/").0, vec!["web/", "web2", "x"]);
    assert_eq!(
        v.kv_keys("web", "").0,
        vec!["web/a", "web/b.txt", "web/b/c", "web/b/d", "web2"]
    );
    assert_eq!(v.kv_keys("none/", "/").0, Vec::<String>::new());
}

#[test]
fn flags_and_binary_values_round_trip() {
    let mut h = Harness::new();
    let value: Vec<u8> = (0..=255).collect();
    h.ok(Command::KvSet {
        key: "bin".into(),
        value: value.clone(),
        flags: u64::MAX,
    });
    let e = h.view().kv_get("bin").0.expect("present");
    assert_eq!((e.value, e.flags), (value, u64::MAX));
}
