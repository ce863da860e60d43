"""Starts moto's server with Step Functions executing ASL, its Lambda tasks
sent to an external Lambda Invoke-API endpoint.

moto vendors LocalStack's ASL interpreter; its Task states call Lambda through
`boto_client_for`, which points at moto's own Lambda (Docker-only). This
launcher points that client at HLX_LAMBDA_ENDPOINT instead, where the test
serves the real hlx release binaries, then runs moto's server as usual.

It also creates the stack's SNS topic, hlx-alarms, in moto's SNS: the
definition's sns:publish integration publishes there.

Usage: python moto_sfn.py PORT   (env HLX_LAMBDA_ENDPOINT=http://127.0.0.1:NNNN)
"""

import os
import sys

import boto3
from botocore.config import Config

from moto.core.config import default_user_config
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

default_user_config["stepfunctions"]["execute_state_machine"] = True

LAMBDA_ENDPOINT = os.environ["HLX_LAMBDA_ENDPOINT"]


def lambda_client_for(region, service, state_credentials=None):
    assert service == "lambda", service
    return boto3.client(
        "lambda",
        region_name=region,
        endpoint_url=LAMBDA_ENDPOINT,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 0, "total_max_attempts": 1}, read_timeout=120),
    )


lambda_eval_utils.boto_client_for = lambda_client_for

if __name__ == "__main__":
    port = sys.argv[1]
    os.environ["MOTO_PORT"] = port
    from moto.server import main
    from moto.sns.models import sns_backends

    # The stack's topic (${AlarmTopicArn}): the definition's sns:publish
    # goes to moto's own SNS, in this process.
    sns_backends["123456789012"]["us-east-1"].create_topic("hlx-alarms")

    main(["-H", "127.0.0.1", "-p", port])
