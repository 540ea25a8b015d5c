//! Forwarding over real loopback gRPC: payloads, error kinds, options, timeouts, shutdown.

mod support;

use cairn_rpc::{
    ClientConfig, Consistency, ErrorKind, ForwardHandler, QueryMeta, QueryOptions, QueryReply,
    RpcClient, RpcError, RpcServer, ServeError, ServerStatus,
};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const KINDS: [ErrorKind; 7] = [
    ErrorKind::NoLeader,
    ErrorKind::NotFound,
    ErrorKind::BadRequest,
    ErrorKind::PermissionDenied,
    ErrorKind::Timeout,
    ErrorKind::Internal,
    ErrorKind::Unavailable,
];

/// `apply` echoes its input reversed; `err:<kind>` fails with that kind; `sleep:<ms>` sleeps.
struct TestHandler;

fn scripted(input: &[u8]) -> Option<Result<(), RpcError>> {
    let text = std::str::from_utf8(input).ok()?;
    if let Some(kind) = text.strip_prefix("err:") {
        let kind = ErrorKind::parse(kind)?;
        let message = if kind == ErrorKind::NoLeader {
            "No cluster leader".to_string()
        } else {
            format!("failed with {kind}: ünïcode")
        };
        return Some(Err(RpcError::new(kind, message)));
    }
    None
}

async fn maybe_sleep(input: &[u8]) {
    if let Some(ms) = std::str::from_utf8(input)
        .ok()
        .and_then(|t| t.strip_prefix("sleep:"))
        .and_then(|ms| ms.parse().ok())
    {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

#[async_trait::async_trait]
impl ForwardHandler for TestHandler {
    async fn apply(&self, command: Vec<u8>) -> Result<Vec<u8>, RpcError> {
        if let Some(Err(e)) = scripted(&command) {
            return Err(e);
        }
        maybe_sleep(&command).await;
        Ok(command.into_iter().rev().collect())
    }

    async fn query(&self, query: Vec<u8>, options: QueryOptions) -> Result<QueryReply, RpcError> {
        if let Some(Err(e)) = scripted(&query) {
            return Err(e);
        }
        maybe_sleep(&query).await;
        if options.min_query_index > 0 {
            // A blocking query that never sees a change: waits its whole time.
            let wait = options.max_query_time.unwrap_or(Duration::from_secs(300));
            tokio::time::sleep(wait).await;
        }
        let echo = format!(
            "{}|{}|{}|{}|{:?}|{:?}",
            options.datacenter,
            options.token,
            options.filter,
            options.near,
            options.max_query_time,
            options.max_stale
        );
        Ok(QueryReply {
            result: [query, echo.into_bytes()].concat(),
            meta: QueryMeta {
                index: options.min_query_index + 1,
                last_contact: Duration::from_millis(120),
                known_leader: true,
                consistency: options.consistency,
            },
        })
    }

    async fn status(&self) -> Result<ServerStatus, RpcError> {
        Ok(ServerStatus {
            id: 2,
            leader_id: Some(1),
            leader_addr: Some("127.0.0.1:8300".into()),
            term: 5,
            applied_index: 77,
            datacenter: "dc1".into(),
        })
    }
}

struct Server {
    addr: String,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServeError>>,
}

async fn server() -> Server {
    let (listener, addr) = support::bind().await;
    let (tx, rx) = oneshot::channel();
    let task = tokio::spawn(RpcServer::builder().forward(TestHandler).serve(
        listener,
        async move {
            let _ = rx.await;
        },
    ));
    Server {
        addr,
        stop: Some(tx),
        task,
    }
}

fn client(request_timeout: Duration) -> RpcClient {
    RpcClient::new(ClientConfig {
        connect_timeout: Duration::from_millis(500),
        request_timeout,
        ..ClientConfig::default()
    })
}

#[tokio::test]
async fn apply_query_and_status_round_trip() {
    let s = server().await;
    let c = client(Duration::from_secs(10));
    assert_eq!(c.apply(&s.addr, b"abc".to_vec()).await.unwrap(), b"cba");
    assert_eq!(c.apply(&s.addr, Vec::new()).await.unwrap(), b"");
    // Larger than HTTP/2 windows and tonic's 4 MiB default limit.
    let big: Vec<u8> = (0..6 * 1024 * 1024u32).map(|i| i as u8).collect();
    let back = c.apply(&s.addr, big.clone()).await.unwrap();
    assert_eq!(back.len(), big.len());
    assert!(back.iter().rev().eq(big.iter()));

    let opts = QueryOptions {
        datacenter: "dc2".into(),
        consistency: Consistency::Stale,
        max_stale: Some(Duration::from_secs(3)),
        token: "secret".into(),
        filter: "Service == web".into(),
        near: "_agent".into(),
        ..QueryOptions::default()
    };
    let r = c.query(&s.addr, b"q:".to_vec(), &opts).await.unwrap();
    assert_eq!(
        String::from_utf8(r.result).unwrap(),
        "q:dc2|secret|Service == web|_agent|None|Some(3s)"
    );
    assert_eq!(
        r.meta,
        QueryMeta {
            index: 1,
            last_contact: Duration::from_millis(120),
            known_leader: true,
            consistency: Consistency::Stale,
        }
    );
    let st = c.status(&s.addr).await.unwrap();
    assert_eq!(st.leader_id, Some(1));
    assert_eq!(st.leader_addr.as_deref(), Some("127.0.0.1:8300"));
    assert_eq!((st.id, st.term, st.applied_index), (2, 5, 77));
    assert_eq!(st.datacenter, "dc1");

    // Clones share the pool and may be used concurrently.
    let calls = (0..64u32).map(|i| {
        let c = c.clone();
        let addr = s.addr.clone();
        async move { c.apply(&addr, i.to_be_bytes().to_vec()).await }
    });
    for (i, r) in futures::future::join_all(calls)
        .await
        .into_iter()
        .enumerate()
    {
        let mut want = (i as u32).to_be_bytes().to_vec();
        want.reverse();
        assert_eq!(r.unwrap(), want);
    }
}

#[tokio::test]
async fn every_error_kind_reaches_the_client_unchanged() {
    let s = server().await;
    let c = client(Duration::from_secs(10));
    for kind in KINDS {
        let input = format!("err:{kind}").into_bytes();
        let Some(Err(want)) = scripted(&input) else {
            panic!("script for {kind}");
        };
        let got = c.apply(&s.addr, input.clone()).await.unwrap_err();
        assert_eq!(got, want, "apply {kind}");
        let got = c
            .query(&s.addr, input, &QueryOptions::default())
            .await
            .unwrap_err();
        assert_eq!(got, want, "query {kind}");
        assert_eq!(got.kind(), kind);
    }
    let e = c
        .apply(&s.addr, b"err:no-leader".to_vec())
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "No cluster leader");
    assert!(e.is_retryable());
}

#[tokio::test]
async fn unreachable_servers_are_unavailable_within_the_timeout() {
    let c = client(Duration::from_secs(1));
    // Nothing listens on a port that was just released.
    let (listener, addr) = support::bind().await;
    drop(listener);
    let t = Instant::now();
    let e = c.apply(&addr, b"x".to_vec()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert!(
        t.elapsed() < Duration::from_millis(1500),
        "{:?}",
        t.elapsed()
    );
    let e = c.status(&addr).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");

    // A listener that never accepts: TCP connects, gRPC never answers.
    let (hole, hole_addr) = support::bind().await;
    let t = Instant::now();
    let e = c.status(&hole_addr).await.unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::Unavailable | ErrorKind::Timeout),
        "{e}"
    );
    assert!(
        t.elapsed() < Duration::from_millis(1500),
        "{:?}",
        t.elapsed()
    );
    drop(hole);

    // A bad address is a client-side error, not a hang.
    let e = c.apply("not an address", b"x".to_vec()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
}

#[tokio::test]
async fn slow_calls_time_out_and_blocking_queries_get_their_wait() {
    let s = server().await;
    let c = client(Duration::from_millis(300));
    let t = Instant::now();
    let e = c.apply(&s.addr, b"sleep:2000".to_vec()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(
        t.elapsed() < Duration::from_millis(1000),
        "{:?}",
        t.elapsed()
    );
    // The connection is still good afterwards.
    assert_eq!(c.apply(&s.addr, b"ok".to_vec()).await.unwrap(), b"ko");

    // A blocking query waits longer than the request timeout without failing.
    let opts = QueryOptions {
        min_query_index: 10,
        max_query_time: Some(Duration::from_millis(600)),
        ..QueryOptions::default()
    };
    let t = Instant::now();
    let r = c.query(&s.addr, b"b".to_vec(), &opts).await.unwrap();
    assert!(t.elapsed() >= Duration::from_millis(600));
    assert_eq!(r.meta.index, 11);
}

#[tokio::test]
async fn shutdown_ends_blocking_queries_and_refuses_new_calls() {
    let mut s = server().await;
    let c = client(Duration::from_secs(5));
    let opts = QueryOptions {
        min_query_index: 1,
        max_query_time: Some(Duration::from_secs(60)),
        ..QueryOptions::default()
    };
    let (c2, addr) = (c.clone(), s.addr.clone());
    let blocked = tokio::spawn(async move { c2.query(&addr, b"b".to_vec(), &opts).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let t = Instant::now();
    let _ = s.stop.take().map(|tx| tx.send(()));
    let e = tokio::time::timeout(Duration::from_secs(5), blocked)
        .await
        .expect("blocked query ends")
        .expect("task")
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    tokio::time::timeout(Duration::from_secs(10), s.task)
        .await
        .expect("server stops")
        .expect("task")
        .expect("serve");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    let e = c.apply(&s.addr, b"x".to_vec()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
}

#[tokio::test]
async fn a_call_to_a_server_that_went_away_was_certainly_not_sent() {
    let mut s = server().await;
    let c = client(Duration::from_secs(2));
    assert_eq!(c.apply(&s.addr, b"ok".to_vec()).await.unwrap(), b"ko");
    // The pooled connection now points at a process that is gone (as after kill -9).
    let _ = s.stop.take().map(|tx| tx.send(()));
    let _ = tokio::time::timeout(Duration::from_secs(10), &mut s.task).await;
    for attempt in 0..3 {
        let e = c.apply(&s.addr, b"ok".to_vec()).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unavailable, "attempt {attempt}: {e}");
        assert!(e.was_not_sent(), "attempt {attempt}: {e}");
    }
}
