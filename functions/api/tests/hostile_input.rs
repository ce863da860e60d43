//! Hostile input at the door: every request below is refused with a 400 that
//! names the field, and nothing is started.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn hostile_requests_are_400s_naming_the_field_and_start_nothing() {
    let (api, _) = api();
    let cases = [
        (json!({"types": ["Patient", "NotAType"]}).to_string(), "types"),
        (json!({"types": ["patient"]}).to_string(), "types"),
        (
            json!({"mode": "incremental", "datastoreId": "../../../x"}).to_string(),
            "datastoreId",
        ),
        (
            json!({"mode": "incremental", "datastoreId": "x/r4/Patient"}).to_string(),
            "datastoreId",
        ),
        (json!({"scope": "group/a/b"}).to_string(), "scope"),
        (json!({"scope": "group/..%2F"}).to_string(), "scope"),
        (
            json!({"mode": "incremental", "since": "2099-01-01T00:00:00Z"}).to_string(),
            "since",
        ),
        (
            json!({"mode": "incremental", "until": "2099-01-01T00:00:00Z"}).to_string(),
            "until",
        ),
        // The same key twice: parsers disagree on which wins, so neither does.
        (
            format!(r#"{{"datastoreId": "{DATASTORE}", "datastoreId": "x"}}"#),
            "datastoreId",
        ),
        (
            r#"{"jobName": "a", "types": ["Patient"], "jobName": "b"}"#.to_owned(),
            "jobName",
        ),
    ];
    for (body, field) in cases {
        let response = api
            .handle(request(
                "POST",
                "/exports",
                &[("content-type", "application/json")],
                body.as_bytes(),
            ))
            .await;
        let rule = expect_invalid(&response, field);
        assert!(!rule.is_empty(), "{body}");
    }
    assert_eq!(api.executions().start_calls(), 0, "nothing was started");
    // A list of a hostile data store is refused too.
    expect_invalid(
        &api.handle(get("/exports?datastoreId=..%2F..%2Fx")).await,
        "datastoreId",
    );
}
