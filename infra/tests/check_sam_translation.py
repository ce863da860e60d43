"""The SAM template as CloudFormation deploys it: AWS::Include expanded first
(CloudFormation evaluates embedded transforms before the template's
AWS::Serverless transform), then SAM's own translator (samtranslator, the
version aws-sam-cli ships). The API it generates must be the one the CDK app
synthesizes: the same definition, byte for byte, and the same resources.

Run with the SAM virtual environment, after `cdk synth` (infra/check.sh does):
  infra/.venv-sam/bin/python -m unittest discover -s infra/tests -p 'check_*.py' -v
HLX_CDK_TEMPLATE names the CDK template (default infra/cdk/cdk.out/hlx.template.json).
"""

import copy
import json
import os
import pathlib
import re
import unittest

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

INFRA = pathlib.Path(__file__).resolve().parents[1]
REPO = INFRA.parent
EVENTS_PATTERN = REPO / "statemachine" / "healthlake-events.pattern.json"
PLACEHOLDER = re.compile(r"^\$\{([A-Za-z0-9_]+)\}$")
SAM_DIR = INFRA / "sam"
TEMPLATE = SAM_DIR / "template.yaml"
CDK_TEMPLATE = pathlib.Path(os.environ.get("HLX_CDK_TEMPLATE", INFRA / "cdk" / "cdk.out" / "hlx.template.json"))
DEPLOYMENT = re.compile(r"^JobsApiDeployment[0-9A-Za-z]+$")


class _NoManagedPolicies:
    """The translator looks AWS-managed policy names up only for Policies: the stack has none."""

    def load(self):
        return {}


def _packaged(template):
    """What `sam package` leaves: local code and definition paths replaced by S3 locations."""
    packaged = copy.deepcopy(template)
    packaged["Globals"]["Function"]["CodeUri"] = "s3://hlx-artifacts/code.zip"
    for resource in packaged["Resources"].values():
        if resource["Type"] == "AWS::Serverless::StateMachine":
            resource["Properties"]["DefinitionUri"] = "s3://hlx-artifacts/definition.asl.json"
    return packaged


def _expand_includes(node):
    """AWS::Include, as CloudFormation applies it: the node becomes the file's content."""
    if isinstance(node, dict):
        transform_ = node.get("Fn::Transform")
        if len(node) == 1 and isinstance(transform_, dict) and transform_.get("Name") == "AWS::Include":
            location = SAM_DIR / transform_["Parameters"]["Location"]
            return yaml_parse(location.read_text())
        return {key: _expand_includes(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_expand_includes(value) for value in node]
    return node


def _translate(template):
    return transform(template, {}, _NoManagedPolicies())


def _with_refs(node):
    """A pattern file as a template holds it: each "${Parameter}" value made {"Ref": Parameter}."""
    if isinstance(node, dict):
        return {key: _with_refs(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_with_refs(value) for value in node]
    if isinstance(node, str) and PLACEHOLDER.match(node):
        return {"Ref": PLACEHOLDER.match(node).group(1)}
    return node


class SamTranslationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.source = yaml_parse(TEMPLATE.read_text())
        cls.deployed = _translate(_expand_includes(_packaged(cls.source)))["Resources"]
        cls.cdk = json.loads(CDK_TEMPLATE.read_text())["Resources"]

    def test_the_template_translates_as_sam_validate_sees_it(self):
        # The include left unexpanded, as `sam validate` and `sam build` see it.
        api = _translate(_packaged(self.source))["Resources"]["JobsApi"]
        self.assertEqual(api["Type"], "AWS::ApiGateway::RestApi")
        self.assertEqual(
            api["Properties"]["Body"],
            {"Fn::Transform": {"Name": "AWS::Include", "Parameters": {"Location": "jobs-api.openapi.yaml"}}},
        )

    def test_the_deployed_definition_is_the_cdk_apps(self):
        sam_body = self.deployed["JobsApi"]["Properties"]["Body"]
        cdk_body = self.cdk["JobsApi"]["Properties"]["Body"]
        # SAM added nothing to it: no security, validators or responses of its own.
        self.assertEqual(sam_body, cdk_body)

    def test_the_same_resources_as_the_cdk_app(self):
        def inventory(resources, skip_conditional=False):
            out = {}
            for logical_id, resource in resources.items():
                if logical_id == "CDKMetadata":
                    continue
                if skip_conditional and "Condition" in resource and logical_id not in self.cdk:
                    continue
                out["JobsApiDeployment*" if DEPLOYMENT.match(logical_id) else logical_id] = resource["Type"]
            return out

        self.assertEqual(inventory(self.deployed, skip_conditional=True), inventory(self.cdk))

    def test_no_route_and_no_invoke_permission_outside_the_definition(self):
        types = [resource["Type"] for resource in self.deployed.values()]
        for resource_type in ("AWS::ApiGateway::Method", "AWS::ApiGateway::Resource", "AWS::ApiGateway::Authorizer"):
            self.assertNotIn(resource_type, types)
        permissions = sorted(i for i, r in self.deployed.items() if r["Type"] == "AWS::Lambda::Permission")
        self.assertEqual(permissions, ["ApiFunctionInvokePermission", "JobEventsFunctionInvokePermission"])
        stage = self.deployed["JobsApiv1Stage"]["Properties"]
        self.assertEqual(stage["StageName"], "v1")
        self.assertEqual(stage["RestApiId"], {"Ref": "JobsApi"})

    def test_the_job_events_pattern_is_the_file(self):
        # SAM cannot read a file into an EventPattern: the template inlines
        # statemachine/healthlake-events.pattern.json, which must not drift.
        expected = _with_refs(json.loads(EVENTS_PATTERN.read_text()))
        for name in re.findall(r"\$\{([A-Za-z0-9_]+)\}", EVENTS_PATTERN.read_text()):
            self.assertIn(name, self.source["Parameters"], f"${{{name}}} is a SAM parameter")
        self.assertEqual(self.deployed["JobEventsRule"]["Properties"]["EventPattern"], expected)
        # ... and the CDK app fills the file in with the data store's id.
        datastore = self.cdk["JobEventsRule"]["Properties"]["EventPattern"]["detail"]["datastoreId"]
        self.assertEqual(len(datastore), 1)
        self.assertEqual(
            self.cdk["JobEventsRule"]["Properties"]["EventPattern"],
            json.loads(EVENTS_PATTERN.read_text().replace("${DatastoreId}", datastore[0])),
        )


if __name__ == "__main__":
    unittest.main()
