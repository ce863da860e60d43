//! ASL Paths.
//!
//! A *Path* is a JSONPath starting with `$`. Definite paths (`$`, `$.a.b`,
//! `$['a b']`, `$.a[0]`) select one node or nothing; indefinite ones (with
//! `*`, `..`, filters, slices or unions) are evaluated with `serde_json_path`
//! (RFC 9535) and always yield an array of the matches, as Step Functions'
//! JSONPath engine does. A *Reference Path* is a definite path: it names one
//! node, and `ResultPath` can write there.
//!
//! Member names in dot notation may contain any character except `.`, `[`,
//! `]`, quotes, `*`, `?`, `(`, `)`, `,`, `@` and whitespace (so `$.job-id`
//! works as it does in Step Functions, while RFC 9535 would refuse it).

use std::fmt;

use serde_json::{Map, Value};

/// One step of a definite path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Field(String),
    Index(i64),
}

/// A parsed Path.
#[derive(Clone)]
pub struct Path {
    text: String,
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    Definite(Vec<Segment>),
    Query(serde_json_path::JsonPath),
}

impl fmt::Debug for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Path({})", self.text)
    }
}

impl PartialEq for Path {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Path {
    /// Parses a Path (`$...`). Context paths (`$$...`) are parsed by callers,
    /// which strip one `$` and evaluate the rest against the context object.
    pub fn parse(text: &str) -> Result<Path, String> {
        if !text.starts_with('$') {
            return Err(format!("the path '{text}' does not start with '$'"));
        }
        match parse_definite(text) {
            Ok(Some(segments)) => Ok(Path {
                text: text.to_owned(),
                kind: Kind::Definite(segments),
            }),
            Ok(None) => {
                let query = serde_json_path::JsonPath::parse(text)
                    .map_err(|e| format!("the path '{text}' is not valid JSONPath: {e}"))?;
                Ok(Path {
                    text: text.to_owned(),
                    kind: Kind::Query(query),
                })
            }
            Err(e) => Err(format!("the path '{text}' is invalid: {e}")),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True when the path names at most one node.
    pub fn is_definite(&self) -> bool {
        matches!(self.kind, Kind::Definite(_))
    }

    pub fn segments(&self) -> Option<&[Segment]> {
        match &self.kind {
            Kind::Definite(s) => Some(s),
            Kind::Query(_) => None,
        }
    }

    /// Selects from `value`: `None` when a definite path selects nothing; an
    /// indefinite path always yields an array (possibly empty).
    pub fn select(&self, value: &Value) -> Option<Value> {
        match &self.kind {
            Kind::Definite(segments) => get(value, segments).cloned(),
            Kind::Query(query) => Some(Value::Array(
                query.query(value).all().into_iter().cloned().collect(),
            )),
        }
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A Reference Path: a definite path that `ResultPath` writes into.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferencePath {
    text: String,
    segments: Vec<Segment>,
}

impl ReferencePath {
    pub fn parse(text: &str) -> Result<ReferencePath, String> {
        if text.starts_with("$$") {
            return Err(format!(
                "the reference path '{text}' may not refer to the context object"
            ));
        }
        if !text.starts_with('$') {
            return Err(format!("the reference path '{text}' does not start with '$'"));
        }
        match parse_definite(text) {
            Ok(Some(segments)) => Ok(ReferencePath {
                text: text.to_owned(),
                segments,
            }),
            Ok(None) => Err(format!(
                "the reference path '{text}' must name a single node (no '*', '..', filters, slices or unions)"
            )),
            Err(e) => Err(format!("the reference path '{text}' is invalid: {e}")),
        }
    }

    pub fn root() -> ReferencePath {
        ReferencePath {
            text: "$".into(),
            segments: Vec::new(),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn is_root(&self) -> bool {
        self.segments.is_empty()
    }

    pub fn get<'v>(&self, value: &'v Value) -> Option<&'v Value> {
        get(value, &self.segments)
    }

    /// Writes `new` at this path inside `target`, creating missing
    /// intermediate objects. Fails when a node on the way exists but is not an
    /// object (for a field) or an array holding the index (for an index).
    pub fn set(&self, target: &mut Value, new: Value) -> Result<(), String> {
        let mut node = target;
        for (i, segment) in self.segments.iter().enumerate() {
            let last = i + 1 == self.segments.len();
            match segment {
                Segment::Field(name) => {
                    let Value::Object(map) = node else {
                        return Err(format!(
                            "cannot set field '{name}' of a {} value",
                            type_name(node)
                        ));
                    };
                    if last {
                        map.insert(name.clone(), new);
                        return Ok(());
                    }
                    node = map
                        .entry(name.clone())
                        .or_insert_with(|| Value::Object(Map::new()));
                }
                Segment::Index(index) => {
                    let Value::Array(items) = node else {
                        return Err(format!(
                            "cannot set index [{index}] of a {} value",
                            type_name(node)
                        ));
                    };
                    let len = items.len();
                    let Some(at) = resolve_index(*index, len) else {
                        return Err(format!(
                            "index [{index}] is out of bounds for an array of {len} items"
                        ));
                    };
                    if last {
                        items[at] = new;
                        return Ok(());
                    }
                    node = &mut items[at];
                }
            }
        }
        *node = new;
        Ok(())
    }
}

impl fmt::Display for ReferencePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn resolve_index(index: i64, len: usize) -> Option<usize> {
    let len = i64::try_from(len).ok()?;
    let at = if index < 0 { len + index } else { index };
    if (0..len).contains(&at) {
        usize::try_from(at).ok()
    } else {
        None
    }
}

fn get<'v>(value: &'v Value, segments: &[Segment]) -> Option<&'v Value> {
    let mut node = value;
    for segment in segments {
        node = match (segment, node) {
            (Segment::Field(name), Value::Object(map)) => map.get(name)?,
            (Segment::Index(index), Value::Array(items)) => &items[resolve_index(*index, items.len())?],
            _ => return None,
        };
    }
    Some(node)
}

const INDEFINITE_CHARS: &[char] = &['*', '?', '@', '(', ')', ','];

/// Parses a definite path. `Ok(None)` means "valid-looking but indefinite":
/// the caller hands it to the full JSONPath engine.
fn parse_definite(text: &str) -> Result<Option<Vec<Segment>>, String> {
    let chars: Vec<char> = text.chars().collect();
    if chars.first() != Some(&'$') {
        return Err("a path starts with '$'".into());
    }
    let mut segments = Vec::new();
    let mut i = 1;
    while i < chars.len() {
        match chars[i] {
            '.' => {
                if chars.get(i + 1) == Some(&'.') {
                    return Ok(None);
                }
                let start = i + 1;
                let mut end = start;
                while end < chars.len() && !matches!(chars[end], '.' | '[') {
                    let c = chars[end];
                    if INDEFINITE_CHARS.contains(&c) {
                        return Ok(None);
                    }
                    if c.is_whitespace() || matches!(c, ']' | '\'' | '"') {
                        return Err(format!("unexpected character '{c}' in a member name"));
                    }
                    end += 1;
                }
                if end == start {
                    return Err("empty member name after '.'".into());
                }
                segments.push(Segment::Field(chars[start..end].iter().collect()));
                i = end;
            }
            '[' => {
                let Some(&next) = chars.get(i + 1) else {
                    return Err("unterminated '['".into());
                };
                if next == '\'' || next == '"' {
                    let quote = next;
                    let mut name = String::new();
                    let mut j = i + 2;
                    loop {
                        let Some(&c) = chars.get(j) else {
                            return Err("unterminated quoted member name".into());
                        };
                        if c == '\\' {
                            let Some(&escaped) = chars.get(j + 1) else {
                                return Err("dangling escape in a quoted member name".into());
                            };
                            name.push(escaped);
                            j += 2;
                            continue;
                        }
                        if c == quote {
                            break;
                        }
                        name.push(c);
                        j += 1;
                    }
                    if chars.get(j + 1) != Some(&']') {
                        // `['a','b']` and friends: a union.
                        return Ok(None);
                    }
                    segments.push(Segment::Field(name));
                    i = j + 2;
                } else {
                    let close = chars[i..]
                        .iter()
                        .position(|&c| c == ']')
                        .map(|p| p + i)
                        .ok_or("unterminated '['")?;
                    let inner: String = chars[i + 1..close].iter().collect();
                    let inner = inner.trim();
                    match inner.parse::<i64>() {
                        Ok(index) => segments.push(Segment::Index(index)),
                        Err(_) => return Ok(None),
                    }
                    i = close + 1;
                }
            }
            c => return Err(format!("unexpected character '{c}'")),
        }
    }
    Ok(Some(segments))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn definite_paths() {
        let v = json!({"a": {"b": [1, {"c": "x"}]}, "job-id": "j", "sp ace": 1});
        assert_eq!(Path::parse("$").unwrap().select(&v), Some(v.clone()));
        assert_eq!(Path::parse("$.a.b[1].c").unwrap().select(&v), Some(json!("x")));
        assert_eq!(Path::parse("$['a']['b'][0]").unwrap().select(&v), Some(json!(1)));
        assert_eq!(Path::parse("$.job-id").unwrap().select(&v), Some(json!("j")));
        assert_eq!(Path::parse("$['sp ace']").unwrap().select(&v), Some(json!(1)));
        assert_eq!(Path::parse("$.a.b[-1].c").unwrap().select(&v), Some(json!("x")));
        assert_eq!(Path::parse("$.missing").unwrap().select(&v), None);
        assert_eq!(Path::parse("$.a.b[5]").unwrap().select(&v), None);
        assert!(Path::parse("$.a").unwrap().is_definite());
    }

    #[test]
    fn indefinite_paths_yield_arrays() {
        let v = json!({"items": [{"id": 1}, {"id": 2}], "n": {"id": 3}});
        let p = Path::parse("$.items[*].id").unwrap();
        assert!(!p.is_definite());
        assert_eq!(p.select(&v), Some(json!([1, 2])));
        assert_eq!(
            Path::parse("$.items[?@.id > 1]").unwrap().select(&v),
            Some(json!([{"id": 2}]))
        );
        assert_eq!(Path::parse("$.nothing[*]").unwrap().select(&v), Some(json!([])));
    }

    #[test]
    fn invalid_paths() {
        assert!(Path::parse("a.b").is_err());
        assert!(Path::parse("$.").is_err());
        assert!(Path::parse("$.a b").is_err());
        assert!(Path::parse("$[").is_err());
        assert!(ReferencePath::parse("$.a[*]").is_err());
        assert!(ReferencePath::parse("$$.Execution").is_err());
    }

    #[test]
    fn reference_path_writes_create_intermediate_objects() {
        let mut v = json!({"a": 1});
        ReferencePath::parse("$.x.y.z")
            .unwrap()
            .set(&mut v, json!(true))
            .unwrap();
        assert_eq!(v, json!({"a": 1, "x": {"y": {"z": true}}}));
        ReferencePath::parse("$.a")
            .unwrap()
            .set(&mut v, json!(2))
            .unwrap();
        assert_eq!(v["a"], json!(2));
        assert!(
            ReferencePath::parse("$.a.b")
                .unwrap()
                .set(&mut v, json!(1))
                .is_err()
        );
        let mut s = json!("text");
        assert!(
            ReferencePath::parse("$.a")
                .unwrap()
                .set(&mut s, json!(1))
                .is_err()
        );
        ReferencePath::root().set(&mut s, json!(5)).unwrap();
        assert_eq!(s, json!(5));
        let mut arr = json!({"l": [0, 1]});
        ReferencePath::parse("$.l[1]")
            .unwrap()
            .set(&mut arr, json!(9))
            .unwrap();
        assert_eq!(arr, json!({"l": [0, 9]}));
        assert!(
            ReferencePath::parse("$.l[2]")
                .unwrap()
                .set(&mut arr, json!(9))
                .is_err()
        );
    }
}
