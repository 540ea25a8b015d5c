//! Process test: Debian's `dig` against a served socket (CI installs `dnsutils`).

mod common;

use common::*;
use std::net::SocketAddr;
use std::process::Command;

async fn dig(addr: SocketAddr, args: &[&str]) -> String {
    let mut cmd = Command::new("dig");
    cmd.arg(format!("@{}", addr.ip()))
        .arg("-p")
        .arg(addr.port().to_string())
        .args(["+time=2", "+tries=1"])
        .args(args);
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .expect("dig must be installed (Debian package dnsutils)");
    assert!(out.status.success(), "dig failed: {out:?}");
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dig_sees_consul_answers() {
    let server = start(fixture(), config());
    let addr = server.udp_addr().unwrap();

    let out = dig(addr, &["+short", "web.service.consul", "SRV"]).await;
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        vec![
            "1 1 81 node2.node.dc1.consul.",
            "1 1 84 node4.node.dc1.consul.",
            "1 10 80 node1.node.dc1.consul.",
        ]
    );

    let out = dig(addr, &["+short", "v1.web.service.consul", "A"]).await;
    assert_eq!(out.trim(), "10.0.0.1");

    // Full output over TCP: header flags, status and the glue in ADDITIONAL.
    let out = dig(
        addr,
        &["+tcp", "+noedns", "_web._tcp.service.consul", "SRV"],
    )
    .await;
    assert!(out.contains("status: NOERROR"), "{out}");
    assert!(out.contains("flags: qr aa rd;"), "{out}");
    assert!(out.contains("ANSWER: 3"), "{out}");
    assert!(
        out.contains("node1.node.dc1.consul.\t0\tIN\tA\t10.0.0.1"),
        "{out}"
    );

    let out = dig(addr, &["missing.service.consul", "A"]).await;
    assert!(out.contains("status: NXDOMAIN"), "{out}");
    assert!(
        out.contains("IN\tSOA\tns.consul. hostmaster.consul."),
        "{out}"
    );

    // dig sends EDNS with a 1232-byte buffer by default: 100 A records fit.
    let out = dig(addr, &["+short", "big.service.consul", "A"]).await;
    assert_eq!(out.lines().count(), 100);
    let out = dig(addr, &["+short", "+noedns", "big.service.consul", "A"]).await;
    assert_eq!(out.lines().count(), 3);

    let out = dig(addr, &["+short", "-x", "10.0.0.2"]).await;
    assert_eq!(out.trim(), "node2.node.dc1.consul.");
    server.shutdown().await.unwrap();
}
