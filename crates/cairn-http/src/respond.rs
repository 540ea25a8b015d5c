//! Building answers: JSON as Go's `encoding/json` writes it, plain-text errors, and the
//! `X-Consul-*` query headers.

use crate::error::ApiError;
use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use cairn_types::QueryMeta;
use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter};
use std::io;

/// JSON formatting like Go's: `<`, `>`, `&`, U+2028 and U+2029 escaped as `\u003c`, ….
struct GoFormatter<F>(F);

impl<F: Formatter> Formatter for GoFormatter<F> {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            let escaped = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            writer.write_all(&fragment.as_bytes()[start..i])?;
            writer.write_all(escaped.as_bytes())?;
            start = i + c.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }

    // Delegate the structural calls so indentation comes from the inner formatter.
    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn end_object_key<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_key(w)
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

/// Encode `value` as Consul would: compact, or with 4-space indent and a trailing newline
/// when `pretty`.
pub(crate) fn encode_json<T: Serialize + ?Sized>(
    value: &T,
    pretty: bool,
) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::with_capacity(128);
    let result = if pretty {
        let mut ser = serde_json::Serializer::with_formatter(
            &mut out,
            GoFormatter(PrettyFormatter::with_indent(b"    ")),
        );
        value.serialize(&mut ser)
    } else {
        let mut ser =
            serde_json::Serializer::with_formatter(&mut out, GoFormatter(CompactFormatter));
        value.serialize(&mut ser)
    };
    result.map_err(|e| ApiError::internal(e.to_string()))?;
    if pretty {
        out.push(b'\n');
    }
    Ok(out)
}

/// A JSON answer with `status`.
pub(crate) fn json_status<T: Serialize + ?Sized>(
    status: StatusCode,
    value: &T,
    pretty: bool,
) -> Result<Response, ApiError> {
    let body = encode_json(value, pretty)?;
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}

/// A 200 JSON answer.
pub(crate) fn json<T: Serialize + ?Sized>(value: &T, pretty: bool) -> Result<Response, ApiError> {
    json_status(StatusCode::OK, value, pretty)
}

/// An answer with no body (agent writes answer an empty 200).
pub(crate) fn empty(status: StatusCode) -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = status;
    resp
}

/// A plain-text answer, as Go's `fmt.Fprint(resp, …)` gives (net/http sniffs
/// `text/plain; charset=utf-8`).
pub(crate) fn text(status: StatusCode, body: impl Into<String>) -> Response {
    let body: String = body.into();
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// The plain-text answer of an error.
pub(crate) fn error(e: &ApiError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    text(status, e.to_string())
}

/// Add `X-Consul-Index` (never 0), `X-Consul-KnownLeader`, `X-Consul-LastContact` (ms) and
/// `X-Consul-Effective-Consistency`.
pub(crate) fn set_meta(resp: &mut Response, meta: &QueryMeta) {
    set_index(resp, meta.index);
    let h = resp.headers_mut();
    h.insert(
        "X-Consul-KnownLeader",
        HeaderValue::from_static(if meta.known_leader { "true" } else { "false" }),
    );
    let ms = u64::try_from(meta.last_contact.as_millis()).unwrap_or(u64::MAX);
    h.insert("X-Consul-LastContact", HeaderValue::from(ms));
    h.insert(
        "X-Consul-Effective-Consistency",
        HeaderValue::from_static(meta.consistency.header_value()),
    );
}

/// `X-Consul-Index`, rewritten to 1 when 0 so blocking clients never spin.
pub(crate) fn set_index(resp: &mut Response, index: u64) {
    resp.headers_mut()
        .insert("X-Consul-Index", HeaderValue::from(index.max(1)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn escapes_like_go() {
        let v = serde_json::json!({"k": "<a & b>\u{2028}é"});
        let out = encode_json(&v, false).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"k":"\u003ca \u0026 b\u003e\u2028é"}"#
        );
    }

    #[test]
    fn pretty_is_four_spaces_and_a_newline() {
        let mut m = BTreeMap::new();
        m.insert("a", vec![1, 2]);
        m.insert("b", vec![]);
        let out = String::from_utf8(encode_json(&m, true).unwrap()).unwrap();
        assert_eq!(
            out,
            "{\n    \"a\": [\n        1,\n        2\n    ],\n    \"b\": []\n}\n"
        );
    }

    #[test]
    fn index_is_never_zero() {
        let mut r = empty(StatusCode::OK);
        set_meta(&mut r, &QueryMeta::default());
        assert_eq!(r.headers()["X-Consul-Index"], "1");
        assert_eq!(r.headers()["X-Consul-KnownLeader"], "false");
        assert_eq!(r.headers()["X-Consul-LastContact"], "0");
        assert_eq!(r.headers()["X-Consul-Effective-Consistency"], "leader");
    }
}
