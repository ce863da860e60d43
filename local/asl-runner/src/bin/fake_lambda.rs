//! A tiny Lambda function for testing the process invoker: it speaks the
//! Lambda Runtime API over plain HTTP/1.1 (std only, no Lambda libraries).
//!
//! What it does for an invocation depends on the payload's `action`:
//! * `echo` (default): answers `{"echo": payload, "pid", "invocation", "env", "headers"}`;
//! * `error`: reports `{"errorType": payload.errorType, "errorMessage": payload.errorMessage}`;
//! * `exit`: exits with `payload.code` (default 1) without answering;
//! * `hang`: never answers;
//! * `sleep`: sleeps `payload.ms` milliseconds, then echoes;
//! * `log`: writes `payload.text` to stdout and stderr, then echoes.
//!
//! `FAKE_LAMBDA_INIT_DELAY_MS` delays the first `/next`; `FAKE_LAMBDA_INIT_ERROR`
//! reports an init error and exits.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{Value, json};

struct HttpResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl HttpResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn request(
    api: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<HttpResponse> {
    let mut stream = TcpStream::connect(api)?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {api}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> std::io::Result<HttpResponse> {
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_owned());
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no header end"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked"));
    if chunked {
        let mut out = Vec::new();
        let mut rest = body.as_slice();
        loop {
            let line_end = rest
                .windows(2)
                .position(|w| w == b"\r\n")
                .ok_or_else(|| bad("bad chunk"))?;
            let size = usize::from_str_radix(String::from_utf8_lossy(&rest[..line_end]).trim(), 16)
                .map_err(|_| bad("bad chunk size"))?;
            rest = &rest[line_end + 2..];
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[..size]);
            rest = &rest[size + 2..];
        }
        body = out;
    }
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

fn main() {
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API").expect("AWS_LAMBDA_RUNTIME_API is set");
    let pid = std::process::id();
    println!("fake-lambda {pid} starting");
    if let Ok(ms) = std::env::var("FAKE_LAMBDA_INIT_DELAY_MS") {
        std::thread::sleep(Duration::from_millis(ms.parse().unwrap_or(0)));
    }
    if std::env::var("FAKE_LAMBDA_INIT_ERROR").is_ok() {
        let body = json!({"errorType": "Runtime.ConfigError", "errorMessage": "missing configuration"});
        let _ = request(
            &api,
            "POST",
            "/2018-06-01/runtime/init/error",
            &[("Lambda-Runtime-Function-Error-Type", "Runtime.ConfigError")],
            body.to_string().as_bytes(),
        );
        std::process::exit(2);
    }
    let env_names = [
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "_HANDLER",
        "AWS_REGION",
        "LAMBDA_TASK_ROOT",
        "FAKE_LAMBDA_EXTRA",
        "HOME",
    ];
    let env: serde_json::Map<String, Value> = env_names
        .iter()
        .filter_map(|k| std::env::var(k).ok().map(|v| ((*k).to_owned(), Value::String(v))))
        .collect();
    let mut invocation = 0u64;
    loop {
        let next = match request(&api, "GET", "/2018-06-01/runtime/invocation/next", &[], b"") {
            Ok(r) if r.status == 200 => r,
            Ok(r) => {
                eprintln!("fake-lambda: /next answered {}", r.status);
                std::process::exit(3);
            }
            Err(e) => {
                eprintln!("fake-lambda: /next failed: {e}");
                std::process::exit(3);
            }
        };
        invocation += 1;
        let id = next
            .header("Lambda-Runtime-Aws-Request-Id")
            .unwrap_or_default()
            .to_owned();
        let payload: Value = serde_json::from_slice(&next.body).unwrap_or(Value::Null);
        let headers = json!({
            "requestId": id,
            "deadlineMs": next.header("Lambda-Runtime-Deadline-Ms"),
            "functionArn": next.header("Lambda-Runtime-Invoked-Function-Arn"),
            "traceId": next.header("Lambda-Runtime-Trace-Id"),
        });
        let echo = || {
            json!({"echo": payload, "pid": pid, "invocation": invocation,
                   "env": env, "headers": headers})
        };
        let respond = |body: Value| {
            let path = format!("/2018-06-01/runtime/invocation/{id}/response");
            if let Err(e) = request(&api, "POST", &path, &[], body.to_string().as_bytes()) {
                eprintln!("fake-lambda: /response failed: {e}");
            }
        };
        match payload.get("action").and_then(Value::as_str).unwrap_or("echo") {
            "error" => {
                let error_type = payload["errorType"].as_str().unwrap_or("Error");
                let body = json!({"errorType": error_type,
                                  "errorMessage": payload["errorMessage"].as_str().unwrap_or("failed")});
                let path = format!("/2018-06-01/runtime/invocation/{id}/error");
                let _ = request(
                    &api,
                    "POST",
                    &path,
                    &[("Lambda-Runtime-Function-Error-Type", error_type)],
                    body.to_string().as_bytes(),
                );
            }
            "exit" => {
                eprintln!("fake-lambda {pid} exiting mid-invocation");
                std::process::exit(payload["code"].as_i64().unwrap_or(1) as i32);
            }
            "hang" => loop {
                std::thread::sleep(Duration::from_secs(3600));
            },
            "sleep" => {
                std::thread::sleep(Duration::from_millis(payload["ms"].as_u64().unwrap_or(0)));
                respond(echo());
            }
            "log" => {
                let text = payload["text"].as_str().unwrap_or_default();
                println!("stdout: {text}");
                eprintln!("stderr: {text}");
                respond(echo());
            }
            _ => respond(echo()),
        }
    }
}
