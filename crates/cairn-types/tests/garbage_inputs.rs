//! Property-style checks: the lenient decoder never panics, whatever it is fed, and its errors
//! stay one short line. Bounded and deterministic (fixed seeds), so it runs in well under a
//! second.

use cairn_types::lenient::{self, DecodeError};
use cairn_types::{
    AgentServiceRegistration, CatalogDeregistration, CatalogRegistration, CheckType, HealthCheck,
    KvEntry, Member, NodeServices, ServiceEntry, Session, SessionRequest, TxnOp, TxnResponse,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

/// xorshift64*: tiny, deterministic, good enough to shake out input shapes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Field names of the request and response types, so random objects hit real fields.
const KEYS: &[&str] = &[
    "Name",
    "ID",
    "Node",
    "Address",
    "Port",
    "Tags",
    "Meta",
    "EnableTagOverride",
    "Weights",
    "Passing",
    "Warning",
    "TaggedAddresses",
    "Check",
    "Checks",
    "CheckID",
    "ServiceID",
    "Notes",
    "Status",
    "Args",
    "ScriptArgs",
    "HTTP",
    "Header",
    "Method",
    "Body",
    "TLSSkipVerify",
    "TCP",
    "GRPC",
    "GRPCUseTLS",
    "H2PING",
    "H2PingUseTLS",
    "Interval",
    "Timeout",
    "TTL",
    "DeregisterCriticalServiceAfter",
    "LockDelay",
    "Behavior",
    "NodeChecks",
    "ServiceChecks",
    "Service",
    "Definition",
    "KV",
    "Verb",
    "Key",
    "Value",
    "Flags",
    "Index",
    "Session",
    "Results",
    "Errors",
    "OpIndex",
    "What",
    "Services",
    "LockIndex",
    "CreateIndex",
    "ModifyIndex",
    "NodeMeta",
    "SkipNodeUpdate",
    "OutputMaxSize",
    "FailuresBeforeCritical",
    "Kind",
];

const STRINGS: &[&str] = &[
    "",
    "15.0s",
    "0.001s",
    "150.0s",
    "1m30s",
    "-5s",
    "10",
    "0",
    "abc",
    "9999999999999999999h",
    "1.5h",
    "release",
    "delete",
    "Delete",
    "passing",
    "critical",
    "bogus",
    "dGVzdA==",
    "!!!",
    "serfHealth",
    "µs",
    "1µs",
    ".s",
    "\u{0}\n\t",
    "ünïcødé",
    "5x",
];

fn mutate_key(rng: &mut Rng, key: &str) -> String {
    match rng.below(5) {
        0 => key.to_ascii_lowercase(),
        1 => key.to_ascii_uppercase(),
        2 => {
            // Crude snake_case: underscore before each inner capital.
            let mut out = String::new();
            for (i, c) in key.chars().enumerate() {
                if i > 0 && c.is_ascii_uppercase() {
                    out.push('_');
                }
                out.push(c.to_ascii_lowercase());
            }
            out
        }
        3 => format!("{key}x"),
        _ => key.to_owned(),
    }
}

fn random_value(rng: &mut Rng, depth: usize) -> Value {
    let leaf_only = depth == 0;
    match rng.below(if leaf_only { 6 } else { 9 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.below(2) == 0),
        2 => {
            let n: i64 = match rng.below(4) {
                0 => rng.below(2000) as i64 - 1000,
                1 => i64::MIN,
                2 => i64::MAX,
                _ => rng.next() as i64,
            };
            Value::from(n)
        }
        3 => Value::from(rng.next()),
        4 => Value::from(*rng.pick(&[0.5, -1.5, 1e300, -0.0, 15.0, 1e-9])),
        5 => Value::String(rng.pick(STRINGS).to_string()),
        6 | 7 => {
            let mut obj = Map::new();
            for _ in 0..rng.below(6) {
                let base = *rng.pick(KEYS);
                let key = mutate_key(rng, base);
                obj.insert(key, random_value(rng, depth - 1));
            }
            Value::Object(obj)
        }
        _ => Value::Array(
            (0..rng.below(4))
                .map(|_| random_value(rng, depth - 1))
                .collect(),
        ),
    }
}

fn assert_one_line(err: &DecodeError) {
    let text = err.to_string();
    assert!(!text.contains('\n') && !text.contains('\r'), "{text:?}");
    assert!(text.chars().count() < 1000, "{} chars", text.len());
}

/// Decode `bytes` as `T`; on success the value must serialize again.
fn try_decode<T: DeserializeOwned + Serialize>(bytes: &[u8]) -> bool {
    match lenient::from_slice::<T>(bytes) {
        Ok(v) => {
            serde_json::to_vec(&v).expect("decoded value serializes");
            true
        }
        Err(e) => {
            assert_one_line(&e);
            false
        }
    }
}

fn decode_as_everything(bytes: &[u8]) -> usize {
    [
        try_decode::<AgentServiceRegistration>(bytes),
        try_decode::<CheckType>(bytes),
        try_decode::<SessionRequest>(bytes),
        try_decode::<CatalogRegistration>(bytes),
        try_decode::<CatalogDeregistration>(bytes),
        try_decode::<Vec<TxnOp>>(bytes),
        try_decode::<TxnResponse>(bytes),
        try_decode::<KvEntry>(bytes),
        try_decode::<Session>(bytes),
        try_decode::<Member>(bytes),
        try_decode::<HealthCheck>(bytes),
        try_decode::<ServiceEntry>(bytes),
        try_decode::<NodeServices>(bytes),
    ]
    .iter()
    .filter(|ok| **ok)
    .count()
}

#[test]
fn random_json_documents_never_panic() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut decoded = 0;
    for _ in 0..1500 {
        let doc = random_value(&mut rng, 4);
        let bytes = serde_json::to_vec(&doc).unwrap();
        assert!(lenient::from_slice::<Value>(&bytes).is_ok());
        decoded += decode_as_everything(&bytes);
    }
    // The generator must reach successful decodes too, or it tests only the error paths.
    eprintln!("{decoded} successful typed decodes");
    assert!(decoded > 1000, "only {decoded} successful typed decodes");
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let alphabet = b"{}[]\":,0123456789.-eEtrufalsn \\u\x00\xff\xc3";
    for _ in 0..1500 {
        let len = rng.below(48);
        let bytes: Vec<u8> = (0..len).map(|_| *rng.pick(alphabet)).collect();
        decode_as_everything(&bytes);
    }
}

#[test]
fn mangled_real_bodies_never_panic() {
    let bodies: [&[u8]; 2] = [
        br#"{"name": "batman-pg1", "checks": [], "lockdelay": "0.001s", "behavior": "delete", "ttl": "15.0s"}"#,
        br#"{"name": "batman", "enabletagoverride": true, "id": "batman/pg1", "address": "127.0.0.1", "port": 5432, "tags": ["master","primary"], "check": {"http": "http://127.0.0.1:8008/master", "interval": "5s", "DeregisterCriticalServiceAfter": "150.0s"}}"#,
    ];
    let mut rng = Rng(0x1234_5678_9ABC_DEF1);
    for _ in 0..1000 {
        let mut body = rng.pick(&bodies).to_vec();
        for _ in 0..=rng.below(3) {
            let at = rng.below(body.len());
            match rng.below(3) {
                0 => body[at] = rng.next() as u8,
                1 => {
                    body.remove(at);
                }
                _ => body.insert(at, *rng.pick(b"{[\"0-.,:}]")),
            }
        }
        decode_as_everything(&body);
    }
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(lenient::from_str::<Value>(&deep).is_err());
    let deep_obj = format!("{}1{}", r#"{"Check":"#.repeat(50_000), "}".repeat(50_000));
    assert!(lenient::from_str::<AgentServiceRegistration>(&deep_obj).is_err());
}
