//! Typed decoding of a parsed config source, with Consul's merge rules.
//!
//! Each config section is declared once with [`section!`], which generates the struct, its
//! decoder (keys matched case-insensitively, as Go's mapstructure does; unknown keys warned
//! about, not refused) and its [`Merge`] implementation. Type errors carry the dotted path of
//! the key. Both JSON and HCL shapes are accepted: an object where a list of objects is expected
//! is a one-element list (a single HCL block), and a list of objects where one object is
//! expected is folded in order (repeated HCL blocks), like Consul's `HookWeakDecodeFromSlice`.

use crate::error::{ConfigError, Warning};
use cairn_types::GoDuration;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// Decoding context of one source.
pub(crate) struct Cx<'a> {
    /// Name of the source (file path, `command line`, …), used in messages.
    pub source: &'a str,
    /// Warnings collected so far.
    pub warnings: &'a mut Vec<Warning>,
    /// Dotted paths of every value this source set, with the source that set it.
    pub origins: &'a mut BTreeMap<String, String>,
}

impl Cx<'_> {
    pub fn error(&self, path: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::parse(self.source, path, message)
    }

    pub fn warn(&mut self, message: String) {
        self.warnings.push(Warning(message));
    }

    fn record(&mut self, path: &str) {
        self.origins.insert(path.to_owned(), self.source.to_owned());
    }
}

/// `parent.key`, or `key` at the top level.
pub(crate) fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// How a value reads in an error message: strings quoted, containers named.
pub(crate) fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            let shown: String = s.chars().take(80).collect();
            format!("{shown:?}")
        }
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// A type that a config value decodes into.
pub(crate) trait FromValue: Sized {
    fn from_value(v: &Value, path: &str, cx: &mut Cx) -> Result<Self, ConfigError>;
}

/// Consul's merge of two sources: later scalars win, lists append, free-form maps are replaced
/// by a later non-empty map, sections merge field by field.
pub(crate) trait Merge {
    fn merge(&mut self, later: Self);
}

impl<T> Merge for Option<T> {
    fn merge(&mut self, later: Self) {
        if later.is_some() {
            *self = later;
        }
    }
}

impl<T> Merge for Vec<T> {
    fn merge(&mut self, later: Self) {
        self.extend(later);
    }
}

impl<T> Merge for BTreeMap<String, T> {
    fn merge(&mut self, later: Self) {
        if !later.is_empty() {
            *self = later;
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value, path: &str, cx: &mut Cx) -> Result<Self, ConfigError> {
        if v.is_null() {
            return Ok(None);
        }
        let value = T::from_value(v, path, cx)?;
        cx.record(path);
        Ok(Some(value))
    }
}

impl FromValue for Value {
    fn from_value(v: &Value, _path: &str, _cx: &mut Cx) -> Result<Self, ConfigError> {
        Ok(v.clone())
    }
}

impl FromValue for bool {
    fn from_value(v: &Value, path: &str, cx: &mut Cx) -> Result<Self, ConfigError> {
        match v {
            Value::Bool(b) => Ok(*b),
            other => Err(cx.error(path, format!("expected a boolean, got {}", describe(other)))),
        }
    }
}

impl FromValue for String {
    fn from_value(v: &Value, path: &str, cx: &mut Cx) -> Result<Self, ConfigError> {
        match v {
            Value::String(s) => Ok(s.clone()),
            other => Err(cx.error(path, format!("expected a string, got {}", describe(other)))),
        }
    }
}

impl FromValue for i64 {
    fn from_value(v: &Value, path: &str, cx: &mut Cx) -> Result<Self, ConfigError> {
        let n = match v {
            Value::Number(n) => n.as_i64().or_else(|| {
                // Go reads every JSON number as a float and truncates into ints; a whole
                // float is accepted, a fraction is refused rather than silently cut.
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e18)
                    .map(|f| f as i64)
            }),
            _ => None,
        };
        n.ok_or_else(|| cx.error(path, format!("expected an integer, got {}", describe(v))))
    }
}

impl FromValue for u64 {
    fn from_value(v: &Value, path: &str, cx: &mut Cx) -> Result<Self, ConfigError> {
        if let Some(n) = v.as_u64() {
            return Ok(n);
        }
        let n = i64::from_value(v, path, cx)?;
        u64::try_from(n).map_err(|_| {
            cx.error(
                path,
                format!("expected a non-negative integer, got {}", describe(v)),
            )
        })
    }
}

impl FromValue for f64 {
    fn from_value(v: &Value, path: &str, cx: &mut Cx) -> Result<Self, ConfigError> {
        v.as_f64()
            .ok_or_else(|| cx.error(path, format!("expected a number, got {}", describe(v))))
    }
}

impl FromValue for Duration {
    fn from_value(v: &Value, path: &str, cx: &mut Cx) -> Result<Self, ConfigError> {
        let Value::String(text) = v else {
            return Err(cx.error(
                path,
                format!("expected a duration string, got {}", describe(v)),
            ));
        };
        GoDuration::parse(text)
            .map(|d| d.as_duration())
            .map_err(|e| cx.error(path, format!("invalid duration: {text:?}: {e}")))
    }
}

impl<T: FromValue> FromValue for Vec<T> {
    fn from_value(v: &Value, path: &str, cx: &mut Cx) -> Result<Self, ConfigError> {
        let out: Vec<T> = match v {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| T::from_value(item, &format!("{path}[{i}]"), cx))
                .collect::<Result<_, _>>()?,
            // A single HCL block where a list of blocks is expected.
            Value::Object(_) => vec![T::from_value(v, &format!("{path}[0]"), cx)?],
            Value::Null => Vec::new(),
            other => {
                return Err(cx.error(path, format!("expected a list, got {}", describe(other))))
            }
        };
        if !out.is_empty() {
            cx.record(path);
        }
        Ok(out)
    }
}

impl<T: FromValue> FromValue for BTreeMap<String, T> {
    fn from_value(v: &Value, path: &str, cx: &mut Cx) -> Result<Self, ConfigError> {
        let mut out = BTreeMap::new();
        for object in objects(v, path, cx)? {
            for (key, value) in object {
                let item = T::from_value(value, &join(path, key), cx)?;
                out.insert(key.clone(), item);
            }
        }
        if !out.is_empty() {
            cx.record(path);
        }
        Ok(out)
    }
}

/// The objects a section is read from: one object, or the objects of a list of repeated blocks.
pub(crate) fn objects<'v>(
    v: &'v Value,
    path: &str,
    cx: &Cx,
) -> Result<Vec<&'v serde_json::Map<String, Value>>, ConfigError> {
    match v {
        Value::Object(map) => Ok(vec![map]),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::Object(map) => Ok(map),
                other => Err(cx.error(
                    path,
                    format!("expected an object, got a list holding {}", describe(other)),
                )),
            })
            .collect(),
        Value::Null => Ok(Vec::new()),
        other => Err(cx.error(path, format!("expected an object, got {}", describe(other)))),
    }
}

/// A value Cairn recognises as Consul's but does not act on. Decoding keeps the raw value and
/// warns once, so an operator knows the setting has no effect.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ignored(pub Option<Value>);

impl FromValue for Ignored {
    fn from_value(v: &Value, path: &str, cx: &mut Cx) -> Result<Self, ConfigError> {
        let source = cx.source.to_owned();
        cx.warn(format!(
            "config: {source}: key \"{path}\" is not supported by Cairn and is ignored"
        ));
        Ok(Ignored(Some(v.clone())))
    }
}

impl Merge for Ignored {
    fn merge(&mut self, later: Self) {
        if later.0.is_some() {
            *self = later;
        }
    }
}

/// Declare a config section: the struct, its decoder and its merge.
///
/// Field syntax: `/// doc` `name: Type = "key"`. Keys are Consul's snake_case names.
macro_rules! section {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                $field:ident : $ty:ty = $key:literal
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq)]
        #[non_exhaustive]
        pub struct $name {
            $(
                $(#[$fmeta])*
                pub $field: $ty,
            )*
        }

        impl $crate::decode::FromValue for $name {
            fn from_value(
                v: &serde_json::Value,
                path: &str,
                cx: &mut $crate::decode::Cx,
            ) -> Result<Self, $crate::error::ConfigError> {
                let mut out = Self::default();
                for object in $crate::decode::objects(v, path, cx)? {
                    let mut this = Self::default();
                    for (key, value) in object {
                        let child = $crate::decode::join(path, key);
                        match key.to_ascii_lowercase().as_str() {
                            $(
                                $key => {
                                    this.$field =
                                        $crate::decode::FromValue::from_value(value, &child, cx)?;
                                }
                            )*
                            _ => {
                                let source = cx.source.to_owned();
                                cx.warn(format!("config: {source}: unknown key \"{child}\""));
                            }
                        }
                    }
                    $crate::decode::Merge::merge(&mut out, this);
                }
                Ok(out)
            }
        }

        impl $crate::decode::Merge for $name {
            fn merge(&mut self, later: Self) {
                $( $crate::decode::Merge::merge(&mut self.$field, later.$field); )*
            }
        }
    };
}

pub(crate) use section;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    section! {
        /// Test section.
        pub struct Inner {
            /// a
            a: Option<i64> = "a",
            /// b
            b: Vec<String> = "b",
        }
    }

    section! {
        /// Test root.
        pub struct Outer {
            /// inner
            inner: Inner = "inner",
            /// map
            map: BTreeMap<String, String> = "map",
            /// dur
            dur: Option<Duration> = "dur",
            /// big
            big: Option<u64> = "big",
        }
    }

    fn decode(v: Value) -> (Result<Outer, ConfigError>, Vec<Warning>) {
        let mut warnings = Vec::new();
        let mut origins = BTreeMap::new();
        let mut cx = Cx {
            source: "f.json",
            warnings: &mut warnings,
            origins: &mut origins,
        };
        let r = Outer::from_value(&v, "", &mut cx);
        (r, warnings)
    }

    #[test]
    fn decodes_case_insensitively_and_warns_on_unknown_keys() {
        let (r, w) = decode(json!({"INNER": {"a": 3.0, "b": ["x"], "zz": 1}, "dur": "1m30s"}));
        let o = r.unwrap();
        assert_eq!(o.inner.a, Some(3));
        assert_eq!(o.inner.b, vec!["x"]);
        assert_eq!(o.dur, Some(Duration::from_secs(90)));
        assert_eq!(
            w,
            vec![Warning("config: f.json: unknown key \"INNER.zz\"".into())]
        );
    }

    #[test]
    fn repeated_blocks_fold_in_order() {
        let (r, _) = decode(json!({"inner": [{"a": 1, "b": ["x"]}, {"a": 2, "b": ["y"]}]}));
        let o = r.unwrap();
        assert_eq!(o.inner.a, Some(2));
        assert_eq!(o.inner.b, vec!["x", "y"]);
    }

    #[test]
    fn type_errors_name_the_key() {
        let (r, _) = decode(json!({"inner": {"a": "x"}}));
        assert_eq!(
            r.unwrap_err().to_string(),
            "Error parsing f.json: inner.a: expected an integer, got \"x\""
        );
        let (r, _) = decode(json!({"inner": {"a": 1.5}}));
        assert!(r.unwrap_err().to_string().contains("got 1.5"));
        let (r, _) = decode(json!({"dur": "soon"}));
        assert!(r
            .unwrap_err()
            .to_string()
            .starts_with("Error parsing f.json: dur: invalid duration: \"soon\""));
        let (r, _) = decode(json!({"big": -1}));
        assert!(r.unwrap_err().to_string().contains("non-negative"));
        let (r, _) = decode(json!({"map": ["x"]}));
        assert!(r
            .unwrap_err()
            .to_string()
            .contains("map: expected an object"));
        let (r, _) = decode(json!({"inner": {"b": "x"}}));
        assert!(r
            .unwrap_err()
            .to_string()
            .contains("inner.b: expected a list"));
    }

    #[test]
    fn merge_rules() {
        let mut a = Outer::default();
        a.inner.a = Some(1);
        a.inner.b = vec!["x".into()];
        a.map.insert("k".into(), "v".into());
        let mut b = Outer::default();
        b.inner.b = vec!["y".into()];
        a.merge(b);
        assert_eq!(a.inner.a, Some(1));
        assert_eq!(a.inner.b, vec!["x", "y"]);
        assert_eq!(a.map.len(), 1);
        let mut c = Outer::default();
        c.map.insert("other".into(), "w".into());
        a.merge(c);
        assert_eq!(a.map.keys().collect::<Vec<_>>(), vec!["other"]);
    }
}
