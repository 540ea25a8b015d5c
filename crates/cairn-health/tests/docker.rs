//! Docker checks against a fake Engine API on a Unix socket, and without any engine.

mod common;

use cairn_health::{CheckManager, CheckOptions, ManagerConfig};
use cairn_types::requests::CheckType;
use cairn_types::CheckStatus::{Critical, Passing, Warning};
use common::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixListener;

const WAIT: Duration = Duration::from_secs(5);

/// A fake engine: exec create/start/inspect; start answers chunked output, inspect the exit
/// code set by the test. Records the bodies it received.
async fn fake_engine(
    path: &std::path::Path,
    exit_code: Arc<Mutex<i32>>,
    bodies: Arc<Mutex<Vec<String>>>,
) {
    let listener = UnixListener::bind(path).unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            let exit_code = exit_code.clone();
            let bodies = bodies.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // Read head and body (the fake knows its clients send Content-Length).
                loop {
                    let Ok(n) = conn.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).into_owned();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text
                            .lines()
                            .find_map(|l| l.strip_prefix("Content-Length: "))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                let text = String::from_utf8_lossy(&buf).into_owned();
                let first = text.lines().next().unwrap_or_default().to_owned();
                let body = text
                    .split_once("\r\n\r\n")
                    .map(|(_, b)| b.to_owned())
                    .unwrap_or_default();
                bodies.lock().unwrap().push(format!("{first} {body}"));
                let reply = if first.starts_with("POST /containers/gone/exec") {
                    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_owned()
                } else if first.starts_with("POST /containers/") {
                    let b = "{\"Id\":\"exec123\"}";
                    format!("HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}", b.len())
                } else if first.starts_with("POST /exec/exec123/start") {
                    "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello \r\n6\r\nworld\n\r\n0\r\n\r\n".to_owned()
                } else if first.starts_with("GET /exec/exec123/json") {
                    let b = format!(
                        "{{\"Running\":false,\"ExitCode\":{},\"Pid\":0}}",
                        exit_code.lock().unwrap()
                    );
                    format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{b}", b.len())
                } else {
                    "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n".to_owned()
                };
                let _ = conn.write_all(reply.as_bytes()).await;
                let _ = conn.shutdown().await;
            });
        }
    });
}

fn docker_def(container: &str) -> CheckType {
    CheckType {
        docker_container_id: container.into(),
        script_args: vec!["/bin/check".into(), "--quick \"now\"".into()],
        interval: secs(1),
        ..CheckType::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_exec_through_the_engine_api() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("docker.sock");
    let exit_code = Arc::new(Mutex::new(0));
    let bodies = Arc::new(Mutex::new(Vec::new()));
    fake_engine(&sock, exit_code.clone(), bodies.clone()).await;
    let cfg = ManagerConfig {
        enable_script_checks: true,
        docker_host: format!("unix://{}", sock.display()),
        ..ManagerConfig::default()
    };
    let (m, mut ev) = CheckManager::new(cfg).unwrap();
    m.add("d", docker_def("web1"), CheckOptions::api()).unwrap();
    let u = next_update(&mut ev, WAIT).await;
    assert_eq!((u.status, u.output.as_str()), (Passing, "hello world\n"));
    {
        let bodies = bodies.lock().unwrap();
        let create = bodies
            .iter()
            .find(|b| b.starts_with("POST /containers/web1/exec"))
            .unwrap();
        assert!(
            create.contains("\"Cmd\":[\"/bin/check\",\"--quick \\\"now\\\"\"]"),
            "{create}"
        );
        assert!(
            create.contains("\"AttachStdout\":true") && create.contains("\"AttachStderr\":true")
        );
        assert!(bodies
            .iter()
            .any(|b| b.starts_with("POST /exec/exec123/start") && b.contains("\"Tty\":true")));
    }

    *exit_code.lock().unwrap() = 1;
    assert_eq!(next_update(&mut ev, WAIT).await.status, Warning);
    *exit_code.lock().unwrap() = 3;
    assert_eq!(next_update(&mut ev, WAIT).await.status, Critical);

    let mut def = docker_def("gone");
    def.status = "passing".into();
    m.add("gone", def, CheckOptions::api()).unwrap();
    let u = next_update_of(&mut ev, "gone", WAIT).await;
    assert_eq!(
        (u.status, u.output.as_str()),
        (Critical, "create exec failed for unknown container gone")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_without_an_engine_is_critical_with_a_clear_reason() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("no-docker.sock");
    let cfg = ManagerConfig {
        enable_script_checks: true,
        docker_host: format!("unix://{}", sock.display()),
        ..ManagerConfig::default()
    };
    let (m, mut ev) = CheckManager::new(cfg).unwrap();
    let mut def = docker_def("web1");
    def.status = "passing".into();
    m.add("d", def, CheckOptions::api()).unwrap();
    let u = next_update(&mut ev, WAIT).await;
    assert_eq!(u.status, Critical);
    assert_eq!(
        u.output,
        format!(
            "create exec failed for container web1: Post \"http://docker/containers/web1/exec\": dial unix {}: connect: no such file or directory",
            sock.display()
        )
    );

    // An unparsable DOCKER_HOST refuses Docker checks, as Consul's registration does.
    let cfg = ManagerConfig {
        enable_script_checks: true,
        docker_host: "/var/run/docker.sock".into(),
        ..ManagerConfig::default()
    };
    let (m, _ev) = CheckManager::new(cfg).unwrap();
    let err = m
        .add("d", docker_def("x"), CheckOptions::api())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "unable to parse docker host `/var/run/docker.sock`"
    );
}
