//! Choice rules.
//!
//! A comparison whose `Variable` selects nothing is a `States.Runtime` error
//! (only `IsPresent` may look at a missing field), as is a `...Path` operand
//! that selects nothing. A value of the wrong type simply does not match.

use std::cmp::Ordering;

use jiff::Timestamp;
use serde_json::{Map, Value};

use crate::error::StatesError;
use crate::path::Path;

/// A path into the effective input (`$...`) or the context object (`$$...`).
#[derive(Debug, Clone, PartialEq)]
pub struct VarPath {
    pub path: Path,
    pub context: bool,
}

impl VarPath {
    pub fn parse(text: &str) -> Result<VarPath, String> {
        match text.strip_prefix("$$") {
            Some(rest) => Ok(VarPath {
                path: Path::parse(&format!("${rest}"))?,
                context: true,
            }),
            None => Ok(VarPath {
                path: Path::parse(text)?,
                context: false,
            }),
        }
    }

    fn select(&self, input: &Value, context: &Value) -> Option<Value> {
        self.path.select(if self.context { context } else { input })
    }

    fn text(&self) -> String {
        if self.context {
            format!("${}", self.path)
        } else {
            self.path.to_string()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    Numeric,
    Boolean,
    Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    Equals,
    LessThan,
    GreaterThan,
    LessThanEquals,
    GreaterThanEquals,
}

impl Relation {
    fn holds(self, ord: Ordering) -> bool {
        match self {
            Relation::Equals => ord == Ordering::Equal,
            Relation::LessThan => ord == Ordering::Less,
            Relation::GreaterThan => ord == Ordering::Greater,
            Relation::LessThanEquals => ord != Ordering::Greater,
            Relation::GreaterThanEquals => ord != Ordering::Less,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeTest {
    IsNull,
    IsPresent,
    IsNumeric,
    IsString,
    IsBoolean,
    IsTimestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Literal(Value),
    Path(VarPath),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Compare {
        kind: Kind,
        relation: Relation,
        operand: Operand,
    },
    StringMatches(Vec<GlobPiece>),
    Test {
        test: TypeTest,
        expected: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    And(Vec<Rule>),
    Or(Vec<Rule>),
    Not(Box<Rule>),
    Leaf {
        variable: VarPath,
        operator: String,
        condition: Condition,
    },
}

/// A `StringMatches` pattern, split into literal pieces and `*` wildcards.
#[derive(Debug, Clone, PartialEq)]
pub enum GlobPiece {
    Literal(String),
    Star,
}

const KINDS: &[(&str, Kind)] = &[
    ("String", Kind::String),
    ("Numeric", Kind::Numeric),
    ("Boolean", Kind::Boolean),
    ("Timestamp", Kind::Timestamp),
];

const RELATIONS: &[(&str, Relation)] = &[
    ("Equals", Relation::Equals),
    ("LessThanEquals", Relation::LessThanEquals),
    ("GreaterThanEquals", Relation::GreaterThanEquals),
    ("LessThan", Relation::LessThan),
    ("GreaterThan", Relation::GreaterThan),
];

const TESTS: &[(&str, TypeTest)] = &[
    ("IsNull", TypeTest::IsNull),
    ("IsPresent", TypeTest::IsPresent),
    ("IsNumeric", TypeTest::IsNumeric),
    ("IsString", TypeTest::IsString),
    ("IsBoolean", TypeTest::IsBoolean),
    ("IsTimestamp", TypeTest::IsTimestamp),
];

/// Recognises a comparison operator name; returns `None` for anything else.
fn parse_operator(name: &str, value: &Value) -> Option<Result<Condition, String>> {
    if name == "StringMatches" {
        return Some(match value {
            Value::String(pattern) => Ok(Condition::StringMatches(parse_glob(pattern))),
            _ => Err("StringMatches needs a string pattern".into()),
        });
    }
    if let Some((_, test)) = TESTS.iter().find(|(n, _)| *n == name) {
        return Some(match value {
            Value::Bool(expected) => Ok(Condition::Test {
                test: *test,
                expected: *expected,
            }),
            _ => Err(format!("{name} needs true or false")),
        });
    }
    for (kind_name, kind) in KINDS {
        let Some(rest) = name.strip_prefix(kind_name) else {
            continue;
        };
        let (rel_name, is_path) = match rest.strip_suffix("Path") {
            Some(r) => (r, true),
            None => (rest, false),
        };
        let Some((_, relation)) = RELATIONS.iter().find(|(n, _)| *n == rel_name) else {
            continue;
        };
        if *kind == Kind::Boolean && *relation != Relation::Equals {
            continue;
        }
        let operand = if is_path {
            match value {
                Value::String(text) => VarPath::parse(text).map(Operand::Path),
                _ => Err(format!("{name} needs a path string")),
            }
        } else {
            let ok = match kind {
                Kind::String => value.is_string(),
                Kind::Numeric => value.is_number(),
                Kind::Boolean => value.is_boolean(),
                Kind::Timestamp => value.as_str().and_then(parse_timestamp).is_some(),
            };
            if ok {
                Ok(Operand::Literal(value.clone()))
            } else {
                Err(format!("{name} needs a {} value, not {value}", kind_label(*kind)))
            }
        };
        return Some(operand.map(|operand| Condition::Compare {
            kind: *kind,
            relation: *relation,
            operand,
        }));
    }
    None
}

fn kind_label(kind: Kind) -> &'static str {
    match kind {
        Kind::String => "string",
        Kind::Numeric => "numeric",
        Kind::Boolean => "boolean",
        Kind::Timestamp => "timestamp (RFC 3339)",
    }
}

/// Parses a timestamp the way Step Functions accepts it: RFC 3339 with an
/// uppercase `T` and a `Z` or numeric offset.
pub fn parse_timestamp(text: &str) -> Option<Timestamp> {
    if !text.contains('T') {
        return None;
    }
    text.parse::<Timestamp>().ok()
}

fn parse_glob(pattern: &str) -> Vec<GlobPiece> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(next) => literal.push(next),
                None => literal.push('\\'),
            },
            '*' => {
                if !literal.is_empty() {
                    pieces.push(GlobPiece::Literal(std::mem::take(&mut literal)));
                }
                if pieces.last() != Some(&GlobPiece::Star) {
                    pieces.push(GlobPiece::Star);
                }
            }
            c => literal.push(c),
        }
    }
    if !literal.is_empty() {
        pieces.push(GlobPiece::Literal(literal));
    }
    pieces
}

fn glob_matches(pieces: &[GlobPiece], text: &str) -> bool {
    match pieces.split_first() {
        None => text.is_empty(),
        Some((GlobPiece::Literal(lit), rest)) => text
            .strip_prefix(lit.as_str())
            .is_some_and(|remaining| glob_matches(rest, remaining)),
        Some((GlobPiece::Star, rest)) => {
            if rest.is_empty() {
                return true;
            }
            text.char_indices()
                .map(|(i, _)| i)
                .chain(std::iter::once(text.len()))
                .any(|i| glob_matches(rest, &text[i..]))
        }
    }
}

impl Rule {
    /// Parses one rule. `top_level` rules carry `Next` (taken by the caller)
    /// and may carry `Comment`; nested ones may carry neither `Next`.
    pub fn parse(map: &Map<String, Value>, top_level: bool) -> Result<Rule, String> {
        let mut keys: Vec<&str> = map.keys().map(String::as_str).collect();
        keys.retain(|k| !(top_level && matches!(*k, "Next" | "Comment")));
        if !top_level && map.contains_key("Next") {
            return Err("a nested rule (inside And/Or/Not) may not have 'Next'".into());
        }
        for unsupported in ["Condition", "Assign", "Output"] {
            if map.contains_key(unsupported) {
                return Err(format!(
                    "'{unsupported}' (JSONata / variables) is not supported by this runner"
                ));
            }
        }
        let has = |k: &str| keys.contains(&k);
        if has("And") || has("Or") {
            let name = if has("And") { "And" } else { "Or" };
            if keys.len() != 1 {
                return Err(format!("a rule with '{name}' may have no other field ({keys:?})"));
            }
            let Some(Value::Array(items)) = map.get(name) else {
                return Err(format!("'{name}' must be an array of rules"));
            };
            if items.is_empty() {
                return Err(format!("'{name}' must not be empty"));
            }
            let rules = items
                .iter()
                .map(|item| match item {
                    Value::Object(m) => Rule::parse(m, false),
                    _ => Err(format!("'{name}' items must be objects")),
                })
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(if name == "And" {
                Rule::And(rules)
            } else {
                Rule::Or(rules)
            });
        }
        if has("Not") {
            if keys.len() != 1 {
                return Err(format!("a rule with 'Not' may have no other field ({keys:?})"));
            }
            let Some(Value::Object(inner)) = map.get("Not") else {
                return Err("'Not' must be a rule object".into());
            };
            return Ok(Rule::Not(Box::new(Rule::parse(inner, false)?)));
        }
        let variable = match map.get("Variable") {
            Some(Value::String(text)) => VarPath::parse(text)?,
            Some(_) => return Err("'Variable' must be a path string".into()),
            None => return Err("a comparison rule needs 'Variable'".into()),
        };
        let operators: Vec<&str> = keys.iter().copied().filter(|k| *k != "Variable").collect();
        let [operator] = operators.as_slice() else {
            return Err(format!(
                "a comparison rule needs exactly one comparison operator besides 'Variable', found {operators:?}"
            ));
        };
        let condition = parse_operator(operator, &map[*operator])
            .ok_or_else(|| format!("'{operator}' is not a comparison operator"))??;
        Ok(Rule::Leaf {
            variable,
            operator: (*operator).to_owned(),
            condition,
        })
    }

    /// Evaluates the rule against the effective input.
    pub fn eval(&self, input: &Value, context: &Value) -> Result<bool, StatesError> {
        match self {
            Rule::And(rules) => {
                for rule in rules {
                    if !rule.eval(input, context)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Rule::Or(rules) => {
                for rule in rules {
                    if rule.eval(input, context)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Rule::Not(rule) => Ok(!rule.eval(input, context)?),
            Rule::Leaf {
                variable,
                condition,
                operator,
            } => {
                let value = variable.select(input, context);
                if let Condition::Test {
                    test: TypeTest::IsPresent,
                    expected,
                } = condition
                {
                    return Ok(value.is_some() == *expected);
                }
                let Some(value) = value else {
                    return Err(StatesError::runtime(format!(
                        "Invalid path '{}': The choice state's condition path references an invalid value.",
                        variable.text()
                    )));
                };
                match condition {
                    Condition::Test { test, expected } => {
                        let actual = match test {
                            TypeTest::IsNull => value.is_null(),
                            TypeTest::IsNumeric => value.is_number(),
                            TypeTest::IsString => value.is_string(),
                            TypeTest::IsBoolean => value.is_boolean(),
                            TypeTest::IsTimestamp => value.as_str().and_then(parse_timestamp).is_some(),
                            TypeTest::IsPresent => unreachable!("handled above"),
                        };
                        Ok(actual == *expected)
                    }
                    Condition::StringMatches(pieces) => {
                        Ok(value.as_str().is_some_and(|s| glob_matches(pieces, s)))
                    }
                    Condition::Compare {
                        kind,
                        relation,
                        operand,
                    } => {
                        let other = match operand {
                            Operand::Literal(v) => v.clone(),
                            Operand::Path(p) => p.select(input, context).ok_or_else(|| {
                                StatesError::runtime(format!(
                                    "Invalid path '{}' in '{operator}': The choice state's condition path references an invalid value.",
                                    p.text()
                                ))
                            })?,
                        };
                        Ok(compare(*kind, &value, &other).is_some_and(|ord| relation.holds(ord)))
                    }
                }
            }
        }
    }
}

/// Orders two values of the given kind; `None` when either has another type.
fn compare(kind: Kind, a: &Value, b: &Value) -> Option<Ordering> {
    match kind {
        Kind::String => Some(a.as_str()?.cmp(b.as_str()?)),
        Kind::Boolean => {
            let (a, b) = (a.as_bool()?, b.as_bool()?);
            Some(if a == b { Ordering::Equal } else { Ordering::Less })
        }
        Kind::Timestamp => {
            let a = parse_timestamp(a.as_str()?)?;
            let b = parse_timestamp(b.as_str()?)?;
            Some(a.cmp(&b))
        }
        Kind::Numeric => {
            let (Value::Number(a), Value::Number(b)) = (a, b) else {
                return None;
            };
            if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
                return Some(x.cmp(&y));
            }
            if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
                return Some(x.cmp(&y));
            }
            a.as_f64()?.partial_cmp(&b.as_f64()?)
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rule(v: Value) -> Rule {
        Rule::parse(v.as_object().unwrap(), false).unwrap()
    }

    fn check(r: Value, input: Value) -> bool {
        rule(r)
            .eval(&input, &json!({"Execution": {"Name": "n"}}))
            .unwrap()
    }

    #[test]
    fn comparisons() {
        let input = json!({"s": "b", "n": 5, "f": 1.5, "t": true, "ts": "2026-01-02T00:00:00Z",
                           "other": "c", "m": 5.0, "nul": null});
        for (r, expected) in [
            (json!({"Variable": "$.s", "StringEquals": "b"}), true),
            (json!({"Variable": "$.s", "StringLessThan": "c"}), true),
            (json!({"Variable": "$.s", "StringGreaterThan": "c"}), false),
            (json!({"Variable": "$.s", "StringLessThanEquals": "b"}), true),
            (json!({"Variable": "$.s", "StringGreaterThanEquals": "b"}), true),
            (json!({"Variable": "$.s", "StringEqualsPath": "$.other"}), false),
            (json!({"Variable": "$.s", "StringLessThanPath": "$.other"}), true),
            (json!({"Variable": "$.n", "NumericEquals": 5}), true),
            (json!({"Variable": "$.n", "NumericEquals": 5.0}), true),
            (json!({"Variable": "$.m", "NumericEqualsPath": "$.n"}), true),
            (json!({"Variable": "$.f", "NumericLessThan": 2}), true),
            (json!({"Variable": "$.f", "NumericGreaterThan": 2}), false),
            (json!({"Variable": "$.n", "NumericLessThanEquals": 5}), true),
            (json!({"Variable": "$.n", "NumericGreaterThanEquals": 6}), false),
            (json!({"Variable": "$.n", "NumericGreaterThanPath": "$.f"}), true),
            (json!({"Variable": "$.t", "BooleanEquals": true}), true),
            (json!({"Variable": "$.t", "BooleanEqualsPath": "$.t"}), true),
            (
                json!({"Variable": "$.ts", "TimestampEquals": "2026-01-02T00:00:00Z"}),
                true,
            ),
            (
                json!({"Variable": "$.ts", "TimestampLessThan": "2026-01-02T00:00:01Z"}),
                true,
            ),
            (
                json!({"Variable": "$.ts", "TimestampGreaterThan": "2026-01-01T21:00:00-02:00"}),
                true,
            ),
            (
                json!({"Variable": "$.ts", "TimestampLessThanEquals": "2026-01-02T00:00:00Z"}),
                true,
            ),
            (
                json!({"Variable": "$.ts", "TimestampGreaterThanEquals": "2026-01-03T00:00:00Z"}),
                false,
            ),
            (json!({"Variable": "$.ts", "TimestampEqualsPath": "$.ts"}), true),
            (json!({"Variable": "$.s", "NumericEquals": 1}), false),
            (json!({"Variable": "$.n", "StringEquals": "5"}), false),
            (
                json!({"Variable": "$.s", "TimestampEquals": "2026-01-02T00:00:00Z"}),
                false,
            ),
            (
                json!({"Variable": "$$.Execution.Name", "StringEquals": "n"}),
                true,
            ),
        ] {
            assert_eq!(check(r.clone(), input.clone()), expected, "{r}");
        }
    }

    #[test]
    fn type_tests_and_logic() {
        let input = json!({"s": "x", "n": 1, "b": false, "z": null, "ts": "2026-01-01T00:00:00Z"});
        for (r, expected) in [
            (json!({"Variable": "$.z", "IsNull": true}), true),
            (json!({"Variable": "$.s", "IsNull": true}), false),
            (json!({"Variable": "$.s", "IsPresent": true}), true),
            (json!({"Variable": "$.nope", "IsPresent": true}), false),
            (json!({"Variable": "$.nope", "IsPresent": false}), true),
            (json!({"Variable": "$.n", "IsNumeric": true}), true),
            (json!({"Variable": "$.s", "IsNumeric": false}), true),
            (json!({"Variable": "$.s", "IsString": true}), true),
            (json!({"Variable": "$.b", "IsBoolean": true}), true),
            (json!({"Variable": "$.ts", "IsTimestamp": true}), true),
            (json!({"Variable": "$.s", "IsTimestamp": true}), false),
            (
                json!({"And": [{"Variable": "$.n", "NumericEquals": 1}, {"Variable": "$.s", "StringEquals": "x"}]}),
                true,
            ),
            (
                json!({"And": [{"Variable": "$.n", "NumericEquals": 1}, {"Variable": "$.s", "StringEquals": "y"}]}),
                false,
            ),
            (
                json!({"Or": [{"Variable": "$.n", "NumericEquals": 2}, {"Variable": "$.s", "StringEquals": "x"}]}),
                true,
            ),
            (json!({"Not": {"Variable": "$.n", "NumericEquals": 2}}), true),
        ] {
            assert_eq!(check(r.clone(), input.clone()), expected, "{r}");
        }
    }

    #[test]
    fn string_matches() {
        for (pattern, text, expected) in [
            ("log-*.txt", "log-2026.txt", true),
            ("log-*.txt", "log-2026.csv", false),
            ("*", "", true),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            (r"a\*b", "a*b", true),
            (r"a\*b", "aXb", false),
            (r"a\\b", r"a\b", true),
            ("exact", "exact", true),
        ] {
            assert_eq!(
                check(
                    json!({"Variable": "$.s", "StringMatches": pattern}),
                    json!({"s": text})
                ),
                expected,
                "{pattern} ~ {text}"
            );
        }
    }

    #[test]
    fn missing_variable_is_runtime_error() {
        let err = rule(json!({"Variable": "$.nope", "StringEquals": "x"}))
            .eval(&json!({}), &json!({}))
            .unwrap_err();
        assert_eq!(err.error, "States.Runtime");
        let err = rule(json!({"Variable": "$.a", "StringEqualsPath": "$.nope"}))
            .eval(&json!({"a": "x"}), &json!({}))
            .unwrap_err();
        assert_eq!(err.error, "States.Runtime");
    }

    #[test]
    fn invalid_rules() {
        for r in [
            json!({"Variable": "$.a"}),
            json!({"Variable": "$.a", "StringEquals": 1}),
            json!({"Variable": "$.a", "StringEquals": "x", "NumericEquals": 1}),
            json!({"Variable": "$.a", "BooleanLessThan": true}),
            json!({"Variable": "$.a", "Nonsense": 1}),
            json!({"Variable": "$.a", "TimestampEquals": "yesterday"}),
            json!({"And": []}),
            json!({"Not": {"Variable": "$.a", "IsNull": true, "Next": "X"}}),
            json!({"Condition": "{% true %}"}),
        ] {
            assert!(Rule::parse(r.as_object().unwrap(), false).is_err(), "{r}");
        }
    }
}
