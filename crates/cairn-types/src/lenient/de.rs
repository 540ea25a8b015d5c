//! The key-normalizing `serde::Deserializer` over a parsed `serde_json::Value`.

use super::normalize_key;
use serde::de::{
    self, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess, Unexpected,
    VariantAccess, Visitor,
};
use serde_json::{Map, Number, Value};
use std::fmt;

/// One step of the path to a failing value.
#[derive(Debug)]
enum Segment {
    /// A struct field (canonical name) or map key (verbatim).
    Key(String),
    /// A list index.
    Index(usize),
}

/// A decode error with the path to the value it concerns.
#[derive(Debug)]
pub(super) struct Error {
    /// Innermost segment first: segments are pushed while the error travels outwards.
    path: Vec<Segment>,
    message: String,
}

impl Error {
    fn at_key(mut self, key: &str) -> Self {
        self.path.push(Segment::Key(key.to_owned()));
        self
    }

    fn at_index(mut self, index: usize) -> Self {
        self.path.push(Segment::Index(index));
        self
    }

    /// The path as `Checks[1].Interval`.
    pub(super) fn path_string(&self) -> String {
        let mut out = String::new();
        for segment in self.path.iter().rev() {
            match segment {
                Segment::Key(key) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(key);
                }
                Segment::Index(i) => {
                    out.push('[');
                    out.push_str(&i.to_string());
                    out.push(']');
                }
            }
        }
        out
    }

    /// The message without the path.
    pub(super) fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error {
            path: Vec::new(),
            message: msg.to_string(),
        }
    }
}

/// Deserializes from a borrowed JSON value, matching struct keys leniently.
pub(super) struct ValueDeserializer<'a> {
    value: &'a Value,
}

impl<'a> ValueDeserializer<'a> {
    pub(super) fn new(value: &'a Value) -> Self {
        ValueDeserializer { value }
    }
}

fn visit_number<'de, V: Visitor<'de>>(n: &Number, visitor: V) -> Result<V::Value, Error> {
    if let Some(u) = n.as_u64() {
        visitor.visit_u64(u)
    } else if let Some(i) = n.as_i64() {
        visitor.visit_i64(i)
    } else if let Some(f) = n.as_f64() {
        visitor.visit_f64(f)
    } else {
        Err(de::Error::custom(format!("invalid number {n}")))
    }
}

/// Implements a primitive `deserialize_*` method: `null` reads as the zero value, anything else
/// goes through `deserialize_any` and the visitor's own type check.
macro_rules! null_as_zero {
    ($($method:ident => $zero:expr),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                if self.value.is_null() {
                    #[allow(clippy::redundant_closure_call)]
                    ($zero)(visitor)
                } else {
                    self.deserialize_any(visitor)
                }
            }
        )*
    };
}

impl<'de, 'a> de::Deserializer<'de> for ValueDeserializer<'a> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => visit_number(n, visitor),
            Value::String(s) => visitor.visit_str(s),
            Value::Array(items) => visitor.visit_seq(Seq::new(items)),
            Value::Object(map) => visitor.visit_map(VerbatimMap::new(map)),
        }
    }

    null_as_zero! {
        deserialize_bool => |v: V| v.visit_bool(false),
        deserialize_i8 => |v: V| v.visit_u64(0),
        deserialize_i16 => |v: V| v.visit_u64(0),
        deserialize_i32 => |v: V| v.visit_u64(0),
        deserialize_i64 => |v: V| v.visit_u64(0),
        deserialize_i128 => |v: V| v.visit_u64(0),
        deserialize_u8 => |v: V| v.visit_u64(0),
        deserialize_u16 => |v: V| v.visit_u64(0),
        deserialize_u32 => |v: V| v.visit_u64(0),
        deserialize_u64 => |v: V| v.visit_u64(0),
        deserialize_u128 => |v: V| v.visit_u64(0),
        deserialize_f32 => |v: V| v.visit_f64(0.0),
        deserialize_f64 => |v: V| v.visit_f64(0.0),
        deserialize_str => |v: V| v.visit_str(""),
        deserialize_string => |v: V| v.visit_str(""),
        deserialize_seq => |v: V| v.visit_seq(Seq::new(&[])),
        deserialize_map => |v: V| v.visit_map(VerbatimMap::new(&Map::new())),
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_any(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_any(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_any(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.value.is_null() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_any(visitor)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_any(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.value {
            Value::Object(map) => visitor.visit_map(StructMap::new(map, fields)),
            Value::Null => visitor.visit_map(StructMap::new(&Map::new(), fields)),
            // Go never fills a struct from a list; refuse rather than match by position.
            Value::Array(_) => Err(de::Error::invalid_type(Unexpected::Seq, &visitor)),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.value {
            Value::String(s) => visitor.visit_enum(match_name(s, variants).into_deserializer()),
            Value::Object(map) => {
                let mut entries = map.iter();
                match (entries.next(), entries.next()) {
                    (Some((key, value)), None) => visitor.visit_enum(Enum {
                        variant: match_name(key, variants),
                        value,
                    }),
                    _ => Err(de::Error::invalid_value(
                        Unexpected::Map,
                        &"an object with exactly one key",
                    )),
                }
            }
            other => Err(de::Error::invalid_type(unexpected(other), &visitor)),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_any(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        // Nothing to look at: skip the whole subtree without walking it.
        visitor.visit_unit()
    }
}

fn unexpected(value: &Value) -> Unexpected<'_> {
    match value {
        Value::Null => Unexpected::Unit,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => Unexpected::Unsigned(u),
            (_, Some(i), _) => Unexpected::Signed(i),
            (_, _, Some(f)) => Unexpected::Float(f),
            _ => Unexpected::Other("number"),
        },
        Value::String(s) => Unexpected::Str(s),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    }
}

/// The name in `names` that `key` refers to: the exact spelling, else the first whose normalized
/// form matches, else `key` itself (the visitor then reports it as unknown).
fn match_name<'k>(key: &'k str, names: &'static [&'static str]) -> &'k str {
    if names.contains(&key) {
        return key;
    }
    let wanted = normalize_key(key);
    names
        .iter()
        .copied()
        .find(|name| normalize_key(name) == wanted)
        .unwrap_or(key)
}

/// List elements, each deserialized leniently.
struct Seq<'a> {
    items: std::slice::Iter<'a, Value>,
    index: usize,
}

impl<'a> Seq<'a> {
    fn new(items: &'a [Value]) -> Self {
        Seq {
            items: items.iter(),
            index: 0,
        }
    }
}

impl<'de, 'a> SeqAccess<'de> for Seq<'a> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        let Some(value) = self.items.next() else {
            return Ok(None);
        };
        let index = self.index;
        self.index += 1;
        seed.deserialize(ValueDeserializer::new(value))
            .map(Some)
            .map_err(|e| e.at_index(index))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// A JSON object read as a map: keys verbatim, values lenient.
struct VerbatimMap<'a> {
    entries: serde_json::map::Iter<'a>,
    pending: Option<(&'a str, &'a Value)>,
}

impl<'a> VerbatimMap<'a> {
    fn new(map: &'a Map<String, Value>) -> Self {
        VerbatimMap {
            entries: map.iter(),
            pending: None,
        }
    }
}

impl<'de, 'a> MapAccess<'de> for VerbatimMap<'a> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        self.pending = Some((key.as_str(), value));
        seed.deserialize(key.as_str().into_deserializer())
            .map(Some)
            .map_err(|e: Error| e.at_key(key))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let Some((key, value)) = self.pending.take() else {
            return Err(de::Error::custom("value requested before key"));
        };
        seed.deserialize(ValueDeserializer::new(value))
            .map_err(|e| e.at_key(key))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// A JSON object read as a struct: each key is replaced by the field it normalizes to; unknown
/// keys and `null` members are dropped.
struct StructMap<'a> {
    entries: std::vec::IntoIter<(&'static str, &'a Value)>,
    pending: Option<(&'static str, &'a Value)>,
}

impl<'a> StructMap<'a> {
    fn new(map: &'a Map<String, Value>, fields: &'static [&'static str]) -> Self {
        let normalized: Vec<String> = fields.iter().map(|f| normalize_key(f)).collect();
        // Per field: the chosen value and whether its key was spelled exactly.
        let mut chosen: Vec<Option<(&'a Value, bool)>> = vec![None; fields.len()];
        for (key, value) in map {
            if value.is_null() {
                continue;
            }
            let (index, exact) = match fields.iter().position(|f| *f == key) {
                Some(i) => (i, true),
                None => {
                    let wanted = normalize_key(key);
                    match normalized.iter().position(|n| *n == wanted) {
                        Some(i) => (i, false),
                        None => continue,
                    }
                }
            };
            match chosen[index] {
                Some((_, true)) => {}
                Some((_, false)) if !exact => {}
                _ => chosen[index] = Some((value, exact)),
            }
        }
        let entries: Vec<(&'static str, &'a Value)> = fields
            .iter()
            .zip(chosen)
            .filter_map(|(field, pick)| pick.map(|(value, _)| (*field, value)))
            .collect();
        StructMap {
            entries: entries.into_iter(),
            pending: None,
        }
    }
}

impl<'de, 'a> MapAccess<'de> for StructMap<'a> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some((field, value)) = self.entries.next() else {
            return Ok(None);
        };
        self.pending = Some((field, value));
        seed.deserialize(field.into_deserializer())
            .map(Some)
            .map_err(|e: Error| e.at_key(field))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let Some((field, value)) = self.pending.take() else {
            return Err(de::Error::custom("value requested before key"));
        };
        seed.deserialize(ValueDeserializer::new(value))
            .map_err(|e| e.at_key(field))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// An externally tagged enum written as `{"Variant": value}`.
struct Enum<'a, 'k> {
    variant: &'k str,
    value: &'a Value,
}

impl<'de, 'a, 'k> EnumAccess<'de> for Enum<'a, 'k> {
    type Error = Error;
    type Variant = VariantValue<'a>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self::Variant), Error> {
        let variant = self.variant;
        let tag = seed
            .deserialize(variant.into_deserializer())
            .map_err(|e: Error| e.at_key(variant))?;
        Ok((
            tag,
            VariantValue {
                value: self.value,
                name: variant.to_owned(),
            },
        ))
    }
}

/// The content of an externally tagged enum variant.
struct VariantValue<'a> {
    value: &'a Value,
    name: String,
}

impl<'de, 'a> VariantAccess<'de> for VariantValue<'a> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        match self.value {
            Value::Null => Ok(()),
            other => Err(de::Error::invalid_type(unexpected(other), &"unit variant")),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        let name = self.name;
        seed.deserialize(ValueDeserializer::new(self.value))
            .map_err(|e| e.at_key(&name))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        let name = self.name;
        de::Deserializer::deserialize_seq(ValueDeserializer::new(self.value), visitor)
            .map_err(|e| e.at_key(&name))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let name = self.name;
        de::Deserializer::deserialize_struct(
            ValueDeserializer::new(self.value),
            "",
            fields,
            visitor,
        )
        .map_err(|e| e.at_key(&name))
    }
}
