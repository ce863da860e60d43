"""The hlx exports API over HTTP, against its OpenAPI description.

Starts `api-local` from HLX_BIN_DIR (default target/local,
the profile tests/run.sh builds) on a free port:
the `api` Lambda's handler behind a local stand-in for API Gateway's REST
proxy integration, with an in-memory job store (seeded here) and an in-memory
fake of the state machine's StartExecution idempotency. Then:

- schemathesis generates requests from functions/api/openapi.yaml (valid and
  invalid ones) and checks that no answer is a 5xx and that every answer
  conforms to the description (status, content type, headers, schema);
- a stateful run follows the description's links (POST -> GET the export,
  list -> next page);
- explicit checks: malformed JSON, unknown ids, the idempotent POST, key
  conflicts, 405/413/415, and paging through a seeded data store.

Needs tests/python/requirements-api.txt (schemathesis) on top of requirements.txt.
"""

import json
import os
import pathlib
import subprocess
import tempfile
import uuid

import pytest

# tests/run.sh installs tests/python/requirements-api.txt; a missing install fails, never skips.
import schemathesis  # noqa: E402
import hypothesis  # noqa: E402  (installed with schemathesis)
import requests  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

REPO = pathlib.Path(__file__).resolve().parents[2]
SPEC = REPO / "functions" / "api" / "openapi.yaml"
DATASTORE = "local-datastore"
OTHER_DATASTORE = "other-ds"
SEEDED = 30
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# The function's configuration, as the Lambda would have it.
CONFIG = {
    "HLX_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:hlx-job",
    "HLX_DEFAULT_DATASTORE_ID": DATASTORE,
    "HLX_EXPORT_S3_URI": "s3://hlx-exports/api",
    "HLX_EXPORT_KMS_KEY_ID": "alias/hlx-exports",
    "HLX_DATA_ACCESS_ROLE_ARN": "arn:aws:iam::123456789012:role/HealthLakeExport",
    # api-local's state machine never ends a job, so no slot would ever be
    # given back: admission control is tested where jobs end (the Rust API
    # tests and the e2e scenarios on the real binaries).
    "HLX_MAX_JOBS_IN_FLIGHT": "0",
}


def binary() -> pathlib.Path:
    bin_dir = pathlib.Path(os.environ.get("HLX_BIN_DIR", "target/local"))
    if not bin_dir.is_absolute():
        bin_dir = REPO / bin_dir
    path = bin_dir / "api-local"
    if not path.exists():
        pytest.fail(f"{path} not found: build it (cargo build --profile local -p api) or set HLX_BIN_DIR")
    return path


def seed_record(export_id: str, datastore_id: str, minute: int) -> dict:
    started = f"2026-11-{1 + minute // 1440:02d}T{(minute // 60) % 24:02d}:{minute % 60:02d}:00.000Z"
    return {
        "id": export_id,
        "executionArn": f"arn:aws:states:us-east-1:123456789012:execution:hlx-job:{export_id}",
        "status": "COMPLETED",
        "datastoreId": datastore_id,
        "trigger": "schedule",
        "jobId": f"job{minute}",
        "jobName": export_id,
        "jobStatus": "COMPLETED",
        "s3Uri": CONFIG["HLX_EXPORT_S3_URI"],
        "kmsKeyId": CONFIG["HLX_EXPORT_KMS_KEY_ID"],
        "dataAccessRoleArn": CONFIG["HLX_DATA_ACCESS_ROLE_ARN"],
        "outputLocation": f"{CONFIG['HLX_EXPORT_S3_URI']}/{datastore_id}-FHIR_EXPORT-job{minute}/",
        "executionStartedAt": started,
        "submittedAt": started,
        "endedAt": started,
        "updatedAt": started,
        "queuedSeconds": 0,
        "runningSeconds": 60,
        "checks": 2,
        "startAttempts": 1,
    }


SEED = [seed_record(f"nightly-{n:02d}", DATASTORE, n * 90) for n in range(SEEDED)] + [
    seed_record(f"other-{n}", OTHER_DATASTORE, n) for n in range(3)
]


@pytest.fixture(scope="session")
def api_url():
    workdir = tempfile.TemporaryDirectory(prefix="hlx-api-py-")
    seed = pathlib.Path(workdir.name) / "seed.json"
    seed.write_text(json.dumps(SEED))
    # DELETE /exports/{id} cancels through HealthLake's FHIR REST API: the
    # emulator stands for it (its default test credentials sign the calls).
    emulator = subprocess.Popen(
        [str(pathlib.Path(binary()).parent / "healthlake-emulator"), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    listening = emulator.stdout.readline().strip()
    if not listening.startswith("listening on http://"):
        raise AssertionError(f"unexpected first line of the emulator: {listening!r}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    env.update(CONFIG)
    env.update(
        AWS_ENDPOINT_URL_HEALTHLAKE=listening.removeprefix("listening on "),
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
    )
    env.setdefault("RUST_LOG", "warn")
    log = open(pathlib.Path(workdir.name) / "api-local.log", "w")
    process = subprocess.Popen(
        [str(binary()), "--port", "0", "--seed", str(seed)],
        stdout=subprocess.PIPE,
        stderr=log,
        env=env,
        text=True,
    )
    try:
        first = process.stdout.readline().strip()
        if not first.startswith("listening on http://127.0.0.1:"):
            raise AssertionError(f"unexpected first line: {first!r}")
        yield first.removeprefix("listening on ")
    finally:
        for child in (process, emulator):
            child.terminate()
            try:
                child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        log.close()
        workdir.cleanup()


@pytest.fixture(scope="session")
def api_schema(api_url):
    schema = schemathesis.openapi.from_path(SPEC)
    schema.config.update(base_url=api_url, request_timeout=10)
    schema.config.generation.update(deterministic=True, with_security_parameters=False)
    # Every built-in check except: ignored_auth (SigV4 is API Gateway's job,
    # api-local has none), positive_data_acceptance (a made-up nextToken is
    # rightly refused; the explicit acceptance check below knows that) and
    # negative_data_rejection (the description's patterns are the ASCII part
    # of HealthLake's, so some "invalid" strings are valid ids).
    schema.config.checks.update(
        excluded_check_names=["ignored_auth", "positive_data_acceptance", "negative_data_rejection"]
    )
    return schema


# schemathesis' pytest plugin (`from_fixture`) does not run under pytest 9, so
# the strategies are driven by Hypothesis directly: one run per generation mode
# over every operation of the description.
@pytest.mark.parametrize("mode", [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE])
def test_every_answer_conforms_to_the_description(api_schema, mode):
    statuses = {}

    @hypothesis.given(case=api_schema.as_strategy(generation_mode=mode))
    @hypothesis.settings(
        max_examples=200,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    def check(case):
        response = case.call_and_validate(checks=CHECKS)
        label = f"{case.method.upper()} {case.path}"
        statuses.setdefault(label, set()).add(response.status_code)
        if mode == schemathesis.GenerationMode.POSITIVE:
            # Valid requests are accepted: a POST starts (202) or meets its
            # export (200), or a reused key's other request (409); a read
            # finds the record or not; a list pages (or refuses a token it
            # never issued).
            # since/until have cross-field rules the description states in
            # words only (since with mode incremental, until after since).
            body = case.body if isinstance(case.body, dict) else {}
            export_400 = {400} if ("since" in body or "until" in body) else set()
            allowed = {
                "POST /exports": {200, 202, 409} | export_400,
                "DELETE /exports/{id}": {404, 409},
                "GET /exports": {200, 400} if "nextToken" in (case.query or {}) else {200},
                "GET /exports/{id}": {200, 404},
                # A generated inputS3Uri is almost never inside the configured prefix.
                "POST /imports": {200, 202, 400, 409},
                "GET /imports": {200, 400} if "nextToken" in (case.query or {}) else {200},
                "GET /imports/{id}": {200, 404},
            }[label]
            assert response.status_code in allowed, f"{label}: {response.status_code} {response.text}"

    check()
    assert set(statuses) == {
        "POST /exports",
        "GET /exports",
        "GET /exports/{id}",
        "DELETE /exports/{id}",
        "POST /imports",
        "GET /imports",
        "GET /imports/{id}",
    }, statuses


def test_following_the_links_keeps_every_answer_conformant(api_schema):
    class Workflow(api_schema.as_state_machine()):
        def call(self, case, **kwargs):
            # The server keeps its state between scenarios: a fresh key per
            # POST keeps a scenario's answers (and so the links it can follow)
            # the same when Hypothesis replays it.
            if case.method.upper() == "POST":
                kwargs["headers"] = {**kwargs.get("headers", {}), "Idempotency-Key": uuid.uuid4().hex}
            return case.call(**kwargs)

    Workflow.run(
        settings=hypothesis.settings(
            max_examples=25,
            stateful_step_count=6,
            deadline=None,
            database=None,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
    )


# ----------------------------------------------------------- explicit checks


def error(response, status: int, name: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["error"] == name, body
    assert body["message"]
    return body


def test_malformed_json_is_a_400_naming_the_body(api_url):
    for body in ["{", "not json", '{"jobName": }']:
        response = requests.post(f"{api_url}/exports", data=body, headers={"Content-Type": "application/json"})
        assert error(response, 400, "InvalidRequest")["field"] == "body"
        assert body not in response.text or body == "{", "the body is not echoed"
    response = requests.post(f"{api_url}/exports", json=["a"])
    assert error(response, 400, "InvalidRequest")["field"] == "body"


def test_unknown_ids_are_404s(api_url):
    for export_id in ["nope", "api-k-" + "0" * 40, "a%3Ab"]:
        error(requests.get(f"{api_url}/exports/{export_id}"), 404, "NotFound")


def test_a_post_is_idempotent_and_a_reused_key_with_another_request_is_a_409(api_url):
    headers = {"Idempotency-Key": "py-idempotent-1"}
    first = requests.post(f"{api_url}/exports", json={"jobName": "py test"}, headers=headers)
    assert first.status_code == 202, first.text
    started = first.json()
    assert started["status"] == "STARTING"
    assert first.headers["Location"] == f"/exports/{started['exportId']}"

    again = requests.post(f"{api_url}/exports", json={"jobName": "py test"}, headers=headers)
    assert again.status_code == 200, again.text
    assert again.json()["exportId"] == started["exportId"]
    assert again.json()["executionArn"] == started["executionArn"]

    record = requests.get(f"{api_url}{first.headers['Location']}")
    assert record.status_code == 200
    assert record.json()["status"] == "STARTING"
    assert record.json()["jobName"] == "py test"
    assert record.json()["trigger"] == "api"

    conflict = requests.post(f"{api_url}/exports", json={"jobName": "other"}, headers=headers)
    assert started["exportId"] in error(conflict, 409, "IdempotencyConflict")["message"]

    # Without a key, the same request the same day is the same export.
    one = requests.post(f"{api_url}/exports", json={"datastoreId": "py-ds"})
    two = requests.post(f"{api_url}/exports", json={"datastoreId": "py-ds"})
    assert (one.status_code, two.status_code) == (202, 200)
    assert one.json()["exportId"] == two.json()["exportId"]


def test_a_selection_is_checked_field_by_field(api_url):
    for body, field in [
        ({"mode": "delta"}, "mode"),
        ({"scope": "group/a b"}, "scope"),
        ({"types": ["patient"]}, "types"),
        ({"since": "2026-11-01T00:00:00Z"}, "since"),
        ({"mode": "incremental", "since": "yesterday"}, "since"),
    ]:
        response = requests.post(f"{api_url}/exports", json=body)
        assert error(response, 400, "InvalidRequest")["field"] == field, body
    response = requests.post(
        f"{api_url}/exports",
        json={"mode": "incremental", "scope": "group/cohort-7", "types": ["Patient", "Observation"]},
    )
    assert response.status_code == 202, response.text


def test_callers_cannot_redirect_the_export(api_url):
    for field in ["s3Uri", "kmsKeyId", "dataAccessRoleArn", "trigger"]:
        response = requests.post(f"{api_url}/exports", json={field: "s3://elsewhere/x"})
        assert error(response, 400, "InvalidRequest")["field"] == field


def test_methods_media_types_and_sizes(api_url):
    response = requests.delete(f"{api_url}/exports")
    error(response, 405, "MethodNotAllowed")
    assert response.headers["Allow"] == "GET, POST"
    response = requests.put(f"{api_url}/exports/nightly-01")
    error(response, 405, "MethodNotAllowed")
    assert response.headers["Allow"] == "GET, DELETE"
    # No such export: nothing to cancel; an ended one: nothing either.
    error(requests.delete(f"{api_url}/exports/no-such-export"), 404, "NotFound")
    error(requests.delete(f"{api_url}/exports/nightly-01"), 409, "NotCancellable")
    response = requests.put(f"{api_url}/imports/nightly-01")
    error(response, 405, "MethodNotAllowed")
    assert response.headers["Allow"] == "GET"
    error(
        requests.post(f"{api_url}/exports", data="{}", headers={"Content-Type": "text/plain"}),
        415,
        "UnsupportedMediaType",
    )
    big = json.dumps({"jobName": "n" * 20000})
    error(
        requests.post(f"{api_url}/exports", data=big, headers={"Content-Type": "application/json"}),
        413,
        "PayloadTooLarge",
    )
    response = requests.post(f"{api_url}/exports", json={}, headers={"Idempotency-Key": "bad key!"})
    assert error(response, 400, "InvalidRequest")["field"] == "Idempotency-Key"


def test_a_list_pages_through_a_data_store_newest_first(api_url):
    seen, token, pages = [], None, 0
    while True:
        params = {"datastoreId": DATASTORE, "limit": 7}
        if token:
            params["nextToken"] = token
        response = requests.get(f"{api_url}/exports", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["records"]) <= 7
        seen += [r["exportId"] for r in page["records"] if r["exportId"].startswith("nightly-")]
        pages += 1
        token = page.get("nextToken")
        if not token:
            break
        assert pages < 20
    assert seen == [f"nightly-{n:02d}" for n in reversed(range(SEEDED))]
    assert pages >= 5

    other = requests.get(f"{api_url}/exports", params={"datastoreId": OTHER_DATASTORE}).json()
    assert [r["exportId"] for r in other["records"]] == ["other-2", "other-1", "other-0"]
    default = requests.get(f"{api_url}/exports").json()
    assert len(default["records"]) == 20 and "nextToken" in default

    for params, field in [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"datastoreId": "bad;id"}, "datastoreId"),
        ({"datastoreID": DATASTORE}, "datastoreID"),
    ]:
        response = requests.get(f"{api_url}/exports", params=params)
        assert error(response, 400, "InvalidRequest")["field"] == field, params
    # A token no list returned (base64 of {"foo":"bar"}): a 400 of its own, never a 500.
    for token in ["bogus", "eyJmb28iOiJiYXIifQ=="]:
        response = requests.get(f"{api_url}/exports", params={"nextToken": token})
        assert error(response, 400, "InvalidNextToken")["field"] == "nextToken", token
