//! What an export takes from the data store: everything (`full`) or what
//! changed since the last completed export (`incremental`), at system,
//! all-patients or group scope, optionally limited by resource type and by
//! `since`/`until`.
//!
//! A plain full system export goes through the SDK's `StartFHIRExportJob`
//! (idempotent by `ClientToken`); everything else goes through the FHIR
//! REST `$export`, the only API that takes these parameters.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::fhir;
use crate::fields::{json_kind, optional_string};
use crate::time;
use crate::validation::FieldError;

/// Full or incremental.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportMode {
    /// Everything the scope holds.
    #[default]
    Full,
    /// What changed since the last completed export of the same data store
    /// and selection (`_since` from the job history), or since `since`.
    Incremental,
}

impl ExportMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Incremental => "incremental",
        }
    }
}

/// Whose data: the whole data store, all patients, or one group's members.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ExportScope {
    #[default]
    System,
    Patient,
    Group(String),
}

impl ExportScope {
    pub fn is_system(&self) -> bool {
        matches!(self, Self::System)
    }
}

impl fmt::Display for ExportScope {
    /// `system`, `patient`, `group/{id}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::System => f.write_str("system"),
            Self::Patient => f.write_str("patient"),
            Self::Group(id) => write!(f, "group/{id}"),
        }
    }
}

/// The selection part of an export request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportSelection {
    #[serde(default, skip_serializing_if = "is_full")]
    pub mode: ExportMode,
    #[serde(
        default,
        rename = "scope",
        skip_serializing_if = "is_system",
        with = "scope_name"
    )]
    pub scope: ExportScope,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<String>,
    #[serde(default, with = "time::option", skip_serializing_if = "Option::is_none")]
    pub since: Option<Timestamp>,
    #[serde(default, with = "time::option", skip_serializing_if = "Option::is_none")]
    pub until: Option<Timestamp>,
}

fn is_full(mode: &ExportMode) -> bool {
    *mode == ExportMode::Full
}

fn is_system(scope: &ExportScope) -> bool {
    scope.is_system()
}

/// The scope as one string in JSON: `system`, `patient`, `group/{id}`.
mod scope_name {
    use super::*;

    pub fn serialize<S: serde::Serializer>(scope: &ExportScope, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(scope)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<ExportScope, D::Error> {
        let text = String::deserialize(d)?;
        parse_scope(&text).map_err(|e| serde::de::Error::custom(e.rule))
    }
}

/// The request fields of a selection.
pub const SELECTION_FIELDS: [&str; 5] = ["mode", "scope", "types", "since", "until"];

/// The largest number of `types` one request may name.
pub const MAX_TYPES: usize = 50;

fn parse_scope(text: &str) -> Result<ExportScope, FieldError> {
    let bad = || {
        FieldError::new(
            "scope",
            format!(
                "must be \"system\", \"patient\" or \"group/<groupId>\" (a FHIR id: 1-64 of A-Z a-z 0-9 - .), got {text:?}"
            ),
        )
    };
    match text {
        "system" => Ok(ExportScope::System),
        "patient" => Ok(ExportScope::Patient),
        other => {
            let id = other.strip_prefix("group/").ok_or_else(bad)?;
            if fhir::is_valid_id(id) {
                Ok(ExportScope::Group(id.to_owned()))
            } else {
                Err(bad())
            }
        }
    }
}

fn parse_time(object: &Map<String, Value>, field: &str) -> Result<Option<Timestamp>, FieldError> {
    optional_string(object, field)?
        .map(|text| {
            time::parse(&text).map_err(|_| {
                FieldError::new(
                    field,
                    format!("must be an RFC 3339 time with an offset (2026-11-24T02:00:00Z), got {text:?}"),
                )
            })
        })
        .transpose()
}

fn parse_types(object: &Map<String, Value>) -> Result<Vec<String>, FieldError> {
    let items = match object.get("types") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(FieldError::new(
                "types",
                format!(
                    "must be an array of FHIR resource types, got {}",
                    json_kind(other)
                ),
            ));
        }
    };
    if items.is_empty() || items.len() > MAX_TYPES {
        return Err(FieldError::new(
            "types",
            format!(
                "must name between 1 and {MAX_TYPES} resource types, got {}",
                items.len()
            ),
        ));
    }
    let mut types: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let name = item.as_str().unwrap_or_default();
        if !fhir::is_resource_type(name) {
            return Err(FieldError::new(
                "types",
                format!(
                    "each must be a FHIR R4 resource type (Patient, Observation; case matters), got {item}"
                ),
            ));
        }
        if types.iter().any(|t| t == name) {
            return Err(FieldError::new("types", format!("names {name} twice")));
        }
        types.push(name.to_owned());
    }
    Ok(types)
}

impl ExportSelection {
    /// Reads and checks the selection fields of a request object.
    pub fn from_object(object: &Map<String, Value>) -> Result<Self, FieldError> {
        let mode = match optional_string(object, "mode")?.as_deref() {
            None | Some("full") => ExportMode::Full,
            Some("incremental") => ExportMode::Incremental,
            Some(other) => {
                return Err(FieldError::new(
                    "mode",
                    format!("must be \"full\" or \"incremental\", got {other:?}"),
                ));
            }
        };
        let scope = match optional_string(object, "scope")? {
            None => ExportScope::System,
            Some(text) => parse_scope(&text)?,
        };
        let types = parse_types(object)?;
        let since = parse_time(object, "since")?;
        let until = parse_time(object, "until")?;
        if since.is_some() && mode == ExportMode::Full {
            return Err(FieldError::new(
                "since",
                "is only for mode \"incremental\" (a full export takes everything)",
            ));
        }
        if let (Some(since), Some(until)) = (since, until)
            && until <= since
        {
            return Err(FieldError::new("until", "must be later than since"));
        }
        Ok(Self {
            mode,
            scope,
            types,
            since,
            until,
        })
    }

    /// The rules that need the time of the request: neither `since` nor
    /// `until` may lie after `now` (a window in the future selects nothing,
    /// and a `since` in the future would leave its chain's changes behind).
    pub fn check_at(&self, now: Timestamp) -> Result<(), FieldError> {
        for (field, at) in [("since", self.since), ("until", self.until)] {
            if let Some(at) = at
                && at > now
            {
                return Err(FieldError::new(
                    field,
                    format!(
                        "must not be in the future (now is {}), got {}",
                        time::format(now),
                        time::format(at)
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Whether this selection needs the FHIR REST `$export` (anything but a
    /// plain full system export).
    pub fn uses_rest(&self) -> bool {
        self.mode == ExportMode::Incremental
            || !self.scope.is_system()
            || !self.types.is_empty()
            || self.until.is_some()
    }

    /// The chain an incremental export continues: same scope, same types
    /// (sorted). A full export with the same selection starts a chain too.
    pub fn chain(&self) -> String {
        let mut types = self.types.clone();
        types.sort();
        if types.is_empty() {
            self.scope.to_string()
        } else {
            format!("{}?_type={}", self.scope, types.join(","))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn selection(value: Value) -> Result<ExportSelection, FieldError> {
        ExportSelection::from_object(value.as_object().unwrap())
    }

    #[test]
    fn absent_fields_select_a_full_system_export_over_the_sdk() {
        let s = selection(json!({})).unwrap();
        assert_eq!(s, ExportSelection::default());
        assert!(!s.uses_rest());
        assert_eq!(s.chain(), "system");
        assert_eq!(serde_json::to_value(&s).unwrap(), json!({}));
    }

    #[test]
    fn scoped_typed_incremental_selections_read_and_round_trip() {
        let s = selection(json!({"mode": "incremental", "scope": "group/cohort-7",
            "types": ["Patient", "Observation"], "since": "2026-11-24T02:00:00+01:00"}))
        .unwrap();
        assert_eq!(s.scope, ExportScope::Group("cohort-7".into()));
        assert!(s.uses_rest());
        assert_eq!(s.chain(), "group/cohort-7?_type=Observation,Patient");
        let back: ExportSelection = serde_json::from_value(serde_json::to_value(&s).unwrap()).unwrap();
        assert_eq!(back, s);
        assert_eq!(
            serde_json::to_value(&s).unwrap()["since"],
            json!("2026-11-24T01:00:00.000Z")
        );
        assert!(selection(json!({"scope": "patient"})).unwrap().uses_rest());
        assert!(selection(json!({"types": ["Patient"]})).unwrap().uses_rest());
    }

    #[test]
    fn each_rule_names_its_field() {
        let cases = [
            (
                json!({"mode": "delta"}),
                "mode",
                "must be \"full\" or \"incremental\"",
            ),
            (json!({"scope": "group/"}), "scope", "group/<groupId>"),
            (json!({"scope": "group/a b"}), "scope", "FHIR id"),
            (json!({"scope": "Patient"}), "scope", "must be"),
            (json!({"types": "Patient"}), "types", "must be an array"),
            (json!({"types": []}), "types", "between 1 and"),
            (json!({"types": ["patient"]}), "types", "FHIR R4 resource type"),
            (
                json!({"types": ["Patient", "NotAType"]}),
                "types",
                "FHIR R4 resource type",
            ),
            (json!({"types": ["Patient", "Patient"]}), "types", "twice"),
            (json!({"types": [7]}), "types", "FHIR R4 resource type"),
            (
                json!({"mode": "incremental", "since": "yesterday"}),
                "since",
                "RFC 3339",
            ),
            (
                json!({"since": "2026-11-24T02:00:00Z"}),
                "since",
                "only for mode \"incremental\"",
            ),
            (
                json!({"mode": "incremental", "since": "2026-11-24T02:00:00Z", "until": "2026-11-24T01:00:00Z"}),
                "until",
                "later than since",
            ),
        ];
        for (value, field, rule) in cases {
            let err = selection(value.clone()).expect_err(&value.to_string());
            assert_eq!(err.field, field, "{value}");
            assert!(err.rule.contains(rule), "{value}: {}", err.rule);
        }
    }

    #[test]
    fn a_window_in_the_future_is_refused_at_the_time_of_the_request() {
        let now: Timestamp = "2026-11-24T02:00:00Z".parse().unwrap();
        for (value, field) in [
            (
                json!({"mode": "incremental", "since": "2099-01-01T00:00:00Z"}),
                "since",
            ),
            (
                json!({"mode": "incremental", "until": "2026-11-24T02:00:01Z"}),
                "until",
            ),
        ] {
            let err = selection(value.clone()).unwrap().check_at(now).unwrap_err();
            assert_eq!(err.field, field, "{value}");
            assert!(err.rule.contains("must not be in the future"), "{}", err.rule);
        }
        let past = selection(
            json!({"mode": "incremental", "since": "2026-11-24T01:00:00Z", "until": "2026-11-24T02:00:00Z"}),
        );
        assert_eq!(past.unwrap().check_at(now), Ok(()));
    }
}
