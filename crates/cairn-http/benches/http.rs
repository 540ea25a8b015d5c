//! In-process request handling cost (no sockets): routing, parameter parsing, backend call
//! into a real in-memory catalog, JSON encoding, gzip.
//!
//! `cargo bench -p cairn-http --bench http`

#[path = "../tests/support/mod.rs"]
mod support;

use cairn_http::ApiRequest;
use criterion::{criterion_group, criterion_main, Criterion};
use support::TestApi;

fn setup(rt: &tokio::runtime::Runtime) -> TestApi {
    let api = TestApi::new();
    rt.block_on(async {
        api.put("/v1/kv/app/config", "some-value").await;
        for i in 0..100 {
            let body = format!(
                r#"{{"Node": "n{i}", "Address": "10.0.{}.{}", "NodeMeta": {{"rack": "r{}"}},
                    "Service": {{"ID": "web{i}", "Service": "web", "Tags": ["v1", "t{}"], "Port": 80}},
                    "Checks": [{{"CheckID": "c{i}", "Name": "http", "Status": "{}", "ServiceID": "web{i}"}}]}}"#,
                i / 250,
                i % 250,
                i % 4,
                i % 7,
                if i % 10 == 0 { "critical" } else { "passing" }
            );
            api.put("/v1/catalog/register", &body).await;
        }
    });
    api
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let api = setup(&rt);
    let mut g = c.benchmark_group("http");
    g.bench_function("kv_get", |b| {
        b.iter(|| rt.block_on(api.get("/v1/kv/app/config")))
    });
    g.bench_function("kv_put", |b| {
        b.iter(|| rt.block_on(api.put("/v1/kv/bench/key", "value")))
    });
    g.bench_function("health_service_100", |b| {
        b.iter(|| rt.block_on(api.get("/v1/health/service/web")))
    });
    g.bench_function("health_service_100_passing_filter", |b| {
        b.iter(|| {
            rt.block_on(api.get(
                "/v1/health/service/web?passing&filter=Node.Meta.rack%20%3D%3D%20r1%20and%20t3%20in%20Service.Tags",
            ))
        })
    });
    g.bench_function("health_service_100_gzip", |b| {
        b.iter(|| {
            rt.block_on(
                api.server.send(
                    ApiRequest::new("GET", "/v1/health/service/web", "")
                        .header("Accept-Encoding", "gzip"),
                ),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
