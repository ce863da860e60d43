//! Payload templates: `Parameters`, `ResultSelector`, a Catcher-free `Pass`.
//!
//! A field whose name ends in `.$` takes its value from a path (`$.x`), a
//! context path (`$$.Execution.Id`) or an intrinsic function, and loses the
//! `.$` suffix. Other fields are copied as they are. Templates nest through
//! objects and arrays.

use serde_json::{Map, Value};

use crate::error::StatesError;
use crate::intrinsic::{EvalEnv, Intrinsic};
use crate::path::Path;

/// Where a dynamic (`.$`) value comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Path(Path),
    Context(Path),
    Intrinsic(Intrinsic),
}

impl Source {
    /// Parses the string value of a `.$` field (also used for `ErrorPath`,
    /// `CausePath`, Choice operands...).
    pub fn parse(text: &str) -> Result<Source, String> {
        if let Some(rest) = text.strip_prefix("$$") {
            Ok(Source::Context(Path::parse(&format!("${rest}"))?))
        } else if text.starts_with('$') {
            Ok(Source::Path(Path::parse(text)?))
        } else if Intrinsic::looks_like(text) {
            Ok(Source::Intrinsic(Intrinsic::parse(text)?))
        } else {
            Err(format!(
                "'{text}' is neither a path ('$...'), a context path ('$$...') nor an intrinsic function ('States....')"
            ))
        }
    }

    pub fn text(&self) -> String {
        match self {
            Source::Path(p) => p.to_string(),
            Source::Context(p) => format!("${p}"),
            Source::Intrinsic(i) => i.as_str().to_owned(),
        }
    }

    /// Evaluates the source. `field` names the template field for messages
    /// (`"id.$"`); a path that selects nothing is a `States.Runtime` error.
    pub fn eval(&self, env: &mut EvalEnv<'_>, field: &str) -> Result<Value, StatesError> {
        match self {
            Source::Path(path) => path.select(env.input).ok_or_else(|| {
                StatesError::runtime(format!(
                    "The JSONPath '{path}' specified for the field '{field}' could not be found in the input '{}'",
                    env.input
                ))
            }),
            Source::Context(path) => path.select(env.context).ok_or_else(|| {
                StatesError::runtime(format!(
                    "The JSONPath '${path}' specified for the field '{field}' could not be found in the context object '{}'",
                    env.context
                ))
            }),
            Source::Intrinsic(f) => f.eval(env),
        }
    }

    /// Does this source read the task token (`$$.Task.Token`)?
    pub fn reads_task_token(&self) -> bool {
        match self {
            Source::Context(p) => p.as_str() == "$.Task.Token",
            Source::Intrinsic(f) => f.as_str().contains("$$.Task.Token"),
            Source::Path(_) => false,
        }
    }
}

/// A compiled payload template.
#[derive(Debug, Clone, PartialEq)]
pub enum Template {
    Literal(Value),
    Object(Vec<(String, Field)>),
    Array(Vec<Template>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    Static(Template),
    Dynamic { key: String, source: Source },
}

impl Template {
    pub fn compile(value: &Value) -> Result<Template, String> {
        match value {
            Value::Object(map) => {
                let mut fields = Vec::with_capacity(map.len());
                for (key, v) in map {
                    if let Some(name) = key.strip_suffix(".$") {
                        let Value::String(text) = v else {
                            return Err(format!(
                                "the field '{key}' ends in '.$' so its value must be a string (a path or intrinsic function)"
                            ));
                        };
                        let source = Source::parse(text).map_err(|e| format!("field '{key}': {e}"))?;
                        fields.push((
                            name.to_owned(),
                            Field::Dynamic {
                                key: key.clone(),
                                source,
                            },
                        ));
                    } else {
                        fields.push((key.clone(), Field::Static(Template::compile(v)?)));
                    }
                }
                Ok(Template::Object(fields))
            }
            Value::Array(items) => Ok(Template::Array(
                items.iter().map(Template::compile).collect::<Result<_, _>>()?,
            )),
            other => Ok(Template::Literal(other.clone())),
        }
    }

    pub fn eval(&self, env: &mut EvalEnv<'_>) -> Result<Value, StatesError> {
        match self {
            Template::Literal(v) => Ok(v.clone()),
            Template::Array(items) => Ok(Value::Array(
                items.iter().map(|t| t.eval(env)).collect::<Result<_, _>>()?,
            )),
            Template::Object(fields) => {
                let mut out = Map::new();
                for (name, field) in fields {
                    let value = match field {
                        Field::Static(t) => t.eval(env)?,
                        Field::Dynamic { key, source } => source.eval(env, key)?,
                    };
                    out.insert(name.clone(), value);
                }
                Ok(Value::Object(out))
            }
        }
    }

    /// The top-level static value of `name`, or the dynamic source of
    /// `name.$`, if the template is an object.
    pub fn field(&self, name: &str) -> Option<&Field> {
        match self {
            Template::Object(fields) => fields.iter().find(|(n, _)| n == name).map(|(_, f)| f),
            _ => None,
        }
    }

    /// Top-level field names as written (with `.$` where dynamic).
    pub fn keys(&self) -> Vec<String> {
        match self {
            Template::Object(fields) => fields
                .iter()
                .map(|(n, f)| match f {
                    Field::Dynamic { key, .. } => key.clone(),
                    Field::Static(_) => n.clone(),
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Does the template read `$$.Task.Token` anywhere?
    pub fn reads_task_token(&self) -> bool {
        match self {
            Template::Literal(_) => false,
            Template::Array(items) => items.iter().any(Template::reads_task_token),
            Template::Object(fields) => fields.iter().any(|(_, f)| match f {
                Field::Static(t) => t.reads_task_token(),
                Field::Dynamic { source, .. } => source.reads_task_token(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use serde_json::json;

    use super::*;

    #[test]
    fn nested_templates() {
        let t = Template::compile(&json!({
            "static": {"keep": "$.not-a-path"},
            "id.$": "$.id",
            "exec.$": "$$.Execution.Name",
            "list": [{"x.$": "$.id"}, 1],
            "msg.$": "States.Format('#{}', $.id)"
        }))
        .unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let input = json!({"id": 7});
        let ctx = json!({"Execution": {"Name": "e"}});
        let out = t
            .eval(&mut EvalEnv {
                input: &input,
                context: &ctx,
                rng: &mut rng,
            })
            .unwrap();
        assert_eq!(
            out,
            json!({
                "static": {"keep": "$.not-a-path"},
                "id": 7,
                "exec": "e",
                "list": [{"x": 7}, 1],
                "msg": "#7"
            })
        );
    }

    #[test]
    fn missing_path_is_runtime_error() {
        let t = Template::compile(&json!({"address.$": "$.application.address"})).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let input = json!({"flagged": false});
        let err = t
            .eval(&mut EvalEnv {
                input: &input,
                context: &json!({}),
                rng: &mut rng,
            })
            .unwrap_err();
        assert_eq!(err.error, "States.Runtime");
        assert!(err.cause.unwrap().contains("'address.$'"));
    }

    #[test]
    fn compile_errors() {
        assert!(Template::compile(&json!({"a.$": 1})).is_err());
        assert!(Template::compile(&json!({"a.$": "plain"})).is_err());
        assert!(Template::compile(&json!({"a.$": "$..["})).is_err());
    }
}
