//! HealthLake's input constraints, read from the service's Smithy model.
//!
//! `model/healthlake.json` is the model's JSON AST, vendored unchanged from
//! aws-sdk-rust (`model/README.md` says which commit). The emulator checks
//! every request against it, not against hlx's own rules, so that a wrong
//! rule in hlx-core shows up as a disagreement instead of being mirrored.
//!
//! Of each operation's input, walked through nested structures, unions and
//! lists: `smithy.api#required`, `smithy.api#length` (characters of a string,
//! elements of a list), `smithy.api#pattern`, `smithy.api#range`, enum
//! values, and the JSON type of every member (a wrong type is a
//! `SerializationException`, as the front end answers before validation).
//! Members the model does not know are ignored.
//!
//! Violations read as the AWS JSON front end words them: `N validation
//! error(s) detected: Value '<v>' at '<member>' failed to satisfy constraint:
//! <rule>`, joined with `; `, members named by their lowerCamel path
//! (`outputDataConfig.s3Configuration.kmsKeyId`, list elements as
//! `tags.1.member.key`).

use std::collections::HashMap;
use std::sync::{LazyLock, OnceLock};

use regex::Regex;
use serde_json::{Map, Value};

use crate::error::ApiError;

/// The vendored model.
const MODEL_JSON: &str = include_str!("../model/healthlake.json");

/// What the service has gained since the vendored model, merged into it at
/// load: `StartFHIRImportJob`'s `ValidationLevel`, which the
/// aws-sdk-healthlake the workspace uses (1.127) and botocore 1.43 send, with
/// their values. `the_supplement_is_not_in_the_vendored_model` fails once a
/// refreshed model has it, so that this goes away then.
const SUPPLEMENT_JSON: &str = r#"{
    "com.amazonaws.healthlake#ValidationLevel": {
        "type": "enum",
        "members": {
            "STRICT": { "target": "smithy.api#Unit", "traits": { "smithy.api#enumValue": "strict" } },
            "STRUCTURE_ONLY": { "target": "smithy.api#Unit", "traits": { "smithy.api#enumValue": "structure-only" } },
            "MINIMAL": { "target": "smithy.api#Unit", "traits": { "smithy.api#enumValue": "minimal" } }
        }
    },
    "com.amazonaws.healthlake#StartFHIRImportJobRequest$ValidationLevel": {
        "target": "com.amazonaws.healthlake#ValidationLevel"
    }
}"#;

const NAMESPACE: &str = "com.amazonaws.healthlake#";

/// HealthLake's operations and the shapes of their input.
pub struct ServiceModel {
    shapes: HashMap<String, Shape>,
    /// Operation name (`StartFHIRExportJob`) to its input shape id.
    inputs: HashMap<String, String>,
}

/// A string member's length range and pattern, as the model states them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StringConstraints {
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    /// The pattern as written in the model (ECMA-262, not anchored unless it says so).
    pub pattern: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    Enum,
    Integer,
    Float,
    Boolean,
    Timestamp,
    Blob,
    Structure,
    Union,
    List,
    Map,
    Document,
    Other,
}

struct Shape {
    kind: Kind,
    constraints: Constraints,
    /// Structure and union members in the file's order (serde_json keeps it
    /// with `preserve_order`, which the workspace-hack turns on; it only
    /// orders the messages); a list's `member`.
    members: Vec<Member>,
}

struct Member {
    name: String,
    target: String,
    required: bool,
    /// The member's own constraint traits (they override the target's).
    constraints: Constraints,
}

#[derive(Default, Clone)]
struct Constraints {
    length: Option<Bounds>,
    range: Option<Bounds>,
    pattern: Option<Pattern>,
    enum_values: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Bounds {
    min: Option<f64>,
    max: Option<f64>,
}

/// A model pattern, compiled on first use (some are large, few are used).
#[derive(Clone)]
struct Pattern {
    source: String,
    regex: std::sync::Arc<OnceLock<Regex>>,
}

/// Model load failures: the vendored file is compiled in, so these are bugs.
#[derive(Debug, thiserror::Error)]
enum ModelError {
    #[error("the model is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the model has no {0}")]
    Missing(String),
}

static HEALTHLAKE: LazyLock<ServiceModel> =
    LazyLock::new(|| ServiceModel::load().expect("the vendored HealthLake model loads"));

impl ServiceModel {
    /// The vendored HealthLake model (with the supplement), loaded once.
    pub fn healthlake() -> &'static ServiceModel {
        &HEALTHLAKE
    }

    fn load() -> Result<Self, ModelError> {
        let mut model: Value = serde_json::from_str(MODEL_JSON)?;
        let shapes = model
            .get_mut("shapes")
            .and_then(Value::as_object_mut)
            .ok_or_else(|| ModelError::Missing("shapes".into()))?;
        merge_supplement(shapes)?;
        let mut parsed = HashMap::new();
        let mut inputs = HashMap::new();
        for (id, shape) in shapes.iter() {
            let kind = shape["type"].as_str().unwrap_or_default();
            if kind == "operation" {
                if let (Some(name), Some(input)) =
                    (id.strip_prefix(NAMESPACE), shape["input"]["target"].as_str())
                {
                    inputs.insert(name.to_owned(), input.to_owned());
                }
                continue;
            }
            parsed.insert(id.clone(), Shape::parse(kind, shape));
        }
        Ok(Self {
            shapes: parsed,
            inputs,
        })
    }

    /// Checks `input` against the input shape of `operation` (its model
    /// name): a wrong JSON type is a `SerializationException`, every
    /// violated constraint is listed in one `ValidationException`.
    ///
    /// Panics if the model has no such operation.
    pub fn check_input(&self, operation: &str, input: &Map<String, Value>) -> Result<(), ApiError> {
        self.check_members(operation, input, None)
    }

    /// Like [`check_input`](Self::check_input), for only the top-level
    /// `members` of the operation's input (the FHIR REST kick-off body
    /// carries three of `StartFHIRExportJob`'s).
    pub fn check_some_input(
        &self,
        operation: &str,
        input: &Map<String, Value>,
        members: &[&str],
    ) -> Result<(), ApiError> {
        self.check_members(operation, input, Some(members))
    }

    fn check_members(
        &self,
        operation: &str,
        input: &Map<String, Value>,
        only: Option<&[&str]>,
    ) -> Result<(), ApiError> {
        let shape = self
            .inputs
            .get(operation)
            .and_then(|id| self.shapes.get(id))
            .unwrap_or_else(|| panic!("the model has no operation {operation}"));
        let mut check = Check {
            model: self,
            violations: Vec::new(),
        };
        check.members(shape, input, "", only)?;
        check.finish()
    }

    /// The length range and pattern of the string member at `path` of
    /// `operation`'s input, members named as on the wire and joined with
    /// dots (`OutputDataConfig.S3Configuration.S3Uri`).
    pub fn string_constraints(&self, operation: &str, path: &str) -> Option<StringConstraints> {
        let mut shape = self.shapes.get(self.inputs.get(operation)?)?;
        let mut constraints = None;
        for name in path.split('.') {
            let member = shape.members.iter().find(|m| m.name == name)?;
            let target = self.shapes.get(&member.target)?;
            constraints = Some(target.constraints.overlaid(&member.constraints));
            shape = target;
        }
        let constraints = constraints?;
        (shape.kind == Kind::String).then(|| StringConstraints {
            min_length: constraints.length.and_then(|b| b.min).map(|n| n as u64),
            max_length: constraints.length.and_then(|b| b.max).map(|n| n as u64),
            pattern: constraints.pattern.map(|p| p.source),
        })
    }

    /// Every pattern of the model, with whether it compiles (for the tests).
    #[cfg(test)]
    fn patterns(&self) -> Vec<(String, Result<(), regex::Error>)> {
        let mut patterns: Vec<_> = self
            .shapes
            .values()
            .flat_map(|s| std::iter::once(&s.constraints).chain(s.members.iter().map(|m| &m.constraints)))
            .filter_map(|c| c.pattern.as_ref())
            .map(|p| (p.source.clone(), Regex::new(&ecma_to_rust(&p.source)).map(|_| ())))
            .collect();
        patterns.sort_by(|a, b| a.0.cmp(&b.0));
        patterns.dedup_by(|a, b| a.0 == b.0);
        patterns
    }
}

/// Adds the supplement's shapes, and its `Shape$Member` entries as members.
fn merge_supplement(shapes: &mut Map<String, Value>) -> Result<(), ModelError> {
    let supplement: Map<String, Value> = serde_json::from_str(SUPPLEMENT_JSON)?;
    for (id, value) in supplement {
        match id.split_once('$') {
            Some((shape, member)) => {
                let members = shapes
                    .get_mut(shape)
                    .and_then(|s| s.get_mut("members"))
                    .and_then(Value::as_object_mut)
                    .ok_or_else(|| ModelError::Missing(shape.to_owned()))?;
                members.insert(member.to_owned(), value);
            }
            None => {
                shapes.insert(id, value);
            }
        }
    }
    Ok(())
}

impl Shape {
    fn parse(kind: &str, shape: &Value) -> Self {
        let kind = match kind {
            "string" => Kind::String,
            "enum" => Kind::Enum,
            "byte" | "short" | "integer" | "long" | "intEnum" | "bigInteger" => Kind::Integer,
            "float" | "double" | "bigDecimal" => Kind::Float,
            "boolean" => Kind::Boolean,
            "timestamp" => Kind::Timestamp,
            "blob" => Kind::Blob,
            "structure" => Kind::Structure,
            "union" => Kind::Union,
            "list" | "set" => Kind::List,
            "map" => Kind::Map,
            "document" => Kind::Document,
            _ => Kind::Other,
        };
        let mut constraints = Constraints::parse(&shape["traits"]);
        let mut members = Vec::new();
        if let Some(map) = shape["members"].as_object() {
            for (name, member) in map {
                if kind == Kind::Enum {
                    let value = member["traits"]["smithy.api#enumValue"].as_str().unwrap_or(name);
                    constraints.enum_values.push(value.to_owned());
                } else {
                    members.push(Member::parse(name, member));
                }
            }
        }
        if let Some(member) = shape.get("member") {
            members.push(Member::parse("member", member));
        }
        Self {
            kind,
            constraints,
            members,
        }
    }
}

impl Member {
    fn parse(name: &str, member: &Value) -> Self {
        let traits = &member["traits"];
        Self {
            name: name.to_owned(),
            target: member["target"].as_str().unwrap_or_default().to_owned(),
            required: traits.get("smithy.api#required").is_some(),
            constraints: Constraints::parse(traits),
        }
    }
}

impl Constraints {
    fn parse(traits: &Value) -> Self {
        let bounds = |name: &str| {
            traits.get(name).map(|b| Bounds {
                min: b["min"].as_f64(),
                max: b["max"].as_f64(),
            })
        };
        Self {
            length: bounds("smithy.api#length"),
            range: bounds("smithy.api#range"),
            pattern: traits["smithy.api#pattern"].as_str().map(|source| Pattern {
                source: source.to_owned(),
                regex: Default::default(),
            }),
            // Smithy 1.0's enum trait on a string.
            enum_values: traits["smithy.api#enum"]
                .as_array()
                .map(|values| {
                    values
                        .iter()
                        .filter_map(|v| v["value"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// These constraints with `member`'s own on top.
    fn overlaid(&self, member: &Constraints) -> Constraints {
        Constraints {
            length: member.length.or(self.length),
            range: member.range.or(self.range),
            pattern: member.pattern.clone().or_else(|| self.pattern.clone()),
            enum_values: if member.enum_values.is_empty() {
                self.enum_values.clone()
            } else {
                member.enum_values.clone()
            },
        }
    }
}

impl Pattern {
    fn is_match(&self, value: &str) -> bool {
        self.regex
            .get_or_init(|| Regex::new(&ecma_to_rust(&self.source)).expect("the model's pattern compiles"))
            .is_match(value)
    }
}

/// A Smithy (ECMA-262) pattern in the `regex` crate's syntax. The two agree
/// on what the model uses (`\p{L}`, `\P{M}`, `\p{ASCII}`, classes, `^…$`)
/// except where ECMA-262 is ASCII-only or narrower: `\d` (and `\D`, `\w`,
/// `\W`) mean ASCII digits (word characters), and `.` excludes every line
/// terminator (`\n`, `\r`, U+2028, U+2029), where the regex crate excludes
/// `\n` only. A `[` inside a class is a literal in ECMA-262 (a nested class
/// in the regex crate). Nothing is anchored that the pattern does not anchor:
/// Smithy matches a pattern anywhere in the value.
fn ecma_to_rust(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut in_class = false;
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('d') => out.push_str("[0-9]"),
                Some('D') => out.push_str("[^0-9]"),
                Some('w') => out.push_str("[0-9A-Za-z_]"),
                Some('W') => out.push_str("[^0-9A-Za-z_]"),
                Some(next) => {
                    out.push('\\');
                    out.push(next);
                }
                None => out.push('\\'),
            },
            '[' if in_class => out.push_str(r"\["),
            '[' => {
                in_class = true;
                out.push('[');
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            // `&&` and `~~` are set operations in the regex crate's classes.
            '&' | '~' if in_class => {
                out.push('\\');
                out.push(c);
            }
            '.' if !in_class => out.push_str(r"[^\n\r\u{2028}\u{2029}]"),
            other => out.push(other),
        }
    }
    out
}

/// One validation pass: the violations found so far.
struct Check<'m> {
    model: &'m ServiceModel,
    violations: Vec<String>,
}

impl Check<'_> {
    fn fail(&mut self, path: &str, value: &str, constraint: &str) {
        self.violations.push(format!(
            "Value '{value}' at '{path}' failed to satisfy constraint: {constraint}"
        ));
    }

    fn null(&mut self, path: &str) {
        self.violations.push(format!(
            "Value null at '{path}' failed to satisfy constraint: Member must not be null"
        ));
    }

    fn finish(self) -> Result<(), ApiError> {
        match self.violations.len() {
            0 => Ok(()),
            1 => Err(ApiError::validation(format!(
                "1 validation error detected: {}",
                self.violations[0]
            ))),
            n => Err(ApiError::validation(format!(
                "{n} validation errors detected: {}",
                self.violations.join("; ")
            ))),
        }
    }

    /// The members of a structure, in the model's order.
    fn members(
        &mut self,
        shape: &Shape,
        object: &Map<String, Value>,
        path: &str,
        only: Option<&[&str]>,
    ) -> Result<(), ApiError> {
        for member in &shape.members {
            if only.is_some_and(|names| !names.contains(&member.name.as_str())) {
                continue;
            }
            let member_path = join(path, &member.name);
            match object.get(&member.name).filter(|v| !v.is_null()) {
                None if member.required => self.null(&member_path),
                None => {}
                Some(value) => self.member(member, value, &member_path)?,
            }
        }
        Ok(())
    }

    fn member(&mut self, member: &Member, value: &Value, path: &str) -> Result<(), ApiError> {
        let target = self
            .model
            .shapes
            .get(&member.target)
            .unwrap_or_else(|| panic!("the model has no shape {}", member.target));
        let constraints = target.constraints.overlaid(&member.constraints);
        self.value(target, &constraints, value, path)
    }

    fn value(
        &mut self,
        shape: &Shape,
        constraints: &Constraints,
        value: &Value,
        path: &str,
    ) -> Result<(), ApiError> {
        match (shape.kind, value) {
            (Kind::String | Kind::Enum, Value::String(s)) => {
                self.string(constraints, s, path);
                Ok(())
            }
            (Kind::Integer, Value::Number(n)) if n.as_i64().is_some() || n.as_u64().is_some() => {
                self.range(constraints, n.as_f64().unwrap_or_default(), &n.to_string(), path);
                Ok(())
            }
            (Kind::Float, Value::Number(n)) => {
                self.range(constraints, n.as_f64().unwrap_or_default(), &n.to_string(), path);
                Ok(())
            }
            (Kind::Boolean, Value::Bool(_))
            | (Kind::Timestamp, Value::Number(_))
            | (Kind::Blob, Value::String(_))
            | (Kind::Document | Kind::Other, _) => Ok(()),
            (Kind::Structure, Value::Object(object)) => self.members(shape, object, path, None),
            (Kind::Union, Value::Object(object)) => self.union(shape, object, path),
            (Kind::List, Value::Array(items)) => self.list(shape, constraints, items, path),
            (Kind::Map, Value::Object(object)) => self.map(shape, constraints, object, path),
            (kind, other) => Err(ApiError::serialization(format!(
                "Expected {} at '{path}', found {}",
                expected(kind),
                kind_of(other)
            ))),
        }
    }

    fn string(&mut self, constraints: &Constraints, value: &str, path: &str) {
        if !constraints.enum_values.is_empty() && !constraints.enum_values.iter().any(|v| v == value) {
            let allowed = constraints.enum_values.join(", ");
            self.fail(
                path,
                value,
                &format!("Member must satisfy enum value set: [{allowed}]"),
            );
        }
        if let Some(bounds) = constraints.length {
            self.length(bounds, value.chars().count(), value, path);
        }
        if let Some(pattern) = &constraints.pattern
            && !pattern.is_match(value)
        {
            let rule = format!(
                "Member must satisfy regular expression pattern: {}",
                pattern.source
            );
            self.fail(path, value, &rule);
        }
    }

    fn length(&mut self, bounds: Bounds, length: usize, shown: &str, path: &str) {
        let length = length as f64;
        if let Some(min) = bounds.min.filter(|min| length < *min) {
            self.fail(
                path,
                shown,
                &format!("Member must have length greater than or equal to {min}"),
            );
        }
        if let Some(max) = bounds.max.filter(|max| length > *max) {
            self.fail(
                path,
                shown,
                &format!("Member must have length less than or equal to {max}"),
            );
        }
    }

    fn range(&mut self, constraints: &Constraints, value: f64, shown: &str, path: &str) {
        let Some(bounds) = constraints.range else { return };
        if let Some(min) = bounds.min.filter(|min| value < *min) {
            self.fail(
                path,
                shown,
                &format!("Member must have value greater than or equal to {min}"),
            );
        }
        if let Some(max) = bounds.max.filter(|max| value > *max) {
            self.fail(
                path,
                shown,
                &format!("Member must have value less than or equal to {max}"),
            );
        }
    }

    /// Exactly one known member set; a union's lone member is named when
    /// nothing is set, members it does not have are refused.
    fn union(&mut self, shape: &Shape, object: &Map<String, Value>, path: &str) -> Result<(), ApiError> {
        let set: Vec<&str> = object
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, _)| k.as_str())
            .collect();
        let is_member = |name: &str| shape.members.iter().any(|m| m.name == name);
        let unknown: Vec<&str> = set.iter().copied().filter(|k| !is_member(k)).collect();
        let names: Vec<String> = shape.members.iter().map(|m| lower_camel(&m.name)).collect();
        if !unknown.is_empty() {
            let rule = format!("Member must be one of the union members: [{}]", names.join(", "));
            self.fail(path, &format!("{{{}}}", unknown.join(", ")), &rule);
        }
        let known: Vec<&Member> = shape
            .members
            .iter()
            .filter(|m| set.contains(&m.name.as_str()))
            .collect();
        match (known.as_slice(), shape.members.as_slice()) {
            ([], [only]) => self.null(&join(path, &only.name)),
            ([], _) => self.null(path),
            ([_, _, ..], _) => {
                let shown: Vec<String> = known.iter().map(|m| lower_camel(&m.name)).collect();
                self.fail(
                    path,
                    &format!("{{{}}}", shown.join(", ")),
                    "Member must have exactly one of its members set",
                );
            }
            _ => {}
        }
        for member in known {
            self.member(member, &object[&member.name], &join(path, &member.name))?;
        }
        Ok(())
    }

    fn list(
        &mut self,
        shape: &Shape,
        constraints: &Constraints,
        items: &[Value],
        path: &str,
    ) -> Result<(), ApiError> {
        if let Some(bounds) = constraints.length {
            self.length(bounds, items.len(), &format!("[{} items]", items.len()), path);
        }
        let Some(member) = shape.members.first() else {
            return Ok(());
        };
        for (i, item) in items.iter().enumerate() {
            let item_path = format!("{path}.{}.member", i + 1);
            if item.is_null() {
                self.null(&item_path);
            } else {
                self.member(member, item, &item_path)?;
            }
        }
        Ok(())
    }

    fn map(
        &mut self,
        shape: &Shape,
        constraints: &Constraints,
        object: &Map<String, Value>,
        path: &str,
    ) -> Result<(), ApiError> {
        if let Some(bounds) = constraints.length {
            self.length(
                bounds,
                object.len(),
                &format!("{{{} entries}}", object.len()),
                path,
            );
        }
        let Some(value) = shape.members.iter().find(|m| m.name == "value") else {
            return Ok(());
        };
        for (key, item) in object {
            self.member(value, item, &format!("{path}.{key}"))?;
        }
        Ok(())
    }
}

fn join(path: &str, member: &str) -> String {
    if path.is_empty() {
        lower_camel(member)
    } else {
        format!("{path}.{}", lower_camel(member))
    }
}

/// `S3Configuration` → `s3Configuration`, as the front end names members.
pub(crate) fn lower_camel(member: &str) -> String {
    let mut chars = member.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn expected(kind: Kind) -> &'static str {
    match kind {
        Kind::String | Kind::Enum | Kind::Blob => "a string",
        Kind::Integer => "an integer",
        Kind::Float => "a number",
        Kind::Boolean => "a boolean",
        Kind::Timestamp => "a timestamp (epoch seconds)",
        Kind::Structure | Kind::Union | Kind::Map => "a structure",
        Kind::List => "a list",
        Kind::Document | Kind::Other => "a value",
    }
}

pub(crate) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a structure",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{ErrorKind, Operation};

    fn model() -> &'static ServiceModel {
        ServiceModel::healthlake()
    }

    fn check(operation: &str, input: Value) -> Result<(), ApiError> {
        model().check_input(operation, input.as_object().expect("an object"))
    }

    fn refusal(operation: &str, input: Value) -> String {
        let err = check(operation, input).expect_err("should be refused");
        assert_eq!(err.kind, ErrorKind::Validation, "{}", err.message);
        err.message
    }

    fn export(overrides: Value) -> Value {
        let mut body = json!({
            "DatastoreId": "ds1",
            "OutputDataConfig": { "S3Configuration": { "S3Uri": "s3://bucket/x", "KmsKeyId": "alias/k" } },
            "DataAccessRoleArn": "arn:aws:iam::123456789012:role/r",
        });
        for (k, v) in overrides.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    }

    #[test]
    fn every_served_operation_is_in_the_model() {
        for op in Operation::ALL.into_iter().filter(|op| !op.is_rest()) {
            assert!(model().inputs.contains_key(op.name()), "{op}");
        }
    }

    #[test]
    fn every_pattern_of_the_model_compiles() {
        let patterns = model().patterns();
        assert!(patterns.len() > 10, "{patterns:?}");
        for (pattern, compiled) in patterns {
            compiled.unwrap_or_else(|e| panic!("{pattern}: {e}"));
        }
    }

    #[test]
    fn patterns_keep_ecma_262_meanings() {
        let matches =
            |pattern: &str, value: &str| Regex::new(&ecma_to_rust(pattern)).unwrap().is_match(value);
        // `\d` is ASCII only, as in ECMA-262 (the regex crate's is Unicode).
        assert!(matches(r"^\d{3}$", "123"));
        assert!(!matches(r"^\d{3}$", "١٢٣"));
        assert!(matches(r"^[\d-]+$", "1-2"));
        assert!(!matches(r"^\w+$", "é"));
        // `.` stops at every line terminator.
        assert!(matches(r"^a.b$", "a-b"));
        assert!(!matches(r"^a.b$", "a\rb"));
        assert!(!matches(r"^a.b$", "a\u{2028}b"));
        assert!(matches(r"^[.]$", "."));
        // Literals inside classes.
        assert!(matches(r"^[a[]+$", "a[a"));
        assert!(matches(r"^[&~]+$", "&&~~"));
        // Not anchored unless the pattern says so.
        assert!(matches(r"s3://", "xs3://"));
        // The model's escapes.
        assert!(matches(r"^datastore\/fhir\/\$x$", "datastore/fhir/$x"));
        assert!(matches(r"^[\P{M}\p{M}]{1,3}$", "e\u{301}"));
        assert!(!matches(r"^\p{ASCII}{0,3}$", "é"));
    }

    #[test]
    fn the_supplement_is_not_in_the_vendored_model() {
        let vendored: Value = serde_json::from_str(MODEL_JSON).unwrap();
        let shapes = &vendored["shapes"];
        assert!(shapes["com.amazonaws.healthlake#ValidationLevel"].is_null());
        assert!(
            shapes["com.amazonaws.healthlake#StartFHIRImportJobRequest"]["members"]["ValidationLevel"]
                .is_null()
        );
        // ... and merged in: the values the SDK sends.
        let shape = &model().shapes["com.amazonaws.healthlake#ValidationLevel"];
        assert_eq!(
            shape.constraints.enum_values,
            ["strict", "structure-only", "minimal"]
        );
    }

    #[test]
    fn a_valid_request_passes() {
        check("StartFHIRExportJob", export(json!({}))).unwrap();
        check(
            "StartFHIRExportJob",
            export(json!({ "JobName": "n", "ClientToken": "t-1" })),
        )
        .unwrap();
        check("ListFHIRDatastores", json!({})).unwrap();
        // Members the model does not know are left alone.
        check(
            "DescribeFHIRDatastore",
            json!({ "DatastoreId": "ds1", "Extra": 5 }),
        )
        .unwrap();
    }

    #[test]
    fn one_violation_names_member_value_and_rule() {
        assert_eq!(
            refusal(
                "StartFHIRExportJob",
                export(json!({ "ClientToken": "under_score" }))
            ),
            "1 validation error detected: Value 'under_score' at 'clientToken' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: ^[a-zA-Z0-9-]+$"
        );
        assert_eq!(
            refusal("DescribeFHIRDatastore", json!({ "DatastoreId": "x".repeat(33) })),
            format!(
                "1 validation error detected: Value '{}' at 'datastoreId' failed to satisfy constraint: \
                 Member must have length less than or equal to 32",
                "x".repeat(33)
            )
        );
        assert_eq!(
            refusal(
                "ListFHIRExportJobs",
                json!({ "DatastoreId": "ds1", "MaxResults": 0 })
            ),
            "1 validation error detected: Value '0' at 'maxResults' failed to satisfy constraint: \
             Member must have value greater than or equal to 1"
        );
        assert_eq!(
            refusal("CreateFHIRDatastore", json!({ "DatastoreTypeVersion": "R5" })),
            "1 validation error detected: Value 'R5' at 'datastoreTypeVersion' failed to satisfy constraint: \
             Member must satisfy enum value set: [R4]"
        );
    }

    #[test]
    fn nested_members_are_named_by_their_path() {
        let body = export(json!({
            "OutputDataConfig": { "S3Configuration": { "S3Uri": "s3://Bucket/x" } },
        }));
        let message = refusal("StartFHIRExportJob", body);
        assert!(message.starts_with("2 validation errors detected: "), "{message}");
        assert!(message.contains("Value 's3://Bucket/x' at 'outputDataConfig.s3Configuration.s3Uri' failed to satisfy constraint: Member must satisfy regular expression pattern: ^s3://"), "{message}");
        assert!(message.contains("; Value null at 'outputDataConfig.s3Configuration.kmsKeyId' failed to satisfy constraint: Member must not be null"), "{message}");

        let tags =
            json!({ "DatastoreTypeVersion": "R4", "Tags": [{ "Key": "k", "Value": "v" }, { "Key": "a#b" }] });
        let message = refusal("CreateFHIRDatastore", tags);
        assert!(message.starts_with("2 validation errors detected: "), "{message}");
        assert!(message.contains("at 'tags.2.member.key' failed to satisfy constraint: Member must satisfy regular expression pattern"), "{message}");
        assert!(
            message.contains("Value null at 'tags.2.member.value'"),
            "{message}"
        );
    }

    #[test]
    fn every_broken_constraint_of_a_member_is_listed() {
        // Too short for the length range and the pattern's `+` alike.
        let message = refusal("StartFHIRExportJob", export(json!({ "ClientToken": "" })));
        assert!(message.starts_with("2 validation errors detected: "), "{message}");
        assert!(
            message.contains("Member must have length greater than or equal to 1"),
            "{message}"
        );
        assert!(
            message.contains("Member must satisfy regular expression pattern"),
            "{message}"
        );
    }

    #[test]
    fn unions_take_exactly_one_known_member() {
        let message = refusal(
            "StartFHIRExportJob",
            export(json!({ "OutputDataConfig": { "S3Uri": "s3://bucket/x" } })),
        );
        assert!(message.starts_with("2 validation errors detected: "), "{message}");
        assert!(message.contains("Value '{S3Uri}' at 'outputDataConfig' failed to satisfy constraint: Member must be one of the union members: [s3Configuration]"), "{message}");
        assert!(
            message.contains("Value null at 'outputDataConfig.s3Configuration'"),
            "{message}"
        );
    }

    #[test]
    fn wrong_json_types_are_serialization_errors() {
        for (body, text) in [
            (
                json!({ "DatastoreId": 5 }),
                "Expected a string at 'datastoreId', found a number",
            ),
            (
                json!({ "DatastoreId": "ds1", "MaxResults": 1.5 }),
                "Expected an integer at 'maxResults', found a number",
            ),
            (
                json!({ "DatastoreId": "ds1", "SubmittedAfter": "2026-01-01" }),
                "Expected a timestamp (epoch seconds) at 'submittedAfter', found a string",
            ),
        ] {
            let err = check("ListFHIRExportJobs", body).unwrap_err();
            assert_eq!((err.kind, err.message.as_str()), (ErrorKind::Serialization, text));
        }
    }

    #[test]
    fn string_constraints_are_the_models() {
        assert_eq!(
            model().string_constraints("StartFHIRExportJob", "OutputDataConfig.S3Configuration.KmsKeyId"),
            Some(StringConstraints {
                min_length: Some(1),
                max_length: Some(400),
                pattern: Some(
                    r"^(arn:aws((-us-gov)|(-iso)|(-iso-b)|(-cn))?:kms:)?([a-z]{2}-[a-z]+(-[a-z]+)?-\d:)?(\d{12}:)?(((key/)?[a-zA-Z0-9-_]+)|(alias/[a-zA-Z0-9:/_-]+))$".into()
                ),
            })
        );
        assert_eq!(
            model().string_constraints("StartFHIRExportJob", "OutputDataConfig"),
            None
        );
        assert_eq!(model().string_constraints("StartFHIRExportJob", "Nope"), None);
    }
}
