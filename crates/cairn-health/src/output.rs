//! Check output handling: size limits and the truncation markers Consul writes.

/// Consul's default `check_output_max_size` (`checks.DefaultBufSize`, 4 KB).
pub const DEFAULT_OUTPUT_MAX_SIZE: usize = 4 * 1024;

/// Keeps the last `capacity` bytes written to it and counts everything written, like the
/// circular buffer Consul captures script and HTTP output with.
#[derive(Debug, Clone)]
pub(crate) struct TailBuffer {
    capacity: usize,
    data: Vec<u8>,
    total: u64,
}

impl TailBuffer {
    /// A buffer keeping at most `capacity` bytes (at least one).
    pub(crate) fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        TailBuffer {
            capacity,
            data: Vec::with_capacity(capacity.min(DEFAULT_OUTPUT_MAX_SIZE)),
            total: 0,
        }
    }

    /// Appends bytes, dropping the oldest ones beyond the capacity.
    pub(crate) fn write(&mut self, bytes: &[u8]) {
        self.total = self.total.saturating_add(bytes.len() as u64);
        if bytes.len() >= self.capacity {
            self.data.clear();
            self.data
                .extend_from_slice(&bytes[bytes.len() - self.capacity..]);
            return;
        }
        self.data.extend_from_slice(bytes);
        if self.data.len() > self.capacity {
            let excess = self.data.len() - self.capacity;
            self.data.drain(..excess);
        }
    }

    /// Bytes written in total.
    #[cfg(test)]
    pub(crate) fn total_written(&self) -> u64 {
        self.total
    }

    /// Whether more was written than kept.
    pub(crate) fn truncated(&self) -> bool {
        self.total > self.data.len() as u64
    }

    /// The kept bytes as text (invalid UTF-8 replaced, as JSON encoding would in Consul).
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }

    /// The kept bytes as text, prefixed with Consul's script-check marker when truncated:
    /// `Captured <kept> of <total> bytes\n...\n<text>`.
    pub(crate) fn text_with_marker(&self) -> String {
        let text = self.text();
        if self.truncated() {
            format!(
                "Captured {} of {} bytes\n...\n{}",
                self.data.len(),
                self.total,
                text
            )
        } else {
            text
        }
    }
}

/// Truncates TTL-check output the way Consul's `CheckTTL.SetStatus` does: the first
/// `max` bytes followed by ` ... (captured <max> of <total> bytes)`.
pub(crate) fn truncate_ttl_output(output: &str, max: usize) -> String {
    let total = output.len();
    if total <= max {
        return output.to_owned();
    }
    let cut = floor_char_boundary(output, max);
    format!(
        "{} ... (captured {} of {} bytes)",
        &output[..cut],
        max,
        total
    )
}

/// The largest char boundary of `s` not above `index`.
fn floor_char_boundary(s: &str, index: usize) -> usize {
    let mut i = index.min(s.len());
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Go's `%q` rendering of a string (`strconv.Quote`), for messages that embed IDs and names.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_buffer_keeps_last_bytes_and_counts_all() {
        let mut b = TailBuffer::new(4);
        b.write(b"ab");
        assert_eq!(b.text_with_marker(), "ab");
        b.write(b"cdef");
        assert_eq!(b.text(), "cdef");
        assert_eq!(b.total_written(), 6);
        assert_eq!(b.text_with_marker(), "Captured 4 of 6 bytes\n...\ncdef");
        b.write(b"0123456789");
        assert_eq!(b.text(), "6789");
        assert_eq!(b.total_written(), 16);
    }

    #[test]
    fn ttl_truncation_matches_consul() {
        assert_eq!(truncate_ttl_output("hello", 5), "hello");
        assert_eq!(
            truncate_ttl_output("hello world", 5),
            "hello ... (captured 5 of 11 bytes)"
        );
        // Never splits a UTF-8 character.
        assert_eq!(
            truncate_ttl_output("ééé", 3),
            "é ... (captured 3 of 6 bytes)"
        );
    }

    #[test]
    fn go_quote_escapes_like_strconv_quote() {
        assert_eq!(go_quote("web"), "\"web\"");
        assert_eq!(go_quote("a\"b\\c\nd\u{1}"), "\"a\\\"b\\\\c\\nd\\x01\"");
    }
}
