//! Loading and validating a state machine definition.
//!
//! Everything the runner does not implement is refused here, loudly, with the
//! state and field named: a definition either runs with the semantics Step
//! Functions gives it or does not load.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use jiff::Timestamp;
use serde_json::{Map, Value};

use crate::choice::{Rule, parse_timestamp};
use crate::error::names;
use crate::path::{Path, ReferencePath};
use crate::template::{Field, Source, Template};

/// Why a definition did not load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    #[error("the definition is not valid JSON: {0}")]
    Json(String),
    #[error("the definition uses the placeholder '${{{0}}}' but no substitution was given for it")]
    MissingSubstitution(String),
    #[error("{location}: '{field}' is not supported by the local runner{}", reason_suffix(.reason))]
    Unsupported {
        location: String,
        field: String,
        reason: String,
    },
    #[error("{location}: unknown field '{field}'")]
    UnknownField { location: String, field: String },
    #[error("{location}: {message}")]
    Invalid { location: String, message: String },
}

fn reason_suffix(reason: &str) -> String {
    if reason.is_empty() {
        String::new()
    } else {
        format!(" ({reason})")
    }
}

fn invalid(location: &str, message: impl Into<String>) -> LoadError {
    LoadError::Invalid {
        location: location.to_owned(),
        message: message.into(),
    }
}

/// `InputPath` / `OutputPath`: absent means `$`, `null` means `{}`.
#[derive(Debug, Clone, PartialEq)]
pub enum IoPath {
    Identity,
    Null,
    Path(Path),
}

/// `ResultPath`: absent means `$`, `null` means "discard the result".
#[derive(Debug, Clone, PartialEq)]
pub enum ResultPath {
    Discard,
    Path(ReferencePath),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    Next(String),
    End,
}

/// A number of seconds, written or read from the input.
#[derive(Debug, Clone, PartialEq)]
pub enum Seconds {
    Fixed(u64),
    Path(Path),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    None,
    Full,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Retrier {
    pub error_equals: Vec<String>,
    pub interval_seconds: u64,
    pub max_attempts: u64,
    pub backoff_rate: f64,
    pub max_delay_seconds: Option<u64>,
    pub jitter: Jitter,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Catcher {
    pub error_equals: Vec<String>,
    pub next: String,
    pub result_path: ResultPath,
}

/// How a Task's `Resource` is dispatched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// `arn:aws:lambda:REGION:ACCOUNT:function:NAME`: the effective
    /// parameters are the payload and the function's result is the result.
    LambdaFunction { arn: String, function_name: String },
    /// `arn:aws:states:::lambda:invoke[.waitForTaskToken]`.
    LambdaInvoke { wait_for_task_token: bool },
    /// Any other `arn:aws:states:::SERVICE:ACTION[.waitForTaskToken]`; the
    /// invoker receives the resource (without the suffix) and the parameters.
    Service {
        resource: String,
        wait_for_task_token: bool,
    },
}

impl Resource {
    pub fn waits_for_task_token(&self) -> bool {
        match self {
            Resource::LambdaFunction { .. } => false,
            Resource::LambdaInvoke { wait_for_task_token }
            | Resource::Service {
                wait_for_task_token, ..
            } => *wait_for_task_token,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TaskState {
    pub resource: Resource,
    /// The `Resource` string as written.
    pub resource_text: String,
    pub input_path: IoPath,
    pub parameters: Option<Template>,
    pub result_selector: Option<Template>,
    pub result_path: ResultPath,
    pub output_path: IoPath,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
    pub timeout: Option<Seconds>,
    pub heartbeat: Option<Seconds>,
    pub transition: Transition,
}

/// How a Map state runs its iterations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapMode {
    /// In the execution itself, one iteration after another.
    Inline,
    /// As child executions of the processor (a Map Run).
    Distributed { express: bool },
}

/// `ItemReader`: where a Distributed Map reads its items.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemReader {
    /// `arn:aws:states:::s3:listObjectsV2` (the one reader implemented).
    pub resource: String,
    pub parameters: Option<Template>,
    /// `ReaderConfig.MaxItems`.
    pub max_items: Option<u64>,
}

/// `ItemBatcher`: items grouped into `{"Items": [...], "BatchInput": ...}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemBatcher {
    pub max_items: Option<u64>,
    pub max_bytes: Option<u64>,
    pub batch_input: Option<Template>,
}

/// A Map state, inline or distributed.
#[derive(Debug, Clone)]
pub struct MapState {
    pub input_path: IoPath,
    /// `ItemsPath` (the effective input itself when absent).
    pub items_path: Option<Path>,
    /// `ItemSelector` (or the legacy `Parameters`).
    pub item_selector: Option<Template>,
    /// `ItemProcessor` (or the legacy `Iterator`): the states each item runs.
    pub processor: Arc<StateMachine>,
    pub mode: MapMode,
    pub label: Option<String>,
    /// 0: no bound.
    pub max_concurrency: u64,
    pub item_reader: Option<ItemReader>,
    pub item_batcher: Option<ItemBatcher>,
    pub tolerated_failure_percentage: Option<f64>,
    pub tolerated_failure_count: Option<u64>,
    /// `ResultWriter.Parameters` (`Bucket`, `Prefix`).
    pub result_writer: Option<Template>,
    pub result_selector: Option<Template>,
    pub result_path: ResultPath,
    pub output_path: IoPath,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
    pub transition: Transition,
}

impl PartialEq for MapState {
    fn eq(&self, other: &Self) -> bool {
        self.processor.definition() == other.processor.definition()
            && self.mode == other.mode
            && self.transition == other.transition
            && self.items_path == other.items_path
            && self.max_concurrency == other.max_concurrency
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PassState {
    pub input_path: IoPath,
    pub parameters: Option<Template>,
    pub result: Option<Value>,
    pub result_path: ResultPath,
    pub output_path: IoPath,
    pub transition: Transition,
}

#[derive(Debug, Clone, PartialEq)]
pub enum WaitFor {
    Seconds(u64),
    SecondsPath(Path),
    Timestamp(Timestamp),
    TimestampPath(Path),
}

#[derive(Debug, Clone, PartialEq)]
pub struct WaitState {
    pub wait: WaitFor,
    pub input_path: IoPath,
    pub output_path: IoPath,
    pub transition: Transition,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChoiceState {
    pub choices: Vec<(Rule, String)>,
    pub default: Option<String>,
    pub input_path: IoPath,
    pub output_path: IoPath,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SucceedState {
    pub input_path: IoPath,
    pub output_path: IoPath,
}

/// A literal string or one computed from the state input.
#[derive(Debug, Clone, PartialEq)]
pub enum Text {
    Literal(String),
    Dynamic(Source),
}

#[derive(Debug, Clone, PartialEq)]
pub struct FailState {
    pub error: Option<Text>,
    pub cause: Option<Text>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StateKind {
    Task(Box<TaskState>),
    Map(Box<MapState>),
    Pass(PassState),
    Wait(WaitState),
    Choice(ChoiceState),
    Succeed(SucceedState),
    Fail(FailState),
}

impl StateKind {
    /// The `Type` as written in ASL ("Task", "Pass", ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            StateKind::Task(_) => "Task",
            StateKind::Map(_) => "Map",
            StateKind::Pass(_) => "Pass",
            StateKind::Wait(_) => "Wait",
            StateKind::Choice(_) => "Choice",
            StateKind::Succeed(_) => "Succeed",
            StateKind::Fail(_) => "Fail",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub name: String,
    pub kind: StateKind,
}

impl State {
    fn targets(&self) -> Vec<&str> {
        fn next(t: &Transition) -> Option<&str> {
            match t {
                Transition::Next(n) => Some(n.as_str()),
                Transition::End => None,
            }
        }
        let mut out = Vec::new();
        match &self.kind {
            StateKind::Task(t) => {
                out.extend(next(&t.transition));
                out.extend(t.catch.iter().map(|c| c.next.as_str()));
            }
            StateKind::Map(m) => {
                out.extend(next(&m.transition));
                out.extend(m.catch.iter().map(|c| c.next.as_str()));
            }
            StateKind::Pass(p) => out.extend(next(&p.transition)),
            StateKind::Wait(w) => out.extend(next(&w.transition)),
            StateKind::Choice(c) => {
                out.extend(c.choices.iter().map(|(_, n)| n.as_str()));
                out.extend(c.default.as_deref());
            }
            StateKind::Succeed(_) | StateKind::Fail(_) => {}
        }
        out
    }

    fn is_terminal(&self) -> bool {
        match &self.kind {
            StateKind::Task(t) => t.transition == Transition::End,
            StateKind::Map(m) => m.transition == Transition::End,
            StateKind::Pass(p) => p.transition == Transition::End,
            StateKind::Wait(w) => w.transition == Transition::End,
            StateKind::Choice(_) => false,
            StateKind::Succeed(_) | StateKind::Fail(_) => true,
        }
    }
}

/// A loaded, validated state machine.
#[derive(Debug, Clone)]
pub struct StateMachine {
    name: String,
    start_at: String,
    states: BTreeMap<String, State>,
    timeout_seconds: Option<u64>,
    definition: Value,
}

/// Fields of ASL (or of Step Functions) that this runner does not implement.
const UNSUPPORTED_FIELDS: &[(&str, &str)] = &[
    ("Credentials", "cross-account task credentials"),
    ("Assign", "workflow variables"),
    ("Arguments", "JSONata"),
    ("Output", "JSONata"),
    ("Items", "JSONata Map items"),
    (
        "MaxConcurrencyPath",
        "Map state (a fixed MaxConcurrency is implemented)",
    ),
    (
        "ToleratedFailurePercentagePath",
        "Map state (a fixed share is implemented)",
    ),
    (
        "ToleratedFailureCountPath",
        "Map state (a fixed count is implemented)",
    ),
    ("Branches", "Parallel state"),
];

/// Reads the fields of one JSON object, remembering which were read, so that
/// the rest can be refused.
struct Fields<'a> {
    location: String,
    map: &'a Map<String, Value>,
    used: BTreeSet<&'a str>,
}

impl<'a> Fields<'a> {
    fn new(location: String, map: &'a Map<String, Value>) -> Self {
        Self {
            location,
            map,
            used: BTreeSet::new(),
        }
    }

    fn get(&mut self, key: &str) -> Option<&'a Value> {
        let (k, v) = self.map.get_key_value(key)?;
        self.used.insert(k.as_str());
        Some(v)
    }

    fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    fn err(&self, message: impl Into<String>) -> LoadError {
        invalid(&self.location, message)
    }

    fn string(&mut self, key: &str) -> Result<Option<&'a str>, LoadError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.err(format!("'{key}' must be a string, not {other}"))),
        }
    }

    fn required_string(&mut self, key: &str) -> Result<&'a str, LoadError> {
        self.string(key)?
            .ok_or_else(|| self.err(format!("'{key}' is required")))
    }

    /// A non-negative integer within `min..=max`.
    fn integer(&mut self, key: &str, min: u64, max: u64) -> Result<Option<u64>, LoadError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => match v.as_u64() {
                Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
                _ => Err(self.err(format!("'{key}' must be an integer from {min} to {max}, not {v}"))),
            },
        }
    }

    fn path_string(&mut self, key: &str) -> Result<Option<Path>, LoadError> {
        match self.string(key)? {
            None => Ok(None),
            Some(text) => Path::parse(text)
                .map(Some)
                .map_err(|e| self.err(format!("'{key}': {e}"))),
        }
    }

    fn io_path(&mut self, key: &str) -> Result<IoPath, LoadError> {
        match self.get(key) {
            None => Ok(IoPath::Identity),
            Some(Value::Null) => Ok(IoPath::Null),
            Some(Value::String(text)) => {
                if text.starts_with("$$") {
                    return Err(self.err(format!("'{key}' may not refer to the context object")));
                }
                Path::parse(text)
                    .map(IoPath::Path)
                    .map_err(|e| self.err(format!("'{key}': {e}")))
            }
            Some(other) => Err(self.err(format!("'{key}' must be a path or null, not {other}"))),
        }
    }

    fn result_path(&mut self, key: &str) -> Result<ResultPath, LoadError> {
        match self.get(key) {
            None => Ok(ResultPath::Path(ReferencePath::root())),
            Some(Value::Null) => Ok(ResultPath::Discard),
            Some(Value::String(text)) => ReferencePath::parse(text)
                .map(ResultPath::Path)
                .map_err(|e| self.err(format!("'{key}': {e}"))),
            Some(other) => Err(self.err(format!("'{key}' must be a reference path or null, not {other}"))),
        }
    }

    fn template(&mut self, key: &str) -> Result<Option<Template>, LoadError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => Template::compile(v)
                .map(Some)
                .map_err(|e| self.err(format!("'{key}': {e}"))),
        }
    }

    fn seconds(&mut self, key: &str, path_key: &str) -> Result<Option<Seconds>, LoadError> {
        if self.has(key) && self.has(path_key) {
            return Err(self.err(format!("'{key}' and '{path_key}' are mutually exclusive")));
        }
        if let Some(n) = self.integer(key, 1, MAX_SECONDS)? {
            return Ok(Some(Seconds::Fixed(n)));
        }
        Ok(self.path_string(path_key)?.map(Seconds::Path))
    }

    fn transition(&mut self) -> Result<Transition, LoadError> {
        let next = self.string("Next")?;
        let end = self.get("End");
        match (next, end) {
            (Some(n), None) => Ok(Transition::Next(n.to_owned())),
            (None, Some(Value::Bool(true))) => Ok(Transition::End),
            (None, Some(other)) => Err(self.err(format!("'End' must be true, not {other}"))),
            (Some(_), Some(_)) => Err(self.err("'Next' and 'End' are mutually exclusive")),
            (None, None) => Err(self.err("a non-terminal state needs 'Next' or 'End': true")),
        }
    }

    fn query_language(&mut self) -> Result<(), LoadError> {
        match self.get("QueryLanguage") {
            None => Ok(()),
            Some(Value::String(s)) if s == "JSONPath" => Ok(()),
            Some(other) => Err(LoadError::Unsupported {
                location: self.location.clone(),
                field: format!("QueryLanguage: {other}"),
                reason: "only JSONPath is implemented".into(),
            }),
        }
    }

    /// Refuses every field that was not read.
    fn finish(self) -> Result<(), LoadError> {
        for key in self.map.keys() {
            if self.used.contains(key.as_str()) {
                continue;
            }
            if let Some((_, reason)) = UNSUPPORTED_FIELDS.iter().find(|(f, _)| f == key) {
                return Err(LoadError::Unsupported {
                    location: self.location,
                    field: key.clone(),
                    reason: (*reason).to_owned(),
                });
            }
            return Err(LoadError::UnknownField {
                location: self.location,
                field: key.clone(),
            });
        }
        Ok(())
    }
}

/// The largest number of seconds ASL accepts for waits and timeouts.
const MAX_SECONDS: u64 = 99_999_999;

impl StateMachine {
    /// Loads a definition: substitutes `${Name}` placeholders in strings (an
    /// unreplaced placeholder is an error), parses, and validates.
    pub fn load(
        definition_json: &str,
        substitutions: &BTreeMap<String, String>,
    ) -> Result<StateMachine, LoadError> {
        let raw: Value = serde_json::from_str(definition_json).map_err(|e| LoadError::Json(e.to_string()))?;
        let definition = substitute(raw, substitutions)?;
        StateMachine::from_object("top level", &definition)
    }

    /// A machine from a JSON object: the definition's top level, or a Map
    /// state's `ItemProcessor` (without its `ProcessorConfig`).
    fn from_object(location: &str, definition: &Value) -> Result<StateMachine, LoadError> {
        let Value::Object(top) = definition else {
            return Err(invalid(location, "the definition must be a JSON object"));
        };
        let mut fields = Fields::new(location.into(), top);
        fields.get("Comment");
        fields.get("Version");
        fields.query_language()?;
        let start_at = fields.required_string("StartAt")?.to_owned();
        let timeout_seconds = fields.integer("TimeoutSeconds", 1, MAX_SECONDS)?;
        let Some(Value::Object(state_map)) = fields.get("States") else {
            return Err(invalid(location, "'States' must be an object"));
        };
        fields.finish()?;
        if state_map.is_empty() {
            return Err(invalid(location, "'States' must not be empty"));
        }
        let mut states = BTreeMap::new();
        for (name, value) in state_map {
            let location = format!("state '{name}'");
            if name.is_empty() || name.chars().count() > 80 {
                return Err(invalid(&location, "state names must be 1 to 80 characters"));
            }
            let Value::Object(map) = value else {
                return Err(invalid(&location, "a state must be a JSON object"));
            };
            let kind = parse_state(&location, map)?;
            states.insert(
                name.clone(),
                State {
                    name: name.clone(),
                    kind,
                },
            );
        }
        let machine = StateMachine {
            name: "StateMachine".into(),
            start_at,
            states,
            timeout_seconds,
            definition: definition.clone(),
        };
        machine.validate_graph()?;
        Ok(machine)
    }

    /// Loads a definition file; the machine is named after the file
    /// (`statemachine/job.asl.json` → `export`).
    pub fn load_file(
        path: impl AsRef<std::path::Path>,
        substitutions: &BTreeMap<String, String>,
    ) -> Result<StateMachine, LoadError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| LoadError::Json(format!("cannot read {}: {e}", path.display())))?;
        let machine = StateMachine::load(&text, substitutions)?;
        let file = path
            .file_name()
            .and_then(|f| f.to_str())
            .unwrap_or("StateMachine");
        let stem = file
            .strip_suffix(".asl.json")
            .or_else(|| file.strip_suffix(".json"))
            .unwrap_or(file);
        Ok(machine.with_name(stem))
    }

    /// Sets the name used in ARNs and in `$$.StateMachine.Name`.
    pub fn with_name(mut self, name: impl Into<String>) -> StateMachine {
        self.name = name.into();
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn start_at(&self) -> &str {
        &self.start_at
    }

    pub fn state(&self, name: &str) -> Option<&State> {
        self.states.get(name)
    }

    pub fn states(&self) -> impl Iterator<Item = &State> {
        self.states.values()
    }

    /// The execution-level `TimeoutSeconds`, if any.
    pub fn timeout_seconds(&self) -> Option<u64> {
        self.timeout_seconds
    }

    /// The definition after substitution.
    pub fn definition(&self) -> &Value {
        &self.definition
    }

    /// Every Lambda function the definition names statically (for
    /// `lambda:invoke`, a literal `FunctionName`), as written.
    pub fn lambda_functions(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for state in self.states.values() {
            let StateKind::Task(task) = &state.kind else {
                continue;
            };
            match &task.resource {
                Resource::LambdaFunction { arn, .. } => {
                    out.insert(arn.clone());
                }
                Resource::LambdaInvoke { .. } => {
                    if let Some(Field::Static(Template::Literal(Value::String(name)))) =
                        task.parameters.as_ref().and_then(|p| p.field("FunctionName"))
                    {
                        out.insert(name.clone());
                    }
                }
                Resource::Service { .. } => {}
            }
        }
        out
    }

    fn validate_graph(&self) -> Result<(), LoadError> {
        if !self.states.contains_key(&self.start_at) {
            return Err(invalid(
                "top level",
                format!("StartAt names '{}', which is not a state", self.start_at),
            ));
        }
        for state in self.states.values() {
            for target in state.targets() {
                if !self.states.contains_key(target) {
                    return Err(invalid(
                        &format!("state '{}'", state.name),
                        format!("transition to '{target}', which is not a state"),
                    ));
                }
            }
        }
        let mut seen = BTreeSet::new();
        let mut queue = VecDeque::from([self.start_at.as_str()]);
        while let Some(name) = queue.pop_front() {
            if !seen.insert(name) {
                continue;
            }
            queue.extend(self.states[name].targets());
        }
        if let Some(unreachable) = self.states.keys().find(|n| !seen.contains(n.as_str())) {
            return Err(invalid(
                &format!("state '{unreachable}'"),
                "the state is not reachable from StartAt",
            ));
        }
        if !self.states.values().any(State::is_terminal) {
            return Err(invalid(
                "top level",
                "no terminal state (Succeed, Fail, or End: true)",
            ));
        }
        Ok(())
    }
}

fn substitute(value: Value, subs: &BTreeMap<String, String>) -> Result<Value, LoadError> {
    Ok(match value {
        Value::String(s) => Value::String(substitute_str(&s, subs)?),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| substitute(v, subs))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                out.insert(substitute_str(&k, subs)?, substitute(v, subs)?);
            }
            Value::Object(out)
        }
        other => other,
    })
}

fn substitute_str(text: &str, subs: &BTreeMap<String, String>) -> Result<String, LoadError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(LoadError::MissingSubstitution(after.to_owned()));
        };
        let name = &after[..end];
        let value = subs
            .get(name)
            .ok_or_else(|| LoadError::MissingSubstitution(name.to_owned()))?;
        out.push_str(value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn parse_state(location: &str, map: &Map<String, Value>) -> Result<StateKind, LoadError> {
    let mut f = Fields::new(location.to_owned(), map);
    let state_type = f.required_string("Type")?;
    f.get("Comment");
    f.query_language()?;
    let kind = match state_type {
        "Task" => StateKind::Task(Box::new(parse_task(&mut f)?)),
        "Pass" => StateKind::Pass(PassState {
            input_path: f.io_path("InputPath")?,
            parameters: f.template("Parameters")?,
            result: f.get("Result").cloned(),
            result_path: f.result_path("ResultPath")?,
            output_path: f.io_path("OutputPath")?,
            transition: f.transition()?,
        }),
        "Wait" => StateKind::Wait(parse_wait(&mut f)?),
        "Choice" => StateKind::Choice(parse_choice(&mut f)?),
        "Succeed" => StateKind::Succeed(SucceedState {
            input_path: f.io_path("InputPath")?,
            output_path: f.io_path("OutputPath")?,
        }),
        "Fail" => StateKind::Fail(FailState {
            error: text_field(&mut f, "Error", "ErrorPath")?,
            cause: text_field(&mut f, "Cause", "CausePath")?,
        }),
        "Map" => StateKind::Map(Box::new(parse_map(&mut f)?)),
        "Parallel" => {
            return Err(LoadError::Unsupported {
                location: location.to_owned(),
                field: format!("Type: {state_type}"),
                reason: "Parallel states are not implemented".into(),
            });
        }
        other => return Err(f.err(format!("unknown state type '{other}'"))),
    };
    if let StateKind::Pass(p) = &kind
        && p.result.is_some()
        && p.parameters.is_some()
    {
        return Err(f.err("'Result' and 'Parameters' are mutually exclusive"));
    }
    f.finish()?;
    Ok(kind)
}

fn text_field(f: &mut Fields<'_>, key: &str, path_key: &str) -> Result<Option<Text>, LoadError> {
    if f.has(key) && f.has(path_key) {
        return Err(f.err(format!("'{key}' and '{path_key}' are mutually exclusive")));
    }
    if let Some(text) = f.string(key)? {
        return Ok(Some(Text::Literal(text.to_owned())));
    }
    match f.string(path_key)? {
        None => Ok(None),
        Some(text) => Source::parse(text)
            .map(|s| Some(Text::Dynamic(s)))
            .map_err(|e| f.err(format!("'{path_key}': {e}"))),
    }
}

fn parse_wait(f: &mut Fields<'_>) -> Result<WaitState, LoadError> {
    let keys = ["Seconds", "SecondsPath", "Timestamp", "TimestampPath"];
    let present: Vec<&str> = keys.iter().copied().filter(|k| f.has(k)).collect();
    if present.len() != 1 {
        return Err(f.err(format!(
            "a Wait state needs exactly one of Seconds, SecondsPath, Timestamp, TimestampPath (found {present:?})"
        )));
    }
    let wait = match present[0] {
        "Seconds" => WaitFor::Seconds(f.integer("Seconds", 0, MAX_SECONDS)?.unwrap_or(0)),
        "SecondsPath" => WaitFor::SecondsPath(f.path_string("SecondsPath")?.expect("present")),
        "Timestamp" => {
            let text = f.required_string("Timestamp")?;
            WaitFor::Timestamp(
                parse_timestamp(text)
                    .ok_or_else(|| f.err(format!("'Timestamp' is not an RFC 3339 timestamp: '{text}'")))?,
            )
        }
        _ => WaitFor::TimestampPath(f.path_string("TimestampPath")?.expect("present")),
    };
    Ok(WaitState {
        wait,
        input_path: f.io_path("InputPath")?,
        output_path: f.io_path("OutputPath")?,
        transition: f.transition()?,
    })
}

fn parse_choice(f: &mut Fields<'_>) -> Result<ChoiceState, LoadError> {
    let Some(Value::Array(items)) = f.get("Choices") else {
        return Err(f.err("'Choices' must be a non-empty array"));
    };
    if items.is_empty() {
        return Err(f.err("'Choices' must be a non-empty array"));
    }
    let mut choices = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Value::Object(rule) = item else {
            return Err(f.err(format!("Choices[{i}] must be an object")));
        };
        let next = match rule.get("Next") {
            Some(Value::String(n)) => n.clone(),
            _ => return Err(f.err(format!("Choices[{i}] needs a 'Next' state name"))),
        };
        let parsed = Rule::parse(rule, true).map_err(|e| f.err(format!("Choices[{i}]: {e}")))?;
        choices.push((parsed, next));
    }
    if f.has("Next") || f.has("End") {
        return Err(f.err("a Choice state may not have 'Next' or 'End'"));
    }
    Ok(ChoiceState {
        choices,
        default: f.string("Default")?.map(str::to_owned),
        input_path: f.io_path("InputPath")?,
        output_path: f.io_path("OutputPath")?,
    })
}

fn parse_resource(f: &Fields<'_>, text: &str) -> Result<Resource, LoadError> {
    let parts: Vec<&str> = text.split(':').collect();
    let partition_ok = parts.len() > 2 && parts[0] == "arn" && parts[1].starts_with("aws");
    if partition_ok && parts[2] == "lambda" {
        if parts.len() >= 7 && parts.len() <= 8 && parts[5] == "function" && !parts[6].is_empty() {
            return Ok(Resource::LambdaFunction {
                arn: text.to_owned(),
                function_name: parts[6].to_owned(),
            });
        }
        return Err(f.err(format!("'{text}' is not a Lambda function ARN")));
    }
    if partition_ok && parts[2] == "states" && parts.len() >= 6 {
        if parts[5] == "activity" {
            return Err(LoadError::Unsupported {
                location: f.location.clone(),
                field: format!("Resource: {text}"),
                reason: "activities are not implemented".into(),
            });
        }
        if parts[3].is_empty() && parts[4].is_empty() && parts.len() >= 7 {
            let service = parts[5];
            let action = parts[6..].join(":");
            let (action, wait) = match action.strip_suffix(".waitForTaskToken") {
                Some(a) => (a.to_owned(), true),
                None => (action, false),
            };
            if action.contains(".sync") {
                return Err(LoadError::Unsupported {
                    location: f.location.clone(),
                    field: format!("Resource: {text}"),
                    reason: "the .sync (run a job) integration pattern is not implemented".into(),
                });
            }
            if service == "lambda" {
                if action != "invoke" {
                    return Err(LoadError::Unsupported {
                        location: f.location.clone(),
                        field: format!("Resource: {text}"),
                        reason: "of the Lambda integrations only lambda:invoke is implemented".into(),
                    });
                }
                return Ok(Resource::LambdaInvoke {
                    wait_for_task_token: wait,
                });
            }
            return Ok(Resource::Service {
                resource: format!("arn:{}:states:::{service}:{action}", parts[1]),
                wait_for_task_token: wait,
            });
        }
    }
    Err(f.err(format!(
        "'{text}' is not a Resource the runner can dispatch (a Lambda function ARN or arn:aws:states:::SERVICE:ACTION)"
    )))
}

fn parse_task(f: &mut Fields<'_>) -> Result<TaskState, LoadError> {
    let resource_text = f.required_string("Resource")?;
    let resource = parse_resource(f, resource_text)?;
    let parameters = f.template("Parameters")?;
    if matches!(resource, Resource::LambdaInvoke { .. }) {
        let Some(params @ Template::Object(_)) = &parameters else {
            return Err(f.err("lambda:invoke needs 'Parameters' with 'FunctionName'"));
        };
        if params.field("FunctionName").is_none() {
            return Err(f.err("lambda:invoke needs 'FunctionName' (or 'FunctionName.$') in 'Parameters'"));
        }
        for key in params.keys() {
            let bare = key.strip_suffix(".$").unwrap_or(&key);
            if !matches!(bare, "FunctionName" | "Payload") {
                return Err(LoadError::Unsupported {
                    location: f.location.clone(),
                    field: format!("Parameters.{key}"),
                    reason: "lambda:invoke takes only FunctionName and Payload here".into(),
                });
            }
        }
    }
    if resource.waits_for_task_token() && !parameters.as_ref().is_some_and(Template::reads_task_token) {
        return Err(f.err("a .waitForTaskToken task must pass '$$.Task.Token' somewhere in its 'Parameters'"));
    }
    let timeout = f.seconds("TimeoutSeconds", "TimeoutSecondsPath")?;
    let heartbeat = f.seconds("HeartbeatSeconds", "HeartbeatSecondsPath")?;
    if let (Some(Seconds::Fixed(t)), Some(Seconds::Fixed(h))) = (&timeout, &heartbeat)
        && h >= t
    {
        return Err(f.err("'HeartbeatSeconds' must be smaller than 'TimeoutSeconds'"));
    }
    let (retry, catch) = retry_and_catch(f)?;
    Ok(TaskState {
        resource,
        resource_text: resource_text.to_owned(),
        input_path: f.io_path("InputPath")?,
        parameters,
        result_selector: f.template("ResultSelector")?,
        result_path: f.result_path("ResultPath")?,
        output_path: f.io_path("OutputPath")?,
        retry,
        catch,
        timeout,
        heartbeat,
        transition: f.transition()?,
    })
}

/// A state's `Retry` and `Catch`.
fn retry_and_catch(f: &mut Fields<'_>) -> Result<(Vec<Retrier>, Vec<Catcher>), LoadError> {
    let retry = match f.get("Retry") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| parse_retrier(&format!("{} Retry[{i}]", f.location), v))
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err(f.err("'Retry' must be an array")),
    };
    check_error_lists(&f.location, "Retry", retry.iter().map(|r| &r.error_equals))?;
    let catch = match f.get("Catch") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| parse_catcher(&format!("{} Catch[{i}]", f.location), v))
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err(f.err("'Catch' must be an array")),
    };
    check_error_lists(&f.location, "Catch", catch.iter().map(|c| &c.error_equals))?;
    Ok((retry, catch))
}

/// The item readers this runner implements.
pub const LIST_OBJECTS_V2: &str = "arn:aws:states:::s3:listObjectsV2";
/// The result writer this runner implements.
pub const PUT_OBJECT: &str = "arn:aws:states:::s3:putObject";

fn parse_map(f: &mut Fields<'_>) -> Result<MapState, LoadError> {
    let location = f.location.clone();
    let processor_key = match (f.has("ItemProcessor"), f.has("Iterator")) {
        (true, false) => "ItemProcessor",
        (false, true) => "Iterator",
        _ => return Err(f.err("a Map state needs exactly one of 'ItemProcessor' and 'Iterator'")),
    };
    let Some(Value::Object(processor)) = f.get(processor_key) else {
        return Err(f.err(format!("'{processor_key}' must be an object")));
    };
    let mut processor = processor.clone();
    let mode = match processor.remove("ProcessorConfig") {
        None => MapMode::Inline,
        Some(Value::Object(config)) => {
            let mut c = Fields::new(format!("{location} ProcessorConfig"), &config);
            let mode = match c.string("Mode")?.unwrap_or("INLINE") {
                "INLINE" => MapMode::Inline,
                "DISTRIBUTED" => MapMode::Distributed {
                    express: match c.string("ExecutionType")? {
                        Some("EXPRESS") => true,
                        Some("STANDARD") => false,
                        Some(other) => {
                            return Err(c.err(format!(
                                "'ExecutionType' must be STANDARD or EXPRESS, not '{other}'"
                            )));
                        }
                        None => return Err(c.err("a DISTRIBUTED processor needs 'ExecutionType'")),
                    },
                },
                other => return Err(c.err(format!("'Mode' must be INLINE or DISTRIBUTED, not '{other}'"))),
            };
            c.finish()?;
            mode
        }
        Some(_) => return Err(f.err("'ProcessorConfig' must be an object")),
    };
    let processor =
        StateMachine::from_object(&format!("{location} {processor_key}"), &Value::Object(processor))?;
    let distributed = matches!(mode, MapMode::Distributed { .. });
    let item_reader = match f.get("ItemReader") {
        None => None,
        Some(Value::Object(reader)) => {
            let mut r = Fields::new(format!("{location} ItemReader"), reader);
            let resource = r.required_string("Resource")?.to_owned();
            if resource != LIST_OBJECTS_V2 {
                return Err(LoadError::Unsupported {
                    location: r.location.clone(),
                    field: format!("Resource: {resource}"),
                    reason: format!("the item reader implemented is {LIST_OBJECTS_V2}"),
                });
            }
            let parameters = r.template("Parameters")?;
            let max_items = match r.get("ReaderConfig") {
                None => None,
                Some(Value::Object(config)) => {
                    let mut c = Fields::new(format!("{location} ItemReader.ReaderConfig"), config);
                    let max = c.integer("MaxItems", 1, 100_000_000)?;
                    c.finish()?;
                    max
                }
                Some(_) => return Err(r.err("'ReaderConfig' must be an object")),
            };
            r.finish()?;
            Some(ItemReader {
                resource,
                parameters,
                max_items,
            })
        }
        Some(_) => return Err(f.err("'ItemReader' must be an object")),
    };
    let item_batcher = match f.get("ItemBatcher") {
        None => None,
        Some(Value::Object(batcher)) => {
            let mut b = Fields::new(format!("{location} ItemBatcher"), batcher);
            let batcher = ItemBatcher {
                max_items: b.integer("MaxItemsPerBatch", 1, 100_000_000)?,
                max_bytes: b.integer("MaxInputBytesPerBatch", 1, 256 * 1024)?,
                batch_input: b.template("BatchInput")?,
            };
            if batcher.max_items.is_none() && batcher.max_bytes.is_none() {
                return Err(b.err("an ItemBatcher needs MaxItemsPerBatch or MaxInputBytesPerBatch"));
            }
            b.finish()?;
            Some(batcher)
        }
        Some(_) => return Err(f.err("'ItemBatcher' must be an object")),
    };
    let result_writer = match f.get("ResultWriter") {
        None => None,
        Some(Value::Object(writer)) => {
            let mut w = Fields::new(format!("{location} ResultWriter"), writer);
            let resource = w.required_string("Resource")?;
            if resource != PUT_OBJECT {
                return Err(w.err(format!("'Resource' must be {PUT_OBJECT}")));
            }
            let parameters = w.template("Parameters")?;
            w.finish()?;
            Some(parameters.ok_or_else(|| f.err("a ResultWriter needs 'Parameters' (Bucket, Prefix)"))?)
        }
        Some(_) => return Err(f.err("'ResultWriter' must be an object")),
    };
    let tolerated_failure_percentage = match f.get("ToleratedFailurePercentage") {
        None => None,
        Some(Value::Number(n)) => match n.as_f64() {
            Some(share) if (0.0..=100.0).contains(&share) => Some(share),
            _ => return Err(f.err("'ToleratedFailurePercentage' must be a number from 0 to 100")),
        },
        Some(_) => return Err(f.err("'ToleratedFailurePercentage' must be a number from 0 to 100")),
    };
    if !distributed && (item_reader.is_some() || item_batcher.is_some() || result_writer.is_some()) {
        return Err(f.err("ItemReader, ItemBatcher and ResultWriter need a DISTRIBUTED ItemProcessor"));
    }
    let selector_key = match (f.has("ItemSelector"), f.has("Parameters")) {
        (true, true) => return Err(f.err("'ItemSelector' and 'Parameters' are mutually exclusive")),
        (false, true) => "Parameters",
        _ => "ItemSelector",
    };
    let (retry, catch) = retry_and_catch(f)?;
    Ok(MapState {
        input_path: f.io_path("InputPath")?,
        items_path: f.path_string("ItemsPath")?,
        item_selector: f.template(selector_key)?,
        processor: Arc::new(processor),
        mode,
        label: f.string("Label")?.map(str::to_owned),
        max_concurrency: f.integer("MaxConcurrency", 0, 100_000_000)?.unwrap_or(0),
        item_reader,
        item_batcher,
        tolerated_failure_percentage,
        tolerated_failure_count: f.integer("ToleratedFailureCount", 0, 100_000_000)?,
        result_writer,
        result_selector: f.template("ResultSelector")?,
        result_path: f.result_path("ResultPath")?,
        output_path: f.io_path("OutputPath")?,
        retry,
        catch,
        transition: f.transition()?,
    })
}

fn error_equals(f: &mut Fields<'_>) -> Result<Vec<String>, LoadError> {
    let Some(Value::Array(items)) = f.get("ErrorEquals") else {
        return Err(f.err("'ErrorEquals' must be a non-empty array of error names"));
    };
    if items.is_empty() {
        return Err(f.err("'ErrorEquals' must be a non-empty array of error names"));
    }
    let mut out = Vec::new();
    for item in items {
        let Value::String(name) = item else {
            return Err(f.err("'ErrorEquals' must hold strings"));
        };
        if name.starts_with("States.") && !names::KNOWN.contains(&name.as_str()) {
            return Err(f.err(format!("'{name}' is not a predefined error name")));
        }
        if name.is_empty() {
            return Err(f.err("an error name must not be empty"));
        }
        out.push(name.clone());
    }
    if out.iter().any(|n| n == names::ALL) && out.len() != 1 {
        return Err(f.err("'States.ALL' must appear alone in its 'ErrorEquals'"));
    }
    Ok(out)
}

fn check_error_lists<'a>(
    location: &str,
    field: &str,
    lists: impl Iterator<Item = &'a Vec<String>>,
) -> Result<(), LoadError> {
    let lists: Vec<_> = lists.collect();
    for (i, list) in lists.iter().enumerate() {
        if list.iter().any(|n| n == names::ALL) && i + 1 != lists.len() {
            return Err(invalid(
                location,
                format!("{field}[{i}] lists 'States.ALL', so it must be the last entry of '{field}'"),
            ));
        }
    }
    Ok(())
}

fn parse_retrier(location: &str, value: &Value) -> Result<Retrier, LoadError> {
    let Value::Object(map) = value else {
        return Err(invalid(location, "a Retrier must be an object"));
    };
    let mut f = Fields::new(location.to_owned(), map);
    f.get("Comment");
    let error_equals = error_equals(&mut f)?;
    let interval_seconds = f.integer("IntervalSeconds", 1, MAX_SECONDS)?.unwrap_or(1);
    let max_attempts = f.integer("MaxAttempts", 0, MAX_SECONDS)?.unwrap_or(3);
    let backoff_rate = match f.get("BackoffRate") {
        None => 2.0,
        Some(v) => match v.as_f64() {
            Some(r) if r >= 1.0 && r.is_finite() => r,
            _ => return Err(f.err(format!("'BackoffRate' must be a number >= 1.0, not {v}"))),
        },
    };
    let max_delay_seconds = f.integer("MaxDelaySeconds", 1, 31_622_400)?;
    let jitter = match f.string("JitterStrategy")? {
        None | Some("NONE") => Jitter::None,
        Some("FULL") => Jitter::Full,
        Some(other) => {
            return Err(f.err(format!("'JitterStrategy' must be FULL or NONE, not '{other}'")));
        }
    };
    f.finish()?;
    Ok(Retrier {
        error_equals,
        interval_seconds,
        max_attempts,
        backoff_rate,
        max_delay_seconds,
        jitter,
    })
}

fn parse_catcher(location: &str, value: &Value) -> Result<Catcher, LoadError> {
    let Value::Object(map) = value else {
        return Err(invalid(location, "a Catcher must be an object"));
    };
    let mut f = Fields::new(location.to_owned(), map);
    f.get("Comment");
    let error_equals = error_equals(&mut f)?;
    let next = f.required_string("Next")?.to_owned();
    let result_path = f.result_path("ResultPath")?;
    f.finish()?;
    Ok(Catcher {
        error_equals,
        next,
        result_path,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn load(v: Value) -> Result<StateMachine, LoadError> {
        StateMachine::load(&v.to_string(), &BTreeMap::new())
    }

    fn pass_machine(extra: Value) -> Value {
        let mut state = json!({"Type": "Pass", "End": true});
        for (k, v) in extra.as_object().unwrap() {
            state[k] = v.clone();
        }
        json!({"StartAt": "A", "States": {"A": state}})
    }

    #[test]
    fn substitutions() {
        let def = r#"{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"${Fn}","End":true}}}"#;
        let subs = BTreeMap::from([(
            "Fn".to_owned(),
            "arn:aws:lambda:us-east-1:123456789012:function:start-job".to_owned(),
        )]);
        let m = StateMachine::load(def, &subs).unwrap();
        assert_eq!(
            m.lambda_functions().into_iter().collect::<Vec<_>>(),
            vec!["arn:aws:lambda:us-east-1:123456789012:function:start-job"]
        );
        let err = StateMachine::load(def, &BTreeMap::new()).unwrap_err();
        assert_eq!(err, LoadError::MissingSubstitution("Fn".into()));
        assert!(err.to_string().contains("${Fn}"));
    }

    #[test]
    fn refuses_unknown_and_unsupported_fields() {
        let err = load(pass_machine(json!({"Bogus": 1}))).unwrap_err();
        assert_eq!(
            err,
            LoadError::UnknownField {
                location: "state 'A'".into(),
                field: "Bogus".into()
            }
        );
        let err = load(pass_machine(json!({"Assign": {"x": 1}}))).unwrap_err();
        assert!(
            matches!(err, LoadError::Unsupported { ref field, .. } if field == "Assign"),
            "{err}"
        );
        let err = load(pass_machine(json!({"QueryLanguage": "JSONata"}))).unwrap_err();
        assert!(matches!(err, LoadError::Unsupported { .. }), "{err}");
        // Fields that exist in ASL but not on this state type.
        let err = load(pass_machine(json!({"Retry": []}))).unwrap_err();
        assert!(matches!(err, LoadError::UnknownField { ref field, .. } if field == "Retry"));
        let err = load(json!({"StartAt": "A", "States": {"A": {
            "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f",
            "Credentials": {"RoleArn": "x"}, "End": true}}}))
        .unwrap_err();
        assert!(err.to_string().contains("Credentials"), "{err}");
        let err =
            load(json!({"StartAt": "A", "States": {"A": {"Type": "Parallel", "End": true}}})).unwrap_err();
        assert!(matches!(err, LoadError::Unsupported { .. }), "{err}");
        // A Map needs its processor; reader, batcher and writer need a distributed one.
        let err = load(json!({"StartAt": "A", "States": {"A": {"Type": "Map", "End": true}}})).unwrap_err();
        assert!(err.to_string().contains("ItemProcessor"), "{err}");
        let processor = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
        let err = load(
            json!({"StartAt": "A", "States": {"A": {"Type": "Map", "ItemProcessor": processor,
            "ItemBatcher": {"MaxItemsPerBatch": 2}, "End": true}}}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("DISTRIBUTED"), "{err}");
        let err = load(json!({"StartAt": "A", "States": {"A": {"Type": "Map",
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED"}, "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
            "End": true}}}))
        .unwrap_err();
        assert!(err.to_string().contains("ExecutionType"), "{err}");
        let err = load(
            json!({"StartAt": "A", "States": {"A": {"Type": "Map", "ItemProcessor": processor,
            "ToleratedFailurePercentage": 101, "End": true}}}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("ToleratedFailurePercentage"), "{err}");
        let err = load(json!({"StartAt": "A", "States": {"A": {"Type": "Map",
            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "Next": "Nowhere"}}}, "End": true}}}))
        .unwrap_err();
        assert!(
            err.to_string().contains("Nowhere"),
            "the processor's graph is checked: {err}"
        );
        let err =
            load(json!({"StartAt": "A", "Extra": 1, "States": {"A": {"Type": "Succeed"}}})).unwrap_err();
        assert!(matches!(err, LoadError::UnknownField { .. }));
    }

    #[test]
    fn graph_validation() {
        assert!(load(json!({"StartAt": "Nope", "States": {"A": {"Type": "Succeed"}}})).is_err());
        let err = load(json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "Missing"}}}))
        .unwrap_err();
        assert!(err.to_string().contains("Missing"));
        let err = load(json!({"StartAt": "A", "States": {
            "A": {"Type": "Succeed"}, "Orphan": {"Type": "Succeed"}}}))
        .unwrap_err();
        assert!(err.to_string().contains("not reachable"), "{err}");
        let err = load(json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}}}))
        .unwrap_err();
        assert!(err.to_string().contains("terminal"), "{err}");
        assert!(load(json!({"StartAt": "A", "States": {"A": {"Type": "Pass"}}})).is_err());
        assert!(
            load(json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "Next": "A"}}}))
                .is_err()
        );
    }

    #[test]
    fn retry_and_catch_validation() {
        let task = |retry: Value, catch: Value| {
            json!({"StartAt": "A", "States": {
                "A": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f",
                      "Retry": retry, "Catch": catch, "End": true},
                "F": {"Type": "Fail"}}})
        };
        let ok = load(task(
            json!([{"ErrorEquals": ["A"], "JitterStrategy": "FULL", "MaxDelaySeconds": 5},
                   {"ErrorEquals": ["States.ALL"]}]),
            json!([{"ErrorEquals": ["States.ALL"], "Next": "F", "ResultPath": "$.err"}]),
        ))
        .unwrap();
        let StateKind::Task(t) = &ok.state("A").unwrap().kind else {
            panic!()
        };
        assert_eq!(t.retry[0].interval_seconds, 1);
        assert_eq!(t.retry[0].max_attempts, 3);
        assert_eq!(t.retry[0].backoff_rate, 2.0);
        assert_eq!(t.retry[0].jitter, Jitter::Full);
        for (retry, catch) in [
            (
                json!([{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["A"]}]),
                json!([]),
            ),
            (json!([{"ErrorEquals": ["States.ALL", "A"]}]), json!([])),
            (
                json!([]),
                json!([{"ErrorEquals": ["States.ALL"], "Next": "F"}, {"ErrorEquals": ["A"], "Next": "F"}]),
            ),
            (json!([{"ErrorEquals": []}]), json!([])),
            (json!([{"ErrorEquals": ["States.Timout"]}]), json!([])),
            (json!([{"ErrorEquals": ["A"], "BackoffRate": 0.5}]), json!([])),
            (json!([{"ErrorEquals": ["A"], "IntervalSeconds": 0}]), json!([])),
            (
                json!([{"ErrorEquals": ["A"], "JitterStrategy": "HALF"}]),
                json!([]),
            ),
            (json!([{"ErrorEquals": ["A"], "Nope": 1}]), json!([])),
            (json!([]), json!([{"ErrorEquals": ["A"]}])),
        ] {
            assert!(
                load(task(retry.clone(), catch.clone())).is_err(),
                "{retry} {catch}"
            );
        }
    }

    #[test]
    fn task_resources() {
        let task = |state: Value| json!({"StartAt": "A", "States": {"A": state}});
        assert!(
            load(task(
                json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "f", "Payload.$": "$"}, "End": true})
            ))
            .is_ok()
        );
        assert!(
            load(task(
                json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"Payload.$": "$"}, "End": true})
            ))
            .is_err()
        );
        assert!(
            load(task(
                json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "f", "InvocationType": "Event"}, "End": true})
            ))
            .is_err()
        );
        assert!(
            load(task(
                json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": "f", "Payload": {"x": 1}}, "End": true})
            ))
            .is_err()
        );
        assert!(
            load(task(
                json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": "f", "Payload": {"token.$": "$$.Task.Token"}}, "End": true})
            ))
            .is_ok()
        );
        assert!(
            load(task(
                json!({"Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync",
            "End": true})
            ))
            .is_err()
        );
        assert!(
            load(task(json!({"Type": "Task",
            "Resource": "arn:aws:states:us-east-1:1:activity:a", "End": true})))
            .is_err()
        );
        assert!(
            load(task(
                json!({"Type": "Task", "Resource": "not-an-arn", "End": true})
            ))
            .is_err()
        );
        assert!(
            load(task(
                json!({"Type": "Task", "Resource": "arn:aws:states:::events:putEvents",
            "Parameters": {"Entries": []}, "End": true})
            ))
            .is_ok()
        );
        assert!(
            load(task(
                json!({"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f",
            "TimeoutSeconds": 10, "HeartbeatSeconds": 10, "End": true})
            ))
            .is_err()
        );
        assert!(
            load(task(
                json!({"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f",
            "TimeoutSeconds": 10, "TimeoutSecondsPath": "$.t", "End": true})
            ))
            .is_err()
        );
        assert!(
            load(task(
                json!({"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f",
            "TimeoutSeconds": 1.5, "End": true})
            ))
            .is_err()
        );
    }

    #[test]
    fn state_specific_validation() {
        let one = |state: Value| load(json!({"StartAt": "A", "States": {"A": state}}));
        assert!(one(json!({"Type": "Wait", "Seconds": 1, "SecondsPath": "$.s", "End": true})).is_err());
        assert!(one(json!({"Type": "Wait", "End": true})).is_err());
        assert!(one(json!({"Type": "Wait", "Timestamp": "tomorrow", "End": true})).is_err());
        assert!(one(json!({"Type": "Wait", "Timestamp": "2026-01-01T00:00:00Z", "End": true})).is_ok());
        assert!(one(json!({"Type": "Fail", "Error": "E", "ErrorPath": "$.e"})).is_err());
        assert!(one(json!({"Type": "Fail", "InputPath": "$"})).is_err());
        assert!(one(json!({"Type": "Fail", "CausePath": "States.Format('x {}', $.a)"})).is_ok());
        assert!(one(json!({"Type": "Succeed", "Next": "A"})).is_err());
        assert!(one(json!({"Type": "Pass", "Result": 1, "Parameters": {}, "End": true})).is_err());
        assert!(one(json!({"Type": "Pass", "ResultPath": "$.a[*]", "End": true})).is_err());
        assert!(one(json!({"Type": "Pass", "InputPath": "$$.Execution", "End": true})).is_err());
        assert!(one(json!({"Type": "Pass", "Parameters": {"x.$": "States.Bogus()"}, "End": true})).is_err());
        assert!(one(json!({"Type": "Bogus", "End": true})).is_err());
        assert!(load(json!({"StartAt": "A", "States": {
            "A": {"Type": "Choice", "Choices": [{"Variable": "$.a", "IsNull": true, "Next": "B"}], "Next": "B"},
            "B": {"Type": "Succeed"}}}))
        .is_err());
        assert!(
            load(json!({"StartAt": "A", "States": {
            "A": {"Type": "Choice", "Choices": [{"Variable": "$.a", "IsNull": true}], "Default": "B"},
            "B": {"Type": "Succeed"}}}))
            .is_err()
        );
    }
}
