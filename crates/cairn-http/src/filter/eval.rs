//! Evaluating a parsed expression against a JSON document, with bexpr's semantics.

use super::parser::{Expr, Literal, Match, Op};
use crate::params::parse_go_bool;
use serde_json::Value;

pub(crate) fn eval(expr: &Expr, doc: &Value) -> bool {
    match expr {
        Expr::Or(a, b) => eval(a, doc) || eval(b, doc),
        Expr::And(a, b) => eval(a, doc) && eval(b, doc),
        Expr::Not(e) => !eval(e, doc),
        Expr::Match(m) => eval_match(m, 0, doc),
    }
}

/// The result for a selector that names nothing: nothing equals it, is in it, or is non-empty.
fn missing(op: Op) -> bool {
    !matches!(op, Op::Equal | Op::IsNotEmpty | Op::In | Op::Matches)
}

fn eval_match(m: &Match, depth: usize, v: &Value) -> bool {
    if depth == m.selector.len() {
        return leaf(m, v);
    }
    match v {
        Value::Object(map) => match map.get(&m.selector[depth]) {
            Some(inner) if !inner.is_null() || depth + 1 == m.selector.len() => {
                eval_match(m, depth + 1, inner)
            }
            _ => missing(m.op),
        },
        // Lists in the middle of a path: any element may match (bexpr's implicit ANY).
        Value::Array(items) => items.iter().any(|item| eval_match(m, depth, item)),
        Value::Null => missing(m.op),
        _ => false,
    }
}

fn equal(lit: &Literal, v: &Value) -> bool {
    match v {
        Value::String(s) => *s == lit.raw,
        Value::Bool(b) => parse_go_bool(&lit.raw) == Some(*b),
        Value::Number(n) => {
            if let (Some(a), Ok(b)) = (n.as_i64(), lit.raw.parse::<i64>()) {
                a == b
            } else if let (Some(a), Ok(b)) = (n.as_u64(), lit.raw.parse::<u64>()) {
                a == b
            } else {
                match (n.as_f64(), lit.raw.parse::<f64>()) {
                    (Some(a), Ok(b)) => a == b,
                    _ => false,
                }
            }
        }
        _ => false,
    }
}

fn contains(lit: &Literal, v: &Value) -> bool {
    match v {
        Value::Object(map) => map.contains_key(&lit.raw),
        Value::Array(items) => items.iter().any(|item| equal(lit, item)),
        Value::String(s) => s.contains(lit.raw.as_str()),
        _ => false,
    }
}

fn is_empty(v: &Value) -> Option<bool> {
    match v {
        Value::String(s) => Some(s.is_empty()),
        Value::Array(a) => Some(a.is_empty()),
        Value::Object(o) => Some(o.is_empty()),
        Value::Null => Some(true),
        _ => None,
    }
}

fn leaf(m: &Match, v: &Value) -> bool {
    let Some(lit) = m.value.as_ref() else {
        return match m.op {
            Op::IsEmpty => is_empty(v).unwrap_or(false),
            Op::IsNotEmpty => is_empty(v).is_some_and(|e| !e),
            _ => false,
        };
    };
    match m.op {
        Op::Equal => equal(lit, v),
        Op::NotEqual => !equal(lit, v),
        Op::In => contains(lit, v),
        Op::NotIn => !contains(lit, v),
        Op::Matches | Op::NotMatches => match (v, lit.regex.as_ref()) {
            (Value::String(s), Some(re)) => re.is_match(s) == (m.op == Op::Matches),
            _ => false,
        },
        Op::IsEmpty | Op::IsNotEmpty => false,
    }
}
