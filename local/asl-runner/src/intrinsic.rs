//! Intrinsic functions (`States.Format(...)` and friends).
//!
//! Parsed at load time (an unknown function or a wrong argument count is a
//! load error); evaluated against the effective input and the context object.
//! A path argument that selects nothing is a `States.Runtime` error, like any
//! other path failure; a function that cannot work on its arguments raises
//! `States.IntrinsicFailure`.

use base64::Engine as _;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Number, Value};

use crate::error::StatesError;
use crate::path::{Path, type_name};

/// What intrinsic functions and payload templates evaluate against.
pub struct EvalEnv<'a> {
    /// The value `$` refers to.
    pub input: &'a Value,
    /// The context object (`$$`).
    pub context: &'a Value,
    /// Randomness for `States.UUID` and `States.MathRandom`, seeded per execution.
    pub rng: &'a mut ChaCha8Rng,
}

impl EvalEnv<'_> {
    pub fn select(&self, path: &Path, context: bool) -> Option<Value> {
        if context {
            path.select(self.context)
        } else {
            path.select(self.input)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    Format,
    StringToJson,
    JsonToString,
    Array,
    ArrayPartition,
    ArrayContains,
    ArrayRange,
    ArrayGetItem,
    ArrayLength,
    ArrayUnique,
    Base64Encode,
    Base64Decode,
    Hash,
    JsonMerge,
    MathRandom,
    MathAdd,
    StringSplit,
    Uuid,
}

impl Func {
    fn from_name(name: &str) -> Option<Func> {
        Some(match name {
            "States.Format" => Func::Format,
            "States.StringToJson" => Func::StringToJson,
            "States.JsonToString" => Func::JsonToString,
            "States.Array" => Func::Array,
            "States.ArrayPartition" => Func::ArrayPartition,
            "States.ArrayContains" => Func::ArrayContains,
            "States.ArrayRange" => Func::ArrayRange,
            "States.ArrayGetItem" => Func::ArrayGetItem,
            "States.ArrayLength" => Func::ArrayLength,
            "States.ArrayUnique" => Func::ArrayUnique,
            "States.Base64Encode" => Func::Base64Encode,
            "States.Base64Decode" => Func::Base64Decode,
            "States.Hash" => Func::Hash,
            "States.JsonMerge" => Func::JsonMerge,
            "States.MathRandom" => Func::MathRandom,
            "States.MathAdd" => Func::MathAdd,
            "States.StringSplit" => Func::StringSplit,
            "States.UUID" => Func::Uuid,
            _ => return None,
        })
    }

    /// Allowed argument counts (inclusive).
    fn arity(self) -> (usize, usize) {
        match self {
            Func::Format => (1, usize::MAX),
            Func::Array => (0, usize::MAX),
            Func::StringToJson
            | Func::JsonToString
            | Func::ArrayLength
            | Func::ArrayUnique
            | Func::Base64Encode
            | Func::Base64Decode => (1, 1),
            Func::ArrayPartition
            | Func::ArrayContains
            | Func::ArrayGetItem
            | Func::Hash
            | Func::MathAdd
            | Func::StringSplit => (2, 2),
            Func::ArrayRange | Func::JsonMerge => (3, 3),
            Func::MathRandom => (2, 3),
            Func::Uuid => (0, 0),
        }
    }
}

#[derive(Debug, Clone)]
enum Arg {
    /// A quoted string: `value` unescaped, `raw` as written (for Format).
    Str {
        value: String,
        raw: String,
    },
    Literal(Value),
    Path {
        path: Path,
        context: bool,
    },
    Call(Box<Call>),
}

#[derive(Debug, Clone)]
struct Call {
    name: String,
    func: Func,
    args: Vec<Arg>,
}

/// A parsed intrinsic function call.
#[derive(Debug, Clone)]
pub struct Intrinsic {
    text: String,
    call: Call,
}

impl PartialEq for Intrinsic {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Intrinsic {
    /// Does this string look like an intrinsic function call?
    pub fn looks_like(text: &str) -> bool {
        text.trim_start().starts_with("States.")
    }

    pub fn parse(text: &str) -> Result<Intrinsic, String> {
        let chars: Vec<char> = text.chars().collect();
        let mut parser = Parser { chars, pos: 0 };
        parser.skip_ws();
        let call = parser
            .call()
            .map_err(|e| format!("the intrinsic function '{text}' is invalid: {e}"))?;
        parser.skip_ws();
        if parser.pos != parser.chars.len() {
            return Err(format!(
                "the intrinsic function '{text}' has unexpected text after its closing parenthesis"
            ));
        }
        Ok(Intrinsic {
            text: text.to_owned(),
            call,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn eval(&self, env: &mut EvalEnv<'_>) -> Result<Value, StatesError> {
        eval_call(&self.call, env).map_err(|e| match e {
            Failure::Runtime(cause) => StatesError::runtime(cause),
            Failure::Intrinsic(message) => StatesError::intrinsic(format!(
                "The evaluation of the function '{}' failed: {message}",
                self.text
            )),
        })
    }
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn rest_starts_with(&self, prefix: &str) -> bool {
        let rest = self.chars.get(self.pos..).unwrap_or_default();
        let prefix: Vec<char> = prefix.chars().collect();
        rest.starts_with(&prefix)
    }

    fn call(&mut self) -> Result<Call, String> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == '.') {
            self.pos += 1;
        }
        let name: String = self.chars[start..self.pos].iter().collect();
        let func = Func::from_name(&name)
            .ok_or_else(|| format!("'{name}' is not an intrinsic function this runner supports"))?;
        self.skip_ws();
        if self.peek() != Some('(') {
            return Err(format!("expected '(' after {name}"));
        }
        self.pos += 1;
        let mut args = Vec::new();
        self.skip_ws();
        if self.peek() == Some(')') {
            self.pos += 1;
        } else {
            loop {
                self.skip_ws();
                args.push(self.arg()?);
                self.skip_ws();
                match self.peek() {
                    Some(',') => self.pos += 1,
                    Some(')') => {
                        self.pos += 1;
                        break;
                    }
                    Some(c) => return Err(format!("unexpected '{c}' in the arguments of {name}")),
                    None => return Err(format!("missing ')' after the arguments of {name}")),
                }
            }
        }
        let (min, max) = func.arity();
        if args.len() < min || args.len() > max {
            return Err(format!(
                "{name} takes {} argument(s), not {}",
                if min == max {
                    min.to_string()
                } else if max == usize::MAX {
                    format!("at least {min}")
                } else {
                    format!("{min} to {max}")
                },
                args.len()
            ));
        }
        let call = Call { name, func, args };
        check_static(&call)?;
        Ok(call)
    }

    fn arg(&mut self) -> Result<Arg, String> {
        match self.peek() {
            Some('\'') => {
                self.pos += 1;
                let mut value = String::new();
                let mut raw = String::new();
                loop {
                    let c = self.peek().ok_or("unterminated string literal")?;
                    self.pos += 1;
                    match c {
                        '\\' => {
                            let next = self.peek().ok_or("dangling '\\' in a string literal")?;
                            self.pos += 1;
                            raw.push('\\');
                            raw.push(next);
                            value.push(next);
                        }
                        '\'' => break,
                        c => {
                            raw.push(c);
                            value.push(c);
                        }
                    }
                }
                Ok(Arg::Str { value, raw })
            }
            Some('$') => {
                let start = self.pos;
                let mut depth = 0usize;
                let mut quote: Option<char> = None;
                while let Some(c) = self.peek() {
                    if let Some(q) = quote {
                        if c == '\\' {
                            self.pos += 1;
                        } else if c == q {
                            quote = None;
                        }
                    } else {
                        match c {
                            '\'' | '"' => quote = Some(c),
                            '[' | '(' => depth += 1,
                            ']' | ')' if depth > 0 => depth -= 1,
                            ',' | ')' if depth == 0 => break,
                            _ => {}
                        }
                    }
                    self.pos += 1;
                }
                let text: String = self.chars[start..self.pos].iter().collect();
                let text = text.trim_end();
                let (context, path_text) = match text.strip_prefix("$$") {
                    Some(rest) => (true, format!("${rest}")),
                    None => (false, text.to_owned()),
                };
                let path = Path::parse(&path_text)?;
                Ok(Arg::Path { path, context })
            }
            Some(_) if self.rest_starts_with("States.") => Ok(Arg::Call(Box::new(self.call()?))),
            Some(_) => {
                let start = self.pos;
                while self
                    .peek()
                    .is_some_and(|c| !matches!(c, ',' | ')') && !c.is_whitespace())
                {
                    self.pos += 1;
                }
                let word: String = self.chars[start..self.pos].iter().collect();
                match word.as_str() {
                    "true" => Ok(Arg::Literal(Value::Bool(true))),
                    "false" => Ok(Arg::Literal(Value::Bool(false))),
                    "null" => Ok(Arg::Literal(Value::Null)),
                    _ => word
                        .parse::<Number>()
                        .map(|n| Arg::Literal(Value::Number(n)))
                        .map_err(|_| format!("'{word}' is not a valid argument")),
                }
            }
            None => Err("missing argument".into()),
        }
    }
}

/// Checks what can be checked before running: Format's placeholder count,
/// JsonMerge's deep flag, Hash's algorithm.
fn check_static(call: &Call) -> Result<(), String> {
    match call.func {
        Func::Format => {
            if let Arg::Str { raw, .. } = &call.args[0] {
                let placeholders = format_pieces(raw).len() - 1;
                if placeholders != call.args.len() - 1 {
                    return Err(format!(
                        "States.Format's template has {placeholders} placeholder(s) but {} argument(s) follow it",
                        call.args.len() - 1
                    ));
                }
            }
        }
        Func::JsonMerge => {
            if let Arg::Literal(Value::Bool(true)) = &call.args[2] {
                return Err(
                    "States.JsonMerge supports only the shallow mode: its third argument must be false"
                        .into(),
                );
            }
        }
        Func::Hash => {
            if let Arg::Str { value, .. } = &call.args[1] {
                hash_algorithm(value)?;
            }
        }
        _ => {}
    }
    Ok(())
}

enum Failure {
    Runtime(String),
    Intrinsic(String),
}

fn bad(message: impl Into<String>) -> Failure {
    Failure::Intrinsic(message.into())
}

fn eval_arg(arg: &Arg, env: &mut EvalEnv<'_>) -> Result<Value, Failure> {
    match arg {
        Arg::Str { value, .. } => Ok(Value::String(value.clone())),
        Arg::Literal(v) => Ok(v.clone()),
        Arg::Path { path, context } => env.select(path, *context).ok_or_else(|| {
            Failure::Runtime(format!(
                "The JSONPath '{}{}' could not be found in the {}",
                if *context { "$" } else { "" },
                path,
                if *context {
                    "context object".to_owned()
                } else {
                    format!("input '{}'", env.input)
                }
            ))
        }),
        Arg::Call(call) => eval_call(call, env),
    }
}

fn as_str<'v>(func: &str, what: &str, v: &'v Value) -> Result<&'v str, Failure> {
    v.as_str()
        .ok_or_else(|| bad(format!("{func}: {what} must be a string, not a {}", type_name(v))))
}

fn as_array<'v>(func: &str, what: &str, v: &'v Value) -> Result<&'v Vec<Value>, Failure> {
    v.as_array()
        .ok_or_else(|| bad(format!("{func}: {what} must be an array, not a {}", type_name(v))))
}

fn as_int(func: &str, what: &str, v: &Value) -> Result<i64, Failure> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                    .map(|f| f as i64)
            })
            .ok_or_else(|| bad(format!("{func}: {what} must be an integer, not {n}"))),
        other => Err(bad(format!(
            "{func}: {what} must be an integer, not a {}",
            type_name(other)
        ))),
    }
}

/// Splits a Format template (as written, escapes intact) at its `{}`
/// placeholders, unescaping `\{`, `\}`, `\'` and `\\` in the literal pieces.
fn format_pieces(raw: &str) -> Vec<String> {
    let mut pieces = vec![String::new()];
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    pieces.last_mut().expect("non-empty").push(next);
                }
            }
            '{' if chars.peek() == Some(&'}') => {
                chars.next();
                pieces.push(String::new());
            }
            c => pieces.last_mut().expect("non-empty").push(c),
        }
    }
    pieces
}

fn render_for_format(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn hash_algorithm(name: &str) -> Result<&'static str, String> {
    match name {
        "MD5" => Ok("MD5"),
        "SHA-1" => Ok("SHA-1"),
        "SHA-256" => Ok("SHA-256"),
        "SHA-384" => Ok("SHA-384"),
        "SHA-512" => Ok("SHA-512"),
        other => Err(format!(
            "States.Hash: unknown algorithm '{other}' (MD5, SHA-1, SHA-256, SHA-384 or SHA-512)"
        )),
    }
}

fn hash(algorithm: &str, data: &[u8]) -> String {
    use sha2::Digest as _;
    match algorithm {
        "MD5" => {
            use md5::Digest as _;
            hex::encode(md5::Md5::digest(data))
        }
        "SHA-1" => {
            use sha1::Digest as _;
            hex::encode(sha1::Sha1::digest(data))
        }
        "SHA-256" => hex::encode(sha2::Sha256::digest(data)),
        "SHA-384" => hex::encode(sha2::Sha384::digest(data)),
        _ => hex::encode(sha2::Sha512::digest(data)),
    }
}

const MAX_STRING_INPUT: usize = 10_000;
const MAX_RANGE_ITEMS: i64 = 1000;

fn eval_call(call: &Call, env: &mut EvalEnv<'_>) -> Result<Value, Failure> {
    let name = call.name.as_str();
    if call.func == Func::Format {
        let pieces = match &call.args[0] {
            Arg::Str { raw, .. } => format_pieces(raw),
            other => {
                let template = eval_arg(other, env)?;
                let template = as_str(name, "the template", &template)?;
                template.split("{}").map(str::to_owned).collect()
            }
        };
        let values = call.args[1..]
            .iter()
            .map(|a| eval_arg(a, env))
            .collect::<Result<Vec<_>, _>>()?;
        if pieces.len() - 1 != values.len() {
            return Err(bad(format!(
                "{name}: the template has {} placeholder(s) but {} argument(s) were given",
                pieces.len() - 1,
                values.len()
            )));
        }
        let mut out = pieces[0].clone();
        for (value, piece) in values.iter().zip(&pieces[1..]) {
            out.push_str(&render_for_format(value));
            out.push_str(piece);
        }
        return Ok(Value::String(out));
    }

    let args = call
        .args
        .iter()
        .map(|a| eval_arg(a, env))
        .collect::<Result<Vec<_>, _>>()?;
    match call.func {
        Func::Format => unreachable!("handled above"),
        Func::StringToJson => {
            let text = as_str(name, "the argument", &args[0])?;
            serde_json::from_str(text)
                .map_err(|e| bad(format!("{name}: the argument is not valid JSON: {e}")))
        }
        Func::JsonToString => Ok(Value::String(args[0].to_string())),
        Func::Array => Ok(Value::Array(args)),
        Func::ArrayPartition => {
            let items = as_array(name, "the first argument", &args[0])?;
            let size = as_int(name, "the chunk size", &args[1])?;
            if size <= 0 {
                return Err(bad(format!(
                    "{name}: the chunk size must be positive, not {size}"
                )));
            }
            let size = usize::try_from(size).unwrap_or(usize::MAX);
            Ok(Value::Array(
                items
                    .chunks(size)
                    .map(|chunk| Value::Array(chunk.to_vec()))
                    .collect(),
            ))
        }
        Func::ArrayContains => {
            let items = as_array(name, "the first argument", &args[0])?;
            Ok(Value::Bool(items.contains(&args[1])))
        }
        Func::ArrayRange => {
            let start = as_int(name, "the start", &args[0])?;
            let end = as_int(name, "the end", &args[1])?;
            let step = as_int(name, "the step", &args[2])?;
            if step == 0 {
                return Err(bad(format!("{name}: the step must not be 0")));
            }
            let count = if (step > 0 && end < start) || (step < 0 && end > start) {
                0
            } else {
                (end - start) / step + 1
            };
            if count > MAX_RANGE_ITEMS {
                return Err(bad(format!(
                    "{name}: the range has {count} items, more than the limit of {MAX_RANGE_ITEMS}"
                )));
            }
            Ok(Value::Array(
                (0..count).map(|i| Value::from(start + i * step)).collect(),
            ))
        }
        Func::ArrayGetItem => {
            let items = as_array(name, "the first argument", &args[0])?;
            let index = as_int(name, "the index", &args[1])?;
            usize::try_from(index)
                .ok()
                .and_then(|i| items.get(i))
                .cloned()
                .ok_or_else(|| {
                    bad(format!(
                        "{name}: the index {index} is out of bounds for an array of {} items",
                        items.len()
                    ))
                })
        }
        Func::ArrayLength => Ok(Value::from(as_array(name, "the argument", &args[0])?.len())),
        Func::ArrayUnique => {
            let items = as_array(name, "the argument", &args[0])?;
            let mut unique: Vec<Value> = Vec::new();
            for item in items {
                if !unique.contains(item) {
                    unique.push(item.clone());
                }
            }
            Ok(Value::Array(unique))
        }
        Func::Base64Encode => {
            let text = as_str(name, "the argument", &args[0])?;
            if text.len() > MAX_STRING_INPUT {
                return Err(bad(format!(
                    "{name}: the input is longer than {MAX_STRING_INPUT} characters"
                )));
            }
            Ok(Value::String(
                base64::engine::general_purpose::STANDARD.encode(text.as_bytes()),
            ))
        }
        Func::Base64Decode => {
            let text = as_str(name, "the argument", &args[0])?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text.as_bytes())
                .map_err(|e| bad(format!("{name}: the input is not valid base64: {e}")))?;
            String::from_utf8(bytes)
                .map(Value::String)
                .map_err(|_| bad(format!("{name}: the decoded data is not UTF-8 text")))
        }
        Func::Hash => {
            let data = match &args[0] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if data.len() > MAX_STRING_INPUT {
                return Err(bad(format!(
                    "{name}: the input is longer than {MAX_STRING_INPUT} characters"
                )));
            }
            let algorithm = as_str(name, "the algorithm", &args[1])?;
            let algorithm = hash_algorithm(algorithm).map_err(bad)?;
            Ok(Value::String(hash(algorithm, data.as_bytes())))
        }
        Func::JsonMerge => {
            let (Value::Object(left), Value::Object(right)) = (&args[0], &args[1]) else {
                return Err(bad(format!("{name}: both arguments must be objects")));
            };
            if args[2] != Value::Bool(false) {
                return Err(bad(format!(
                    "{name}: only the shallow mode is supported; the third argument must be false"
                )));
            }
            let mut merged: Map<String, Value> = left.clone();
            for (k, v) in right {
                merged.insert(k.clone(), v.clone());
            }
            Ok(Value::Object(merged))
        }
        Func::MathRandom => {
            let start = as_int(name, "the start", &args[0])?;
            let end = as_int(name, "the end", &args[1])?;
            if end <= start {
                return Err(bad(format!(
                    "{name}: the end ({end}) must be greater than the start ({start})"
                )));
            }
            let value = match args.get(2) {
                Some(seed) => {
                    let seed = as_int(name, "the seed", seed)?;
                    ChaCha8Rng::seed_from_u64(seed as u64).random_range(start..end)
                }
                None => env.rng.random_range(start..end),
            };
            Ok(Value::from(value))
        }
        Func::MathAdd => {
            let a = as_int(name, "the first argument", &args[0])?;
            let b = as_int(name, "the second argument", &args[1])?;
            a.checked_add(b)
                .map(Value::from)
                .ok_or_else(|| bad(format!("{name}: {a} + {b} overflows")))
        }
        Func::StringSplit => {
            let text = as_str(name, "the first argument", &args[0])?;
            let delimiters = as_str(name, "the delimiters", &args[1])?;
            Ok(Value::Array(
                text.split(|c| delimiters.contains(c))
                    .filter(|piece| !piece.is_empty())
                    .map(|piece| Value::String(piece.to_owned()))
                    .collect(),
            ))
        }
        Func::Uuid => {
            let mut bytes = [0u8; 16];
            env.rng.fill(&mut bytes);
            Ok(Value::String(
                uuid::Builder::from_random_bytes(bytes)
                    .into_uuid()
                    .hyphenated()
                    .to_string(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn eval(text: &str, input: Value) -> Result<Value, StatesError> {
        let f = Intrinsic::parse(text).map_err(StatesError::intrinsic)?;
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let context = json!({"Execution": {"Name": "exec-1"}});
        f.eval(&mut EvalEnv {
            input: &input,
            context: &context,
            rng: &mut rng,
        })
    }

    #[test]
    fn format_with_paths_literals_and_escapes() {
        assert_eq!(
            eval(
                "States.Format('Hello {}, you are {} and {}', $.name, $.age, true)",
                json!({"name": "Ann", "age": 42})
            )
            .unwrap(),
            json!("Hello Ann, you are 42 and true")
        );
        assert_eq!(
            eval(r"States.Format('\{\} {} it\'s \\', $$.Execution.Name)", json!({})).unwrap(),
            json!(r"{} exec-1 it's \")
        );
        assert!(Intrinsic::parse("States.Format('{} {}', $.a)").is_err());
    }

    #[test]
    fn json_functions() {
        assert_eq!(
            eval("States.StringToJson($.s)", json!({"s": "{\"a\":[1,2]}"})).unwrap(),
            json!({"a": [1, 2]})
        );
        assert_eq!(
            eval("States.JsonToString($.o)", json!({"o": {"a": 1}})).unwrap(),
            json!("{\"a\":1}")
        );
        assert_eq!(
            eval(
                "States.JsonMerge($.a, $.b, false)",
                json!({"a": {"x": 1, "y": {"z": 1}}, "b": {"y": {"w": 2}}})
            )
            .unwrap(),
            json!({"x": 1, "y": {"w": 2}})
        );
        assert!(Intrinsic::parse("States.JsonMerge($.a, $.b, true)").is_err());
        let err = eval("States.StringToJson($.s)", json!({"s": "{"})).unwrap_err();
        assert_eq!(err.error, "States.IntrinsicFailure");
    }

    #[test]
    fn array_functions() {
        assert_eq!(
            eval(
                "States.Array(1, 'two', $.x, null, States.Array())",
                json!({"x": [3]})
            )
            .unwrap(),
            json!([1, "two", [3], null, []])
        );
        assert_eq!(
            eval("States.ArrayGetItem($.a, 1)", json!({"a": [1, 2, 3]})).unwrap(),
            json!(2)
        );
        assert_eq!(
            eval("States.ArrayGetItem($.a, 5)", json!({"a": [1]}))
                .unwrap_err()
                .error,
            "States.IntrinsicFailure"
        );
        assert_eq!(
            eval("States.ArrayLength($.a)", json!({"a": [1, 2, 3]})).unwrap(),
            json!(3)
        );
        assert_eq!(
            eval("States.ArrayPartition($.a, 2)", json!({"a": [1, 2, 3]})).unwrap(),
            json!([[1, 2], [3]])
        );
        assert_eq!(
            eval("States.ArrayContains($.a, 2)", json!({"a": [1, 2, 3]})).unwrap(),
            json!(true)
        );
        assert_eq!(
            eval("States.ArrayRange(1, 9, 2)", json!({})).unwrap(),
            json!([1, 3, 5, 7, 9])
        );
        assert_eq!(
            eval(
                "States.ArrayUnique($.a)",
                json!({"a": [1, 2, 1, {"a": 1}, {"a": 1}]})
            )
            .unwrap(),
            json!([1, 2, {"a": 1}])
        );
    }

    #[test]
    fn string_math_hash_base64_uuid() {
        assert_eq!(
            eval("States.MathAdd($.a, -3)", json!({"a": 10})).unwrap(),
            json!(7)
        );
        assert_eq!(
            eval("States.StringSplit('This.is+a,test=string', '.+,=')", json!({})).unwrap(),
            json!(["This", "is", "a", "test", "string"])
        );
        assert_eq!(
            eval("States.Hash('abc', 'MD5')", json!({})).unwrap(),
            json!("900150983cd24fb0d6963f7d28e17f72")
        );
        assert_eq!(
            eval("States.Hash('abc', 'SHA-1')", json!({})).unwrap(),
            json!("a9993e364706816aba3e25717850c26c9cd0d89d")
        );
        assert_eq!(
            eval("States.Hash('abc', 'SHA-256')", json!({})).unwrap(),
            json!("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        assert!(Intrinsic::parse("States.Hash('abc', 'SHA-3')").is_err());
        assert_eq!(
            eval("States.Base64Encode('Data to encode')", json!({})).unwrap(),
            json!("RGF0YSB0byBlbmNvZGU=")
        );
        assert_eq!(
            eval("States.Base64Decode('RGF0YSB0byBlbmNvZGU=')", json!({})).unwrap(),
            json!("Data to encode")
        );
        let a = eval("States.UUID()", json!({})).unwrap();
        let b = eval("States.UUID()", json!({})).unwrap();
        assert_eq!(a, b, "seeded: repeatable");
        let text = a.as_str().unwrap();
        assert_eq!(text.len(), 36);
        assert_eq!(&text[14..15], "4");
        let r = eval("States.MathRandom(1, 10)", json!({})).unwrap();
        assert!((1..10).contains(&r.as_i64().unwrap()));
    }

    #[test]
    fn failures() {
        assert!(Intrinsic::parse("States.Nope(1)").is_err());
        assert!(Intrinsic::parse("States.ArrayLength()").is_err());
        assert!(Intrinsic::parse("States.UUID() x").is_err());
        assert_eq!(
            eval("States.ArrayLength($.missing)", json!({}))
                .unwrap_err()
                .error,
            "States.Runtime"
        );
        assert_eq!(
            eval("States.ArrayLength($.s)", json!({"s": "x"}))
                .unwrap_err()
                .error,
            "States.IntrinsicFailure"
        );
    }
}
