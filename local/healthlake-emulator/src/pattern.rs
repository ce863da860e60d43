//! A small EventBridge event pattern matcher: the subset hlx's rules use.
//!
//! Local mode routes the emulator's events with the very pattern file the
//! infrastructure deploys (`statemachine/healthlake-events.pattern.json`), so
//! both decide alike. Supported, as EventBridge documents them:
//!
//! - a pattern is a JSON object; every field in it must match (AND);
//! - a nested object matches the event's nested object, field by field;
//! - a leaf is a non-empty array of matchers, any of which may match (OR):
//!   - a string, number, boolean or `null`: exact value (numbers by value,
//!     `""` and `null` differ);
//!   - `{"prefix": "s"}`: a string starting with `s`;
//!   - `{"anything-but": v}`, `v` a value, an array of values or
//!     `{"prefix": "s"}`: present, and none of those;
//!   - `{"exists": true|false}`: the leaf is present (any non-object value,
//!     `null` included) or absent;
//! - when the event's value is an array, the leaf matches if any element
//!   does.
//!
//! Anything else (`suffix`, `numeric`, `wildcard`, `equals-ignore-case`,
//! `cidr`, `$or`) matches nothing; [`check_pattern`] names it.

use serde_json::{Map, Value};

/// Whether `event` matches the EventBridge event pattern `pattern`.
/// A malformed or unsupported pattern matches nothing (see [`check_pattern`]).
pub fn pattern_matches(pattern: &Value, event: &Value) -> bool {
    match pattern {
        Value::Object(fields) if !fields.is_empty() => object_matches(fields, Some(event)),
        _ => false,
    }
}

/// Checks that `pattern` is a well-formed pattern of the supported subset;
/// the error names the offending path.
pub fn check_pattern(pattern: &Value) -> Result<(), String> {
    match pattern {
        Value::Object(fields) => check_object(fields, "$"),
        _ => Err("$: a pattern must be a JSON object".into()),
    }
}

fn object_matches(fields: &Map<String, Value>, event: Option<&Value>) -> bool {
    fields.iter().all(|(key, sub)| {
        let value = event.and_then(Value::as_object).and_then(|o| o.get(key));
        match sub {
            Value::Object(nested) => match value {
                Some(Value::Array(items)) => items.iter().any(|item| object_matches(nested, Some(item))),
                _ => object_matches(nested, value),
            },
            Value::Array(matchers) => leaf_matches(matchers, value),
            _ => false,
        }
    })
}

fn leaf_matches(matchers: &[Value], value: Option<&Value>) -> bool {
    matchers.iter().any(|matcher| {
        if let Some(exists) = operand(matcher, "exists") {
            return match exists {
                Value::Bool(true) => value.is_some_and(|v| !v.is_object()),
                Value::Bool(false) => value.is_none(),
                _ => false,
            };
        }
        match value {
            None => false,
            Some(Value::Array(items)) => items.iter().any(|item| value_matches(matcher, item)),
            Some(value) => value_matches(matcher, value),
        }
    })
}

/// The operand of a one-key operator object `{"name": operand}`.
fn operand<'a>(matcher: &'a Value, name: &str) -> Option<&'a Value> {
    match matcher {
        Value::Object(map) if map.len() == 1 => map.get(name),
        _ => None,
    }
}

fn value_matches(matcher: &Value, value: &Value) -> bool {
    match matcher {
        Value::Object(_) => {
            if let Some(prefix) = operand(matcher, "prefix") {
                return starts_with(value, prefix);
            }
            if let Some(excluded) = operand(matcher, "anything-but") {
                return match excluded {
                    Value::Array(values) => {
                        !values.is_empty() && values.iter().all(|other| !same_value(other, value))
                    }
                    Value::Object(_) => match operand(excluded, "prefix") {
                        Some(prefix @ Value::String(_)) => !starts_with(value, prefix),
                        _ => false,
                    },
                    other => !same_value(other, value),
                };
            }
            false
        }
        Value::Array(_) => false,
        scalar => same_value(scalar, value),
    }
}

fn starts_with(value: &Value, prefix: &Value) -> bool {
    match (value, prefix) {
        (Value::String(s), Value::String(p)) => s.starts_with(p.as_str()),
        _ => false,
    }
}

fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(_) | Value::Object(_), _) | (_, Value::Array(_) | Value::Object(_)) => false,
        _ => a == b,
    }
}

fn check_object(fields: &Map<String, Value>, path: &str) -> Result<(), String> {
    if fields.is_empty() {
        return Err(format!("{path}: an empty object matches nothing"));
    }
    for (key, sub) in fields {
        let path = format!("{path}.{key}");
        match sub {
            Value::Object(nested) => check_object(nested, &path)?,
            Value::Array(matchers) if matchers.is_empty() => {
                return Err(format!("{path}: an empty array matches nothing"));
            }
            Value::Array(matchers) => {
                for matcher in matchers {
                    check_matcher(matcher, &path)?;
                }
            }
            _ => return Err(format!("{path}: a leaf must be an array of matchers")),
        }
    }
    Ok(())
}

fn check_matcher(matcher: &Value, path: &str) -> Result<(), String> {
    let Value::Object(map) = matcher else {
        return match matcher {
            Value::Array(_) => Err(format!("{path}: a matcher cannot be an array")),
            _ => Ok(()),
        };
    };
    let mut entries = map.iter();
    let (Some((name, operand)), None) = (entries.next(), entries.next()) else {
        return Err(format!("{path}: an operator object has exactly one key"));
    };
    let ok = match name.as_str() {
        "prefix" => operand.is_string(),
        "exists" => operand.is_boolean(),
        "anything-but" => match operand {
            Value::Array(values) => !values.is_empty() && values.iter().all(is_scalar),
            Value::Object(inner) => inner.len() == 1 && inner.get("prefix").is_some_and(Value::is_string),
            other => is_scalar(other),
        },
        other => return Err(format!("{path}: unsupported operator {other:?}")),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("{path}: bad operand for {name:?}: {operand}"))
    }
}

fn is_scalar(value: &Value) -> bool {
    !value.is_array() && !value.is_object()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event() -> Value {
        json!({
            "version": "0",
            "source": "aws.healthlake",
            "detail-type": "Export Job Completed",
            "region": "us-east-1",
            "resources": ["arn:aws:healthlake:us-east-1:123456789012:datastore/fhir/abc"],
            "detail": {
                "jobId": "j1",
                "datastoreId": "abc",
                "count": 300,
                "empty": "",
                "nothing": null,
                "outputDataConfig": {"s3Uri": "s3://bucket/out/"},
                "tags": ["a", "b"]
            }
        })
    }

    fn matches(pattern: Value) -> bool {
        check_pattern(&pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
        pattern_matches(&pattern, &event())
    }

    #[test]
    fn exact_values_are_or_within_a_field_and_and_across_fields() {
        assert!(matches(json!({"source": ["aws.healthlake"]})));
        assert!(matches(json!({"source": ["aws.s3", "aws.healthlake"]})));
        assert!(!matches(json!({"source": ["aws.s3"]})));
        assert!(matches(
            json!({"source": ["aws.healthlake"], "detail-type": ["Export Job Completed"]})
        ));
        assert!(!matches(
            json!({"source": ["aws.healthlake"], "detail-type": ["Export Job Failed"]})
        ));
        // Exact means exact: no case folding, no substring.
        assert!(!matches(json!({"source": ["AWS.healthlake"]})));
        assert!(!matches(json!({"source": ["aws"]})));
    }

    #[test]
    fn nested_objects_match_nested_fields() {
        assert!(matches(json!({"detail": {"datastoreId": ["abc"]}})));
        assert!(matches(
            json!({"detail": {"outputDataConfig": {"s3Uri": ["s3://bucket/out/"]}}})
        ));
        assert!(!matches(json!({"detail": {"datastoreId": ["xyz"]}})));
        // A field the event lacks never matches a value.
        assert!(!matches(
            json!({"detail": {"inputDataConfig": {"s3Uri": ["s3://bucket/out/"]}}})
        ));
        assert!(!matches(json!({"missing": {"x": ["y"]}})));
    }

    #[test]
    fn numbers_null_and_empty_strings() {
        assert!(matches(json!({"detail": {"count": [300]}})));
        assert!(matches(json!({"detail": {"count": [300.0]}})));
        assert!(!matches(json!({"detail": {"count": ["300"]}})));
        assert!(matches(json!({"detail": {"nothing": [null]}})));
        assert!(!matches(json!({"detail": {"nothing": [""]}})));
        assert!(matches(json!({"detail": {"empty": [""]}})));
        assert!(!matches(json!({"detail": {"empty": [null]}})));
        assert!(!matches(json!({"detail": {"absent": [null]}})));
    }

    #[test]
    fn arrays_in_the_event_match_if_any_element_does() {
        assert!(matches(json!({"detail": {"tags": ["b"]}})));
        assert!(!matches(json!({"detail": {"tags": ["c"]}})));
        assert!(matches(
            json!({"resources": [{"prefix": "arn:aws:healthlake:us-east-1:"}]})
        ));
    }

    #[test]
    fn prefix() {
        assert!(matches(json!({"source": [{"prefix": "aws."}]})));
        assert!(matches(json!({"detail-type": [{"prefix": "Export Job "}]})));
        assert!(!matches(json!({"detail-type": [{"prefix": "Import Job "}]})));
        assert!(!matches(json!({"detail": {"count": [{"prefix": "3"}]}})));
        assert!(matches(json!({"source": [{"prefix": ""}]})));
    }

    #[test]
    fn anything_but() {
        assert!(matches(
            json!({"detail-type": [{"anything-but": "Export Job Failed"}]})
        ));
        assert!(!matches(
            json!({"detail-type": [{"anything-but": "Export Job Completed"}]})
        ));
        assert!(matches(
            json!({"detail-type": [{"anything-but": ["Export Job Failed", "Export Job Submitted"]}]})
        ));
        assert!(!matches(
            json!({"detail-type": [{"anything-but": ["Export Job Failed", "Export Job Completed"]}]})
        ));
        assert!(matches(json!({"region": [{"anything-but": {"prefix": "eu-"}}]})));
        assert!(!matches(json!({"region": [{"anything-but": {"prefix": "us-"}}]})));
        assert!(matches(json!({"detail": {"count": [{"anything-but": 200}]}})));
        assert!(!matches(json!({"detail": {"count": [{"anything-but": 300}]}})));
        // anything-but needs the field.
        assert!(!matches(json!({"detail": {"absent": [{"anything-but": "x"}]}})));
    }

    #[test]
    fn exists() {
        assert!(matches(json!({"detail": {"jobId": [{"exists": true}]}})));
        assert!(!matches(json!({"detail": {"absent": [{"exists": true}]}})));
        assert!(matches(json!({"detail": {"absent": [{"exists": false}]}})));
        assert!(!matches(json!({"detail": {"jobId": [{"exists": false}]}})));
        assert!(matches(json!({"detail": {"nothing": [{"exists": true}]}})));
        assert!(matches(json!({"nowhere": {"absent": [{"exists": false}]}})));
        // Leaf nodes only: an object is not a leaf.
        assert!(!matches(
            json!({"detail": {"outputDataConfig": [{"exists": true}]}})
        ));
        // OR with other matchers.
        assert!(matches(json!({"detail": {"absent": ["x", {"exists": false}]}})));
    }

    #[test]
    fn malformed_or_unsupported_patterns_match_nothing_and_are_named() {
        for (pattern, fragment) in [
            (json!({}), "empty object"),
            (json!({"source": []}), "empty array"),
            (json!({"source": "aws.healthlake"}), "array of matchers"),
            (
                json!({"source": [{"suffix": "lake"}]}),
                "unsupported operator \"suffix\"",
            ),
            (
                json!({"detail": {"count": [{"numeric": [">", 0]}]}}),
                "\"numeric\"",
            ),
            (json!({"source": [{"prefix": 1}]}), "bad operand"),
            (
                json!({"source": [{"prefix": "a", "exists": true}]}),
                "exactly one key",
            ),
            (json!({"source": [["aws.healthlake"]]}), "cannot be an array"),
            (json!(["aws.healthlake"]), "must be a JSON object"),
        ] {
            let error = check_pattern(&pattern).expect_err(&pattern.to_string());
            assert!(error.contains(fragment), "{pattern}: {error}");
            assert!(!pattern_matches(&pattern, &event()), "{pattern}");
        }
        assert_eq!(
            check_pattern(&json!({"detail": {"x": [{"suffix": "a"}]}})).unwrap_err(),
            "$.detail.x: unsupported operator \"suffix\""
        );
    }
}
