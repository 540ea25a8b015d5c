//! LZW as Go's `compress/lzw` writes it with `LSB` bit order and 8-bit literals, the only
//! algorithm memberlist's `compress` message carries (`Algo = 0`).
//!
//! Codes start 9 bits wide; 256 is the clear code and 257 end-of-data; the width grows when the
//! next free code reaches a power of two, up to 12 bits, after which the encoder emits a clear code
//! and starts over. Bits are packed least-significant first.

use std::collections::HashMap;

const CLEAR: u16 = 256;
const EOF: u16 = 257;
const MAX_WIDTH: u32 = 12;
const MAX_CODE: u16 = (1 << MAX_WIDTH) - 1;

/// Errors from decompressing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LzwError {
    /// A code referred to an entry that does not exist yet.
    #[error("lzw: invalid code")]
    InvalidCode,
    /// The stream ended without an end-of-data code.
    #[error("lzw: truncated stream")]
    Truncated,
    /// The output would exceed the caller's limit.
    #[error("lzw: output exceeds {0} bytes")]
    TooLarge(usize),
}

struct BitWriter {
    out: Vec<u8>,
    acc: u32,
    nbits: u32,
}

impl BitWriter {
    fn put(&mut self, code: u16, width: u32) {
        self.acc |= (code as u32) << self.nbits;
        self.nbits += width;
        while self.nbits >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.nbits -= 8;
        }
    }
    fn finish(mut self) -> Vec<u8> {
        if self.nbits > 0 {
            self.out.push(self.acc as u8);
        }
        self.out
    }
}

/// Compresses `input`.
pub fn compress(input: &[u8]) -> Vec<u8> {
    let mut w = BitWriter {
        out: Vec::with_capacity(input.len() / 2 + 8),
        acc: 0,
        nbits: 0,
    };
    let mut enc = EncState::new();
    w.put(CLEAR, enc.width);
    let Some((&first, rest)) = input.split_first() else {
        w.put(EOF, enc.width);
        return w.finish();
    };
    let mut dict: HashMap<u32, u16> = HashMap::new();
    let mut prefix = first as u16;
    for &byte in rest {
        let key = (prefix as u32) << 8 | byte as u32;
        if let Some(&code) = dict.get(&key) {
            prefix = code;
            continue;
        }
        w.put(prefix, enc.width);
        prefix = byte as u16;
        if enc.advance(&mut w) {
            dict.clear();
        } else {
            dict.insert(key, enc.hi);
        }
    }
    w.put(prefix, enc.width);
    enc.advance(&mut w);
    w.put(EOF, enc.width);
    w.finish()
}

/// The writer's code counter: `hi` is the code of the newest dictionary entry.
struct EncState {
    hi: u16,
    width: u32,
    overflow: u32,
}

impl EncState {
    fn new() -> Self {
        EncState {
            hi: EOF,
            width: 9,
            overflow: 1 << 9,
        }
    }

    /// Counts one more emitted code; when the table is full, emits a clear code, resets and
    /// returns true.
    fn advance(&mut self, w: &mut BitWriter) -> bool {
        self.hi += 1;
        if self.hi as u32 == self.overflow {
            self.width += 1;
            self.overflow <<= 1;
        }
        if self.hi == MAX_CODE {
            w.put(CLEAR, self.width);
            *self = EncState::new();
            return true;
        }
        false
    }
}

/// Decompresses `input`, refusing to produce more than `max_out` bytes.
pub fn decompress(input: &[u8], max_out: usize) -> Result<Vec<u8>, LzwError> {
    let mut out: Vec<u8> = Vec::with_capacity(input.len().saturating_mul(2).min(max_out));
    let mut prefix = vec![0u16; 1 << MAX_WIDTH];
    let mut suffix = vec![0u8; 1 << MAX_WIDTH];
    let mut width = 9u32;
    // `hi` is the code the next dictionary entry will get.
    let mut hi: u16 = EOF;
    let mut overflow: u32 = 1 << width;
    let mut last: Option<u16> = None;
    let mut acc: u32 = 0;
    let mut nbits: u32 = 0;
    let mut pos = 0usize;
    let mut stack: Vec<u8> = Vec::with_capacity(64);

    loop {
        while nbits < width {
            let Some(&b) = input.get(pos) else {
                return Err(LzwError::Truncated);
            };
            pos += 1;
            acc |= (b as u32) << nbits;
            nbits += 8;
        }
        let code = (acc & ((1 << width) - 1)) as u16;
        acc >>= width;
        nbits -= width;

        if code == CLEAR {
            width = 9;
            hi = EOF;
            overflow = 1 << width;
            last = None;
            continue;
        }
        if code == EOF {
            return Ok(out);
        }
        // Collect the expansion in reverse into `stack`.
        stack.clear();
        let start = if code < CLEAR || (code < hi && code > EOF) {
            code
        } else if code == hi && code > EOF {
            // The entry being defined right now: last's expansion followed by its first byte.
            let Some(l) = last else {
                return Err(LzwError::InvalidCode);
            };
            let mut c = l;
            while c > EOF {
                c = prefix[c as usize];
            }
            stack.push(c as u8);
            l
        } else {
            return Err(LzwError::InvalidCode);
        };
        let mut c = start;
        while c > EOF {
            stack.push(suffix[c as usize]);
            c = prefix[c as usize];
        }
        if c >= CLEAR {
            return Err(LzwError::InvalidCode);
        }
        stack.push(c as u8);
        let first_byte = c as u8;
        if out.len() + stack.len() > max_out {
            return Err(LzwError::TooLarge(max_out));
        }
        out.extend(stack.iter().rev());

        if let Some(l) = last {
            prefix[hi as usize] = l;
            suffix[hi as usize] = first_byte;
        }
        last = Some(code);
        hi += 1;
        if hi as u32 >= overflow {
            if width == MAX_WIDTH {
                last = None;
                hi -= 1;
            } else {
                width += 1;
                overflow <<= 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrips_assorted_inputs() {
        let mut cases: Vec<Vec<u8>> = vec![
            vec![],
            b"a".to_vec(),
            b"abababababababab".to_vec(),
            b"TOBEORNOTTOBEORTOBEORNOT#".to_vec(),
            vec![0u8; 100_000],
        ];
        // Pseudo-random data long enough to fill the 4096-entry table several times.
        let mut x: u32 = 12345;
        let noisy: Vec<u8> = (0..60_000)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (x >> 16) as u8 % 7
            })
            .collect();
        cases.push(noisy);
        let all: Vec<u8> = (0..=255u8).cycle().take(20_000).collect();
        cases.push(all);
        for c in cases {
            let z = compress(&c);
            assert_eq!(decompress(&z, 1 << 24).unwrap(), c, "len {}", c.len());
        }
    }

    #[test]
    fn rejects_garbage_and_bombs() {
        assert!(decompress(&[0xff, 0xff, 0xff, 0xff], 1000).is_err());
        assert_eq!(decompress(&[], 10), Err(LzwError::Truncated));
        let z = compress(&vec![7u8; 50_000]);
        assert_eq!(decompress(&z, 1000), Err(LzwError::TooLarge(1000)));
    }
}

#[cfg(test)]
mod go_vectors {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    }

    /// Outputs of Go 1.19's `lzw.NewWriter(w, lzw.LSB, 8)`, byte for byte.
    #[test]
    fn matches_go_writer_exactly() {
        let text = include_str!("../../tests/vectors/lzw_go.txt");
        let lines: Vec<&str> = text.lines().collect();
        let mut x: u32 = 12345;
        let noisy: Vec<u8> = (0..20_000)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (x >> 16) as u8 % 7
            })
            .collect();
        let inputs: [&[u8]; 3] = [b"", b"TOBEORNOTTOBEORTOBEORNOT#", &noisy];
        for (input, line) in inputs.iter().zip(lines) {
            let go = unhex(line.trim());
            assert_eq!(compress(input), go);
            assert_eq!(decompress(&go, 1 << 20).unwrap(), *input);
        }
    }
}
