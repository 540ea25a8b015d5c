//! A recursive-descent parser for go-bexpr's PEG grammar, with backtracking where the grammar
//! has alternatives.

use super::FilterError;
use regex::Regex;

/// A boolean expression.
#[derive(Debug, Clone)]
pub(crate) enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Match(Match),
}

/// The operator of a match expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Equal,
    NotEqual,
    /// `Value in Selector` and `Selector contains Value`.
    In,
    /// `Value not in Selector` and `Selector not contains Value`.
    NotIn,
    IsEmpty,
    IsNotEmpty,
    Matches,
    NotMatches,
}

/// A literal as written, plus its compiled regex for `matches`.
#[derive(Debug, Clone)]
pub(crate) struct Literal {
    pub raw: String,
    pub regex: Option<Regex>,
}

/// One comparison.
#[derive(Debug, Clone)]
pub(crate) struct Match {
    pub selector: Vec<String>,
    pub op: Op,
    pub value: Option<Literal>,
}

pub(crate) fn parse(text: &str) -> Result<Expr, FilterError> {
    let mut p = Parser {
        src: text,
        pos: 0,
        farthest: 0,
        expected: Vec::new(),
    };
    p.ws();
    let expr = p.or_expr()?;
    p.ws();
    if p.pos < p.src.len() {
        p.expect_at(p.pos, &["\"and\"", "\"or\"", "[ \\t\\r\\n]", "EOF"]);
        return Err(p.no_match());
    }
    Ok(expr)
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    /// The farthest position where something failed to match, for bexpr-like errors.
    farthest: usize,
    expected: Vec<&'static str>,
}

type PResult<T> = Result<T, FilterError>;

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic()
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    /// `line:col (offset)` of a byte offset, as pigeon prints positions.
    fn position(&self, at: usize) -> String {
        let before = &self.src[..at.min(self.src.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!("{line}:{col} ({at})")
    }

    fn expect_at(&mut self, at: usize, what: &[&'static str]) {
        if at > self.farthest {
            self.farthest = at;
            self.expected.clear();
        }
        if at == self.farthest {
            for w in what {
                if !self.expected.contains(w) {
                    self.expected.push(w);
                }
            }
        }
    }

    fn no_match(&self) -> FilterError {
        let mut expected = self.expected.clone();
        expected.sort_unstable();
        let list = match expected.split_last() {
            Some((last, [])) => last.to_string(),
            Some((last, init)) => format!("{} or {last}", init.join(", ")),
            None => "EOF".into(),
        };
        FilterError(format!(
            "{}: no match found, expected: {list}",
            self.position(self.farthest)
        ))
    }

    fn rule_error(&self, at: usize, rule: &str, msg: &str) -> FilterError {
        FilterError(format!("{}: rule {rule:?}: {msg}", self.position(at)))
    }

    /// Optional whitespace; whether any was consumed.
    fn ws(&mut self) -> bool {
        let start = self.pos;
        while self.peek().is_some_and(is_ws) {
            self.pos += 1;
        }
        if self.pos == start {
            self.expect_at(self.pos, &["[ \\t\\r\\n]"]);
        }
        self.pos > start
    }

    /// A keyword: the literal text not followed by an identifier character.
    fn keyword(&mut self, word: &'static str, quoted: &'static str) -> bool {
        if self.rest().starts_with(word) {
            let after = self.rest()[word.len()..].chars().next();
            if !after.is_some_and(is_ident_char) {
                self.pos += word.len();
                return true;
            }
        }
        self.expect_at(self.pos, &[quoted]);
        false
    }

    /// Try `f`; on `Ok(None)` rewind.
    fn attempt<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> PResult<Option<T>>,
    ) -> PResult<Option<T>> {
        let start = self.pos;
        let r = f(self)?;
        if r.is_none() {
            self.pos = start;
        }
        Ok(r)
    }

    /// `_ word _` with mandatory whitespace around `word` (and between words).
    fn spaced_words(&mut self, words: &[(&'static str, &'static str)], trailing: bool) -> bool {
        let start = self.pos;
        for (word, quoted) in words {
            if !self.ws() || !self.keyword(word, quoted) {
                self.pos = start;
                return false;
            }
        }
        if trailing && !self.ws() {
            self.pos = start;
            return false;
        }
        true
    }

    fn or_expr(&mut self) -> PResult<Expr> {
        let left = self.and_expr()?;
        let save = self.pos;
        if self.spaced_words(&[("or", "\"or\"")], true) {
            let right = self.or_expr()?;
            return Ok(Expr::Or(Box::new(left), Box::new(right)));
        }
        self.pos = save;
        Ok(left)
    }

    fn and_expr(&mut self) -> PResult<Expr> {
        let left = self.not_expr()?;
        let save = self.pos;
        if self.spaced_words(&[("and", "\"and\"")], true) {
            let right = self.and_expr()?;
            return Ok(Expr::And(Box::new(left), Box::new(right)));
        }
        self.pos = save;
        Ok(left)
    }

    fn not_expr(&mut self) -> PResult<Expr> {
        let save = self.pos;
        if self.keyword("not", "\"not\"") {
            if self.ws() {
                // `not` followed by an expression; if what follows is not one, this `not` may
                // still start a selector (`not == x` is not valid bexpr, so rewinding is safe).
                let inner_start = self.pos;
                match self.attempt(|p| p.not_expr().map(Some)) {
                    Ok(Some(inner)) => return Ok(Expr::Not(Box::new(inner))),
                    Ok(None) => self.pos = inner_start,
                    Err(e) => return Err(e),
                }
            }
            self.pos = save;
        }
        self.grouping()
    }

    fn grouping(&mut self) -> PResult<Expr> {
        let open = self.pos;
        if self.peek() == Some('(') {
            self.pos += 1;
            self.ws();
            let inner = self.or_expr()?;
            self.ws();
            if self.peek() == Some(')') {
                self.pos += 1;
                return Ok(inner);
            }
            self.expect_at(self.pos, &["\")\""]);
            if self.pos >= self.src.len() {
                return Err(self.rule_error(open, "grouping", "Unmatched parentheses"));
            }
            return Err(self.no_match());
        }
        self.expect_at(self.pos, &["\"(\""]);
        self.match_expr()
    }

    fn match_expr(&mut self) -> PResult<Expr> {
        if let Some(m) = self.attempt(|p| p.selector_op_value())? {
            return Ok(Expr::Match(m));
        }
        if let Some(m) = self.attempt(|p| p.selector_op())? {
            return Ok(Expr::Match(m));
        }
        if let Some(m) = self.attempt(|p| p.value_op_selector())? {
            return Ok(Expr::Match(m));
        }
        Err(self.no_match())
    }

    fn selector_op_value(&mut self) -> PResult<Option<Match>> {
        let Some(selector) = self.selector()? else {
            return Ok(None);
        };
        let save = self.pos;
        let op = {
            self.ws();
            if self.rest().starts_with("==") {
                self.pos += 2;
                self.ws();
                Some(Op::Equal)
            } else if self.rest().starts_with("!=") {
                self.pos += 2;
                self.ws();
                Some(Op::NotEqual)
            } else {
                self.expect_at(self.pos, &["\"==\"", "\"!=\""]);
                self.pos = save;
                if self.spaced_words(&[("contains", "\"contains\"")], true) {
                    Some(Op::In)
                } else if self
                    .spaced_words(&[("not", "\"not\""), ("contains", "\"contains\"")], true)
                {
                    Some(Op::NotIn)
                } else if self.spaced_words(&[("matches", "\"matches\"")], true) {
                    Some(Op::Matches)
                } else if self.spaced_words(&[("not", "\"not\""), ("matches", "\"matches\"")], true)
                {
                    Some(Op::NotMatches)
                } else {
                    None
                }
            }
        };
        let Some(op) = op else {
            return Ok(None);
        };
        let Some(mut value) = self.value()? else {
            return Ok(None);
        };
        if matches!(op, Op::Matches | Op::NotMatches) {
            match Regex::new(&value.raw) {
                Ok(re) => value.regex = Some(re),
                Err(e) => {
                    let first = e
                        .to_string()
                        .lines()
                        .last()
                        .unwrap_or("")
                        .trim()
                        .to_string();
                    return Err(FilterError(format!(
                        "error parsing regexp: {first}: `{}`",
                        value.raw
                    )));
                }
            }
        }
        Ok(Some(Match {
            selector,
            op,
            value: Some(value),
        }))
    }

    fn selector_op(&mut self) -> PResult<Option<Match>> {
        let Some(selector) = self.selector()? else {
            return Ok(None);
        };
        let op = if self.spaced_words(&[("is", "\"is\""), ("empty", "\"empty\"")], false) {
            Op::IsEmpty
        } else if self.spaced_words(
            &[("is", "\"is\""), ("not", "\"not\""), ("empty", "\"empty\"")],
            false,
        ) {
            Op::IsNotEmpty
        } else {
            return Ok(None);
        };
        Ok(Some(Match {
            selector,
            op,
            value: None,
        }))
    }

    fn value_op_selector(&mut self) -> PResult<Option<Match>> {
        let Some(value) = self.value()? else {
            return Ok(None);
        };
        let op = if self.spaced_words(&[("in", "\"in\"")], true) {
            Op::In
        } else if self.spaced_words(&[("not", "\"not\""), ("in", "\"in\"")], true) {
            Op::NotIn
        } else {
            return Ok(None);
        };
        let at = self.pos;
        match self.selector()? {
            Some(selector) => Ok(Some(Match {
                selector,
                op,
                value: Some(value),
            })),
            None => Err(self.rule_error(at, "match", "Invalid selector")),
        }
    }

    fn identifier(&mut self) -> Option<String> {
        let mut chars = self.rest().char_indices();
        match chars.next() {
            Some((_, c)) if is_ident_start(c) => {}
            _ => {
                self.expect_at(self.pos, &["[a-zA-Z]"]);
                return None;
            }
        }
        let len = chars
            .find(|(_, c)| !is_ident_char(*c))
            .map_or(self.rest().len(), |(i, _)| i);
        let ident = self.rest()[..len].to_string();
        self.pos += len;
        self.expect_at(self.pos, &["[a-zA-Z0-9_]"]);
        Some(ident)
    }

    fn selector(&mut self) -> PResult<Option<Vec<String>>> {
        let Some(first) = self.identifier() else {
            return Ok(None);
        };
        let mut parts = vec![first];
        loop {
            let save = self.pos;
            if self.peek() == Some('.') {
                self.pos += 1;
                if let Some(ident) = self.identifier() {
                    parts.push(ident);
                    continue;
                }
                let digits = self.rest().chars().take_while(char::is_ascii_digit).count();
                if digits > 0 {
                    parts.push(self.rest()[..digits].to_string());
                    self.pos += digits;
                    continue;
                }
                self.pos = save;
                break;
            }
            if self.peek() == Some('[') {
                self.pos += 1;
                self.ws();
                let at = self.pos;
                match self.string_literal()? {
                    Some(key) => {
                        self.ws();
                        if self.peek() == Some(']') {
                            self.pos += 1;
                            parts.push(key);
                            continue;
                        }
                        return Err(self.rule_error(
                            self.pos,
                            "index",
                            "Unclosed index expression",
                        ));
                    }
                    None => return Err(self.rule_error(at, "index", "Invalid index")),
                }
            }
            self.expect_at(self.pos, &["\".\"", "\"[\""]);
            break;
        }
        Ok(Some(parts))
    }

    fn value(&mut self) -> PResult<Option<Literal>> {
        let lit = |raw: String| Literal { raw, regex: None };
        if let Some(s) = self.string_literal()? {
            return Ok(Some(lit(s)));
        }
        if let Some(n) = self.number()? {
            return Ok(Some(lit(n)));
        }
        if let Some(sel) = self.selector()? {
            return Ok(Some(lit(sel.join("."))));
        }
        Ok(None)
    }

    fn number(&mut self) -> PResult<Option<String>> {
        let start = self.pos;
        let bytes = self.rest().as_bytes();
        let mut i = 0;
        if bytes.first() == Some(&b'-') {
            i += 1;
        }
        let int_start = i;
        match bytes.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
            }
            _ => {
                self.expect_at(start, &["\"-\"", "[0-9]"]);
                return Ok(None);
            }
        }
        if i == int_start {
            return Ok(None);
        }
        if bytes.get(i) == Some(&b'.') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
            i += 1;
            while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        match self.rest()[i..].chars().next() {
            None | Some(')') => {}
            Some(c) if is_ws(c) => {}
            Some(_) => return Err(self.rule_error(start, "number", "Invalid number literal")),
        }
        let text = self.rest()[..i].to_string();
        self.pos += i;
        Ok(Some(text))
    }

    fn string_literal(&mut self) -> PResult<Option<String>> {
        let start = self.pos;
        match self.peek() {
            Some('`') => {
                let body = &self.rest()[1..];
                match body.find('`') {
                    Some(end) => {
                        let s = body[..end].to_string();
                        self.pos += end + 2;
                        Ok(Some(s))
                    }
                    None => Err(self.rule_error(start, "string", "Unterminated string literal")),
                }
            }
            Some('"') => {
                let mut out = String::new();
                let mut chars = self.rest()[1..].char_indices();
                while let Some((i, c)) = chars.next() {
                    match c {
                        '"' => {
                            self.pos += i + 2;
                            return Ok(Some(out));
                        }
                        '\n' => break,
                        '\\' => match chars.next() {
                            Some((_, e)) => match e {
                                '"' | '\\' | '/' => out.push(e),
                                'n' => out.push('\n'),
                                't' => out.push('\t'),
                                'r' => out.push('\r'),
                                'b' => out.push('\u{8}'),
                                'f' => out.push('\u{c}'),
                                'a' => out.push('\u{7}'),
                                'v' => out.push('\u{b}'),
                                'u' => {
                                    let hex: String =
                                        chars.by_ref().take(4).map(|(_, c)| c).collect();
                                    match u32::from_str_radix(&hex, 16)
                                        .ok()
                                        .and_then(char::from_u32)
                                    {
                                        Some(ch) if hex.len() == 4 => out.push(ch),
                                        _ => {
                                            return Err(self.rule_error(
                                                start,
                                                "string",
                                                "Invalid escape sequence",
                                            ))
                                        }
                                    }
                                }
                                _ => {
                                    return Err(self.rule_error(
                                        start,
                                        "string",
                                        "Invalid escape sequence",
                                    ))
                                }
                            },
                            None => break,
                        },
                        c => out.push(c),
                    }
                }
                Err(self.rule_error(start, "string", "Unterminated string literal"))
            }
            _ => {
                self.expect_at(start, &["\"\\\"\"", "\"`\""]);
                Ok(None)
            }
        }
    }
}
