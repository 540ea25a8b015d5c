//! A reader for HCL version 1, the dialect Consul's config files are written in.
//!
//! Consul decodes HCL with `github.com/hashicorp/hcl` v1, which is looser than HCL 2: several
//! attributes may share a line (`ports { http = 8500 dns = -1 }`), commas between items are
//! optional, `key = { … }` and `key { … }` mean the same, and interpolations (`"${x}"`) are plain
//! text. HCL 2 parsers reject or reinterpret some of that, so this module reads HCL 1 itself and
//! produces a [`serde_json::Value`] that the JSON decoder then handles.
//!
//! Shape of the result:
//! * a block or object becomes a JSON object; `key "label" { … }` becomes `key: {label: {…}}`;
//! * a key that appears more than once (`services { … } services { … }`) becomes a list of
//!   its occurrences, in order; list-valued occurrences contribute their elements;
//! * numbers become integers when they have no fraction or exponent, floats otherwise.

use serde_json::{Map, Number, Value};

/// Parse HCL 1 text into a JSON value (always an object at the top level).
///
/// Errors carry Consul's position prefix: `At 3:7: expected '=' or '{' after key "ports"`.
pub fn parse(text: &str) -> Result<Value, String> {
    let mut parser = Parser {
        chars: text.chars().collect(),
        pos: 0,
        line: 1,
        col: 1,
        depth: 0,
    };
    let object = parser.object_body(None)?;
    Ok(Value::Object(object))
}

/// Deepest nesting of blocks and lists accepted, so hostile input cannot exhaust the stack.
const MAX_DEPTH: usize = 64;

struct Parser {
    chars: Vec<char>,
    pos: usize,
    line: usize,
    col: usize,
    depth: usize,
}

/// Occurrences of each key of one object, in first-seen order, before they are folded.
struct Occurrences {
    order: Vec<String>,
    values: Map<String, Value>,
    repeated: Vec<String>,
}

impl Occurrences {
    fn new() -> Self {
        Occurrences {
            order: Vec::new(),
            values: Map::new(),
            repeated: Vec::new(),
        }
    }

    fn add(&mut self, key: String, value: Value) {
        match self.values.get_mut(&key) {
            None => {
                self.order.push(key.clone());
                self.values.insert(key, value);
            }
            Some(existing) => {
                if !self.repeated.contains(&key) {
                    let first = std::mem::take(existing);
                    *existing = Value::Array(spread(first));
                    self.repeated.push(key);
                }
                if let Value::Array(items) = existing {
                    items.extend(spread(value));
                }
            }
        }
    }

    fn finish(self) -> Map<String, Value> {
        self.values
    }
}

/// A list-valued occurrence contributes its elements; anything else contributes itself.
fn spread(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        other => vec![other],
    }
}

impl Parser {
    fn error(&self, message: impl AsRef<str>) -> String {
        format!("At {}:{}: {}", self.line, self.col, message.as_ref())
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    /// Skip whitespace (newlines included) and comments.
    fn skip_trivia(&mut self) -> Result<(), String> {
        loop {
            match (self.peek(), self.peek_at(1)) {
                (Some(c), _) if c.is_whitespace() => {
                    self.bump();
                }
                (Some('#'), _) | (Some('/'), Some('/')) => {
                    while let Some(c) = self.peek() {
                        if c == '\n' {
                            break;
                        }
                        self.bump();
                    }
                }
                (Some('/'), Some('*')) => {
                    let at = self.error("comment not terminated");
                    self.bump();
                    self.bump();
                    loop {
                        match (self.peek(), self.peek_at(1)) {
                            (Some('*'), Some('/')) => {
                                self.bump();
                                self.bump();
                                break;
                            }
                            (Some(_), _) => {
                                self.bump();
                            }
                            (None, _) => return Err(at),
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn enter(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error("nesting too deep"));
        }
        Ok(())
    }

    /// Items until `}` (when `close` is given) or the end of input.
    fn object_body(&mut self, close: Option<char>) -> Result<Map<String, Value>, String> {
        let mut items = Occurrences::new();
        loop {
            self.skip_trivia()?;
            match self.peek() {
                None if close.is_none() => return Ok(items.finish()),
                None => return Err(self.error("unexpected end of input, expected '}'")),
                Some(c) if Some(c) == close => {
                    self.bump();
                    return Ok(items.finish());
                }
                Some(',') if close.is_some() => {
                    self.bump();
                }
                Some(_) => {
                    let (key, value) = self.item()?;
                    items.add(key, value);
                }
            }
        }
    }

    /// One `key [label…] = value` or `key [label…] { … }` item.
    fn item(&mut self) -> Result<(String, Value), String> {
        let mut keys = vec![self.key()?];
        loop {
            self.skip_trivia()?;
            match self.peek() {
                Some('=') => {
                    self.bump();
                    self.skip_trivia()?;
                    let value = self.value()?;
                    return Ok(nest(keys, value));
                }
                Some('{') => {
                    self.bump();
                    self.enter()?;
                    let body = self.object_body(Some('}'))?;
                    self.depth -= 1;
                    return Ok(nest(keys, Value::Object(body)));
                }
                Some('"') => keys.push(self.string()?),
                Some(c) if is_ident_start(c) => keys.push(self.ident()),
                _ => {
                    let key = keys.first().map(String::as_str).unwrap_or_default();
                    return Err(self.error(format!("expected '=' or '{{' after key {key:?}")));
                }
            }
        }
    }

    fn key(&mut self) -> Result<String, String> {
        match self.peek() {
            Some('"') => self.string(),
            Some(c) if is_ident_start(c) => Ok(self.ident()),
            Some(c) => Err(self.error(format!("unexpected {c:?}, expected a key"))),
            None => Err(self.error("unexpected end of input, expected a key")),
        }
    }

    fn ident(&mut self) -> String {
        let mut out = String::new();
        while let Some(c) = self.peek() {
            if c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':') {
                out.push(c);
                self.bump();
            } else {
                break;
            }
        }
        out
    }

    fn value(&mut self) -> Result<Value, String> {
        match self.peek() {
            Some('"') => Ok(Value::String(self.string()?)),
            Some('<') if self.peek_at(1) == Some('<') => Ok(Value::String(self.heredoc()?)),
            Some('[') => {
                self.bump();
                self.enter()?;
                let list = self.list()?;
                self.depth -= 1;
                Ok(list)
            }
            Some('{') => {
                self.bump();
                self.enter()?;
                let body = self.object_body(Some('}'))?;
                self.depth -= 1;
                Ok(Value::Object(body))
            }
            Some(c) if c.is_ascii_digit() || c == '-' || c == '+' || c == '.' => self.number(),
            Some(c) if is_ident_start(c) => {
                let word = self.ident();
                match word.as_str() {
                    "true" => Ok(Value::Bool(true)),
                    "false" => Ok(Value::Bool(false)),
                    _ => Err(self.error(format!("unknown token {word:?}, expected a value"))),
                }
            }
            Some(c) => Err(self.error(format!("unexpected {c:?}, expected a value"))),
            None => Err(self.error("unexpected end of input, expected a value")),
        }
    }

    fn list(&mut self) -> Result<Value, String> {
        let mut items = Vec::new();
        loop {
            self.skip_trivia()?;
            match self.peek() {
                Some(']') => {
                    self.bump();
                    return Ok(Value::Array(items));
                }
                None => return Err(self.error("unexpected end of input, expected ']'")),
                _ => {}
            }
            items.push(self.value()?);
            self.skip_trivia()?;
            match self.peek() {
                Some(',') => {
                    self.bump();
                }
                Some(']') => {}
                _ => return Err(self.error("expected ',' or ']' in list")),
            }
        }
    }

    fn number(&mut self) -> Result<Value, String> {
        let mut text = String::new();
        while let Some(c) = self.peek() {
            let exponent_sign = matches!(c, '-' | '+')
                && matches!(text.chars().last(), Some('e' | 'E'))
                && !text.starts_with("0x");
            if c.is_ascii_alphanumeric() || c == '.' || exponent_sign || text.is_empty() {
                text.push(c);
                self.bump();
            } else {
                break;
            }
        }
        parse_number(&text).ok_or_else(|| self.error(format!("invalid number {text:?}")))
    }

    /// A double-quoted string. `${…}` interpolations are kept verbatim (quotes may nest in them).
    fn string(&mut self) -> Result<String, String> {
        let start = self.error("string not terminated");
        self.bump();
        let mut out = String::new();
        let mut braces = 0usize;
        loop {
            let Some(c) = self.bump() else {
                return Err(start);
            };
            match c {
                '"' if braces == 0 => return Ok(out),
                '\n' if braces == 0 => return Err(start),
                '\\' => out.push(self.escape()?),
                '$' if self.peek() == Some('{') => {
                    braces += 1;
                    out.push('$');
                    out.push('{');
                    self.bump();
                }
                '}' if braces > 0 => {
                    braces -= 1;
                    out.push('}');
                }
                other => out.push(other),
            }
        }
    }

    fn escape(&mut self) -> Result<char, String> {
        let Some(c) = self.bump() else {
            return Err(self.error("string not terminated"));
        };
        Ok(match c {
            'n' => '\n',
            't' => '\t',
            'r' => '\r',
            'a' => '\u{7}',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'v' => '\u{b}',
            '\\' => '\\',
            '"' => '"',
            '\'' => '\'',
            'x' => self.hex_escape(2)?,
            'u' => self.hex_escape(4)?,
            'U' => self.hex_escape(8)?,
            other => return Err(self.error(format!("unknown escape sequence \\{other}"))),
        })
    }

    fn hex_escape(&mut self, digits: usize) -> Result<char, String> {
        let mut code = 0u32;
        for _ in 0..digits {
            let digit = self
                .bump()
                .and_then(|c| c.to_digit(16))
                .ok_or_else(|| self.error("invalid escape sequence"))?;
            code = code.saturating_mul(16).saturating_add(digit);
        }
        char::from_u32(code).ok_or_else(|| self.error("invalid escape sequence"))
    }

    /// `<<EOF … EOF` and the indent-trimming `<<-EOF … EOF`.
    fn heredoc(&mut self) -> Result<String, String> {
        let start = self.error("heredoc not terminated");
        self.bump();
        self.bump();
        let trim = self.peek() == Some('-');
        if trim {
            self.bump();
        }
        let marker = self.ident();
        if marker.is_empty() {
            return Err(self.error("heredoc needs a marker after <<"));
        }
        while let Some(c) = self.bump() {
            if c == '\n' {
                break;
            }
            if !c.is_whitespace() {
                return Err(self.error("heredoc marker must end the line"));
            }
        }
        let mut lines: Vec<String> = Vec::new();
        loop {
            if self.peek().is_none() {
                return Err(start);
            }
            let mut line = String::new();
            while let Some(c) = self.bump() {
                if c == '\n' {
                    break;
                }
                line.push(c);
            }
            let line = line.strip_suffix('\r').unwrap_or(&line).to_owned();
            if line.trim() == marker && (trim || line == marker) {
                break;
            }
            lines.push(line);
        }
        if trim {
            // Indent is counted in characters so that cutting never splits a character.
            let leading = |l: &str| l.chars().take_while(|c| c.is_whitespace()).count();
            let indent = lines
                .iter()
                .filter(|l| !l.trim().is_empty())
                .map(|l| leading(l))
                .min()
                .unwrap_or(0);
            for line in &mut lines {
                let cut: usize = line
                    .chars()
                    .take_while(|c| c.is_whitespace())
                    .take(indent)
                    .map(char::len_utf8)
                    .sum();
                line.drain(..cut);
            }
        }
        let mut out = lines.join("\n");
        out.push('\n');
        Ok(out)
    }
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

/// Wrap `value` in one object per label: `a "b" "c" { … }` is `a = { b = { c = { … } } }`.
fn nest(mut keys: Vec<String>, value: Value) -> (String, Value) {
    let mut value = value;
    while keys.len() > 1 {
        let label = keys.pop().unwrap_or_default();
        let mut map = Map::new();
        map.insert(label, value);
        value = Value::Object(map);
    }
    (keys.pop().unwrap_or_default(), value)
}

fn parse_number(text: &str) -> Option<Value> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        let n = i64::from_str_radix(hex, 16).ok()?;
        return Some(Value::from(if negative { -n } else { n }));
    }
    if digits.is_empty() || !digits.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        return None;
    }
    if digits.chars().all(|c| c.is_ascii_digit()) {
        if let Ok(n) = text.parse::<i64>() {
            return Some(Value::from(n));
        }
    }
    let f: f64 = text.parse().ok()?;
    Number::from_f64(f).map(Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_line_blocks_and_optional_commas() {
        let v =
            parse("ports { http = 8500 dns = -1 }\naddresses = { http = \"0.0.0.0\", }").unwrap();
        assert_eq!(
            v,
            json!({"ports": {"http": 8500, "dns": -1}, "addresses": {"http": "0.0.0.0"}})
        );
    }

    #[test]
    fn repeated_blocks_become_lists_and_labels_nest() {
        let v = parse(
            r#"
            services { name = "a" }
            services { name = "b" }
            service "web" { port = 80 }
            retry_join = ["x"]
            retry_join = ["y", "z"]
            "#,
        )
        .unwrap();
        assert_eq!(
            v,
            json!({
                "services": [{"name": "a"}, {"name": "b"}],
                "service": {"web": {"port": 80}},
                "retry_join": ["x", "y", "z"],
            })
        );
    }

    #[test]
    fn values_comments_heredocs_and_interpolation() {
        let v = parse(
            "# c\n// c\n/* multi\nline */ a = 1.5 b = 0x1F c = true d = \"q\\\"\\u00e9${x(\"y\")}\"\n\
             e = <<-EOT\n    one\n      two\n    EOT\nf = [1, [2], {g = 3},]\nh = 1e3",
        )
        .unwrap();
        assert_eq!(
            v,
            json!({"a": 1.5, "b": 31, "c": true, "d": "q\"é${x(\"y\")}",
                   "e": "one\n  two\n", "f": [1, [2], {"g": 3}], "h": 1000.0})
        );
    }

    #[test]
    fn errors_carry_positions() {
        assert_eq!(
            parse("a = 1\nports http").unwrap_err(),
            "At 2:11: expected '=' or '{' after key \"ports\""
        );
        assert!(parse("a = \"open").unwrap_err().starts_with("At 1:5:"));
        assert!(parse("a { b = 1").unwrap_err().contains("expected '}'"));
        assert!(parse("a = [1 2]")
            .unwrap_err()
            .contains("expected ',' or ']'"));
        assert!(parse("a = nope").unwrap_err().contains("unknown token"));
        let deep = "a = ".to_owned() + &"[".repeat(200);
        assert!(parse(&deep).unwrap_err().contains("nesting too deep"));
    }

    #[test]
    fn heredoc_indent_with_wide_whitespace() {
        // One ideographic space counts as one character of indent, and is cut whole.
        let v = parse("a = <<-X\n  one\n\u{3000}two\n  X\n").unwrap();
        assert_eq!(v, json!({"a": " one\ntwo\n"}));
    }

    /// Bounded garbage: arbitrary input yields a value or an error, never a panic.
    #[test]
    fn garbage_never_panics() {
        let alphabet: Vec<char> = "ab_-.=\"\\{}[],#/*<>-0x1e+. \n\t${}é\u{3000}truefalsEOF"
            .chars()
            .collect();
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..3000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = (seed >> 33) as usize % 40;
            let text: String = (0..len)
                .map(|i| {
                    let r = seed.rotate_left(i as u32 * 7) >> 40;
                    alphabet[r as usize % alphabet.len()]
                })
                .collect();
            let _ = parse(&text);
            let _ = parse(&format!("a = <<-EOF\n{text}\nEOF\n"));
        }
    }
}
