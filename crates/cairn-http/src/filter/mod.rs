//! `?filter=` expressions in go-bexpr's grammar, evaluated over the JSON form of each result.
//!
//! Grammar (go-bexpr): `or` / `and` / `not` with the usual precedence and parentheses over
//! match expressions:
//!
//! * `Selector == Value`, `!=`, `Selector contains Value`, `not contains`,
//!   `Selector matches "re"`, `not matches`;
//! * `Selector is empty`, `is not empty`;
//! * `Value in Selector`, `not in`.
//!
//! Selectors are dotted paths (`Service.Meta.env`) with map-index steps (`Meta["k-1"]`);
//! values are `"quoted"` or `` `raw` `` strings, numbers, or bare words (taken as text).
//! Values are converted to the type of the field they meet (`true` for a boolean field, a
//! number for a numeric one). A path that crosses a list matches if any element matches, as
//! in bexpr; a missing map key makes `==`, `in` and `is not empty` false and their negations
//! true.

mod eval;
mod parser;

use serde::Serialize;
use std::fmt;

pub(crate) use parser::Expr;

/// Why an expression does not parse; the text follows bexpr's (`1:5 (4): …`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FilterError(pub String);

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A compiled filter expression.
#[derive(Debug, Clone)]
pub(crate) struct Filter {
    expr: Expr,
}

impl Filter {
    /// Compile `text`.
    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        Ok(Filter {
            expr: parser::parse(text)?,
        })
    }

    /// Whether a JSON document matches.
    pub fn matches(&self, doc: &serde_json::Value) -> bool {
        eval::eval(&self.expr, doc)
    }

    /// Keep the elements of `items` whose JSON form matches.
    pub fn retain<T: Serialize>(&self, items: &mut Vec<T>) {
        items.retain(|item| {
            serde_json::to_value(item)
                .map(|v| self.matches(&v))
                .unwrap_or(false)
        });
    }

    /// Keep the entries of a map whose value's JSON form matches (maps are filtered by value,
    /// as Consul filters `map[id]service` results).
    pub fn retain_values<K: Ord, V: Serialize>(&self, map: &mut std::collections::BTreeMap<K, V>) {
        map.retain(|_, v| {
            serde_json::to_value(&*v)
                .map(|v| self.matches(&v))
                .unwrap_or(false)
        });
    }
}

/// Apply an optional filter to a list.
pub(crate) fn apply<T: Serialize>(filter: Option<&Filter>, items: &mut Vec<T>) {
    if let Some(f) = filter {
        f.retain(items);
    }
}

#[cfg(test)]
mod tests;
