//! Byte-level codecs: old-spec msgpack and Go-compatible LZW.

pub mod lzw;
pub mod msgpack;
