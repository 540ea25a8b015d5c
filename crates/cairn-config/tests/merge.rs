//! Loading order and merge rules across directories, files, flags and `-hcl` fragments.

mod common;

use cairn_config::{load_from_sources, ConfigPath, LoadOptions, Source};
use common::*;

#[test]
fn directory_files_in_name_order_then_files_then_flags_then_hcl() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "10-over.hcl",
        r#"
node_name  = "from-10"
retry_join = ["y"]
ports { dns = 8601 }
node_meta { b = "2" }
services { name = "s2" }
"#,
    );
    write(
        d,
        "00-base.json",
        r#"{"datacenter": "dc2", "node_name": "from-00", "retry_join": ["x"],
            "ports": {"http": 8501}, "node_meta": {"a": "1"}, "services": [{"name": "s1"}],
            "log_level": "warn"}"#,
    );
    write(d, "README.md", "not config");
    write(d, "empty.json", "");
    std::fs::create_dir(d.join("sub")).unwrap();
    write(&d.join("sub"), "zz.json", r#"{"node_name": "from-subdir"}"#);
    let extra_dir = tempfile::tempdir().unwrap();
    let extra = write(
        extra_dir.path(),
        "extra.json",
        r#"{"log_level": "err", "retry_join": ["z"]}"#,
    );

    let dir_arg = format!("-config-dir={}", d.display());
    let file_arg = format!("-config-file={extra}");
    let (c, w) = ok(load_args(&["-data-dir=/tmp/x", &dir_arg, &file_arg]));
    // Later files override scalars; the subdirectory is not read.
    assert_eq!(c.node_name, "from-10");
    assert_eq!(c.datacenter, "dc2");
    assert_eq!(c.log.level, cairn_config::LogLevel::Error);
    // Lists append in load order; blocks merge key by key; maps are replaced.
    assert_eq!(c.join.retry_join, vec!["x", "y", "z"]);
    assert_eq!(c.ports.http, Some(8501));
    assert_eq!(c.ports.dns, Some(8601));
    assert_eq!(c.node_meta.len(), 1);
    assert_eq!(c.node_meta["b"], "2");
    let names: Vec<_> = c
        .services
        .iter()
        .map(|s| s.registration.name.clone())
        .collect();
    assert_eq!(names, vec!["s1", "s2"]);
    let readme = d.join("README.md");
    assert!(
        w.contains(&format!(
            "skipping file {}, extension must be .hcl or .json, or config format must be set",
            readme.display()
        )),
        "{w:?}"
    );

    // Flags override files; list flags come before file entries; -hcl beats flags.
    let (c, _) = ok(load_args(&[
        "-data-dir=/tmp/x",
        "-node=from-flag",
        "-retry-join=flag",
        "-log-level=debug",
        "-hcl",
        "log_level = \"trace\"",
        &dir_arg,
        &file_arg,
    ]));
    assert_eq!(c.node_name, "from-flag");
    assert_eq!(c.join.retry_join, vec!["flag", "x", "y", "z"]);
    assert_eq!(c.log.level, cairn_config::LogLevel::Trace);
}

#[test]
fn config_file_and_dir_follow_command_line_order() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let file = write(a.path(), "first.json", r#"{"node_name": "file"}"#);
    write(b.path(), "x.json", r#"{"node_name": "dir"}"#);
    let file_arg = format!("-config-file={file}");
    let dir_arg = format!("-config-dir={}", b.path().display());
    let (c, _) = ok(load_args(&["-dev", &file_arg, &dir_arg]));
    assert_eq!(c.node_name, "dir");
    let (c, _) = ok(load_args(&["-dev", &dir_arg, &file_arg]));
    assert_eq!(c.node_name, "file");
}

#[test]
fn config_format_reads_every_file_in_a_dir() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.conf", "node_name = \"hcl-conf\"");
    let (c, w) = ok(load_args(&[
        "-dev",
        "-config-format=hcl",
        &format!("-config-dir={}", dir.path().display()),
    ]));
    assert_eq!(c.node_name, "hcl-conf");
    assert!(w.is_empty(), "{w:?}");
}

#[test]
fn deprecated_keys_move_with_warnings() {
    let text = r#"{"start_join": ["a"], "retry_join": ["b"], "ui": true,
                   "acl_datacenter": "dc1", "acl_default_policy": "deny",
                   "acl": {"tokens": {"master": "m"}}}"#;
    let (c, w) = ok(load_text(
        &["-data-dir=/d"],
        "old.json",
        cairn_config::Format::Json,
        text,
    ));
    assert_eq!(c.join.retry_join, vec!["b", "a"]);
    assert!(c.ui.enabled);
    assert!(c.acl.enabled);
    assert_eq!(c.acl.default_policy, "deny");
    assert_eq!(c.acl.initial_management_token.as_deref(), Some("m"));
    for expected in [
        "The 'start_join' field is deprecated. Use the 'retry_join' field instead.",
        "The 'ui' field is deprecated. Use the 'ui_config.enabled' field instead.",
        "The 'acl_datacenter' field is deprecated. Use the 'primary_datacenter' field instead.",
        "The 'acl.tokens.master' field is deprecated. Use the 'acl.tokens.initial_management' field instead.",
    ] {
        assert!(w.iter().any(|x| x == expected), "missing {expected:?} in {w:?}");
    }
    // -join is the same as start_join.
    let (c, _) = ok(load_args(&["-dev", "-join=j1", "-retry-join=j2"]));
    assert_eq!(c.join.retry_join, vec!["j2", "j1"]);
}

#[test]
fn text_sources_and_paths_mix() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "a.json",
        r#"{"node_name": "a", "recursors": ["1.1.1.1"]}"#,
    );
    let sources = vec![
        Source::Path(ConfigPath::File(file)),
        Source::Text {
            name: "inline".into(),
            format: cairn_config::Format::Hcl,
            text: "recursors = [\"1.1.1.1\", \"9.9.9.9:53\"]".into(),
        },
    ];
    let options = LoadOptions {
        dev: true,
        hostname: Some("h".into()),
        ..LoadOptions::default()
    };
    let (c, _) = load_from_sources(&flags(&[]), &sources, &options).unwrap();
    assert_eq!(c.node_name, "a");
    // Duplicates are dropped, order kept.
    assert_eq!(c.dns.recursors, vec!["1.1.1.1", "9.9.9.9:53"]);
}

#[test]
fn config_file_flag_accepts_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.hcl", "node_name = \"from-dir\"");
    let (c, _) = ok(load_args(&[
        "-dev",
        &format!("-config-file={}", dir.path().display()),
    ]));
    assert_eq!(c.node_name, "from-dir");
    let e = err(load_args(&["-dev", "-config-dir=/nonexistent/dir"]));
    assert!(
        e.to_string()
            .starts_with("config: Open failed on /nonexistent/dir."),
        "{e}"
    );
}
