//! The `cairn` binary against a fake agent: exact output, exit codes, and the requests sent.

use cairn_client::fake_kv::FakeKv;
use cairn_client::fake_server::{CannedResponse, FakeServer};
use cairn_types::KvEntry;
use std::io::Write;
use std::process::{Command, Output, Stdio};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn finish(out: Output) -> Run {
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).to_string(),
    }
}

fn command(addr: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cairn"));
    cmd.args(args)
        .env_remove("CAIRN_HTTP_ADDR")
        .env_remove("CAIRN_HTTP_TOKEN")
        .env_remove("CAIRN_HTTP_TOKEN_FILE")
        .env_remove("CONSUL_HTTP_TOKEN")
        .env_remove("CONSUL_HTTP_TOKEN_FILE")
        .env_remove("CONSUL_HTTP_SSL")
        .env("CONSUL_HTTP_ADDR", addr)
        .stdin(Stdio::null());
    cmd
}

/// Runs `cairn` to completion, killing it after a minute so that a command that
/// unexpectedly serves forever fails the test instead of hanging the suite.
fn cairn(server: &FakeServer, args: &[&str]) -> Run {
    let mut child = command(&server.addr().to_string(), args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("cairn {args:?} did not exit within 60 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    finish(child.wait_with_output().unwrap())
}

fn cairn_stdin(server: &FakeServer, args: &[&str], input: &[u8]) -> Run {
    let mut child = command(&server.addr().to_string(), args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    finish(child.wait_with_output().unwrap())
}

fn agent() -> (FakeServer, FakeKv) {
    let server = FakeServer::start().unwrap();
    let kv = FakeKv::default();
    kv.install(&server);
    server.route(
        "GET",
        "/v1/agent/self",
        vec![CannedResponse::json(
            200,
            r#"{"Config":{"NodeName":"node-1","Datacenter":"dc1"},"Stats":{"agent":{"checks":"0","services":"1"},"raft":{"state":"Leader"}}}"#,
        )],
    );
    (server, kv)
}

fn put(kv: &FakeKv, key: &str, value: &[u8], index: u64) {
    kv.insert(KvEntry {
        key: key.into(),
        value: value.to_vec(),
        create_index: index,
        modify_index: index,
        ..KvEntry::default()
    });
}

#[test]
fn kv_get_prints_raw_value_and_missing_key_fails() {
    let (server, kv) = agent();
    put(&kv, "app/config", b"hello\nworld", 5);
    let r = cairn(&server, &["kv", "get", "app/config"]);
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (0, "hello\nworld\n", "")
    );
    let r = cairn(&server, &["kv", "get", "/app/config"]);
    assert_eq!(r.stdout, "hello\nworld\n", "leading slash stripped");
    let r = cairn(&server, &["kv", "get", "nope"]);
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (1, "", "Error! No key exists at: nope\n")
    );
    let r = cairn(&server, &["kv", "get"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (1, "Error! Missing KEY argument\n")
    );
    let r = cairn(&server, &["kv", "get", "a", "b"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (1, "Too many arguments (expected 1, got 2)\n")
    );
}

#[test]
fn kv_get_detailed_recurse_keys_base64() {
    let (server, kv) = agent();
    put(&kv, "app/a", b"1", 3);
    put(&kv, "app/b/c", b"2", 4);
    let r = cairn(&server, &["kv", "get", "-detailed", "app/a"]);
    assert_eq!(
        r.stdout,
        "CreateIndex      3\nFlags            0\nKey              app/a\nLockIndex        0\nModifyIndex      3\nSession          -\nValue            1\n"
    );
    let r = cairn(&server, &["kv", "get", "-recurse", "app/"]);
    assert_eq!(r.stdout, "app/a:1\napp/b/c:2\n");
    let r = cairn(&server, &["kv", "get", "--recurse", "--base64", "app/"]);
    assert_eq!(r.stdout, "app/a:MQ==\napp/b/c:Mg==\n");
    let r = cairn(&server, &["kv", "get", "-recurse", "-detailed", "app/"]);
    assert!(
        r.stdout
            .contains("Value            1\n\nCreateIndex      4\n"),
        "{}",
        r.stdout
    );
    let r = cairn(&server, &["kv", "get", "-keys", "app/"]);
    assert_eq!(r.code, 0);
    assert_eq!(r.stdout, "app/a\napp/b/c\n");
    let keys_req = server.requests_to("/v1/kv/app/").pop().unwrap();
    assert_eq!(keys_req.param("separator"), Some("/"));
}

#[test]
fn kv_put_sources_and_flags() {
    let (server, kv) = agent();
    let r = cairn(&server, &["kv", "put", "k1", "v1"]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "Success! Data written to: k1\n")
    );
    assert_eq!(kv.get("k1").unwrap().value, b"v1");

    let r = cairn_stdin(&server, &["kv", "put", "k2", "-"], b"from\nstdin\x00");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(kv.get("k2").unwrap().value, b"from\nstdin\x00");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data.bin");
    std::fs::write(&file, [0u8, 1, 2, 255]).unwrap();
    let arg = format!("@{}", file.display());
    let r = cairn(&server, &["kv", "put", "-flags=42", "k3", &arg]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let e = kv.get("k3").unwrap();
    assert_eq!((e.value, e.flags), (vec![0, 1, 2, 255], 42));

    let r = cairn(&server, &["kv", "put", "-base64", "k4", "aGk="]);
    assert_eq!(r.code, 0);
    assert_eq!(kv.get("k4").unwrap().value, b"hi");
    let r = cairn(&server, &["kv", "put", "-base64", "k4", "!!"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.starts_with("Error! Cannot base 64 decode data: "),
        "{}",
        r.stderr
    );

    // Data that looks like a flag is data once the key has been given.
    let r = cairn(&server, &["kv", "put", "k5", "-flags=9"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(kv.get("k5").unwrap().value, b"-flags=9");

    let r = cairn(&server, &["kv", "put", "k6"]);
    assert_eq!(r.code, 0);
    assert!(kv.get("k6").unwrap().value.is_empty());

    let r = cairn(&server, &["kv", "put", "/bad", "x"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (
            1,
            "Error! Failed writing data: Invalid key. Key must not begin with a '/': /bad\n"
        )
    );
}

#[test]
fn kv_put_cas_and_locks() {
    let (server, kv) = agent();
    put(&kv, "k", b"old", 7);
    let r = cairn(
        &server,
        &["kv", "put", "-cas", "-modify-index=5", "k", "new"],
    );
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (1, "Error! Did not write to k: CAS failed\n")
    );
    let r = cairn(
        &server,
        &["kv", "put", "-cas", "-modify-index", "7", "k", "new"],
    );
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "Success! Data written to: k\n")
    );
    assert_eq!(kv.get("k").unwrap().value, b"new");
    let r = cairn(&server, &["kv", "put", "-cas", "k", "x"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (1, "Must specify -modify-index with -cas!\n")
    );
    let r = cairn(&server, &["kv", "put", "-acquire", "k", "x"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (
            1,
            "Error! Missing -session (required with -acquire and -release)\n"
        )
    );
    kv.add_session("s1", "release");
    let r = cairn(
        &server,
        &["kv", "put", "-acquire", "-session=s1", "lock", "x"],
    );
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "Success! Lock acquired on: lock\n")
    );
    kv.add_session("s2", "release");
    let r = cairn(
        &server,
        &["kv", "put", "-acquire", "-session=s2", "lock", "x"],
    );
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (1, "Error! Did not acquire lock\n")
    );
    let r = cairn(&server, &["kv", "put", "-release", "-session=s1", "lock"]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "Success! Lock released on: lock\n")
    );
}

#[test]
fn kv_delete_variants() {
    let (server, kv) = agent();
    put(&kv, "p/a", b"1", 2);
    put(&kv, "p/b", b"2", 3);
    put(&kv, "q", b"3", 4);
    let r = cairn(&server, &["kv", "delete", "-cas", "-modify-index=1", "q"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (1, "Error! Did not delete key q: CAS failed\n")
    );
    let r = cairn(&server, &["kv", "delete", "-cas", "-modify-index=4", "q"]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "Success! Deleted key: q\n")
    );
    let r = cairn(&server, &["kv", "delete", "-recurse", "p"]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "Success! Deleted keys with prefix: p\n")
    );
    assert!(kv.entries().is_empty());
    let r = cairn(
        &server,
        &["kv", "delete", "-recurse", "-cas", "-modify-index=3", "p"],
    );
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (1, "Cannot specify both -cas and -recurse!\n")
    );
    let r = cairn(&server, &["kv", "delete", "-modify-index=3", "p"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (1, "Cannot specify -modify-index without -cas!\n")
    );
}

#[test]
fn kv_export_then_import_round_trips() {
    let (server, kv) = agent();
    put(&kv, "app/a", b"1", 2);
    kv.insert(KvEntry {
        key: "app/bin".into(),
        flags: 12,
        value: vec![0, 255, 10],
        create_index: 3,
        modify_index: 3,
        ..KvEntry::default()
    });
    let exported = cairn(&server, &["kv", "export", "app/"]);
    assert_eq!(exported.code, 0);
    assert_eq!(
        exported.stdout,
        "[\n\t{\n\t\t\"key\": \"app/a\",\n\t\t\"flags\": 0,\n\t\t\"value\": \"MQ==\"\n\t},\n\t{\n\t\t\"key\": \"app/bin\",\n\t\t\"flags\": 12,\n\t\t\"value\": \"AP8K\"\n\t}\n]\n"
    );
    let (server2, kv2) = agent();
    let r = cairn_stdin(&server2, &["kv", "import", "-"], exported.stdout.as_bytes());
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "Imported: app/a\nImported: app/bin\n"),
        "{}",
        r.stderr
    );
    let bin = kv2.get("app/bin").unwrap();
    assert_eq!((bin.value, bin.flags), (vec![0, 255, 10], 12));
    let r = cairn(
        &server2,
        &["kv", "import", "-prefix=copy", &exported.stdout],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(kv2.get("copy/app/a").unwrap().value, b"1");
    let r = cairn(&server2, &["kv", "import", "{"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.starts_with("Cannot unmarshal data: "),
        "{}",
        r.stderr
    );
}

#[test]
fn agent_errors_and_unreachable_agent() {
    let server = FakeServer::start().unwrap();
    server.route(
        "GET",
        "/v1/kv/x",
        vec![CannedResponse::text(500, "No cluster leader")],
    );
    let r = cairn(&server, &["kv", "get", "x"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (
            1,
            "Error querying Consul agent: Unexpected response code: 500 (No cluster leader)\n"
        )
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let r = finish(
        command(&format!("127.0.0.1:{port}"), &["kv", "get", "x"])
            .output()
            .unwrap(),
    );
    assert_eq!(r.code, 1);
    assert_eq!(
        r.stderr,
        format!("Error querying Consul agent: Get \"http://127.0.0.1:{port}/v1/kv/x\": dial tcp 127.0.0.1:{port}: connect: connection refused\n")
    );
    let r = finish(
        command("unix:///tmp/x.sock", &["members"])
            .output()
            .unwrap(),
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .starts_with("Error connecting to Consul agent: Unix socket"),
        "{}",
        r.stderr
    );
}

#[test]
fn http_addr_flag_token_and_datacenter() {
    let (server, kv) = agent();
    put(&kv, "k", b"v", 1);
    // The flag wins over the environment (which points nowhere).
    let addr = format!("-http-addr={}", server.url());
    let r = finish(
        command(
            "127.0.0.1:1",
            &["kv", "get", &addr, "-token=t0k", "-datacenter=dc9", "k"],
        )
        .output()
        .unwrap(),
    );
    assert_eq!((r.code, r.stdout.as_str()), (0, "v\n"), "{}", r.stderr);
    let req = server.requests_to("/v1/kv/k").pop().unwrap();
    assert_eq!(req.header("x-consul-token"), Some("t0k"));
    assert_eq!(req.param("dc"), Some("dc9"));
    // Token from the environment; double-dash flags.
    let r = finish(
        command(&server.addr().to_string(), &["kv", "get", "--stale", "k"])
            .env("CONSUL_HTTP_TOKEN", "envtok")
            .output()
            .unwrap(),
    );
    assert_eq!(r.code, 0);
    let req = server.requests_to("/v1/kv/k").pop().unwrap();
    assert_eq!(req.header("x-consul-token"), Some("envtok"));
    assert_eq!(req.param("stale"), Some(""));
    let r = finish(
        command("127.0.0.1:1", &["kv", "get", "k"])
            .env("CAIRN_HTTP_ADDR", server.url())
            .output()
            .unwrap(),
    );
    assert_eq!(
        r.code, 0,
        "CAIRN_HTTP_ADDR wins over CONSUL_HTTP_ADDR: {}",
        r.stderr
    );
}

const MEMBERS: &str = r#"[
 {"Name":"client1","Addr":"10.0.0.20","Port":8301,"Tags":{"role":"node","dc":"dc1","vsn":"2","build":"1.20.0:abc"},"Status":1,"ProtocolMin":1,"ProtocolMax":5,"ProtocolCur":2,"DelegateMin":2,"DelegateMax":5,"DelegateCur":4},
 {"Name":"server1","Addr":"10.0.0.10","Port":8301,"Tags":{"role":"consul","dc":"dc1","vsn":"2","build":"1.20.0:abc","port":"8300"},"Status":1,"ProtocolMin":1,"ProtocolMax":5,"ProtocolCur":2,"DelegateMin":2,"DelegateMax":5,"DelegateCur":4}
]"#;

#[test]
fn members_table_filter_and_exit_2() {
    let server = FakeServer::start().unwrap();
    server.route(
        "GET",
        "/v1/agent/members",
        vec![CannedResponse::json(200, MEMBERS)],
    );
    let r = cairn(&server, &["members"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "Node     Address         Status  Type    Build   Protocol  DC   Partition  Segment\n\
         server1  10.0.0.10:8301  alive   server  1.20.0  2         dc1  default    <all>\n\
         client1  10.0.0.20:8301  alive   client  1.20.0  2         dc1  default    <default>\n"
    );
    let r = cairn(&server, &["members", "-status=failed"]);
    assert_eq!((r.code, r.stdout.as_str()), (2, ""));
    let r = cairn(&server, &["members", "-detailed", "-wan"]);
    assert!(r.stdout.starts_with("Node     Address         Status  Tags\nserver1  10.0.0.10:8301  alive   ap=default,build=1.20.0:abc,dc=dc1,port=8300,role=consul,segment=<all>,vsn=2\n"), "{}", r.stdout);
    assert_eq!(server.requests().last().unwrap().param("wan"), Some(""));
    let r = cairn(&server, &["members", "-status=("]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.starts_with("Failed to compile status regexp"),
        "{}",
        r.stderr
    );
}

#[test]
fn catalog_commands() {
    let server = FakeServer::start().unwrap();
    server.route(
        "GET",
        "/v1/catalog/datacenters",
        vec![CannedResponse::json(200, r#"["dc1","dc2"]"#)],
    );
    server.route("GET", "/v1/catalog/nodes", vec![CannedResponse::json(200, r#"[{"ID":"0e2f3a4b-1111-2222-3333-444455556666","Node":"n1","Address":"10.0.0.1","Datacenter":"dc1","TaggedAddresses":{"lan":"10.0.0.1"},"Meta":{"rack":"r1"},"CreateIndex":1,"ModifyIndex":1}]"#)]);
    server.route(
        "GET",
        "/v1/catalog/services",
        vec![CannedResponse::json(
            200,
            r#"{"consul":[],"web":["v2","primary"]}"#,
        )],
    );
    let r = cairn(&server, &["catalog", "datacenters"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "dc1\ndc2\n"));
    let r = cairn(&server, &["catalog", "nodes", "-node-meta=rack=r1"]);
    assert_eq!(
        r.stdout,
        "Node  ID        Address   DC\nn1    0e2f3a4b  10.0.0.1  dc1\n"
    );
    assert_eq!(
        server.requests().last().unwrap().param("node-meta"),
        Some("rack:r1")
    );
    let r = cairn(&server, &["catalog", "services"]);
    assert_eq!(r.stdout, "consul\nweb\n");
    let r = cairn(&server, &["catalog", "services", "-tags"]);
    assert_eq!(r.stdout, "consul      \nweb         primary,v2\n");
    server.route(
        "GET",
        "/v1/catalog/service/none",
        vec![CannedResponse::json(200, "[]")],
    );
    let r = cairn(&server, &["catalog", "nodes", "-service=none"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (
            0,
            "No nodes match the given query - try expanding your search.\n"
        )
    );
    let r = cairn(&server, &["catalog", "nodes", "extra"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (1, "Too many arguments (expected 0, got 1)\n")
    );
}

#[test]
fn operator_raft_and_info() {
    let (server, _) = agent();
    server.route("GET", "/v1/operator/raft/configuration", vec![CannedResponse::json(200, r#"{"Servers":[{"ID":"a1","Node":"s1","Address":"10.0.0.1:8300","Leader":true,"ProtocolVersion":"3","Voter":true,"LastIndex":10}],"Index":5}"#)]);
    server.route(
        "DELETE",
        "/v1/operator/raft/peer",
        vec![CannedResponse::text(200, "")],
    );
    let r = cairn(&server, &["operator", "raft", "list-peers"]);
    assert_eq!(
        r.stdout,
        "Node  ID  Address        State   Voter  RaftProtocol  Commit Index  Trails Leader By\ns1    a1  10.0.0.1:8300  leader  true   3             10            -\n"
    );
    let r = cairn(&server, &["operator", "raft", "remove-peer", "-id=b2"]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "Removed peer with id \"b2\"\n")
    );
    let r = cairn(&server, &["operator", "raft", "remove-peer"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (
            1,
            "Error removing peer: an address or id is required for the peer to remove\n"
        )
    );
    let r = cairn(&server, &["info"]);
    assert_eq!(
        r.stdout,
        "agent:\n\tchecks = 0\n\tservices = 1\nraft:\n\tstate = Leader\n"
    );
}

#[test]
fn agent_control_commands() {
    let (server, _) = agent();
    for path in [
        "/v1/agent/reload",
        "/v1/agent/leave",
        "/v1/agent/join/10.0.0.5",
        "/v1/agent/force-leave/old",
        "/v1/agent/maintenance",
        "/v1/agent/service/maintenance/web",
        "/v1/agent/service/register",
        "/v1/agent/service/deregister/web",
    ] {
        server.route("PUT", path, vec![CannedResponse::text(200, "")]);
    }
    server.route(
        "PUT",
        "/v1/agent/join/10.0.0.6",
        vec![CannedResponse::text(500, "dial failed")],
    );
    server.route("PUT", "/v1/event/fire/deploy", vec![CannedResponse::json(200, r#"{"ID":"b54fe110-7af5-cafc-d1fb-afc8ba432b1c","Name":"deploy","Payload":"djI=","Version":1,"LTime":0}"#)]);
    server.route("GET", "/v1/agent/checks", vec![CannedResponse::json(200, r#"{"_node_maintenance":{"Node":"node-1","CheckID":"_node_maintenance","Name":"Node Maintenance Mode","Status":"critical","Notes":"patching","ServiceID":""}}"#)]);

    assert_eq!(
        cairn(&server, &["reload"]).stdout,
        "Configuration reload triggered\n"
    );
    assert_eq!(
        cairn(&server, &["leave"]).stdout,
        "Graceful leave complete\n"
    );
    let r = cairn(&server, &["join", "10.0.0.5", "10.0.0.6"]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "Successfully joined cluster by contacting 1 nodes.\n")
    );
    assert!(r.stderr.starts_with(
        "Error joining address '10.0.0.6': Unexpected response code: 500 (dial failed)"
    ));
    let r = cairn(&server, &["join", "10.0.0.6"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.ends_with("Failed to join any nodes.\n"));
    let r = cairn(&server, &["force-leave", "-prune", "old"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, ""));
    assert_eq!(server.requests().last().unwrap().param("prune"), Some(""));

    let r = cairn(&server, &["maint", "-enable", "-reason", "patching"]);
    assert_eq!(r.stdout, "Node maintenance is now enabled\n");
    let req = server.requests_to("/v1/agent/maintenance").pop().unwrap();
    assert_eq!(
        (req.param("enable"), req.param("reason")),
        (Some("true"), Some("patching"))
    );
    let r = cairn(&server, &["maint", "-disable", "-service=web"]);
    assert_eq!(
        r.stdout,
        "Service maintenance is now disabled for \"web\"\n"
    );
    let r = cairn(&server, &["maint"]);
    assert_eq!(r.stdout, "Node:\n  Name:   node-1\n  Reason: patching\n\n");
    let r = cairn(&server, &["maint", "-reason=x"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (1, "Reason may only be provided with -enable\n")
    );

    let r = cairn(
        &server,
        &[
            "services",
            "register",
            "-name=web",
            "-port=80",
            "-tag=a",
            "-tag",
            "b",
            "-meta=env=prod",
        ],
    );
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "Registered service: web\n"),
        "{}",
        r.stderr
    );
    let body: serde_json::Value = serde_json::from_slice(
        &server
            .requests_to("/v1/agent/service/register")
            .pop()
            .unwrap()
            .body,
    )
    .unwrap();
    assert_eq!(
        body,
        serde_json::json!({"Name":"web","Tags":["a","b"],"Port":80,"Meta":{"env":"prod"}})
    );
    let r = cairn(&server, &["services", "deregister", "-id=web"]);
    assert_eq!(r.stdout, "Deregistered service: web\n");

    let r = cairn(&server, &["event", "-name=deploy", "v2"]);
    assert_eq!(r.stdout, "Event ID: b54fe110-7af5-cafc-d1fb-afc8ba432b1c\n");
    assert_eq!(
        server
            .requests_to("/v1/event/fire/deploy")
            .pop()
            .unwrap()
            .body,
        b"v2"
    );
    let r = cairn(&server, &["event"]);
    assert_eq!(r.code, 1);
    assert!(r
        .stderr
        .starts_with("Event name must be specified\n\nUsage: cairn event"));
}

#[test]
fn lock_runs_child_holding_lock_then_cleans_up() {
    let (server, kv) = agent();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("held");
    let script = format!(
        "echo $CONSUL_LOCK_HELD > {0}; ls {1} >> {0}",
        out.display(),
        dir.path().display()
    );
    let r = cairn(&server, &["lock", "-verbose", "svc/leader", &script]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "true\nheld\n");
    assert!(
        r.stdout
            .contains("Setting up lock at path: svc/leader/.lock"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("Cleanup succeeded"), "{}", r.stdout);
    // The lock key was taken with the lock flag, then released and removed.
    let acquire = server
        .requests_to("/v1/kv/svc/leader/.lock")
        .into_iter()
        .find(|r| r.param("acquire").is_some())
        .unwrap();
    assert_eq!(acquire.param("flags"), Some("3304740253564472344"));
    assert!(kv.entries().is_empty());
    assert!(kv.sessions().is_empty());
    let create = server.requests_to("/v1/session/create").pop().unwrap();
    let body: serde_json::Value = serde_json::from_slice(&create.body).unwrap();
    assert_eq!(
        body["Name"],
        format!("Consul lock for '{script}' at 'svc/leader'")
    );

    // A failing child: exit 0 unless -child-exit-code, then 2.
    let r = cairn(&server, &["lock", "svc/leader", "exit 3"]);
    assert_eq!(r.code, 0);
    assert!(
        r.stderr.contains("Error running handler: exit status 3"),
        "{}",
        r.stderr
    );
    let r = cairn(
        &server,
        &["lock", "-child-exit-code", "svc/leader", "exit 3"],
    );
    assert_eq!(r.code, 2);
}

#[test]
fn lock_times_out_when_held_and_semaphore_admits_n() {
    let (server, kv) = agent();
    kv.add_session("other", "release");
    kv.insert(KvEntry {
        key: "busy/.lock".into(),
        flags: cairn_client::LOCK_FLAG_VALUE,
        session: "other".into(),
        create_index: 1,
        modify_index: 1,
        ..KvEntry::default()
    });
    let r = cairn(&server, &["lock", "-timeout=300ms", "busy", "true"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (1, "Shutdown triggered or timeout during lock acquisition\n")
    );
    // -n 2: a semaphore under the prefix.
    let r = cairn(
        &server,
        &["lock", "-n", "2", "jobs", "echo $CONSUL_LOCK_HELD"],
    );
    assert_eq!((r.code, r.stdout.as_str()), (0, "true\n"), "{}", r.stderr);
    assert!(
        kv.entries().keys().all(|k| !k.starts_with("jobs")),
        "{:?}",
        kv.entries()
    );
    assert!(server
        .requests_to("/v1/kv/jobs/.lock")
        .iter()
        .any(|r| r.param("flags") == Some("16210313421097356768")));
}

#[test]
fn watch_prints_once_or_feeds_handler() {
    let (server, kv) = agent();
    put(&kv, "cfg", b"v1", 9);
    let r = cairn(&server, &["watch", "-type=key", "-key=cfg"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let printed: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(printed["Key"], "cfg");
    assert_eq!(printed["Value"], "djE=");
    assert!(
        r.stdout.starts_with("{\n    \""),
        "4-space indent: {}",
        r.stdout
    );

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("got");
    // The handler records its input and index, then fails, which ends the watch with 1.
    let script = format!(
        "cat > {0}; echo $CONSUL_INDEX >> {0}; exit 1",
        out.display()
    );
    let r = cairn(
        &server,
        &["watch", "-type=keyprefix", "-prefix=cf", &script],
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("Error executing handler: exit status 1"),
        "{}",
        r.stderr
    );
    let got = std::fs::read_to_string(&out).unwrap();
    let mut lines = got.lines();
    let data: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(data[0]["Key"], "cfg");
    assert_eq!(lines.next(), Some("9"));

    let r = cairn(&server, &["watch"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.starts_with("Watch type must be specified\n"));
    let r = cairn(&server, &["watch", "-type=key"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (1, "Must specify a single key to watch\n")
    );
}

#[test]
fn version_help_and_unknown_commands() {
    let server = FakeServer::start().unwrap();
    for args in [&["version"][..], &["--version"], &["-v"], &["-version"]] {
        let r = cairn(&server, args);
        assert_eq!(r.code, 0);
        assert!(
            r.stdout
                .starts_with("Cairn v0.1.0\nConsul API 1.20 compatible\n"),
            "{}",
            r.stdout
        );
    }
    let r = cairn(&server, &["bogus"]);
    assert_eq!(r.code, 127);
    assert!(r
        .stdout
        .starts_with("Usage: cairn [--version] [--help] <command> [<args>]\n"));
    let r = cairn(&server, &["kv", "put", "-h"]);
    assert_eq!(r.code, 0);
    assert!(r
        .stdout
        .starts_with("Usage: cairn kv put [options] KEY [DATA]\n"));
    assert!(r.stdout.contains("\nCommand Options\n\n  -acquire\n"));
    let r = cairn(&server, &["kv", "get", "-nope"]);
    assert_eq!(r.code, 1);
    assert!(r
        .stderr
        .starts_with("flag provided but not defined: -nope\n"));
    let r = cairn(&server, &["agent", "-no-such-flag"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        format!("{}{}", r.stdout, r.stderr)
            .contains("flag provided but not defined: -no-such-flag"),
        "{}{}",
        r.stdout,
        r.stderr
    );
    let r = cairn(&server, &["keygen"]);
    assert_eq!(r.stdout.trim().len(), 44);
}
