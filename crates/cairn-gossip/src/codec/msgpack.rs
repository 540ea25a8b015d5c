//! MessagePack in the "old spec" that memberlist and serf speak.
//!
//! Go's `hashicorp/go-msgpack` with a default `MsgpackHandle` writes strings and byte slices
//! alike as raw (fixstr / str16 / str32) and never emits `bin` or `str8`; structs become maps
//! keyed by field name in sorted order, nil slices become `nil`. The encoder here writes exactly
//! that subset. The decoder accepts the whole format (including `bin*`, `str8` and ext types) so
//! that newer peers still decode, and it never panics or over-allocates on hostile input.

use std::fmt;

/// Errors from decoding MessagePack.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ended before the value was complete.
    #[error("unexpected end of input")]
    Eof,
    /// A byte that starts no known MessagePack value.
    #[error("invalid msgpack marker 0x{0:02x}")]
    BadMarker(u8),
    /// Containers nested deeper than the decoder allows.
    #[error("msgpack nesting too deep")]
    TooDeep,
    /// A value had the wrong type for the field it fills.
    #[error("field {field}: expected {expected}")]
    Type {
        /// The field being decoded.
        field: &'static str,
        /// What the field needs.
        expected: &'static str,
    },
    /// A semantic problem (bad length, bad enum value, ...).
    #[error("{0}")]
    Invalid(&'static str),
}

/// Maximum container nesting accepted by the decoder; memberlist messages nest at most 4 deep.
const MAX_DEPTH: usize = 32;

/// Appends MessagePack values to a byte vector, old-spec flavoured.
pub struct Encoder<'a> {
    buf: &'a mut Vec<u8>,
}

impl<'a> Encoder<'a> {
    /// Writes into `buf`, appending.
    pub fn new(buf: &'a mut Vec<u8>) -> Self {
        Encoder { buf }
    }

    /// A map header for `len` key/value pairs.
    pub fn map(&mut self, len: usize) {
        self.container(len, 0x80, 16, 0xde, 0xdf);
    }

    /// An array header for `len` elements.
    pub fn array(&mut self, len: usize) {
        self.container(len, 0x90, 16, 0xdc, 0xdd);
    }

    fn container(&mut self, len: usize, fix: u8, fix_cut: usize, m16: u8, m32: u8) {
        if len < fix_cut {
            self.buf.push(fix | len as u8);
        } else if len < 65536 {
            self.buf.push(m16);
            self.buf.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            self.buf.push(m32);
            self.buf.extend_from_slice(&(len as u32).to_be_bytes());
        }
    }

    /// A raw string (fixstr / str16 / str32; never str8, as the old spec lacks it).
    pub fn raw(&mut self, bytes: &[u8]) {
        self.container(bytes.len(), 0xa0, 32, 0xda, 0xdb);
        self.buf.extend_from_slice(bytes);
    }

    /// A UTF-8 string, encoded as raw.
    pub fn str(&mut self, s: &str) {
        self.raw(s.as_bytes());
    }

    /// A byte slice that Go holds as a `[]byte`: empty means nil there, so write `nil`.
    pub fn bytes_or_nil(&mut self, b: &[u8]) {
        if b.is_empty() {
            self.nil();
        } else {
            self.raw(b);
        }
    }

    /// `nil`.
    pub fn nil(&mut self) {
        self.buf.push(0xc0);
    }

    /// A boolean.
    pub fn bool(&mut self, v: bool) {
        self.buf.push(if v { 0xc3 } else { 0xc2 });
    }

    /// An unsigned integer in its smallest form.
    pub fn uint(&mut self, v: u64) {
        if v <= 0x7f {
            self.buf.push(v as u8);
        } else if v <= 0xff {
            self.buf.extend_from_slice(&[0xcc, v as u8]);
        } else if v <= 0xffff {
            self.buf.push(0xcd);
            self.buf.extend_from_slice(&(v as u16).to_be_bytes());
        } else if v <= 0xffff_ffff {
            self.buf.push(0xce);
            self.buf.extend_from_slice(&(v as u32).to_be_bytes());
        } else {
            self.buf.push(0xcf);
            self.buf.extend_from_slice(&v.to_be_bytes());
        }
    }

    /// A signed integer in its smallest form (non-negative values as unsigned, like Go).
    pub fn int(&mut self, v: i64) {
        if v >= 0 {
            self.uint(v as u64);
        } else if v >= -32 {
            self.buf.push(v as i8 as u8);
        } else if v >= i8::MIN as i64 {
            self.buf.extend_from_slice(&[0xd0, v as i8 as u8]);
        } else if v >= i16::MIN as i64 {
            self.buf.push(0xd1);
            self.buf.extend_from_slice(&(v as i16).to_be_bytes());
        } else if v >= i32::MIN as i64 {
            self.buf.push(0xd2);
            self.buf.extend_from_slice(&(v as i32).to_be_bytes());
        } else {
            self.buf.push(0xd3);
            self.buf.extend_from_slice(&v.to_be_bytes());
        }
    }

    /// A 64-bit float.
    pub fn f64(&mut self, v: f64) {
        self.buf.push(0xcb);
        self.buf.extend_from_slice(&v.to_bits().to_be_bytes());
    }

    /// A map of string to string, keys sorted so the output is deterministic.
    pub fn str_map<'k>(&mut self, entries: impl IntoIterator<Item = (&'k str, &'k str)>) {
        let mut v: Vec<(&str, &str)> = entries.into_iter().collect();
        v.sort_unstable();
        self.map(v.len());
        for (k, val) in v {
            self.str(k);
            self.str(val);
        }
    }
}

/// A decoded MessagePack value borrowing strings and byte slices from the input.
#[derive(Clone, PartialEq)]
pub enum Value<'a> {
    /// `nil`.
    Nil,
    /// `true` / `false`.
    Bool(bool),
    /// Any integer that fits `i64` and is negative.
    Int(i64),
    /// Any non-negative integer.
    Uint(u64),
    /// A float (32-bit floats are widened).
    Float(f64),
    /// A str / raw / bin value.
    Raw(&'a [u8]),
    /// An array.
    Array(Vec<Value<'a>>),
    /// A map, in wire order.
    Map(Vec<(Value<'a>, Value<'a>)>),
    /// An extension value.
    Ext(i8, &'a [u8]),
}

impl fmt::Debug for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Nil => write!(f, "nil"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Uint(u) => write!(f, "{u}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Raw(r) => match std::str::from_utf8(r) {
                Ok(s) => write!(f, "{s:?}"),
                Err(_) => write!(f, "0x{}", hex(r)),
            },
            Value::Array(a) => f.debug_list().entries(a).finish(),
            Value::Map(m) => f
                .debug_map()
                .entries(m.iter().map(|(k, v)| (k, v)))
                .finish(),
            Value::Ext(t, d) => write!(f, "ext({t}, 0x{})", hex(d)),
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Reads MessagePack values one after another from a byte slice.
pub struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Decoder<'a> {
    /// Decodes from the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Decoder { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The bytes not yet consumed.
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// Reads one complete value.
    pub fn value(&mut self) -> Result<Value<'a>, DecodeError> {
        self.value_at(0)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or(DecodeError::Eof)?;
        if end > self.buf.len() {
            return Err(DecodeError::Eof);
        }
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    fn be16(&mut self) -> Result<u16, DecodeError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn be32(&mut self) -> Result<u32, DecodeError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn be64(&mut self) -> Result<u64, DecodeError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    /// Elements of a container each take at least one byte: refuse lengths the input cannot hold
    /// before allocating for them.
    fn check_len(&self, n: usize, per_item: usize) -> Result<(), DecodeError> {
        if n.saturating_mul(per_item) > self.buf.len() - self.pos {
            return Err(DecodeError::Eof);
        }
        Ok(())
    }

    fn array(&mut self, n: usize, depth: usize) -> Result<Value<'a>, DecodeError> {
        self.check_len(n, 1)?;
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            v.push(self.value_at(depth + 1)?);
        }
        Ok(Value::Array(v))
    }

    fn map(&mut self, n: usize, depth: usize) -> Result<Value<'a>, DecodeError> {
        self.check_len(n, 2)?;
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            let k = self.value_at(depth + 1)?;
            let val = self.value_at(depth + 1)?;
            v.push((k, val));
        }
        Ok(Value::Map(v))
    }

    fn value_at(&mut self, depth: usize) -> Result<Value<'a>, DecodeError> {
        if depth > MAX_DEPTH {
            return Err(DecodeError::TooDeep);
        }
        let m = self.u8()?;
        Ok(match m {
            0x00..=0x7f => Value::Uint(m as u64),
            0x80..=0x8f => return self.map((m & 0x0f) as usize, depth),
            0x90..=0x9f => return self.array((m & 0x0f) as usize, depth),
            0xa0..=0xbf => Value::Raw(self.take((m & 0x1f) as usize)?),
            0xc0 => Value::Nil,
            0xc2 => Value::Bool(false),
            0xc3 => Value::Bool(true),
            0xc4 | 0xd9 => {
                let n = self.u8()? as usize;
                Value::Raw(self.take(n)?)
            }
            0xc5 | 0xda => {
                let n = self.be16()? as usize;
                Value::Raw(self.take(n)?)
            }
            0xc6 | 0xdb => {
                let n = self.be32()? as usize;
                Value::Raw(self.take(n)?)
            }
            0xc7 => {
                let n = self.u8()? as usize;
                let t = self.u8()? as i8;
                Value::Ext(t, self.take(n)?)
            }
            0xc8 => {
                let n = self.be16()? as usize;
                let t = self.u8()? as i8;
                Value::Ext(t, self.take(n)?)
            }
            0xc9 => {
                let n = self.be32()? as usize;
                let t = self.u8()? as i8;
                Value::Ext(t, self.take(n)?)
            }
            0xca => Value::Float(f32::from_bits(self.be32()?) as f64),
            0xcb => Value::Float(f64::from_bits(self.be64()?)),
            0xcc => Value::Uint(self.u8()? as u64),
            0xcd => Value::Uint(self.be16()? as u64),
            0xce => Value::Uint(self.be32()? as u64),
            0xcf => Value::Uint(self.be64()?),
            0xd0 => int_value(self.u8()? as i8 as i64),
            0xd1 => int_value(self.be16()? as i16 as i64),
            0xd2 => int_value(self.be32()? as i32 as i64),
            0xd3 => int_value(self.be64()? as i64),
            0xd4 => fixext(self, 1)?,
            0xd5 => fixext(self, 2)?,
            0xd6 => fixext(self, 4)?,
            0xd7 => fixext(self, 8)?,
            0xd8 => fixext(self, 16)?,
            0xdc => {
                let n = self.be16()? as usize;
                return self.array(n, depth);
            }
            0xdd => {
                let n = self.be32()? as usize;
                return self.array(n, depth);
            }
            0xde => {
                let n = self.be16()? as usize;
                return self.map(n, depth);
            }
            0xdf => {
                let n = self.be32()? as usize;
                return self.map(n, depth);
            }
            0xe0..=0xff => Value::Int(m as i8 as i64),
            0xc1 => return Err(DecodeError::BadMarker(m)),
        })
    }
}

fn int_value(v: i64) -> Value<'static> {
    if v >= 0 {
        Value::Uint(v as u64)
    } else {
        Value::Int(v)
    }
}

fn fixext<'a>(d: &mut Decoder<'a>, n: usize) -> Result<Value<'a>, DecodeError> {
    let t = d.u8()? as i8;
    Ok(Value::Ext(t, d.take(n)?))
}

/// Decodes exactly one value that must fill `buf`; trailing bytes are ignored as Go does.
pub fn decode(buf: &[u8]) -> Result<Value<'_>, DecodeError> {
    Decoder::new(buf).value()
}

/// Typed accessors used by the message decoders. Each names the field for error messages and
/// follows Go's zero-value rule: `nil` decodes as the type's zero value.
impl<'a> Value<'a> {
    /// An unsigned integer (negative values are rejected).
    pub fn as_u64(&self, field: &'static str) -> Result<u64, DecodeError> {
        match self {
            Value::Uint(u) => Ok(*u),
            Value::Nil => Ok(0),
            Value::Bool(b) => Ok(*b as u64),
            _ => Err(DecodeError::Type {
                field,
                expected: "unsigned integer",
            }),
        }
    }

    /// An unsigned integer that must fit `u32`.
    pub fn as_u32(&self, field: &'static str) -> Result<u32, DecodeError> {
        u32::try_from(self.as_u64(field)?).map_err(|_| DecodeError::Type {
            field,
            expected: "u32",
        })
    }

    /// An unsigned integer that must fit `u16`.
    pub fn as_u16(&self, field: &'static str) -> Result<u16, DecodeError> {
        u16::try_from(self.as_u64(field)?).map_err(|_| DecodeError::Type {
            field,
            expected: "u16",
        })
    }

    /// An unsigned integer that must fit `u8`.
    pub fn as_u8(&self, field: &'static str) -> Result<u8, DecodeError> {
        u8::try_from(self.as_u64(field)?).map_err(|_| DecodeError::Type {
            field,
            expected: "u8",
        })
    }

    /// A signed integer.
    pub fn as_i64(&self, field: &'static str) -> Result<i64, DecodeError> {
        match self {
            Value::Int(i) => Ok(*i),
            Value::Uint(u) => i64::try_from(*u).map_err(|_| DecodeError::Type {
                field,
                expected: "i64",
            }),
            Value::Nil => Ok(0),
            _ => Err(DecodeError::Type {
                field,
                expected: "integer",
            }),
        }
    }

    /// A float (integers are accepted too).
    pub fn as_f64(&self, field: &'static str) -> Result<f64, DecodeError> {
        match self {
            Value::Float(f) => Ok(*f),
            Value::Uint(u) => Ok(*u as f64),
            Value::Int(i) => Ok(*i as f64),
            Value::Nil => Ok(0.0),
            _ => Err(DecodeError::Type {
                field,
                expected: "float",
            }),
        }
    }

    /// A boolean.
    pub fn as_bool(&self, field: &'static str) -> Result<bool, DecodeError> {
        match self {
            Value::Bool(b) => Ok(*b),
            Value::Nil => Ok(false),
            Value::Uint(u) => Ok(*u != 0),
            _ => Err(DecodeError::Type {
                field,
                expected: "bool",
            }),
        }
    }

    /// Raw bytes (str, raw or bin).
    pub fn as_bytes(&self, field: &'static str) -> Result<&'a [u8], DecodeError> {
        match self {
            Value::Raw(r) => Ok(r),
            Value::Nil => Ok(&[]),
            Value::Array(a) if a.is_empty() => Ok(&[]),
            _ => Err(DecodeError::Type {
                field,
                expected: "bytes",
            }),
        }
    }

    /// Bytes given either as raw or as an array of small integers (how some encoders write
    /// `[]uint8`).
    pub fn as_byte_vec(&self, field: &'static str) -> Result<Vec<u8>, DecodeError> {
        match self {
            Value::Array(a) => a.iter().map(|v| v.as_u8(field)).collect(),
            other => Ok(other.as_bytes(field)?.to_vec()),
        }
    }

    /// A UTF-8 string (invalid UTF-8 is replaced rather than rejected, as Go keeps raw bytes).
    pub fn as_string(&self, field: &'static str) -> Result<String, DecodeError> {
        Ok(String::from_utf8_lossy(self.as_bytes(field)?).into_owned())
    }

    /// An array's elements (`nil` is an empty array).
    pub fn as_array(&self, field: &'static str) -> Result<&[Value<'a>], DecodeError> {
        match self {
            Value::Array(a) => Ok(a),
            Value::Nil => Ok(&[]),
            _ => Err(DecodeError::Type {
                field,
                expected: "array",
            }),
        }
    }

    /// A map's entries (`nil` is an empty map).
    pub fn as_map(&self, field: &'static str) -> Result<&[(Value<'a>, Value<'a>)], DecodeError> {
        match self {
            Value::Map(m) => Ok(m),
            Value::Nil => Ok(&[]),
            _ => Err(DecodeError::Type {
                field,
                expected: "map",
            }),
        }
    }

    /// Views this value as a struct encoded as a map keyed by field name.
    pub fn as_struct(&self, name: &'static str) -> Result<Struct<'_, 'a>, DecodeError> {
        Ok(Struct {
            fields: self.as_map(name)?,
        })
    }
}

/// A Go struct encoded as a msgpack map: look fields up by name, absent fields are zero values.
pub struct Struct<'v, 'a> {
    fields: &'v [(Value<'a>, Value<'a>)],
}

static NIL: Value<'static> = Value::Nil;

impl<'v, 'a> Struct<'v, 'a> {
    /// The field called `name`, or `nil` when absent. Names match exactly, then ignoring case
    /// (Go's decoder falls back to a case-insensitive match).
    pub fn get(&self, name: &str) -> &'v Value<'a> {
        let exact = self
            .fields
            .iter()
            .find(|(k, _)| matches!(k, Value::Raw(r) if *r == name.as_bytes()));
        if let Some((_, v)) = exact {
            return v;
        }
        self.fields
            .iter()
            .find(|(k, _)| matches!(k, Value::Raw(r) if r.eq_ignore_ascii_case(name.as_bytes())))
            .map(|(_, v)| v)
            .unwrap_or(&NIL)
    }

    /// `u64` field.
    pub fn u64(&self, name: &'static str) -> Result<u64, DecodeError> {
        self.get(name).as_u64(name)
    }
    /// `u32` field.
    pub fn u32(&self, name: &'static str) -> Result<u32, DecodeError> {
        self.get(name).as_u32(name)
    }
    /// `u16` field.
    pub fn u16(&self, name: &'static str) -> Result<u16, DecodeError> {
        self.get(name).as_u16(name)
    }
    /// `u8` field.
    pub fn u8(&self, name: &'static str) -> Result<u8, DecodeError> {
        self.get(name).as_u8(name)
    }
    /// `i64` field.
    pub fn i64(&self, name: &'static str) -> Result<i64, DecodeError> {
        self.get(name).as_i64(name)
    }
    /// `f64` field.
    pub fn f64(&self, name: &'static str) -> Result<f64, DecodeError> {
        self.get(name).as_f64(name)
    }
    /// `bool` field.
    pub fn bool(&self, name: &'static str) -> Result<bool, DecodeError> {
        self.get(name).as_bool(name)
    }
    /// Byte-slice field, copied.
    pub fn bytes(&self, name: &'static str) -> Result<Vec<u8>, DecodeError> {
        self.get(name).as_byte_vec(name)
    }
    /// String field.
    pub fn string(&self, name: &'static str) -> Result<String, DecodeError> {
        self.get(name).as_string(name)
    }
    /// `[]string` field.
    pub fn strings(&self, name: &'static str) -> Result<Vec<String>, DecodeError> {
        self.get(name)
            .as_array(name)?
            .iter()
            .map(|v| v.as_string(name))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(f: impl FnOnce(&mut Encoder)) -> Vec<u8> {
        let mut v = Vec::new();
        f(&mut Encoder::new(&mut v));
        v
    }

    #[test]
    fn integers_use_smallest_form() {
        assert_eq!(enc(|e| e.uint(1)), [0x01]);
        assert_eq!(enc(|e| e.uint(200)), [0xcc, 200]);
        assert_eq!(enc(|e| e.uint(17946)), [0xcd, 0x46, 0x1a]);
        assert_eq!(enc(|e| e.uint(70000)), [0xce, 0, 1, 0x11, 0x70]);
        assert_eq!(enc(|e| e.int(-1)), [0xff]);
        assert_eq!(enc(|e| e.int(-100)), [0xd0, 0x9c]);
        assert_eq!(enc(|e| e.int(5)), [0x05]);
    }

    #[test]
    fn strings_never_use_str8_or_bin() {
        let s = vec![b'x'; 40];
        let out = enc(|e| e.raw(&s));
        assert_eq!(&out[..3], &[0xda, 0, 40]);
        assert_eq!(enc(|e| e.str("s1")), [0xa2, b's', b'1']);
        assert_eq!(enc(|e| e.bytes_or_nil(&[])), [0xc0]);
    }

    #[test]
    fn roundtrip_nested_values() {
        let out = enc(|e| {
            e.map(2);
            e.str("a");
            e.array(3);
            e.int(-5);
            e.f64(1.5);
            e.bool(true);
            e.str("b");
            e.nil();
        });
        let v = decode(&out).unwrap();
        let s = v.as_struct("t").unwrap();
        let arr = s.get("a").as_array("a").unwrap();
        assert_eq!(arr[0], Value::Int(-5));
        assert_eq!(arr[1], Value::Float(1.5));
        assert_eq!(arr[2], Value::Bool(true));
        assert_eq!(s.get("b"), &Value::Nil);
        assert_eq!(s.get("missing"), &Value::Nil);
    }

    #[test]
    fn hostile_input_is_rejected_without_panic() {
        // Claims a 4-billion element array.
        assert_eq!(
            decode(&[0xdd, 0xff, 0xff, 0xff, 0xff]),
            Err(DecodeError::Eof)
        );
        // Deep nesting.
        let deep = vec![0x91u8; 1000];
        assert_eq!(decode(&deep), Err(DecodeError::TooDeep));
        assert_eq!(decode(&[0xc1]), Err(DecodeError::BadMarker(0xc1)));
        assert_eq!(decode(&[]), Err(DecodeError::Eof));
        // Every prefix of a valid value is an error, never a panic.
        let out = enc(|e| {
            e.map(1);
            e.str("key");
            e.raw(&[1, 2, 3, 4, 5]);
        });
        for i in 0..out.len() {
            assert!(decode(&out[..i]).is_err());
        }
    }

    #[test]
    fn accepts_new_spec_types() {
        assert_eq!(decode(&[0xd9, 1, b'a']).unwrap(), Value::Raw(b"a"));
        assert_eq!(decode(&[0xc4, 2, 1, 2]).unwrap(), Value::Raw(&[1, 2]));
        assert_eq!(decode(&[0xd0, 5]).unwrap(), Value::Uint(5));
    }
}
