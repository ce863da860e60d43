//! The states other than Task: Pass, Wait (on the execution's clock,
//! virtual or real), Choice, Succeed and Fail; and the `InputPath`,
//! `ResultPath` and `OutputPath` processing every state shares.

use jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Value};

use super::interp::{Interp, Step};
use super::retry::Attempted;
use crate::definition::{IoPath, ResultPath, State, StateKind, Text, WaitFor};
use crate::error::{StatesError, names};
use crate::intrinsic::EvalEnv;
use crate::path::type_name;

pub(super) fn apply_io_path(value: &Value, path: &IoPath, field: &str) -> Result<Value, StatesError> {
    match path {
        IoPath::Identity => Ok(value.clone()),
        IoPath::Null => Ok(Value::Object(Map::new())),
        IoPath::Path(p) => p.select(value).ok_or_else(|| {
            StatesError::runtime(format!(
                "Invalid path '{p}' : The {field} could not be found in the input '{value}'"
            ))
        }),
    }
}

pub(super) fn apply_result_path(raw: &Value, path: &ResultPath, result: Value) -> Result<Value, StatesError> {
    match path {
        ResultPath::Discard => Ok(raw.clone()),
        ResultPath::Path(p) if p.is_root() => Ok(result),
        ResultPath::Path(p) => {
            let mut out = raw.clone();
            p.set(&mut out, result).map_err(|e| {
                StatesError::new(
                    names::RESULT_PATH_MATCH_FAILURE,
                    format!("Unable to apply ResultPath '{p}' to input '{raw}': {e}"),
                )
            })?;
            Ok(out)
        }
    }
}

impl Interp {
    pub(super) async fn run_state(
        &mut self,
        state: &State,
        raw: &Value,
        entered: Timestamp,
    ) -> Result<Step, StatesError> {
        match &state.kind {
            StateKind::Pass(p) => {
                let effective = apply_io_path(raw, &p.input_path, "InputPath")?;
                let result = match (&p.result, &p.parameters) {
                    (Some(r), _) => r.clone(),
                    (None, Some(t)) => {
                        let ctx = self.context(&state.name, entered, 0, None);
                        t.eval(&mut EvalEnv {
                            input: &effective,
                            context: &ctx,
                            rng: &mut self.rng,
                        })?
                    }
                    (None, None) => effective,
                };
                let output = apply_result_path(raw, &p.result_path, result)?;
                let output = apply_io_path(&output, &p.output_path, "OutputPath")?;
                Ok(Self::finish(&p.transition, output))
            }
            StateKind::Wait(w) => {
                let effective = apply_io_path(raw, &w.input_path, "InputPath")?;
                let until = match &w.wait {
                    WaitFor::Seconds(s) => add_seconds(entered, *s),
                    WaitFor::SecondsPath(p) => {
                        let v = p.select(&effective);
                        match v.as_ref().and_then(Value::as_u64) {
                            Some(s) => add_seconds(entered, s),
                            None => {
                                return Err(StatesError::runtime(format!(
                                    "The SecondsPath parameter does not reference a valid non-negative integer: '{p}' is {}",
                                    v.map_or("missing".to_owned(), |v| v.to_string())
                                )));
                            }
                        }
                    }
                    WaitFor::Timestamp(t) => *t,
                    WaitFor::TimestampPath(p) => {
                        let v = p.select(&effective);
                        match v
                            .as_ref()
                            .and_then(Value::as_str)
                            .and_then(crate::choice::parse_timestamp)
                        {
                            Some(t) => t,
                            None => {
                                return Err(StatesError::runtime(format!(
                                    "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: '{p}' is {}",
                                    v.map_or("missing".to_owned(), |v| v.to_string())
                                )));
                            }
                        }
                    }
                };
                let flags = self.ex.flags.clone();
                flags.idle(flags.sleep_until(until)).await;
                let output = apply_io_path(&effective, &w.output_path, "OutputPath")?;
                Ok(Self::finish(&w.transition, output))
            }
            StateKind::Choice(c) => {
                let effective = apply_io_path(raw, &c.input_path, "InputPath")?;
                let ctx = self.context(&state.name, entered, 0, None);
                let mut next = None;
                for (rule, target) in &c.choices {
                    if rule.eval(&effective, &ctx)? {
                        next = Some(target.clone());
                        break;
                    }
                }
                let Some(next) = next.or_else(|| c.default.clone()) else {
                    return Err(StatesError::new(names::NO_CHOICE_MATCHED, "No Matches!"));
                };
                let output = apply_io_path(&effective, &c.output_path, "OutputPath")?;
                Ok(Step::Next { output, next })
            }
            StateKind::Succeed(s) => {
                let effective = apply_io_path(raw, &s.input_path, "InputPath")?;
                let output = apply_io_path(&effective, &s.output_path, "OutputPath")?;
                Ok(Step::End { output })
            }
            StateKind::Fail(f) => {
                let ctx = self.context(&state.name, entered, 0, None);
                let error = self.fail_text(f.error.as_ref(), raw, &ctx, "ErrorPath")?;
                let cause = self.fail_text(f.cause.as_ref(), raw, &ctx, "CausePath")?;
                Ok(Step::Fail { error, cause })
            }
            StateKind::Task(task) => {
                self.run_retrying(state, Attempted::Task(task), raw, entered)
                    .await
            }
            StateKind::Map(map) => self.run_retrying(state, Attempted::Map(map), raw, entered).await,
        }
    }

    fn fail_text(
        &mut self,
        text: Option<&Text>,
        raw: &Value,
        ctx: &Value,
        field: &str,
    ) -> Result<Option<String>, StatesError> {
        match text {
            None => Ok(None),
            Some(Text::Literal(s)) => Ok(Some(s.clone())),
            Some(Text::Dynamic(source)) => {
                let v = source.eval(
                    &mut EvalEnv {
                        input: raw,
                        context: ctx,
                        rng: &mut self.rng,
                    },
                    field,
                )?;
                match v {
                    Value::String(s) => Ok(Some(s)),
                    other => Err(StatesError::runtime(format!(
                        "The {field} '{}' must resolve to a string, not a {}",
                        source.text(),
                        type_name(&other)
                    ))),
                }
            }
        }
    }
}

pub(super) fn add_seconds(t: Timestamp, seconds: u64) -> Timestamp {
    t.checked_add(SignedDuration::from_secs(
        i64::try_from(seconds).unwrap_or(i64::MAX),
    ))
    .unwrap_or(Timestamp::MAX)
}
