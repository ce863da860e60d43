"""start-job, as most teams would write it: check the request, start the
HealthLake export with a client token derived from the execution name (so a
retried start is idempotent), and hand the job to the state machine.

The client is created at import time (the init phase) and reused; boto3 finds
the endpoint in AWS_ENDPOINT_URL_HEALTHLAKE when one is set.
"""

import hashlib
import json

import boto3

healthlake = boto3.client("healthlake")

REQUIRED = ("datastoreId", "s3Uri", "kmsKeyId", "dataAccessRoleArn")
SUBMITTED_WAIT_SECONDS = 60


class InvalidRequest(Exception):
    pass


def handler(event, context):
    request = event.get("request")
    if not isinstance(request, dict):
        raise InvalidRequest("request: must be a JSON object")
    for field in REQUIRED:
        if not isinstance(request.get(field), str) or not request[field]:
            raise InvalidRequest(f"{field}: is required")
    if not request["s3Uri"].startswith("s3://"):
        raise InvalidRequest("s3Uri: must be an s3:// URI")

    execution_name = event["executionName"]
    job_name = request.get("jobName") or execution_name[:64]
    client_token = hashlib.sha256(execution_name.encode()).hexdigest()[:64]
    started = healthlake.start_fhir_export_job(
        JobName=job_name,
        OutputDataConfig={"S3Configuration": {"S3Uri": request["s3Uri"], "KmsKeyId": request["kmsKeyId"]}},
        DatastoreId=request["datastoreId"],
        DataAccessRoleArn=request["dataAccessRoleArn"],
        ClientToken=client_token,
    )
    print(json.dumps({"message": "export started", "jobId": started["JobId"], "status": started["JobStatus"]}))
    return {
        "jobId": started["JobId"],
        "datastoreId": request["datastoreId"],
        "jobName": job_name,
        "clientToken": client_token,
        "jobStatus": started["JobStatus"],
        "outcome": "WAITING",
        "changed": True,
        "submitTime": event["now"],
        "checks": 0,
        "statusChecks": 1,
        "nextCheckSeconds": SUBMITTED_WAIT_SECONDS,
    }
