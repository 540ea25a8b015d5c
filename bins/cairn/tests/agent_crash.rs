//! A persistent server killed with SIGKILL under write load keeps every acknowledged write.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::{AgentProcess, Ports};

fn server_args(data: &str) -> Vec<String> {
    vec![
        "-server".into(),
        "-bootstrap-expect=1".into(),
        format!("-data-dir={data}"),
        "-node=s1".into(),
        "-bind=127.0.0.1".into(),
        "-client=127.0.0.1".into(),
        "-log-level=warn".into(),
    ]
}

#[test]
fn kill_9_under_load_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let args = server_args(data.to_str().unwrap());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let ports = Ports::free();
    let mut a = AgentProcess::start(dir.path(), ports, &args);

    // Four writers hammer distinct keys; each records only what the server acknowledged.
    let acked = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (acked, stop, addr) = (acked.clone(), stop.clone(), a.http_addr());
        writers.push(std::thread::spawn(move || {
            for i in 0..100_000u32 {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let key = format!("load/w{w}/{i}");
                let value = format!("value-{w}-{i}");
                match support::try_http(&addr, "PUT", &format!("/v1/kv/{key}"), value.as_bytes()) {
                    Ok(r) if r.status == 200 && r.text().trim() == "true" => {
                        acked.lock().unwrap().push((key, value));
                    }
                    _ => {}
                }
            }
        }));
    }
    support::eventually("some acknowledged writes", Duration::from_secs(20), || {
        acked.lock().unwrap().len() >= 2000
    });
    a.kill9();
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    drop(a);

    // Restart on the same data dir: every acknowledged key is there with its value.
    let a = AgentProcess::start(dir.path(), ports, &args);
    let entries = a.http("GET", "/v1/kv/load/?recurse", b"").json();
    let stored: std::collections::BTreeMap<String, String> = entries
        .as_array()
        .expect("array")
        .iter()
        .map(|e| {
            let v = e["Value"].as_str().unwrap_or_default();
            let bytes = base64_decode(v);
            (
                e["Key"].as_str().unwrap().to_string(),
                String::from_utf8(bytes).unwrap(),
            )
        })
        .collect();
    let missing: Vec<&(String, String)> = acked
        .iter()
        .filter(|(k, v)| stored.get(k) != Some(v))
        .collect();
    eprintln!(
        "acknowledged {} writes before SIGKILL; {} keys stored after restart",
        acked.len(),
        stored.len()
    );
    assert!(
        missing.is_empty(),
        "{} acknowledged writes lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    // The node identity survived too.
    let me = a.http("GET", "/v1/agent/self", b"").json();
    assert_eq!(me["Config"]["NodeName"], "s1");
}

fn base64_decode(s: &str) -> Vec<u8> {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let mut buf = 0u32;
    let mut bits = 0;
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = T.iter().position(|t| *t == c).expect("base64") as u32;
        buf = (buf << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    out
}
