"""The HealthLake emulator binary through boto3: a second, independent client.

Starts `healthlake-emulator` from HLX_BIN_DIR (default target/local,
the profile tests/run.sh builds) on a free
port, drives it with boto3 as against the service, and stops it.
"""

import json
import os
import pathlib
import subprocess
import tempfile
import time

import boto3
import pytest
from botocore.config import Config

REPO = pathlib.Path(__file__).resolve().parents[2]
ROLE = "arn:aws:iam::123456789012:role/HealthLakeExport"
KMS = "alias/hlx-exports"


def binary() -> pathlib.Path:
    bin_dir = pathlib.Path(os.environ.get("HLX_BIN_DIR", "target/local"))
    if not bin_dir.is_absolute():
        bin_dir = REPO / bin_dir
    path = bin_dir / "healthlake-emulator"
    if not path.exists():
        pytest.fail(f"{path} not found: build it (cargo build --profile local -p hlx-healthlake-emulator) or set HLX_BIN_DIR")
    return path


class Emulator:
    def __init__(self, *args: str):
        self.output_root = tempfile.TemporaryDirectory(prefix="hlx-emulator-py-")
        self.process = subprocess.Popen(
            [str(binary()), "--port", "0", "--output-root", self.output_root.name, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        first = self.process.stdout.readline().strip()
        if not first.startswith("listening on http://"):
            self.stop()
            raise AssertionError(f"unexpected first line: {first!r}")
        self.url = first.removeprefix("listening on ")

    def client(self, max_attempts: int = 1):
        return boto3.client(
            "healthlake",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"max_attempts": max_attempts, "mode": "standard"}),
        )

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        self.process.stdout.close()
        self.output_root.cleanup()


@pytest.fixture
def emulator():
    emu = Emulator("--queue-delay", "0", "--job-duration", "1s", "--resources", "Patient=3,Encounter=4")
    yield emu
    emu.stop()


def start_export(client, datastore_id, **overrides):
    request = {
        "JobName": "nightly",
        "DatastoreId": datastore_id,
        "OutputDataConfig": {"S3Configuration": {"S3Uri": "s3://hlx-exports/nightly/", "KmsKeyId": KMS}},
        "DataAccessRoleArn": ROLE,
    }
    request.update(overrides)
    return client.start_fhir_export_job(**request)


def test_export_round_trip(emulator):
    client = emulator.client()
    created = client.create_fhir_datastore(DatastoreName="py", DatastoreTypeVersion="R4")
    datastore_id = created["DatastoreId"]
    assert len(datastore_id) == 32
    assert created["DatastoreStatus"] == "ACTIVE"
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert created["ResponseMetadata"]["RequestId"]

    started = start_export(client, datastore_id)
    job_id = started["JobId"]
    assert started["JobStatus"] in ("SUBMITTED", "IN_PROGRESS")
    assert started["DatastoreId"] == datastore_id

    deadline = time.monotonic() + 30
    while True:
        props = client.describe_fhir_export_job(DatastoreId=datastore_id, JobId=job_id)["ExportJobProperties"]
        if props["JobStatus"] == "COMPLETED" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert props["JobStatus"] == "COMPLETED"
    assert props["JobName"] == "nightly"
    assert props["OutputDataConfig"]["S3Configuration"]["KmsKeyId"] == KMS
    assert props["EndTime"] >= props["SubmitTime"]  # both parsed as datetimes

    listed = client.list_fhir_export_jobs(DatastoreId=datastore_id)["ExportJobPropertiesList"]
    assert [job["JobId"] for job in listed] == [job_id]

    job_dir = (
        pathlib.Path(emulator.output_root.name)
        / "hlx-exports/nightly"
        / f"{datastore_id}-FHIR_EXPORT-{job_id}"
    )
    patients = (job_dir / "Patient/Patient-1.ndjson").read_text().splitlines()
    assert len(patients) == 3
    patient_ids = {json.loads(line)["id"] for line in patients}
    for line in (job_dir / "Encounter/Encounter-1.ndjson").read_text().splitlines():
        encounter = json.loads(line)
        assert encounter["resourceType"] == "Encounter"
        assert encounter["subject"]["reference"].removeprefix("Patient/") in patient_ids


def test_validation_error_is_the_modeled_exception(emulator):
    client = emulator.client()
    datastore_id = client.create_fhir_datastore(DatastoreTypeVersion="R4")["DatastoreId"]
    with pytest.raises(client.exceptions.ValidationException) as raised:
        start_export(client, datastore_id, JobName="n" * 65)
    error = raised.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert "'jobName'" in error["Message"]
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(client.exceptions.ValidationException):
        start_export(client, datastore_id, DataAccessRoleArn="arn:aws:iam::123456789012:user/someone")
    assert client.list_fhir_export_jobs(DatastoreId=datastore_id)["ExportJobPropertiesList"] == []


def test_unknown_data_store_is_resource_not_found(emulator):
    client = emulator.client()
    with pytest.raises(client.exceptions.ResourceNotFoundException) as raised:
        client.describe_fhir_export_job(DatastoreId="0" * 32, JobId="1" * 32)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_throttling_is_the_modeled_exception():
    emu = Emulator("--throttle-rate", "1.0", "--create-datastore", "busy")
    try:
        second = emu.process.stdout.readline().split()
        assert second[:2] == ["datastore", "busy"]
        datastore_id = second[2]
        client = emu.client(max_attempts=1)
        with pytest.raises(client.exceptions.ThrottlingException) as raised:
            start_export(client, datastore_id)
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
        with pytest.raises(client.exceptions.ThrottlingException):
            client.describe_fhir_datastore(DatastoreId=datastore_id)
    finally:
        emu.stop()
