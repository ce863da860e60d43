"""check-job, as most teams would write it: describe the job once, say
whether it ended, and how long to wait before the next look (doubling from
120 s to an hour while the status stays the same).
"""

import json

import boto3

healthlake = boto3.client("healthlake")

SUCCEEDED = {"COMPLETED", "COMPLETED_WITH_ERRORS"}
FAILED = {"FAILED", "CANCEL_COMPLETED", "CANCEL_FAILED"}
FIRST_WAIT = {"SUBMITTED": 60, "QUEUED": 300}
MAX_WAIT_SECONDS = 3600


def handler(event, context):
    progress = event["progress"]
    job = healthlake.describe_fhir_export_job(
        DatastoreId=progress["datastoreId"], JobId=progress["jobId"]
    )["ExportJobProperties"]
    status = job["JobStatus"]
    changed = status != progress.get("jobStatus")
    streak = 1 if changed else progress.get("statusChecks", 0) + 1
    if status in SUCCEEDED:
        outcome = "SUCCEEDED"
    elif status in FAILED:
        outcome = "FAILED"
    else:
        outcome = "WAITING"
    if status == "SUBMITTED":
        wait = FIRST_WAIT["SUBMITTED"]
    else:
        wait = min(FIRST_WAIT.get(status, 120) * 2 ** (streak - 1), MAX_WAIT_SECONDS)
    print(json.dumps({"message": "export checked", "jobId": job["JobId"], "status": status, "wait": wait}))
    result = dict(progress)
    result.update(
        {
            "jobStatus": status,
            "outcome": outcome,
            "changed": changed,
            "submitTime": job["SubmitTime"].isoformat(),
            "checks": progress.get("checks", 0) + 1,
            "statusChecks": streak,
            "nextCheckSeconds": wait,
        }
    )
    if job.get("EndTime"):
        result["endTime"] = job["EndTime"].isoformat()
    if job.get("Message"):
        result["message"] = job["Message"]
    return result
