//! `cairn kv get|put|delete|export|import`.

use super::{block_on, connect};
use crate::cli::format::{go_json, tabwrite};
use crate::cli::{parse, HttpFlags, ServerFlags, Ui};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use cairn_client::{KvDeleteOptions, KvPutOptions};
use cairn_types::KvEntry;
use clap::{ArgAction, Parser};
use serde::{Deserialize, Serialize};
use std::io::Read;

/// Help of `cairn kv`.
pub const PARENT_HELP: &str = r#"
Usage: cairn kv <subcommand> [options] [args]

  Reads and writes the key-value store. Some examples; the subcommands'
  help has more.

  Create or update the key "redis/config/connections" with the value "5":

      $ cairn kv put redis/config/connections 5

  Read it back:

      $ cairn kv get redis/config/connections

  With its metadata:

      $ cairn kv get -detailed redis/config/connections

  Delete it:

      $ cairn kv delete redis/config/connections
"#;

/// Help of `cairn kv get`.
pub const GET_HELP: &str = r#"
Usage: cairn kv get [options] [KEY_OR_PREFIX]

  Prints the value stored at KEY. A missing key is an error; a key without
  data prints an empty line. Without a key, the root of the store is used.

      $ cairn kv get foo

  -detailed adds the key's metadata (indexes, flags, session):

      $ cairn kv get -detailed foo

  -recurse prints every key under the prefix as "key:value":

      $ cairn kv get -recurse foo

  -keys prints only the key names, cut after -separator:

      $ cairn kv get -keys foo
"#;

/// Arguments of `cairn kv get`.
#[derive(Debug, Parser)]
#[command(disable_help_flag = true, disable_version_flag = true)]
pub struct GetArgs {
    #[command(flatten)]
    http: HttpFlags,
    #[command(flatten)]
    server: ServerFlags,
    /// Print values base64-encoded. The default value is false.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    base64: bool,
    /// Print the key's metadata (CreateIndex, ModifyIndex, flags, session, …) along with its
    /// value. The default value is false.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    detailed: bool,
    /// List the keys starting with the prefix, without values; usually combined with
    /// -separator. The default value is false.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    keys: bool,
    /// Print every key starting with the prefix. The default value is false.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    recurse: bool,
    /// Separator after which -keys cuts key names. The default value is "/".
    #[arg(long, value_name = "string", default_value = "/")]
    separator: String,
    #[arg(hide = true)]
    args: Vec<String>,
}

/// `cairn kv get`.
pub fn get(args: &[String], ui: &Ui) -> i32 {
    let Ok(a) = parse::<GetArgs>("kv get", GET_HELP, args, ui) else {
        return 1;
    };
    let key = match a.args.as_slice() {
        [] => String::new(),
        [k] => strip_slash(k),
        more => {
            ui.error(&format!(
                "Too many arguments (expected 1, got {})",
                more.len()
            ));
            return 1;
        }
    };
    if key.is_empty() && !(a.recurse || a.keys) {
        ui.error("Error! Missing KEY argument");
        return 1;
    }
    let Ok(client) = connect(&a.http, Some(&a.server), ui) else {
        return 1;
    };
    let opts = a.server.query_options();
    block_on(async move {
        if a.keys {
            match client.kv().keys(&key, Some(&a.separator), &opts).await {
                Ok((keys, _)) => keys.iter().for_each(|k| ui.output(k)),
                Err(e) => {
                    ui.error(&format!("Error querying Consul agent: {e}"));
                    return 1;
                }
            }
            return 0;
        }
        if a.recurse {
            let entries = match client.kv().list(&key, &opts).await {
                Ok((entries, _)) => entries,
                Err(e) => {
                    ui.error(&format!("Error querying Consul agent: {e}"));
                    return 1;
                }
            };
            for (i, entry) in entries.iter().enumerate() {
                if a.detailed {
                    ui.output(&detailed(entry, a.base64));
                    if i + 1 < entries.len() {
                        ui.output("");
                    }
                } else {
                    let mut line = format!("{}:", entry.key).into_bytes();
                    line.extend(value_bytes(&entry.value, a.base64));
                    ui.output_bytes(&line);
                }
            }
            return 0;
        }
        match client.kv().get(&key, &opts).await {
            Err(e) => {
                ui.error(&format!("Error querying Consul agent: {e}"));
                1
            }
            Ok((None, _)) => {
                ui.error(&format!("Error! No key exists at: {key}"));
                1
            }
            Ok((Some(entry), _)) => {
                if a.detailed {
                    ui.output(&detailed(&entry, a.base64));
                } else {
                    ui.output_bytes(&value_bytes(&entry.value, a.base64));
                }
                0
            }
        }
    })
}

fn value_bytes(value: &[u8], base64: bool) -> Vec<u8> {
    if base64 {
        B64.encode(value).into_bytes()
    } else {
        value.to_vec()
    }
}

/// `kv get -detailed`: Go's tabwriter with padding 6, no newline after the value.
pub fn detailed(entry: &KvEntry, base64: bool) -> String {
    let session = if entry.session.is_empty() {
        "-".to_string()
    } else {
        entry.session.clone()
    };
    let value = String::from_utf8_lossy(&value_bytes(&entry.value, base64)).to_string();
    let rows: Vec<Vec<String>> = [
        ("CreateIndex", entry.create_index.to_string()),
        ("Flags", entry.flags.to_string()),
        ("Key", entry.key.clone()),
        ("LockIndex", entry.lock_index.to_string()),
        ("ModifyIndex", entry.modify_index.to_string()),
        ("Session", session),
        ("Value", value),
    ]
    .into_iter()
    .map(|(k, v)| vec![k.to_string(), v])
    .collect();
    tabwrite(&rows, 6, false)
}

fn strip_slash(key: &str) -> String {
    key.strip_prefix('/').unwrap_or(key).to_string()
}

/// Help of `cairn kv put`.
pub const PUT_HELP: &str = r#"
Usage: cairn kv put [options] KEY [DATA]

  Writes DATA at KEY in the key-value store.

      $ cairn kv put config/redis/maxconns 5

  DATA starting with "@" names a file to read:

      $ cairn kv put config/program/license @license.lic

  DATA "-" reads standard input:

      $ echo "abcd1234" | cairn kv put config/program/license -

  Without DATA, the key is created empty:

      $ cairn kv put webapp/beta/active

  With -base64, DATA is base64 and is decoded before writing.

  A check-and-set write needs -cas and the key's current -modify-index:

      $ cairn kv put -cas -modify-index=844 config/redis/maxconns 5
"#;

/// Arguments of `cairn kv put`.
#[derive(Debug, Parser)]
#[command(disable_help_flag = true, disable_version_flag = true)]
pub struct PutArgs {
    #[command(flatten)]
    http: HttpFlags,
    #[command(flatten)]
    server: ServerFlags,
    /// Take the lock on the key for -session (creating the key if needed). The default value
    /// is false.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    acquire: bool,
    /// Treat DATA as base64 and decode it. The default value is false.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    base64: bool,
    /// Check-and-set: write only if -modify-index is the key's current ModifyIndex. The
    /// default value is false.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    cas: bool,
    /// Unsigned integer stored with the key for clients' own use. The default value is 0.
    #[arg(long, value_name = "uint", default_value_t = 0)]
    flags: u64,
    /// The ModifyIndex -cas compares against.
    #[arg(long = "modify-index", value_name = "uint", default_value_t = 0)]
    modify_index: u64,
    /// Give up the lock -session holds on the key. The default value is false.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    release: bool,
    /// Session ID used with -acquire and -release.
    #[arg(long, value_name = "string", default_value = "")]
    session: String,
    #[arg(hide = true)]
    args: Vec<String>,
}

/// Where DATA comes from: `@file`, `-` (stdin), or the argument itself (Consul's rules: an
/// argument starting with `-` but longer than one character is taken literally).
pub fn data_from_arg(arg: &str, stdin: &mut dyn Read) -> Result<Vec<u8>, String> {
    if let Some(path) = arg.strip_prefix('@') {
        return std::fs::read(path)
            .map_err(|e| format!("Failed to read file: {}", go_io_error(path, &e)));
    }
    if arg == "-" {
        let mut buf = Vec::new();
        stdin
            .read_to_end(&mut buf)
            .map_err(|e| format!("Failed to read stdin: {e}"))?;
        return Ok(buf);
    }
    Ok(arg.as_bytes().to_vec())
}

/// Go's `*PathError` wording: `open <path>: no such file or directory`.
pub fn go_io_error(path: &str, e: &std::io::Error) -> String {
    let reason = match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    };
    format!("open {path}: {reason}")
}

/// Base64 as Go decodes it: line breaks are ignored.
pub fn decode_base64(data: &[u8]) -> Result<Vec<u8>, String> {
    let cleaned: Vec<u8> = data
        .iter()
        .copied()
        .filter(|b| *b != b'\n' && *b != b'\r')
        .collect();
    B64.decode(&cleaned).map_err(|e| e.to_string())
}

/// `cairn kv put`.
pub fn put(args: &[String], ui: &Ui) -> i32 {
    put_with_stdin(args, ui, &mut std::io::stdin())
}

/// `cairn kv put` reading `-` from `stdin`.
pub fn put_with_stdin(args: &[String], ui: &Ui, stdin: &mut dyn Read) -> i32 {
    let Ok(a) = parse::<PutArgs>("kv put", PUT_HELP, args, ui) else {
        return 1;
    };
    let (key, data) = match a.args.as_slice() {
        [] => {
            ui.error("Error! Missing KEY argument");
            return 1;
        }
        [k] => (k.clone(), Vec::new()),
        [k, d] => match data_from_arg(d, stdin) {
            Ok(data) => (k.clone(), data),
            Err(e) => {
                ui.error(&format!("Error! {e}"));
                return 1;
            }
        },
        more => {
            ui.error(&format!(
                "Error! Too many arguments (expected 1 or 2, got {})",
                more.len()
            ));
            return 1;
        }
    };
    let data = if a.base64 {
        match decode_base64(&data) {
            Ok(d) => d,
            Err(e) => {
                ui.error(&format!("Error! Cannot base 64 decode data: {e}"));
                return 1;
            }
        }
    } else {
        data
    };
    if (a.release || a.acquire) && a.session.is_empty() {
        ui.error("Error! Missing -session (required with -acquire and -release)");
        return 1;
    }
    if a.cas && a.modify_index == 0 {
        ui.error("Must specify -modify-index with -cas!");
        return 1;
    }
    let Ok(client) = connect(&a.http, Some(&a.server), ui) else {
        return 1;
    };
    let mut opts = KvPutOptions {
        flags: a.flags,
        ..KvPutOptions::default()
    };
    block_on(async move {
        let kv = client.kv();
        if a.cas {
            opts.cas = Some(a.modify_index);
            return match kv.put(&key, &data, &opts).await {
                Err(e) => {
                    ui.error(&format!("Error! Did not write to {key}: {e}"));
                    1
                }
                Ok(false) => {
                    ui.error(&format!("Error! Did not write to {key}: CAS failed"));
                    1
                }
                Ok(true) => {
                    ui.output(&format!("Success! Data written to: {key}"));
                    0
                }
            };
        }
        if a.acquire {
            opts.acquire = Some(a.session.clone());
            return match kv.put(&key, &data, &opts).await {
                Err(e) => {
                    ui.error(&format!("Error! Failed writing data: {e}"));
                    1
                }
                Ok(false) => {
                    ui.error("Error! Did not acquire lock");
                    1
                }
                Ok(true) => {
                    ui.output(&format!("Success! Lock acquired on: {key}"));
                    0
                }
            };
        }
        if a.release {
            opts.release = Some(a.session.clone());
            return match kv.put(&key, &data, &opts).await {
                Err(e) => {
                    ui.error(&format!("Error! Failed writing data: {e}"));
                    1
                }
                Ok(false) => {
                    ui.error("Error! Did not release lock");
                    1
                }
                Ok(true) => {
                    ui.output(&format!("Success! Lock released on: {key}"));
                    0
                }
            };
        }
        match kv.put(&key, &data, &opts).await {
            Err(e) => {
                ui.error(&format!("Error! Failed writing data: {e}"));
                1
            }
            Ok(_) => {
                ui.output(&format!("Success! Data written to: {key}"));
                0
            }
        }
    })
}

/// Help of `cairn kv delete`.
pub const DELETE_HELP: &str = r#"
Usage: cairn kv delete [options] KEY_OR_PREFIX

  Deletes the key at the given path; nothing happens if there is none.

      $ cairn kv delete foo

  -recurse deletes every key starting with the prefix ("foo", "food",
  "foo/bar/zip", ...):

      $ cairn kv delete -recurse foo
"#;

/// Arguments of `cairn kv delete`.
#[derive(Debug, Parser)]
#[command(disable_help_flag = true, disable_version_flag = true)]
pub struct DeleteArgs {
    #[command(flatten)]
    http: HttpFlags,
    #[command(flatten)]
    server: ServerFlags,
    /// Check-and-set: delete only if -modify-index is the key's current ModifyIndex. The
    /// default value is false.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    cas: bool,
    /// The ModifyIndex -cas compares against.
    #[arg(long = "modify-index", value_name = "uint", default_value_t = 0)]
    modify_index: u64,
    /// Delete every key under the path. The default value is false.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    recurse: bool,
    #[arg(hide = true)]
    args: Vec<String>,
}

/// `cairn kv delete`.
pub fn delete(args: &[String], ui: &Ui) -> i32 {
    let Ok(a) = parse::<DeleteArgs>("kv delete", DELETE_HELP, args, ui) else {
        return 1;
    };
    let key = match a.args.as_slice() {
        [] => String::new(),
        [k] => strip_slash(k),
        more => {
            ui.error(&format!(
                "Too many arguments (expected 1, got {})",
                more.len()
            ));
            return 1;
        }
    };
    if key.is_empty() && !a.recurse {
        ui.error("Error! Missing KEY argument");
        return 1;
    }
    if a.cas && a.modify_index == 0 {
        ui.error(
            "Cannot delete a key that does not exist. Provide a -modify-index greater than than 0.",
        );
        return 1;
    }
    if a.modify_index != 0 && !a.cas {
        ui.error("Cannot specify -modify-index without -cas!");
        return 1;
    }
    if a.recurse && a.cas {
        ui.error("Cannot specify both -cas and -recurse!");
        return 1;
    }
    let Ok(client) = connect(&a.http, Some(&a.server), ui) else {
        return 1;
    };
    block_on(async move {
        let kv = client.kv();
        if a.recurse {
            let opts = KvDeleteOptions {
                recurse: true,
                cas: None,
            };
            return match kv.delete(&key, &opts).await {
                Err(e) => {
                    ui.error(&format!("Error! Did not delete prefix {key}: {e}"));
                    1
                }
                Ok(_) => {
                    ui.output(&format!("Success! Deleted keys with prefix: {key}"));
                    0
                }
            };
        }
        if a.cas {
            let opts = KvDeleteOptions {
                recurse: false,
                cas: Some(a.modify_index),
            };
            return match kv.delete(&key, &opts).await {
                Err(e) => {
                    ui.error(&format!("Error! Did not delete key {key}: {e}"));
                    1
                }
                Ok(false) => {
                    ui.error(&format!("Error! Did not delete key {key}: CAS failed"));
                    1
                }
                Ok(true) => {
                    ui.output(&format!("Success! Deleted key: {key}"));
                    0
                }
            };
        }
        match kv.delete(&key, &KvDeleteOptions::default()).await {
            Err(e) => {
                ui.error(&format!("Error deleting key {key}: {e}"));
                1
            }
            Ok(_) => {
                ui.output(&format!("Success! Deleted key: {key}"));
                0
            }
        }
    })
}

/// One entry of `kv export` / `kv import` JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportEntry {
    /// Key.
    pub key: String,
    /// Flags.
    #[serde(default)]
    pub flags: u64,
    /// Base64 value (`""` when empty).
    #[serde(default)]
    pub value: String,
    /// Enterprise namespace, omitted when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Enterprise partition, omitted when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub partition: String,
}

impl ExportEntry {
    /// The export form of a KV entry.
    pub fn from_kv(entry: &KvEntry) -> ExportEntry {
        ExportEntry {
            key: entry.key.clone(),
            flags: entry.flags,
            value: B64.encode(&entry.value),
            namespace: String::new(),
            partition: String::new(),
        }
    }
}

/// The export document: Go's `json.MarshalIndent(entries, "", "\t")`.
pub fn export_json(entries: &[ExportEntry]) -> String {
    go_json(entries, "\t")
}

/// Help of `cairn kv export`.
pub const EXPORT_HELP: &str = r#"
Usage: cairn kv export [KEY_OR_PREFIX]

  Writes every key under the prefix as JSON to standard output, in the format
  "cairn kv import" (and "consul kv import") reads, to move trees between
  clusters.

      $ cairn kv export vault
"#;

/// Arguments of `cairn kv export`.
#[derive(Debug, Parser)]
#[command(disable_help_flag = true, disable_version_flag = true)]
pub struct ExportArgs {
    #[command(flatten)]
    http: HttpFlags,
    #[command(flatten)]
    server: ServerFlags,
    #[arg(hide = true)]
    args: Vec<String>,
}

/// `cairn kv export`.
pub fn export(args: &[String], ui: &Ui) -> i32 {
    let Ok(a) = parse::<ExportArgs>("kv export", EXPORT_HELP, args, ui) else {
        return 1;
    };
    let key = match a.args.as_slice() {
        [] => String::new(),
        [k] => strip_slash(k),
        more => {
            ui.error(&format!(
                "Too many arguments (expected 1, got {})",
                more.len()
            ));
            return 1;
        }
    };
    let Ok(client) = connect(&a.http, Some(&a.server), ui) else {
        return 1;
    };
    let opts = a.server.query_options();
    block_on(async move {
        match client.kv().list(&key, &opts).await {
            Err(e) => {
                ui.error(&format!("Error querying Consul agent: {e}"));
                1
            }
            Ok((entries, _)) => {
                let exported: Vec<ExportEntry> = entries.iter().map(ExportEntry::from_kv).collect();
                ui.output(&export_json(&exported));
                0
            }
        }
    })
}

/// Help of `cairn kv import`.
pub const IMPORT_HELP: &str = r#"
Usage: cairn kv import [options] [DATA]

  Writes the key-value pairs of a JSON document made by "kv export".

  DATA starting with "@" names a file to read:

      $ cairn kv import @filename.json

  DATA "-" reads standard input:

      $ cat filename.json | cairn kv import -

  Otherwise DATA is the JSON itself (mind the shell quoting).
"#;

/// Arguments of `cairn kv import`.
#[derive(Debug, Parser)]
#[command(disable_help_flag = true, disable_version_flag = true)]
pub struct ImportArgs {
    #[command(flatten)]
    http: HttpFlags,
    #[command(flatten)]
    server: ServerFlags,
    /// Key prefix put in front of every imported key. The default value is empty meaning
    /// root.
    #[arg(long, value_name = "string", default_value = "")]
    prefix: String,
    #[arg(hide = true)]
    args: Vec<String>,
}

/// The entries of an import document, with `prefix` put in front of their keys.
pub fn parse_import(data: &[u8], prefix: &str) -> Result<Vec<(String, u64, Vec<u8>)>, String> {
    let entries: Vec<ExportEntry> =
        serde_json::from_slice(data).map_err(|e| format!("Cannot unmarshal data: {e}"))?;
    entries
        .into_iter()
        .map(|e| {
            let value = B64
                .decode(e.value.as_bytes())
                .map_err(|err| format!("Error base 64 decoding value for key {}: {err}", e.key))?;
            let key = if prefix.is_empty() {
                e.key
            } else {
                format!(
                    "{}/{}",
                    prefix.trim_end_matches('/'),
                    e.key.trim_start_matches('/')
                )
            };
            Ok((key, e.flags, value))
        })
        .collect()
}

/// `cairn kv import`.
pub fn import(args: &[String], ui: &Ui) -> i32 {
    import_with_stdin(args, ui, &mut std::io::stdin())
}

/// `cairn kv import` reading `-` from `stdin`.
pub fn import_with_stdin(args: &[String], ui: &Ui, stdin: &mut dyn Read) -> i32 {
    let Ok(a) = parse::<ImportArgs>("kv import", IMPORT_HELP, args, ui) else {
        return 1;
    };
    let data = match a.args.as_slice() {
        [] => Err("Missing DATA argument".to_string()),
        [d] if d.is_empty() => Err("Empty DATA argument".to_string()),
        [d] => data_from_arg(d, stdin),
        more => Err(format!(
            "Too many arguments (expected 1, got {})",
            more.len()
        )),
    };
    let data = match data {
        Ok(d) => d,
        Err(e) => {
            ui.error(&format!("Error! {e}"));
            return 1;
        }
    };
    let Ok(client) = connect(&a.http, Some(&a.server), ui) else {
        return 1;
    };
    let entries = match parse_import(&data, &a.prefix) {
        Ok(e) => e,
        Err(e) => {
            ui.error(&e);
            return 1;
        }
    };
    block_on(async move {
        for (key, flags, value) in entries {
            let opts = KvPutOptions {
                flags,
                ..KvPutOptions::default()
            };
            if let Err(e) = client.kv().put(&key, &value, &opts).await {
                ui.error(&format!("Error! Failed writing data for key {key}: {e}"));
                return 1;
            }
            ui.output(&format!("Imported: {key}"));
        }
        0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> KvEntry {
        KvEntry {
            lock_index: 0,
            key: "redis/config/connections".into(),
            flags: 0,
            value: b"5".to_vec(),
            session: String::new(),
            create_index: 336,
            modify_index: 336,
        }
    }

    #[test]
    fn detailed_matches_consul() {
        assert_eq!(
            detailed(&entry(), false),
            "CreateIndex      336\nFlags            0\nKey              redis/config/connections\nLockIndex        0\nModifyIndex      336\nSession          -\nValue            5"
        );
        let mut e = entry();
        e.session = "adf4238a-882b-9ddc-4a9d-5b6758e4159e".into();
        let text = detailed(&e, true);
        assert!(text.contains("Session          adf4238a-882b-9ddc-4a9d-5b6758e4159e\n"));
        assert!(text.ends_with("Value            NQ=="));
    }

    #[test]
    fn value_sources() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("license.lic");
        std::fs::write(&file, b"bin\x00ary\n").unwrap();
        let mut no_stdin = std::io::empty();
        let arg = format!("@{}", file.display());
        assert_eq!(data_from_arg(&arg, &mut no_stdin).unwrap(), b"bin\x00ary\n");
        let mut stdin: &[u8] = b"from stdin\n";
        assert_eq!(data_from_arg("-", &mut stdin).unwrap(), b"from stdin\n");
        assert_eq!(data_from_arg("-5", &mut no_stdin).unwrap(), b"-5");
        assert_eq!(data_from_arg("plain", &mut no_stdin).unwrap(), b"plain");
        let missing = format!("@{}/nope", dir.path().display());
        let err = data_from_arg(&missing, &mut no_stdin).unwrap_err();
        assert_eq!(
            err,
            format!(
                "Failed to read file: open {}/nope: no such file or directory",
                dir.path().display()
            )
        );
    }

    #[test]
    fn base64_ignores_line_breaks_like_go() {
        assert_eq!(decode_base64(b"aGVs\nbG8=\n").unwrap(), b"hello");
        assert!(decode_base64(b"not base64!").is_err());
    }

    #[test]
    fn export_format_matches_go_marshal_indent() {
        let mut a = entry();
        a.key = "a<b>&c".into();
        let mut b = entry();
        b.key = "empty".into();
        b.value.clear();
        b.flags = 42;
        let json = export_json(&[ExportEntry::from_kv(&a), ExportEntry::from_kv(&b)]);
        assert_eq!(
            json,
            "[\n\t{\n\t\t\"key\": \"a\\u003cb\\u003e\\u0026c\",\n\t\t\"flags\": 0,\n\t\t\"value\": \"NQ==\"\n\t},\n\t{\n\t\t\"key\": \"empty\",\n\t\t\"flags\": 42,\n\t\t\"value\": \"\"\n\t}\n]"
        );
        assert_eq!(export_json(&[]), "[]");
    }

    #[test]
    fn export_import_round_trip() {
        let entries = [
            KvEntry {
                key: "app/bin".into(),
                flags: 7,
                value: vec![0, 159, 146, 150, 255],
                ..KvEntry::default()
            },
            KvEntry {
                key: "app/dir/".into(),
                ..KvEntry::default()
            },
            KvEntry {
                key: "app/<html>".into(),
                value: b"x & y".to_vec(),
                ..KvEntry::default()
            },
        ];
        let exported: Vec<ExportEntry> = entries.iter().map(ExportEntry::from_kv).collect();
        let json = export_json(&exported);
        let imported = parse_import(json.as_bytes(), "").unwrap();
        let back: Vec<(String, u64, Vec<u8>)> = entries
            .iter()
            .map(|e| (e.key.clone(), e.flags, e.value.clone()))
            .collect();
        assert_eq!(imported, back);
        let prefixed = parse_import(json.as_bytes(), "restore/").unwrap();
        assert_eq!(prefixed[0].0, "restore/app/bin");
        assert_eq!(prefixed[1].0, "restore/app/dir/");
    }

    #[test]
    fn import_errors() {
        let err = parse_import(b"{", "").unwrap_err();
        assert!(err.starts_with("Cannot unmarshal data: "), "{err}");
        let err = parse_import(br#"[{"key":"k","flags":0,"value":"!!"}]"#, "").unwrap_err();
        assert!(
            err.starts_with("Error base 64 decoding value for key k: "),
            "{err}"
        );
    }
}
