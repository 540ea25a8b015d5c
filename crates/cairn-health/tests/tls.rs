//! HTTPS and TCP+TLS checks against a loopback server with a self-signed certificate.

mod common;

use cairn_health::{CheckManager, CheckOptions, ManagerConfig};
use cairn_types::requests::CheckType;
use cairn_types::CheckStatus::{Critical, Passing};
use common::*;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WAIT: Duration = Duration::from_secs(5);

/// A TLS server on loopback answering every request with `200 OK` and body `secure`.
async fn tls_server() -> std::net::SocketAddr {
    let ck = rcgen::generate_simple_self_signed(vec!["cairn.test".to_owned()]).unwrap();
    let cert = CertificateDer::from(ck.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.key_pair.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = [0u8; 4096];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = tls
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nsecure",
                    )
                    .await;
                let _ = tls.shutdown().await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_checks_verify_unless_told_not_to() {
    let addr = tls_server().await;
    let url = format!("https://{addr}/");
    let (m, mut ev) = CheckManager::new(ManagerConfig::default()).unwrap();

    let mut skip = CheckType {
        http: url.clone(),
        interval: secs(1),
        tls_skip_verify: true,
        ..CheckType::default()
    };
    m.add("skip", skip.clone(), CheckOptions::api()).unwrap();
    let u = next_update_of(&mut ev, "skip", WAIT).await;
    assert_eq!(
        (u.status, u.output.clone()),
        (Passing, format!("HTTP GET {url}: 200 OK Output: secure"))
    );

    // The self-signed certificate is not trusted when verification is on.
    skip.tls_skip_verify = false;
    skip.status = "passing".into();
    m.add("verify", skip, CheckOptions::api()).unwrap();
    let u = next_update_of(&mut ev, "verify", WAIT).await;
    assert_eq!(u.status, Critical);
    assert_eq!(
        u.output,
        format!(
            "Get \"{url}\": tls: failed to verify certificate: x509: certificate signed by unknown authority"
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_tls_check_completes_the_handshake() {
    let addr = tls_server().await;
    let (m, mut ev) = CheckManager::new(ManagerConfig::default()).unwrap();
    let mut def = CheckType {
        tcp: addr.to_string(),
        tcp_use_tls: true,
        tls_skip_verify: true,
        interval: secs(1),
        ..CheckType::default()
    };
    m.add("tls", def.clone(), CheckOptions::api()).unwrap();
    let u = next_update_of(&mut ev, "tls", WAIT).await;
    assert_eq!(
        (u.status, u.output.clone()),
        (Passing, format!("TCP+TLS connect {addr}: Success"))
    );

    def.tls_skip_verify = false;
    def.tls_server_name = "cairn.test".into();
    def.status = "passing".into();
    m.add("strict", def, CheckOptions::api()).unwrap();
    let u = next_update_of(&mut ev, "strict", WAIT).await;
    assert_eq!(u.status, Critical);
    assert_eq!(
        u.output,
        "tls: failed to verify certificate: x509: certificate signed by unknown authority"
    );
}
