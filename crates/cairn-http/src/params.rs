//! Query strings as Go's `url.Values` sees them, and the options every read shares.
//!
//! Go semantics matter here: a flag is set by its mere presence (`?recurse`, `?recurse=`,
//! `?recurse=None`), `Get` returns the first value or `""`, and `+` decodes to a space.

use crate::config::HttpConfig;
use crate::error::ApiError;
use crate::filter::Filter;
use cairn_types::{Consistency, GoDuration, QueryOptions};
use std::collections::BTreeMap;
use std::time::Duration;

/// Parsed query parameters in their original order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Parse a raw query string (without `?`). Pairs whose key holds a `;` are dropped, as Go
    /// ≥ 1.17 does; undecodable escapes are kept literally.
    pub fn parse(raw: &str) -> Params {
        let pairs = raw
            .split('&')
            .filter(|s| !s.is_empty())
            .filter_map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                if k.contains(';') {
                    return None;
                }
                Some((query_unescape(k), query_unescape(v)))
            })
            .filter(|(k, _)| !k.is_empty())
            .collect();
        Params { pairs }
    }

    /// Whether the key is present at all (Consul's flag test).
    pub fn has(&self, key: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == key)
    }

    /// The first value of `key`, or `""` (Go's `Values.Get`).
    pub fn get(&self, key: &str) -> &str {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    /// Every value of `key`, in order.
    pub fn all(&self, key: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Go's `Values.Encode`: keys sorted, values in order, query-escaped.
    pub fn encode(&self) -> String {
        let mut by_key: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (k, v) in &self.pairs {
            by_key.entry(k).or_default().push(v);
        }
        let mut out = String::new();
        for (k, values) in by_key {
            for v in values {
                if !out.is_empty() {
                    out.push('&');
                }
                out.push_str(&query_escape(k));
                out.push('=');
                out.push_str(&query_escape(v));
            }
        }
        out
    }

    /// `?node-meta=k:v` pairs (repeat = AND; a pair without `:` is a key with an empty value).
    pub fn node_meta(&self) -> BTreeMap<String, String> {
        self.all("node-meta")
            .into_iter()
            .map(|pair| match pair.split_once(':') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (pair, String::new()),
            })
            .collect()
    }

    /// A Go `strconv.ParseBool` flag: absent is `false`, present and empty is `true`.
    pub fn bool_flag(&self, key: &str) -> Result<bool, String> {
        if !self.has(key) {
            return Ok(false);
        }
        match self.get(key) {
            "" => Ok(true),
            v => parse_go_bool(v).ok_or_else(|| v.to_string()),
        }
    }
}

/// Go's `strconv.ParseBool`.
pub(crate) fn parse_go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go's `strconv.ParseUint(v, 10, 64)` with its error text.
pub(crate) fn parse_go_uint(v: &str) -> Result<u64, String> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("strconv.ParseUint: parsing {v:?}: invalid syntax"));
    }
    v.parse::<u64>()
        .map_err(|_| format!("strconv.ParseUint: parsing {v:?}: value out of range"))
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decode `%XX` escapes, and `+` as a space when `plus` (query strings, not paths).
pub(crate) fn unescape(text: &str, plus: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query_unescape(text: &str) -> String {
    unescape(text, true)
}

/// Go's `url.QueryEscape`.
pub(crate) fn query_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The ACL token: `?token`, else `X-Consul-Token`, else `Authorization: Bearer <tok>` (first
/// word after an exact `Bearer` scheme), else empty (the agent's default).
pub(crate) fn token(
    params: &Params,
    consul_token: Option<&str>,
    authorization: Option<&str>,
) -> String {
    let q = params.get("token");
    if !q.is_empty() {
        return q.to_string();
    }
    if let Some(t) = consul_token.filter(|t| !t.is_empty()) {
        return t.to_string();
    }
    if let Some(auth) = authorization {
        let parts: Vec<&str> = auth.split(' ').collect();
        if parts.len() > 1 && parts[0] == "Bearer" {
            let value = parts[1..].join(" ");
            return value
                .trim()
                .split(' ')
                .next()
                .unwrap_or("")
                .trim()
                .to_string();
        }
    }
    String::new()
}

/// Go's `time.ParseDuration`, negatives included (Consul treats a non-positive wait as the
/// default); `None` when unparsable.
fn parse_wait(text: &str) -> Option<Option<Duration>> {
    match text.strip_prefix('-') {
        Some(rest) => GoDuration::parse(rest).ok().map(|_| None),
        None => GoDuration::parse(text.strip_prefix('+').unwrap_or(text))
            .ok()
            .map(|d| Some(d.0)),
    }
}

/// The options of a read, parsed in Consul's order: datacenter, token, consistency
/// (`stale`, `consistent`, `leader`, `max_stale`), then `wait` and `index`. Errors are the
/// 400s Consul answers. `discovery` marks `/v1/catalog*` and `/v1/health*`, which default to
/// `discovery_max_stale`.
pub(crate) fn query_options(
    params: &Params,
    token: String,
    cfg: &HttpConfig,
    discovery: bool,
) -> Result<QueryOptions, ApiError> {
    let mut opts = QueryOptions {
        datacenter: datacenter(params, cfg),
        token,
        ..QueryOptions::default()
    };
    let mut stale = params.has("stale");
    let consistent = params.has("consistent");
    let mut defaults = !stale && !consistent && !params.has("leader");
    let max_stale = params.get("max_stale");
    if !max_stale.is_empty() {
        let parsed = parse_wait(max_stale).ok_or_else(|| {
            ApiError::bad_request(format!("Invalid max_stale value {max_stale:?}"))
        })?;
        if let Some(d) = parsed.filter(|d| !d.is_zero()) {
            opts.max_stale = Some(d);
            stale = true;
            defaults = false;
        }
    }
    if defaults && discovery && !cfg.discovery_max_stale.is_zero() {
        opts.max_stale = Some(cfg.discovery_max_stale);
        stale = true;
    }
    if stale && consistent {
        return Err(ApiError::bad_request(
            "Cannot specify ?stale with ?consistent, conflicting semantics.",
        ));
    }
    opts.consistency = if consistent {
        Consistency::Consistent
    } else if stale {
        Consistency::Stale
    } else {
        Consistency::Default
    };
    let wait = params.get("wait");
    if !wait.is_empty() {
        opts.max_query_time =
            parse_wait(wait).ok_or_else(|| ApiError::bad_request("Invalid wait time"))?;
    }
    let index = params.get("index");
    if !index.is_empty() {
        opts.min_query_index =
            parse_go_uint(index).map_err(|_| ApiError::bad_request("Invalid index"))?;
    }
    let near = params.get("near");
    opts.near = if near == "_agent" {
        cfg.node_name.clone()
    } else {
        near.to_string()
    };
    opts.filter = params.get("filter").to_string();
    opts.max_query_time = Some(crate::blocking::effective_wait(&opts, cfg));
    Ok(opts)
}

/// `?dc`, else the agent's datacenter.
pub(crate) fn datacenter(params: &Params, cfg: &HttpConfig) -> String {
    match params.get("dc") {
        "" => cfg.datacenter.clone(),
        dc => dc.to_string(),
    }
}

/// The `?filter` expression, compiled; 400 with bexpr's wording when it does not parse.
pub(crate) fn filter(params: &Params) -> Result<Option<Filter>, ApiError> {
    let text = params.get("filter");
    if text.is_empty() {
        return Ok(None);
    }
    Filter::parse(text).map(Some).map_err(|e| {
        ApiError::bad_request(format!(
            "Failed to create boolean expression evaluator: {e}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(raw: &str) -> Params {
        Params::parse(raw)
    }

    #[test]
    fn flags_are_true_by_presence() {
        for raw in [
            "recurse",
            "recurse=",
            "recurse=None",
            "recurse=1",
            "a=b&recurse",
        ] {
            assert!(p(raw).has("recurse"), "{raw}");
        }
        assert!(!p("recursive=1").has("recurse"));
    }

    #[test]
    fn get_and_all_follow_go() {
        let q = p("tag=a&tag=b%20c&x=1+2&empty=&tag=");
        assert_eq!(q.get("tag"), "a");
        assert_eq!(q.all("tag"), vec!["a", "b c", ""]);
        assert_eq!(q.get("x"), "1 2");
        assert_eq!(q.get("missing"), "");
        assert_eq!(q.get("empty"), "");
    }

    #[test]
    fn encode_sorts_keys_like_go() {
        let q = p("cas=0&acquire=abc%2Fd&release=x y");
        assert_eq!(q.encode(), "acquire=abc%2Fd&cas=0&release=x+y");
    }

    #[test]
    fn undecodable_escapes_are_kept() {
        assert_eq!(p("k=%zz%4").get("k"), "%zz%4");
        assert_eq!(p("k=%41").get("k"), "A");
        assert_eq!(unescape("a%2Fb+c", false), "a/b+c");
    }

    #[test]
    fn node_meta_pairs() {
        let m = p("node-meta=env:prod&node-meta=rack:r1:x&node-meta=bare").node_meta();
        assert_eq!(m["env"], "prod");
        assert_eq!(m["rack"], "r1:x");
        assert_eq!(m["bare"], "");
    }

    #[test]
    fn token_precedence() {
        assert_eq!(token(&p("token=q"), Some("h"), Some("Bearer b")), "q");
        assert_eq!(token(&p(""), Some("h"), Some("Bearer b")), "h");
        assert_eq!(token(&p(""), None, Some("Bearer  b  c")), "b");
        assert_eq!(token(&p(""), None, Some("Basic b")), "");
        assert_eq!(token(&p(""), None, Some("Bearer")), "");
    }

    #[test]
    fn read_options_and_their_errors() {
        let cfg = HttpConfig::default();
        let o = query_options(&p("index=42&wait=2s&stale"), String::new(), &cfg, false).unwrap();
        assert_eq!(o.min_query_index, 42);
        assert_eq!(o.consistency, Consistency::Stale);
        assert_eq!(o.datacenter, "dc1");
        let wait = o.max_query_time.unwrap();
        assert!(wait >= Duration::from_secs(2) && wait <= Duration::from_millis(2125));

        let err = |raw: &str| {
            query_options(&p(raw), String::new(), &cfg, false)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(err("wait=soon"), "Invalid wait time");
        assert_eq!(err("index=-1"), "Invalid index");
        assert_eq!(err("index=abc"), "Invalid index");
        assert_eq!(
            err("stale&consistent"),
            "Cannot specify ?stale with ?consistent, conflicting semantics."
        );
        assert_eq!(err("max_stale=x"), "Invalid max_stale value \"x\"");
        assert_eq!(
            err("consistent&max_stale=5s"),
            "Cannot specify ?stale with ?consistent, conflicting semantics."
        );
        // Consistency is checked before wait, as in Consul.
        assert_eq!(
            err("stale&consistent&wait=bad"),
            "Cannot specify ?stale with ?consistent, conflicting semantics."
        );
        let o =
            query_options(&p("dc=dc2&consistent&wait=-1s"), String::new(), &cfg, false).unwrap();
        assert_eq!(
            (o.datacenter.as_str(), o.consistency),
            ("dc2", Consistency::Consistent)
        );
        assert_eq!(o.min_query_index, 0);
    }

    #[test]
    fn discovery_max_stale_defaults_catalog_reads_to_stale() {
        let cfg = HttpConfig {
            discovery_max_stale: Duration::from_secs(5),
            ..HttpConfig::default()
        };
        let o = query_options(&p(""), String::new(), &cfg, true).unwrap();
        assert_eq!(o.consistency, Consistency::Stale);
        assert_eq!(o.max_stale, Some(Duration::from_secs(5)));
        let o = query_options(&p("leader"), String::new(), &cfg, true).unwrap();
        assert_eq!(o.consistency, Consistency::Default);
        let o = query_options(&p(""), String::new(), &cfg, false).unwrap();
        assert_eq!(o.consistency, Consistency::Default);
    }

    #[test]
    fn go_numbers_and_bools() {
        assert_eq!(parse_go_uint("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(
            parse_go_uint("abc"),
            Err("strconv.ParseUint: parsing \"abc\": invalid syntax".into())
        );
        assert_eq!(
            parse_go_uint("18446744073709551616"),
            Err("strconv.ParseUint: parsing \"18446744073709551616\": value out of range".into())
        );
        assert_eq!(p("passing").bool_flag("passing"), Ok(true));
        assert_eq!(p("passing=false").bool_flag("passing"), Ok(false));
        assert_eq!(p("passing=None").bool_flag("passing"), Err("None".into()));
        assert_eq!(p("").bool_flag("passing"), Ok(false));
    }
}
