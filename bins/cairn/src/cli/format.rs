//! The two table layouts Consul's CLI prints: `columnize` (members, catalog nodes, raft peers)
//! and Go's `text/tabwriter` (kv get -detailed, catalog services -tags).

/// ryanuber/columnize with Consul's settings: cells trimmed, every column but the last padded
/// to its widest cell, columns glued with two spaces, no trailing newline.
pub fn columnize(rows: &[Vec<String>]) -> String {
    let trimmed: Vec<Vec<&str>> = rows
        .iter()
        .map(|r| r.iter().map(|c| c.trim()).collect())
        .collect();
    let mut widths: Vec<usize> = Vec::new();
    for row in &trimmed {
        for (i, cell) in row.iter().enumerate() {
            let w = cell.chars().count();
            match widths.get_mut(i) {
                Some(max) => *max = (*max).max(w),
                None => widths.push(w),
            }
        }
    }
    let mut out = String::new();
    for row in &trimmed {
        for (i, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < row.len() {
                let pad = widths[i] - cell.chars().count();
                out.extend(std::iter::repeat_n(' ', pad));
                out.push_str("  ");
            }
        }
        out.push('\n');
    }
    out.pop();
    out
}

/// Go's `tabwriter.NewWriter(w, 0, tabwidth, padding, ' ', 0)` for rows whose cells but the
/// last are tab-terminated: each such column is as wide as its widest cell plus `padding`;
/// the last cell is written as is. Every line ends with a newline except when `last_newline`
/// is false (the final line of `kv get -detailed` has none).
pub fn tabwrite(rows: &[Vec<String>], padding: usize, last_newline: bool) -> String {
    let mut widths: Vec<usize> = Vec::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(row.len().saturating_sub(1)) {
            let w = cell.chars().count();
            match widths.get_mut(i) {
                Some(max) => *max = (*max).max(w),
                None => widths.push(w),
            }
        }
    }
    let mut out = String::new();
    for (r, row) in rows.iter().enumerate() {
        for (i, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < row.len() {
                let pad = widths[i] + padding - cell.chars().count();
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        if r + 1 < rows.len() || last_newline {
            out.push('\n');
        }
    }
    out
}

/// JSON as Go's `encoding/json` writes it: HTML-safe escaping of `<`, `>`, `&` and the line
/// and paragraph separators; indented with `indent` per level (Go's `MarshalIndent`), or
/// compact when `indent` is empty.
pub fn go_json<T: serde::Serialize + ?Sized>(value: &T, indent: &str) -> String {
    let mut buf = Vec::new();
    let written = if indent.is_empty() {
        serde_json::to_writer(&mut buf, value).is_ok()
    } else {
        let formatter = serde_json::ser::PrettyFormatter::with_indent(indent.as_bytes());
        let mut ser = serde_json::Serializer::with_formatter(&mut buf, formatter);
        value.serialize(&mut ser).is_ok()
    };
    if !written {
        return "null".to_string();
    }
    // These characters only occur inside JSON strings, so replacing them is safe.
    String::from_utf8_lossy(&buf)
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// `k=v` pairs sorted by key, joined (Consul's `mapToKV`).
pub fn map_to_kv<'a>(
    map: impl IntoIterator<Item = (&'a String, &'a String)>,
    joiner: &str,
) -> String {
    let mut pairs: Vec<(&String, &String)> = map.into_iter().collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(joiner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(data: &[&[&str]]) -> Vec<Vec<String>> {
        data.iter()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect()
    }

    #[test]
    fn columnize_pads_all_but_last_column() {
        let t = columnize(&rows(&[
            &["Node", "Address", "Status"],
            &["server-one", "10.0.0.1:8301", "alive"],
        ]));
        assert_eq!(
            t,
            "Node        Address        Status\nserver-one  10.0.0.1:8301  alive"
        );
    }

    #[test]
    fn columnize_trims_cells_and_keeps_empty_trailing_columns() {
        let t = columnize(&rows(&[&["a", "bb", "c"], &[" x ", "", ""]]));
        assert_eq!(t, "a  bb  c\nx      ");
    }

    #[test]
    fn tabwriter_matches_go_padding() {
        let t = tabwrite(
            &rows(&[&["CreateIndex", "336"], &["Key", "k"], &["Value", "v"]]),
            6,
            false,
        );
        assert_eq!(
            t,
            "CreateIndex      336\nKey              k\nValue            v"
        );
    }
}
