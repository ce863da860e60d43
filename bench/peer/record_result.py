"""record-result, as most teams would write it: one item per export in
DynamoDB, written with a conditional put so that a record only moves forward
(a late or repeated write is refused by DynamoDB, not applied).
"""

import json
import os

import boto3

dynamodb = boto3.client("dynamodb")
TABLE = os.environ["TABLE_NAME"]

RANK = {
    "REJECTED": 1,
    "SUBMITTED": 1,
    "QUEUED": 2,
    "IN_PROGRESS": 3,
    "CANCEL_SUBMITTED": 3,
    "CANCEL_IN_PROGRESS": 3,
    "COMPLETED": 4,
    "COMPLETED_WITH_ERRORS": 4,
    "FAILED": 4,
    "CANCEL_COMPLETED": 4,
    "CANCEL_FAILED": 4,
    "TIMED_OUT": 4,
    "ERROR": 4,
}


def handler(event, context):
    request = event.get("request") or {}
    progress = event.get("progress") or {}
    if event.get("outcome"):
        status = event["outcome"]
    elif progress.get("outcome") == "TIMED_OUT":
        status = "TIMED_OUT"
    else:
        status = progress["jobStatus"]
    rank = RANK.get(status, 3)
    checks = progress.get("checks", 0)
    fields = {
        "id": event["id"],
        "executionArn": event["executionArn"],
        "status": status,
        "datastoreId": request.get("datastoreId"),
        "jobId": progress.get("jobId"),
        "jobName": progress.get("jobName"),
        "s3Uri": request.get("s3Uri"),
        "submittedAt": progress.get("submitTime"),
        "endedAt": progress.get("endTime"),
        "message": progress.get("message"),
        "executionStartedAt": event["executionStartedAt"],
        "updatedAt": event["now"],
    }
    item = {key: {"S": value} for key, value in fields.items() if value}
    item["statusRank"] = {"N": str(rank)}
    item["checks"] = {"N": str(checks)}
    if event.get("error"):
        item["error"] = {"S": json.dumps(event["error"])}
    try:
        dynamodb.put_item(
            TableName=TABLE,
            Item=item,
            ConditionExpression="attribute_not_exists(exportId) OR statusRank < :rank"
            " OR (statusRank = :rank AND statusRank < :terminal AND checks <= :checks)",
            ExpressionAttributeValues={
                ":rank": {"N": str(rank)},
                ":terminal": {"N": "4"},
                ":checks": {"N": str(checks)},
            },
        )
        write = "written"
    except dynamodb.exceptions.ConditionalCheckFailedException:
        write = "unchanged"
    print(json.dumps({"message": "job record written", "id": event["id"], "status": status, "write": write}))
    return {"id": event["id"], "status": status, "write": write}
