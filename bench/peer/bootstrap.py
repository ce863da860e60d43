"""A minimal Lambda runtime for the Python peer, as the managed Python runtime
behaves: import the handler module once (the init phase), then loop on the
Runtime API's /invocation/next, call the handler, post its result or error.

Standard library only (urllib), like a custom runtime a team would write; the
managed runtime's client is a C extension, which only makes the loop cheaper,
not the import of boto3 and the handler that dominate init.
"""

import importlib
import json
import os
import sys
import traceback
import urllib.request


class Context:
    """The parts of the Lambda context object handlers use."""

    def __init__(self, headers):
        self.aws_request_id = headers.get("Lambda-Runtime-Aws-Request-Id")
        self.invoked_function_arn = headers.get("Lambda-Runtime-Invoked-Function-Arn")
        self.deadline_ms = int(headers.get("Lambda-Runtime-Deadline-Ms") or 0)
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")

    def get_remaining_time_in_millis(self):
        import time

        return max(0, self.deadline_ms - int(time.time() * 1000))


def post(url, body, headers=None):
    data = json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="POST", headers=headers or {})
    with urllib.request.urlopen(request) as response:
        response.read()


def error_body(exc):
    return {
        "errorType": type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }


def main():
    base = "http://{}/2018-06-01/runtime".format(os.environ["AWS_LAMBDA_RUNTIME_API"])
    sys.path.insert(0, os.environ.get("LAMBDA_TASK_ROOT", os.getcwd()))
    module_name, function_name = os.environ["_HANDLER"].rsplit(".", 1)
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
    except Exception as exc:  # noqa: BLE001 - reported as the runtime does
        post(f"{base}/init/error", error_body(exc), {"Lambda-Runtime-Function-Error-Type": "Runtime.ImportModuleError"})
        sys.exit(1)
    while True:
        with urllib.request.urlopen(f"{base}/invocation/next") as response:
            request_id = response.headers["Lambda-Runtime-Aws-Request-Id"]
            context = Context(response.headers)
            event = json.loads(response.read())
        try:
            result = handler(event, context)
        except Exception as exc:  # noqa: BLE001 - every handler error goes back to Lambda
            post(
                f"{base}/invocation/{request_id}/error",
                error_body(exc),
                {"Lambda-Runtime-Function-Error-Type": "Unhandled"},
            )
            continue
        post(f"{base}/invocation/{request_id}/response", result)


if __name__ == "__main__":
    main()
