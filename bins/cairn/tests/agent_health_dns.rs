//! The tutorial flow: a service defined in a config dir is health-checked and discoverable
//! by DNS (`dig`) and by `?passing`, and both follow the backend's health.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::{AgentProcess, Ports};

/// A tiny HTTP backend answering 200 or 500 depending on a switch.
fn backend(healthy: Arc<AtomicBool>) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in l.incoming().flatten() {
            let mut s = stream;
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let reply: &[u8] = if healthy.load(Ordering::SeqCst) {
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
            } else {
                b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\nConnection: close\r\n\r\ndown"
            };
            let _ = s.write_all(reply);
        }
    });
    port
}

fn dig(dns_port: u16, name: &str, qtype: &str) -> String {
    let out = Command::new("dig")
        .args([
            "@127.0.0.1",
            "-p",
            &dns_port.to_string(),
            name,
            qtype,
            "+noall",
            "+answer",
            "+time=2",
            "+tries=1",
        ])
        .output()
        .expect("dig (Debian package dnsutils) must be installed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn tutorial_service_follows_backend_health_in_dns_and_passing() {
    let healthy = Arc::new(AtomicBool::new(true));
    let port = backend(healthy.clone());
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("consul.d");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::write(
        conf.join("web.json"),
        format!(
            r#"{{"service":{{"name":"web","tags":["rails"],"port":{port},"check":{{"name":"ping","http":"http://127.0.0.1:{port}/","interval":"1s"}}}}}}"#
        ),
    )
    .unwrap();
    let ports = Ports::free();
    let a = AgentProcess::start(
        dir.path(),
        ports,
        &[
            "-dev",
            "-node=web1",
            &format!("-config-dir={}", conf.display()),
        ],
    );

    support::eventually("web passing", Duration::from_secs(15), || {
        a.http("GET", "/v1/health/service/web?passing", b"")
            .json()
            .as_array()
            .is_some_and(|v| v.len() == 1)
    });
    let catalog = a.http("GET", "/v1/catalog/service/web?pretty", b"").json();
    assert_eq!(catalog[0]["ServiceName"], "web");
    assert_eq!(catalog[0]["ServiceTags"], serde_json::json!(["rails"]));
    assert_eq!(catalog[0]["ServicePort"], port);

    let srv = dig(ports.dns, "web.service.consul", "SRV");
    assert!(
        srv.contains(&format!("1 1 {port} web1.node.dc1.consul.")),
        "SRV answer: {srv}"
    );
    let tagged = dig(ports.dns, "rails.web.service.consul", "A");
    assert!(tagged.contains("127.0.0.1"), "tagged A answer: {tagged}");
    let rfc2782 = dig(ports.dns, "_web._rails.service.consul", "SRV");
    assert!(
        rfc2782.contains(&port.to_string()),
        "RFC 2782 answer: {rfc2782}"
    );

    // The backend fails: the check goes critical, DNS and ?passing drop the instance.
    healthy.store(false, Ordering::SeqCst);
    support::eventually("web critical", Duration::from_secs(15), || {
        a.http("GET", "/v1/health/service/web?passing", b"").json() == serde_json::json!([])
    });
    support::eventually("DNS drops the instance", Duration::from_secs(5), || {
        dig(ports.dns, "web.service.consul", "SRV")
            .trim()
            .is_empty()
    });
    let checks = a.http("GET", "/v1/health/checks/web", b"").json();
    assert_eq!(checks[0]["Status"], "critical");
    assert!(
        checks[0]["Output"].as_str().unwrap().contains("500"),
        "{}",
        checks[0]["Output"]
    );

    // And back.
    healthy.store(true, Ordering::SeqCst);
    support::eventually("DNS returns the instance", Duration::from_secs(15), || {
        dig(ports.dns, "web.service.consul", "SRV").contains(&port.to_string())
    });
}
