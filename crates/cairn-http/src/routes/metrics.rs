//! `/v1/agent/metrics` (JSON or Prometheus text) and `/v1/agent/monitor` (log stream).

use super::{exact, AppState, GET};
use crate::backend::{LogLevel, MetricsSummary};
use crate::call::Call;
use crate::error::ApiError;
use crate::respond;
use axum::body::Body;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::Router;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt::Write;

/// Marks a response the compression layer must leave alone (streams must flush per line).
#[derive(Debug, Clone, Copy)]
pub(crate) struct NoCompression;

pub(crate) fn routes(r: Router<AppState>) -> Router<AppState> {
    let r = exact(r, "/v1/agent/metrics", GET, metrics);
    exact(r, "/v1/agent/monitor", GET, monitor)
}

/// `format=prometheus`, or an OpenMetrics / Prometheus 0.4 text `Accept`.
fn wants_prometheus(call: &Call) -> bool {
    if call.params.get("format") == "prometheus" {
        return true;
    }
    let accept = call
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    accept.split(',').any(|mime| {
        let mut parts = mime.split(';');
        let raw = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        raw == "application/openmetrics-text"
            || (raw == "text/plain" && parts.next().is_some_and(|p| p.trim() == "version=0.4.0"))
    })
}

async fn metrics(st: AppState, call: Call) -> Result<Response, ApiError> {
    let summary = st.agent.metrics().await?;
    if wants_prometheus(&call) {
        let mut resp = Response::new(Body::from(prometheus_text(&summary)));
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        );
        return Ok(resp);
    }
    respond::json(&summary, call.pretty)
}

/// A metric name as Prometheus allows it: dots and other characters become `_`.
fn prom_name(name: &str) -> String {
    name.chars()
        .enumerate()
        .map(|(i, c)| {
            if c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit()) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn prom_labels(labels: &BTreeMap<String, String>) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = labels
        .iter()
        .map(|(k, v)| {
            let v = v
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            format!("{}=\"{v}\"", prom_name(k))
        })
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// Render the interval in the Prometheus text exposition format: gauges as gauges, counters
/// as counters (their sum), samples as summaries (`_sum`, `_count`).
pub(crate) fn prometheus_text(m: &MetricsSummary) -> String {
    let mut out = String::new();
    let mut typed: BTreeMap<String, &'static str> = BTreeMap::new();
    let mut header = |out: &mut String, name: &str, kind: &'static str| {
        if typed.insert(name.to_string(), kind).is_none() {
            let _ = writeln!(out, "# HELP {name} {name}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
        }
    };
    for g in &m.gauges {
        let name = prom_name(&g.name);
        header(&mut out, &name, "gauge");
        let _ = writeln!(out, "{name}{} {}", prom_labels(&g.labels), g.value);
    }
    for c in &m.counters {
        let name = prom_name(&c.name);
        header(&mut out, &name, "counter");
        let _ = writeln!(out, "{name}{} {}", prom_labels(&c.labels), c.sum);
    }
    for s in &m.samples {
        let name = prom_name(&s.name);
        header(&mut out, &name, "summary");
        let labels = prom_labels(&s.labels);
        let _ = writeln!(out, "{name}_sum{labels} {}", s.sum);
        let _ = writeln!(out, "{name}_count{labels} {}", s.count);
    }
    out
}

async fn monitor(st: AppState, call: Call) -> Result<Response, ApiError> {
    let raw = match call.params.get("loglevel") {
        "" => "INFO",
        level => level,
    };
    let level: LogLevel = raw.parse().map_err(ApiError::bad_request)?;
    let json = call.params.has("logjson");
    let rx = st.agent.monitor(level, json).await?;
    let lines = futures::stream::unfold(rx, |mut rx| async move {
        let line = rx.recv().await?;
        let mut bytes = line.into_bytes();
        bytes.push(b'\n');
        Some((Ok::<_, Infallible>(Bytes::from(bytes)), rx))
    });
    let mut resp = Response::new(Body::from_stream(lines));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp.extensions_mut().insert(NoCompression);
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{GaugeValue, SampledValue};

    #[test]
    fn prometheus_rendering() {
        let m = MetricsSummary {
            gauges: vec![GaugeValue {
                name: "consul.runtime.alloc_bytes".into(),
                value: 1024.0,
                labels: BTreeMap::from([("node".into(), "a\"b".into())]),
            }],
            counters: vec![SampledValue {
                name: "consul.rpc.request".into(),
                count: 3,
                sum: 3.0,
                ..SampledValue::default()
            }],
            samples: vec![SampledValue {
                name: "consul.kvs.apply".into(),
                count: 2,
                sum: 1.5,
                ..SampledValue::default()
            }],
            ..MetricsSummary::default()
        };
        let text = prometheus_text(&m);
        assert!(text.contains("# TYPE consul_runtime_alloc_bytes gauge\n"));
        assert!(text.contains("consul_runtime_alloc_bytes{node=\"a\\\"b\"} 1024\n"));
        assert!(text.contains("# TYPE consul_rpc_request counter\nconsul_rpc_request 3\n"));
        assert!(text.contains("consul_kvs_apply_sum 1.5\nconsul_kvs_apply_count 2\n"));
        assert_eq!(prom_name("9a.b-c"), "_a_b_c");
    }
}
