//! HTTP checks against real loopback servers (real time: intervals are Consul's 1 s minimum).

mod common;

use cairn_health::{CheckManager, CheckOptions, ManagerConfig};
use cairn_types::requests::CheckType;
use cairn_types::CheckStatus::{Critical, Passing, Warning};
use common::*;
use std::collections::BTreeMap;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(5);

fn http_def(url: &str) -> CheckType {
    CheckType {
        http: url.into(),
        interval: millis(200), // raised to 1 s
        ..CheckType::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuses_follow_the_server() {
    let server = TestServer::start(Reply::new(200, "OK", "healthy")).await;
    let (m, mut ev) = CheckManager::new(ManagerConfig::default()).unwrap();
    m.add("web", http_def(&server.url("/health")), CheckOptions::api())
        .unwrap();

    let u = next_update(&mut ev, WAIT).await;
    assert_eq!(u.status, Passing);
    assert_eq!(
        u.output,
        format!("HTTP GET {}: 200 OK Output: healthy", server.url("/health"))
    );

    server.set(Reply::new(503, "Service Unavailable", "down"));
    let u = next_update(&mut ev, WAIT).await;
    assert_eq!(u.status, Critical);
    assert!(
        u.output.ends_with(": 503 Service Unavailable Output: down"),
        "{}",
        u.output
    );

    server.set(Reply::new(429, "Too Many Requests", "slow down"));
    let u = next_update(&mut ev, WAIT).await;
    assert_eq!(u.status, Warning);
    assert!(u.output.contains("429 Too Many Requests"), "{}", u.output);

    server.set(Reply::new(204, "No Content", ""));
    let u = next_update(&mut ev, WAIT).await;
    assert_eq!(u.status, Passing);
    assert!(
        u.output.ends_with(": 204 No Content Output: "),
        "{}",
        u.output
    );

    // A non-standard reason phrase is shown as the server sent it, like Go's resp.Status.
    server.set(Reply::new(299, "Fine Anyway", "x"));
    let u = next_update(&mut ev, WAIT).await;
    assert_eq!(u.status, Passing);
    assert!(
        u.output.contains(": 299 Fine Anyway Output: x"),
        "{}",
        u.output
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_carries_method_headers_body_and_consul_defaults() {
    let server = TestServer::start(Reply::new(200, "OK", "")).await;
    let (m, mut ev) = CheckManager::new(ManagerConfig::default()).unwrap();
    let mut def = http_def(&server.url("/a"));
    def.method = "POST".into();
    def.body = "{\"ping\":1}".into();
    def.header = BTreeMap::from([
        ("X-Token".to_owned(), vec!["a".to_owned(), "b".to_owned()]),
        ("Host".to_owned(), vec!["example.test".to_owned()]),
    ]);
    m.add("post", def, CheckOptions::api()).unwrap();
    let u = next_update(&mut ev, WAIT).await;
    assert_eq!(u.status, Passing, "{}", u.output);
    assert!(u.output.starts_with("HTTP POST "), "{}", u.output);

    let mut def = http_def(&server.url("/b"));
    def.header = BTreeMap::from([("User-Agent".to_owned(), vec!["custom-agent".to_owned()])]);
    m.add("get", def, CheckOptions::api()).unwrap();
    next_update(&mut ev, WAIT).await;

    let reqs = server.requests();
    let post = reqs.iter().find(|r| r.path == "/a").expect("POST seen");
    assert_eq!(post.method, "POST");
    assert_eq!(post.body, b"{\"ping\":1}");
    assert_eq!(post.header("Host"), Some("example.test"));
    assert_eq!(post.header("User-Agent"), Some("Consul Health Check"));
    assert_eq!(post.header("Accept"), Some("text/plain, text/*, */*"));
    let tokens: Vec<&str> = post
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("x-token"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(tokens.join(","), "a,b");
    let get = reqs.iter().find(|r| r.path == "/b").expect("GET seen");
    assert_eq!(get.method, "GET");
    assert_eq!(get.header("User-Agent"), Some("custom-agent"));
    assert!(get.body.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_followed_unless_disabled() {
    let server = TestServer::start(Reply::new(200, "OK", "target")).await;
    let mut moved = Reply::new(302, "Found", "");
    moved.headers.push(("Location".into(), "/final".into()));
    server.set_path("/old", moved);
    let (m, mut ev) = CheckManager::new(ManagerConfig::default()).unwrap();

    m.add("follow", http_def(&server.url("/old")), CheckOptions::api())
        .unwrap();
    let u = next_update_of(&mut ev, "follow", WAIT).await;
    assert_eq!(u.status, Passing);
    // The output names the configured URL, with the final answer.
    assert_eq!(
        u.output,
        format!("HTTP GET {}: 200 OK Output: target", server.url("/old"))
    );

    let mut def = http_def(&server.url("/old"));
    def.disable_redirects = true;
    m.add("nofollow", def, CheckOptions::api()).unwrap();
    let u = next_update_of(&mut ev, "nofollow", WAIT).await;
    assert_eq!(u.status, Critical);
    assert!(u.output.contains(": 302 Found Output: "), "{}", u.output);

    // A redirect loop stops after ten hops, as Go's client does.
    let mut looping = Reply::new(302, "Found", "");
    looping.headers.push(("Location".into(), "/loop".into()));
    server.set_path("/loop", looping);
    m.add("loop", http_def(&server.url("/loop")), CheckOptions::api())
        .unwrap();
    let u = next_update_of(&mut ev, "loop", WAIT).await;
    assert_eq!(u.status, Critical);
    assert_eq!(
        u.output,
        format!(
            "Get \"{}\": stopped after 10 redirects",
            server.url("/loop")
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_is_cut_to_its_tail() {
    let body: String = (0..10_000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let server = TestServer::start(Reply::new(200, "OK", &body)).await;
    let (m, mut ev) = CheckManager::new(ManagerConfig::default()).unwrap();
    m.add("big", http_def(&server.url("/")), CheckOptions::api())
        .unwrap();
    let u = next_update_of(&mut ev, "big", WAIT).await;
    let prefix = format!("HTTP GET {}: 200 OK Output: ", server.url("/"));
    assert_eq!(u.output.len(), prefix.len() + 4096);
    assert!(u.output.ends_with(&body[body.len() - 4096..]));

    let mut def = http_def(&server.url("/"));
    def.output_max_size = 10;
    m.add("small", def, CheckOptions::api()).unwrap();
    let u = next_update_of(&mut ev, "small", WAIT).await;
    assert_eq!(u.output, format!("{prefix}{}", &body[body.len() - 10..]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_and_refused_connections_are_critical_with_go_texts() {
    let server = TestServer::start(Reply::new(200, "OK", "")).await;
    let mut slow = Reply::new(200, "OK", "late");
    slow.delay = Duration::from_secs(3);
    server.set_path("/slow", slow);
    let (m, mut ev) = CheckManager::new(ManagerConfig::default()).unwrap();

    let mut def = http_def(&server.url("/slow"));
    def.timeout = millis(300);
    m.add("slow", def, CheckOptions::api()).unwrap();
    let u = next_update_of(&mut ev, "slow", WAIT).await;
    assert_eq!(u.status, Critical);
    assert_eq!(
        u.output,
        format!(
            "Get \"{}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)",
            server.url("/slow")
        )
    );

    // A port nobody listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let url = format!("http://{closed}/");
    m.add("refused", http_def(&url), CheckOptions::api())
        .unwrap();
    let u = next_update_of(&mut ev, "refused", WAIT).await;
    assert_eq!(u.status, Critical);
    assert_eq!(
        u.output,
        format!("Get \"{url}\": dial tcp {closed}: connect: connection refused")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thresholds_hold_back_flapping() {
    let server = TestServer::start(Reply::new(200, "OK", "")).await;
    let (m, mut ev) = CheckManager::new(ManagerConfig::default()).unwrap();
    let mut def = http_def(&server.url("/"));
    def.failures_before_critical = 2;
    m.add("flaky", def, CheckOptions::api()).unwrap();
    assert_eq!(next_update(&mut ev, WAIT).await.status, Passing);

    server.set(Reply::new(500, "Internal Server Error", ""));
    let before = server.requests().len();
    // One failure is held back; the second goes through.
    let u = next_update(&mut ev, Duration::from_secs(6)).await;
    assert_eq!(u.status, Critical);
    let failures = server.requests().len() - before;
    assert!(failures >= 2, "critical after {failures} failing run(s)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_runs_are_staggered_within_the_interval() {
    let server = TestServer::start(Reply::new(200, "OK", "")).await;
    let (m, mut ev) = CheckManager::new(ManagerConfig::default()).unwrap();
    let start = std::time::Instant::now();
    for i in 0..40 {
        let mut def = http_def(&server.url(&format!("/{i}")));
        def.interval = secs(2);
        m.add(&format!("c{i}"), def, CheckOptions::api()).unwrap();
    }
    let mut at = Vec::new();
    for _ in 0..40 {
        next_update(&mut ev, WAIT).await;
        at.push(start.elapsed());
    }
    // All first runs happen within one interval, spread over it rather than at once.
    assert!(at[39] < Duration::from_millis(4000), "{at:?}");
    assert!(at[39] - at[0] > Duration::from_millis(500), "{at:?}");
    m.remove_all();
}
