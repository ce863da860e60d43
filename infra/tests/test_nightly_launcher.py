"""The nightly launcher (infra/statemachine/nightly-launcher.asl.json) run by
moto's Step Functions interpreter: one job per name prefix, data store and UTC
day, named <namePrefix>-<datastoreId>-<yyyy-mm-dd> (nightly-... for the nightly
export schedule, import-... for the import schedule), whatever the number of
deliveries; the request goes to the job state machine as it is.

Run: .venv/bin/python -m unittest discover -s infra/tests -v
"""

import datetime
import json
import logging
import pathlib
import time
import unittest

import boto3
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_sfn as sfn_task,
)

LAUNCHER = pathlib.Path(__file__).resolve().parents[1] / "statemachine" / "nightly-launcher.asl.json"
ROLE = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/hlx-test"
REQUEST = {
    "datastoreId": "0123456789abcdef0123456789abcdef",
    "s3Uri": "s3://hlx-exports-example/nightly/",
    "kmsKeyId": "arn:aws:kms:us-east-1:111122223333:key/11111111-2222-3333-4444-555555555555",
    "dataAccessRoleArn": "arn:aws:iam::111122223333:role/hlx-healthlake-export",
    "trigger": "schedule",
}
# What the import schedule sends (the same state machine runs it).
IMPORT_REQUEST = {
    "kind": "import",
    "datastoreId": "0123456789abcdef0123456789abcdef",
    "inputS3Uri": "s3://hlx-landing-example/fhir/",
    "outputS3Uri": "s3://hlx-import-logs-example/import-logs/",
    "kmsKeyId": "arn:aws:kms:us-east-1:111122223333:key/11111111-2222-3333-4444-555555555555",
    "dataAccessRoleArn": "arn:aws:iam::111122223333:role/hlx-healthlake-export",
    "trigger": "schedule",
}
NIGHTLY = "nightly-0123456789abcdef0123456789abcdef"
IMPORT = "import-0123456789abcdef0123456789abcdef"

# moto 5.2.5 gaps in its arn:aws:states:::states:startExecution integration,
# bridged the way AWS behaves: it hands the ASL's parameter names
# (StateMachineArn, Name, Input) to boto3 unchanged, where the Step Functions
# API spells them stateMachineArn, name, input; and it leaves the response's
# startDate a datetime, where AWS gives the task a JSON timestamp.
_original = sfn_task.StateTaskServiceSfn._eval_service_task


def _aws_like(self, *args, **kwargs):
    params = kwargs["normalised_parameters"]
    kwargs["normalised_parameters"] = {k[:1].lower() + k[1:]: v for k, v in params.items()}
    result = _original(self, *args, **kwargs)
    env = kwargs["env"]
    env.stack[-1] = {
        k: v.isoformat() if isinstance(v, datetime.datetime) else v for k, v in env.stack[-1].items()
    }
    return result


class NightlyLauncherTest(unittest.TestCase):
    def setUp(self):
        sfn_task.StateTaskServiceSfn._eval_service_task = _aws_like
        self.mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        self.mock.start()
        self.sfn = boto3.client("stepfunctions", region_name="us-east-1")
        # The job state machine stands in as one that waits a moment, so that the
        # second delivery meets it running or finished.
        export = {"StartAt": "Work", "States": {"Work": {"Type": "Wait", "Seconds": 1, "End": True}}}
        self.export_arn = self.sfn.create_state_machine(
            name="export", roleArn=ROLE, definition=json.dumps(export)
        )["stateMachineArn"]
        definition = LAUNCHER.read_text().replace("${JobStateMachineArn}", self.export_arn)
        self.assertNotIn("${", definition, "the launcher has one placeholder")
        self.launcher_arn = self.sfn.create_state_machine(
            name="nightly-launcher", roleArn=ROLE, definition=definition
        )["stateMachineArn"]
        self.deliveries = 0

    def tearDown(self):
        self.mock.stop()
        sfn_task.StateTaskServiceSfn._eval_service_task = _original

    def deliver(self, scheduled_time, request=REQUEST, name_prefix="nightly"):
        """One delivery of a schedule, as EventBridge Scheduler makes it (the
        nightly export's by default; name_prefix None leaves the prefix out)."""
        self.deliveries += 1
        launcher_input = {"scheduledTime": scheduled_time, "request": request}
        if name_prefix is not None:
            launcher_input["namePrefix"] = name_prefix
        arn = self.sfn.start_execution(
            stateMachineArn=self.launcher_arn,
            name=f"delivery-{self.deliveries}",
            input=json.dumps(launcher_input),
        )["executionArn"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            execution = self.sfn.describe_execution(executionArn=arn)
            if execution["status"] != "RUNNING":
                return execution, self.sfn.get_execution_history(executionArn=arn)["events"]
            time.sleep(0.05)
        self.fail("the launcher did not finish")

    def exports(self):
        return self.sfn.list_executions(stateMachineArn=self.export_arn)["executions"]

    def test_starts_the_export_under_the_nights_name_with_the_request_as_input(self):
        execution, _ = self.deliver("2025-03-04T02:00:00Z")
        self.assertEqual(execution["status"], "SUCCEEDED")
        [export] = self.exports()
        self.assertEqual(export["name"], f"{NIGHTLY}-2025-03-04")
        described = self.sfn.describe_execution(executionArn=export["executionArn"])
        self.assertEqual(json.loads(described["input"]), REQUEST)

    def test_a_second_delivery_of_the_same_night_starts_nothing(self):
        self.deliver("2025-03-04T02:00:00Z")
        time.sleep(1.5)  # the first export has finished: its name stays taken
        execution, history = self.deliver("2025-03-04T02:00:00Z")
        self.assertEqual(execution["status"], "SUCCEEDED")
        failed = [e for e in history if e["type"] == "TaskFailed"]
        self.assertEqual(
            [e["taskFailedEventDetails"]["error"] for e in failed],
            ["StepFunctions.ExecutionAlreadyExistsException"],
            "refused once, never retried",
        )
        entered = [e["stateEnteredEventDetails"]["name"] for e in history if e["type"] == "SucceedStateEntered"]
        self.assertEqual(entered, ["AlreadyStarted"])
        self.assertEqual(len(self.exports()), 1)

    def test_each_night_gets_its_own_export(self):
        for night in ("2025-03-04T02:00:00Z", "2025-03-05T02:00:00Z", "2025-03-05T02:00:00Z"):
            self.deliver(night)
        self.assertEqual(
            sorted(e["name"] for e in self.exports()),
            [f"{NIGHTLY}-2025-03-04", f"{NIGHTLY}-2025-03-05"],
        )

    def test_names_stay_valid_execution_names(self):
        self.deliver("2025-12-31T23:59:59Z")
        self.deliver("2025-12-31T23:59:59Z", IMPORT_REQUEST, "import")
        names = [e["name"] for e in self.exports()]
        self.assertEqual(len(names), 2)
        for name in names:
            self.assertRegex(name, r"^[0-9A-Za-z_-]{1,80}$")

    def test_starts_the_import_under_the_nights_import_name_with_its_request_as_input(self):
        execution, _ = self.deliver("2025-03-04T04:00:00Z", IMPORT_REQUEST, "import")
        self.assertEqual(execution["status"], "SUCCEEDED")
        [job] = self.exports()
        self.assertEqual(job["name"], f"{IMPORT}-2025-03-04")
        described = self.sfn.describe_execution(executionArn=job["executionArn"])
        self.assertEqual(json.loads(described["input"]), IMPORT_REQUEST, "kind: import reaches the state machine")

    def test_a_second_delivery_of_the_same_nights_import_starts_nothing(self):
        self.deliver("2025-03-04T04:00:00Z", IMPORT_REQUEST, "import")
        time.sleep(1.5)
        execution, history = self.deliver("2025-03-04T04:00:00Z", IMPORT_REQUEST, "import")
        self.assertEqual(execution["status"], "SUCCEEDED")
        entered = [e["stateEnteredEventDetails"]["name"] for e in history if e["type"] == "SucceedStateEntered"]
        self.assertEqual(entered, ["AlreadyStarted"])
        self.assertEqual([e["name"] for e in self.exports()], [f"{IMPORT}-2025-03-04"])

    def test_the_nights_export_and_import_each_start_under_their_own_name(self):
        for _ in range(2):
            self.deliver("2025-03-04T02:00:00Z")
            self.deliver("2025-03-04T04:00:00Z", IMPORT_REQUEST, "import")
        self.assertEqual(
            sorted(e["name"] for e in self.exports()),
            [f"{IMPORT}-2025-03-04", f"{NIGHTLY}-2025-03-04"],
        )

    def test_without_a_known_name_prefix_the_launcher_fails_and_starts_nothing(self):
        # moto logs the IsPresent test of a missing field as an error (AWS
        # does not): quiet its interpreter's log for these deliveries.
        interpreter = logging.getLogger("moto.stepfunctions.parser")
        level = interpreter.level
        interpreter.setLevel(logging.CRITICAL)
        self.addCleanup(interpreter.setLevel, level)
        for prefix in (None, "api", "nightly-x", 7):
            execution, history = self.deliver("2025-03-04T02:00:00Z", name_prefix=prefix)
            self.assertEqual(execution["status"], "FAILED", prefix)
            self.assertEqual(execution.get("error"), "hlx.UnknownNamePrefix", prefix)
            self.assertFalse([e for e in history if e["type"] == "TaskScheduled"], f"{prefix}: StartExecution never called")
        self.assertEqual(self.exports(), [])


if __name__ == "__main__":
    unittest.main()
