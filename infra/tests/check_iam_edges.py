"""The edges of the stack's access control, held in both deployments: the SAM
template as CloudFormation deploys it (AWS::Include expanded, then SAM's own
translator, as in check_sam_translation.py) and the CDK app's synthesized
template.

- Every method of the REST API is AWS_IAM: each operation of the imported
  definition names a SigV4 scheme (x-amazon-apigateway-authtype awsSigv4) in
  its own `security`. API Gateway's import does not apply a document-level
  `security` to the methods, so the document's requirement is not consulted:
  an operation added later without its own requirement fails here. Methods
  declared outside the definition (AWS::ApiGateway::Method) must be AWS_IAM
  too.
- Every S3 resource ARN built from a location parameter stops at a '/'
  before its '*': for every value the parameter's AllowedPattern accepts
  (s3://exports must not grant every bucket named exports..., nor s3://b/p
  the prefix b/p-other/).
- The KMS key policy holds each AWS service principal to what its service
  documents, and the topic and queue policies hold every service principal
  to a source.
- No role reads log groups it does not own: logs: actions only on the
  stack's own log groups, except Step Functions' log-delivery actions (on
  "*", as its guide grants them) and the writes of API Gateway's
  account-wide logging role.

Each check is also run on a broken copy of a template, so that it is known
to fail when it should.

Run with the SAM virtual environment, after `cdk synth` (infra/check.sh does):
  infra/.venv-sam/bin/python -m unittest discover -s infra/tests -p 'check_iam_edges.py' -v
HLX_CDK_TEMPLATE names the CDK template (default infra/cdk/cdk.out/hlx.template.json).
"""

import copy
import json
import re
import unittest

import check_sam_translation as translation
from samtranslator.yaml_helper import yaml_parse

# The SAM parameters as infra/check.sh's CDK context sets them, so that both
# templates render to the same values.
PARAMETERS = {
    "DatastoreId": "0123456789abcdef0123456789abcdef",
    "ExportS3Uri": "s3://hlx-exports-example/nightly/",
    "KmsKeyArn": "arn:aws:kms:us-east-1:111122223333:key/11111111-2222-3333-4444-555555555555",
    "DataAccessRoleArn": "arn:aws:iam::111122223333:role/hlx-healthlake-export",
    "ImportScheduleExpression": "cron(0 4 * * ? *)",
    "ImportInputS3Uri": "s3://hlx-landing-example/fhir/",
    "ImportOutputS3Uri": "s3://hlx-exports-example/import-logs/",
}
# Values a location parameter might be given: its AllowedPattern decides
# which are deployable; each deployable one must give a grant that stops at a
# '/'.
LOCATION_CANDIDATES = [
    "s3://exports",
    "s3://exports/",
    "s3://hlx-x/p",
    "s3://hlx-x/p/",
    "s3://hlx-x/p/q",
    "s3://hlx-x/p/q/",
    "s3://hlx.x-y/a b/c/",
    "s3://hlx-x//",
    "s3://hlx-x/p*/",
    "s3://hlx-x/*",
    "s3://hlx-x/p?/",
    "s3://hlx-x/${aws:username}/",
]
NO_VALUE = object()
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace", "x-amazon-apigateway-any-method"}
ACCOUNT_LOG_GROUPS = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"
# Step Functions' log delivery: its developer guide ("IAM policies for logging
# to CloudWatch Logs") grants these on Resource "*"; the CloudWatch Logs
# delivery APIs have no resource-level permissions. None reads log events.
LOG_DELIVERY_ACTIONS = {
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}
# API Gateway's logging role is an account-wide setting: it creates, looks up
# and writes the log groups of every REST API of the account and Region.
API_GATEWAY_ACCOUNT_ROLE_POLICY = "ApiGatewayCloudWatchRolePolicy"
API_GATEWAY_LOG_WRITES = {
    "logs:CreateLogGroup",
    "logs:CreateLogStream",
    "logs:DescribeLogGroups",
    "logs:DescribeLogStreams",
    "logs:PutLogEvents",
}
# The one documented exception to aws:SourceAccount / aws:SourceArn in the key
# policy: the SNS developer guide (sns-key-management.html#compatibility-with-
# aws-services) says they are not supported in a KMS key policy for
# EventBridge-to-encrypted topics; with them, EventBridge's deliveries fail.
NO_SOURCE_KEYS_IN_KEY_POLICY = {"events.amazonaws.com"}
SOURCE_KEYS = {"aws:sourcearn", "aws:sourceaccount", "aws:sourceorgid", "aws:sourceorgpaths"}


def _as_list(value):
    return value if isinstance(value, list) else [value]


def render(node, parameters=None):
    """Intrinsic functions spelled out: parameters by value, pseudo
    parameters as ${AWS::...}, attributes as ${Id.Attribute}; Fn::If takes its
    first branch (conditions on, so that every statement is seen)."""
    parameters = parameters or {}
    if isinstance(node, dict):
        if len(node) == 1:
            ((key, value),) = node.items()
            if key == "Ref":
                if value == "AWS::NoValue":
                    return NO_VALUE
                return parameters.get(value, "${%s}" % value)
            if key == "Fn::GetAtt":
                parts = value if isinstance(value, list) else value.split(".", 1)
                return "${%s.%s}" % (parts[0], parts[1])
            if key == "Fn::Sub":
                text, variables = (value, {}) if isinstance(value, str) else (value[0], value[1])
                variables = {name: render(v, parameters) for name, v in variables.items()}

                def substitute(match):
                    name = match.group(1)
                    if name in variables:
                        return str(variables[name])
                    return str(parameters.get(name, match.group(0)))

                return re.sub(r"\$\{([^}!]+)\}", substitute, text)
            if key == "Fn::Join":
                separator, items = value
                return separator.join(str(item) for item in render(items, parameters))
            if key == "Fn::Split":
                separator, text = value
                return render(text, parameters).split(separator)
            if key == "Fn::Select":
                index, items = value
                return render(items, parameters)[int(render(index, parameters))]
            if key == "Fn::If":
                return render(value[1], parameters)
        return {key: render(value, parameters) for key, value in node.items()}
    if isinstance(node, list):
        return [item for item in (render(value, parameters) for value in node) if item is not NO_VALUE]
    return node


def statements(resources):
    """(logical ID, statement) of every policy document in the resources."""

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("Statement"), list) and "Version" in node:
                for statement in node["Statement"]:
                    # A statement under a condition (the X-Ray grants): its first branch.
                    while isinstance(statement, dict) and list(statement) == ["Fn::If"]:
                        statement = statement["Fn::If"][1]
                    if isinstance(statement, dict) and list(statement) != ["Ref"]:
                        yield statement
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value)

    for logical_id, resource in resources.items():
        for statement in walk(resource.get("Properties", {})):
            yield logical_id, statement


# ------------------------------------------------------------------ API auth
def authorization_type(definition, operation):
    """The authorization API Gateway gives an imported operation: from the
    operation's own `security` (or x-amazon-apigateway-auth); AWS_IAM when
    every alternative names only SigV4 schemes, NONE when it names none or
    allows an empty requirement."""
    auth = operation.get("x-amazon-apigateway-auth")
    if auth is not None and str(auth.get("type", "")).upper() != "AWS_IAM":
        return str(auth.get("type", "NONE")).upper()
    security = operation.get("security")
    if not security or any(not requirement for requirement in security):
        return "NONE"
    schemes = {
        **definition.get("securityDefinitions", {}),
        **definition.get("components", {}).get("securitySchemes", {}),
    }
    for requirement in security:
        for name in requirement:
            scheme = schemes.get(name, {})
            sigv4 = (
                scheme.get("type") == "apiKey"
                and scheme.get("in") == "header"
                and scheme.get("name") == "Authorization"
                and scheme.get("x-amazon-apigateway-authtype") == "awsSigv4"
            )
            if not sigv4:
                return "OTHER(%s)" % name
    return "AWS_IAM"


def api_methods(resources):
    """Every method of every REST API: [(where, authorization type)]."""
    out = []
    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::ApiGateway::RestApi" and "Body" in resource.get("Properties", {}):
            body = resource["Properties"]["Body"]
            for path, item in body.get("paths", {}).items():
                for method, operation in item.items():
                    if method in HTTP_METHODS:
                        out.append(("%s %s %s" % (logical_id, method, path), authorization_type(body, operation)))
        elif resource["Type"] == "AWS::ApiGateway::Method":
            out.append((logical_id, resource["Properties"].get("AuthorizationType", "NONE")))
    return out


def unsigned_methods(resources):
    return ["%s: %s" % (where, kind) for where, kind in api_methods(resources) if kind != "AWS_IAM"]


# ------------------------------------------------------------------ S3 ARNs
S3_ARN = re.compile(r"^arn:\$\{AWS::Partition\}:s3:::(.*)$")


def s3_resources(resources):
    """(logical ID, Sid, resource expression) of every S3 grant."""
    for logical_id, statement in statements(resources):
        if any(action.lower().startswith("s3:") for action in _as_list(statement.get("Action", []))):
            for resource in _as_list(statement.get("Resource", [])):
                yield logical_id, statement.get("Sid"), resource


def refs(node):
    """The names a node Refs (in Ref, and in Fn::Sub strings)."""
    found = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref":
                found.add(value)
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                found |= set(re.findall(r"\$\{([^}!.]+)\}", text))
                if not isinstance(value, str):
                    found |= refs(value[1])
            else:
                found |= refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= refs(value)
    return found


def s3_grant_problem(arn, locations):
    """Why an S3 resource ARN reaches beyond the locations, or None. An
    object grant must be a location (bucket/prefix/, ending in '/'), or a
    folder inside one (location/folder/, the verification's results),
    followed by the one '*'; a bucket grant, a location's bucket."""
    match = S3_ARN.match(arn) if isinstance(arn, str) else None
    if not match:
        return "not an S3 ARN: %r" % (arn,)
    rest = match.group(1)
    prefixes = {location[len("s3://"):] for location in locations}
    if "*" not in rest and "?" not in rest:
        buckets = {prefix.split("/")[0] for prefix in prefixes}
        return None if rest in buckets else "%s is not the bucket of %s" % (rest, sorted(locations))
    head, _, tail = rest.partition("*")
    if tail or "?" in head or "$" in head:
        return "%s: a wildcard or policy variable inside the location" % rest
    if not head.endswith("/"):
        return "%s: no '/' before the '*' (every key, bucket or sibling prefix starting %r)" % (rest, head)
    if not any(head.startswith(prefix) for prefix in prefixes):
        return "%s: not one of the locations %s, nor a folder inside one" % (rest, sorted(locations))
    return None


# ------------------------------------------------------------------ KMS keys
def _condition_values(statement, key):
    """{operator: [values]} of a condition key (case-insensitive key)."""
    found = {}
    for operator, block in (statement.get("Condition") or {}).items():
        for name, value in block.items():
            if name.lower() == key.lower():
                found[operator] = _as_list(value)
    return found


def key_policy_problems(resources):
    problems = []
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::KMS::Key":
            continue
        for statement in render(resource["Properties"]["KeyPolicy"]["Statement"]):
            services = _as_list((statement.get("Principal") or {}).get("Service", []))
            if not services or statement.get("Effect") != "Allow":
                continue
            sid = "%s %s" % (logical_id, statement.get("Sid"))
            if len(services) != 1:
                problems.append("%s: one service principal per statement, each with its own conditions: %s" % (
                    sid, services))
                continue
            service = services[0]
            keys = {name.lower() for block in (statement.get("Condition") or {}).values() for name in block}
            if service.startswith("logs."):
                # CloudWatch Logs: the encryption context names the log group.
                context = _condition_values(statement, "kms:EncryptionContext:aws:logs:arn")
                values = context.get("ArnLike", []) + context.get("ArnEquals", [])
                if not values or not all(v.startswith(ACCOUNT_LOG_GROUPS[:-1]) for v in values):
                    problems.append(
                        "%s: CloudWatch Logs without kms:EncryptionContext:aws:logs:arn on this account's log groups"
                        % sid
                    )
            elif service in NO_SOURCE_KEYS_IN_KEY_POLICY:
                if keys & SOURCE_KEYS:
                    problems.append(
                        "%s: %s with %s, which AWS does not support in a key policy for EventBridge-to-encrypted "
                        "topics (deliveries would fail)" % (sid, service, sorted(keys & SOURCE_KEYS))
                    )
                actions = set(_as_list(statement["Action"]))
                if not actions <= {"kms:Decrypt", "kms:GenerateDataKey*"}:
                    problems.append(
                        "%s: %s may only decrypt and generate data keys: %s" % (sid, service, sorted(actions))
                    )
            else:
                prefix = service.split(".")[0]
                account = _condition_values(statement, "aws:SourceAccount").get("StringEquals", [])
                arns = _condition_values(statement, "aws:SourceArn")
                arn_values = arns.get("ArnLike", []) + arns.get("ArnEquals", [])
                own = "arn:${AWS::Partition}:%s:${AWS::Region}:${AWS::AccountId}:" % prefix
                if account != ["${AWS::AccountId}"]:
                    problems.append("%s: %s without aws:SourceAccount = this account" % (sid, service))
                if not arn_values or not all(v.startswith(own) for v in arn_values):
                    problems.append("%s: %s without aws:SourceArn under %s" % (sid, service, own))
    return problems


def service_resource_policy_problems(resources):
    """Topic, queue and bucket policies: every Allow to a service principal names its source."""
    problems = []
    for logical_id, resource in resources.items():
        if resource["Type"] not in ("AWS::SNS::TopicPolicy", "AWS::SQS::QueuePolicy", "AWS::S3::BucketPolicy"):
            continue
        for statement in render(resource["Properties"]["PolicyDocument"]["Statement"]):
            if statement.get("Effect") == "Allow" and (statement.get("Principal") or {}).get("Service"):
                keys = {name.lower() for block in (statement.get("Condition") or {}).values() for name in block}
                if not keys & {"aws:sourcearn", "aws:sourceaccount"}:
                    problems.append(
                        "%s %s: a service principal without aws:SourceArn or aws:SourceAccount"
                        % (logical_id, statement.get("Sid"))
                    )
    return problems


# ------------------------------------------------------------------ log reads
def log_grant_problems(resources):
    log_groups = {i for i, r in resources.items() if r["Type"] == "AWS::Logs::LogGroup"}
    own = {"${%s.Arn}" % i for i in log_groups}
    problems = []
    for logical_id, statement in statements(resources):
        statement = render(statement, PARAMETERS)
        if statement.get("Effect") != "Allow":
            continue
        actions = [a for a in _as_list(statement.get("Action", [])) if a.lower().startswith("logs:") or a == "*"]
        if not actions:
            continue
        targets = _as_list(statement.get("Resource", []))
        where = "%s %s" % (logical_id, statement.get("Sid"))
        for action in actions:
            if "*" in action:
                problems.append("%s: wildcard action %s" % (where, action))
            elif all(target in own for target in targets):
                continue
            elif action in LOG_DELIVERY_ACTIONS and targets == ["*"]:
                continue
            elif (
                logical_id == API_GATEWAY_ACCOUNT_ROLE_POLICY
                and action in API_GATEWAY_LOG_WRITES
                and targets == [ACCOUNT_LOG_GROUPS]
            ):
                continue
            else:
                problems.append("%s: %s on %s, not only this stack's log groups" % (where, action, targets))
    return problems


class _Templates(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sam_source = yaml_parse(translation.TEMPLATE.read_text())
        deployed = translation._expand_includes(translation._packaged(cls.sam_source))
        cls.sam = translation._translate(deployed)["Resources"]
        cls.cdk = json.loads(translation.CDK_TEMPLATE.read_text())["Resources"]
        cls.templates = {"SAM translation": cls.sam, "CDK synth": cls.cdk}

    def parameters(self, name):
        return self.sam_source["Parameters"][name]


class ApiAuthorizationTest(_Templates):
    def test_every_method_of_both_deployments_is_aws_iam(self):
        for name, resources in self.templates.items():
            with self.subTest(name):
                methods = api_methods(resources)
                # Not vacuous: the definition's eleven operations are there.
                self.assertGreaterEqual(len(methods), 11, methods)
                self.assertEqual(unsigned_methods(resources), [])

    def test_an_operation_without_its_own_sigv4_requirement_fails_the_check(self):
        def broken(resources, change):
            copied = copy.deepcopy(resources)
            change(copied["JobsApi"]["Properties"]["Body"])
            return unsigned_methods(copied)

        def drop(body):
            del body["paths"]["/imports/{id}"]["get"]["security"]

        def empty(body):
            body["paths"]["/exports"]["post"]["security"] = []

        def anonymous_alternative(body):
            body["paths"]["/exports"]["post"]["security"].append({})

        def other_scheme(body):
            body["components"]["securitySchemes"]["key"] = {"type": "apiKey", "name": "x-api-key", "in": "header"}
            body["paths"]["/exports"]["get"]["security"] = [{"key": []}]

        def new_route(body):
            # A route added later, relying on the document-level requirement.
            self.assertEqual(body["security"], [{"sigv4": []}])
            integration = body["paths"]["/exports"]["get"]["x-amazon-apigateway-integration"]
            body["paths"]["/health"] = {"get": {"x-amazon-apigateway-integration": integration}}

        def auth_none(body):
            body["paths"]["/exports"]["delete" if "delete" in body["paths"]["/exports"] else "get"][
                "x-amazon-apigateway-auth"
            ] = {"type": "NONE"}

        for name, resources in self.templates.items():
            with self.subTest(name):
                self.assertEqual(broken(resources, drop), ["JobsApi get /imports/{id}: NONE"])
                self.assertEqual(broken(resources, empty), ["JobsApi post /exports: NONE"])
                self.assertEqual(broken(resources, anonymous_alternative), ["JobsApi post /exports: NONE"])
                self.assertEqual(broken(resources, other_scheme), ["JobsApi get /exports: OTHER(key)"])
                self.assertEqual(broken(resources, new_route), ["JobsApi get /health: NONE"])
                self.assertEqual(len(broken(resources, auth_none)), 1)
                # A method declared outside the definition, left open.
                copied = copy.deepcopy(resources)
                copied["HealthMethod"] = {
                    "Type": "AWS::ApiGateway::Method",
                    "Properties": {"HttpMethod": "GET", "AuthorizationType": "NONE"},
                }
                self.assertEqual(unsigned_methods(copied), ["HealthMethod: NONE"])


class S3PrefixTest(_Templates):
    def test_every_s3_grant_stops_at_the_location_prefix(self):
        locations = [PARAMETERS[p] for p in ("ExportS3Uri", "ImportInputS3Uri", "ImportOutputS3Uri")]
        for name, resources in self.templates.items():
            with self.subTest(name):
                grants = [(i, sid, render(r, PARAMETERS)) for i, sid, r in s3_resources(resources)]
                # Not vacuous: check-job's manifest objects and its listing;
                # verify-export's reads, listing and id lists; the Distributed
                # Map's listing (ItemReader) and results (ResultWriter).
                self.assertEqual(
                    sorted(sid for _, sid, _ in grants),
                    [
                        "ListExportFoldersForTheDistributedMap",
                        "ListExportFoldersUnderTheExportLocation",
                        "ListExportFoldersUnderTheExportLocation",
                        "ReadExportsUnderTheExportLocation",
                        "WriteManifestsUnderTheExportLocation",
                        "WriteMapRunResults",
                        "WriteVerificationResults",
                    ],
                )
                self.assertIn(
                    "arn:${AWS::Partition}:s3:::hlx-exports-example/nightly/hlx-verification/*",
                    [arn for _, _, arn in grants],
                )
                self.assertIn(
                    "arn:${AWS::Partition}:s3:::hlx-exports-example/nightly/*", [arn for _, _, arn in grants]
                )
                for logical_id, sid, arn in grants:
                    self.assertIsNone(s3_grant_problem(arn, locations), "%s %s" % (logical_id, sid))

    def test_no_deployable_location_value_widens_a_grant(self):
        # The SAM template splits the location at deployment; every value the
        # parameter's AllowedPattern lets through must give a grant that stops
        # at a '/'. (The CDK app refuses the same values: config.js has the
        # same pattern, parity.test.js holds them equal, stack.test.js tries
        # them.)
        checked = set()
        for logical_id, sid, resource in s3_resources(self.sam):
            for name in sorted(refs(resource) & set(self.sam_source["Parameters"])):
                if not name.endswith("S3Uri"):
                    continue
                checked.add(name)
                pattern = self.parameters(name).get("AllowedPattern")
                accepted = [v for v in LOCATION_CANDIDATES if pattern and re.fullmatch(pattern, v)]
                self.assertIsNotNone(
                    pattern, "%s has no AllowedPattern, yet %s %s is built from it" % (name, logical_id, sid)
                )
                self.assertIn("s3://hlx-x/p/q/", accepted, "%s: a nested prefix is deployable" % name)
                for value in accepted:
                    arn = render(resource, {**PARAMETERS, name: value})
                    self.assertIsNone(s3_grant_problem(arn, [value]), "%s=%s: %s %s" % (name, value, logical_id, sid))
                for value in ("s3://exports", "s3://hlx-x/p", "s3://hlx-x/p*/"):
                    self.assertNotIn(value, accepted, "%s accepts %s" % (name, value))
        self.assertEqual(checked, {"ExportS3Uri"})

    def test_the_check_fails_on_a_location_without_its_slash(self):
        # The pattern this change replaced: s3://exports was deployable.
        old = "^s3://[a-z0-9][.a-z0-9-]{1,61}[a-z0-9](/.*)?$"
        self.assertTrue(re.fullmatch(old, "s3://exports"))
        resource = next(r for _, sid, r in s3_resources(self.sam) if sid == "WriteManifestsUnderTheExportLocation")
        arn = render(resource, {**PARAMETERS, "ExportS3Uri": "s3://exports"})
        self.assertEqual(arn, "arn:${AWS::Partition}:s3:::exports*")
        self.assertRegex(s3_grant_problem(arn, ["s3://exports"]), "no '/' before the '\\*'")
        arn = render(resource, {**PARAMETERS, "ExportS3Uri": "s3://hlx-x/p"})
        self.assertRegex(s3_grant_problem(arn, ["s3://hlx-x/p"]), "no '/' before the '\\*'")
        self.assertRegex(
            s3_grant_problem("arn:${AWS::Partition}:s3:::hlx-x/p*/*", ["s3://hlx-x/p*/"]), "wildcard"
        )
        self.assertRegex(
            s3_grant_problem("arn:${AWS::Partition}:s3:::other-bucket", ["s3://hlx-x/p/"]), "not the bucket"
        )
        # A folder inside a location is narrower; a sibling prefix is not inside it.
        self.assertIsNone(s3_grant_problem("arn:${AWS::Partition}:s3:::hlx-x/p/hlx-verification/*", ["s3://hlx-x/p/"]))
        self.assertRegex(
            s3_grant_problem("arn:${AWS::Partition}:s3:::hlx-x/p-other/*", ["s3://hlx-x/p/"]), "not one of the locations"
        )


class KeyPolicyTest(_Templates):
    def test_each_service_principal_is_held_as_its_service_documents(self):
        for name, resources in self.templates.items():
            with self.subTest(name):
                self.assertEqual(key_policy_problems(resources), [])
                self.assertEqual(service_resource_policy_problems(resources), [])
                services = sorted(
                    s["Principal"]["Service"]
                    for s in render(resources["EncryptionKey"]["Properties"]["KeyPolicy"]["Statement"])
                    if "Service" in s["Principal"]
                )
                self.assertEqual(
                    services,
                    ["cloudwatch.amazonaws.com", "events.amazonaws.com", "logs.${AWS::Region}.${AWS::URLSuffix}"],
                )

    def test_the_check_fails_on_an_unconditioned_or_shared_statement(self):
        for name, resources in self.templates.items():
            with self.subTest(name):
                key = resources["EncryptionKey"]["Properties"]["KeyPolicy"]["Statement"]
                index = {s.get("Sid"): i for i, s in enumerate(key)}
                alarms = index["AlarmsOfThisAccountWriteToTheEncryptedTopic"]
                logs = index["CloudWatchLogsEncryptsThisAccountsLogGroups"]
                events = index["EventBridgeWritesToTheEncryptedTopicAndQueue"]

                def broken(change):
                    copied = copy.deepcopy(resources)
                    change(copied["EncryptionKey"]["Properties"]["KeyPolicy"]["Statement"])
                    return key_policy_problems(copied)

                def unconditioned_alarms(statements_):
                    del statements_[alarms]["Condition"]

                def shared(statements_):
                    statements_[events]["Principal"]["Service"] = ["events.amazonaws.com", "cloudwatch.amazonaws.com"]

                def unscoped_logs(statements_):
                    del statements_[logs]["Condition"]

                def events_with_source(statements_):
                    statements_[events]["Condition"] = {
                        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
                    }

                def new_service(statements_):
                    statements_.append(
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "delivery.logs.amazonaws.com"},
                            "Action": "kms:GenerateDataKey*",
                            "Resource": "*",
                        }
                    )

                self.assertEqual(len(broken(unconditioned_alarms)), 2)
                self.assertEqual(len(broken(shared)), 1)
                self.assertEqual(len(broken(unscoped_logs)), 1)
                self.assertEqual(len(broken(events_with_source)), 1)
                self.assertEqual(len(broken(new_service)), 2)
                copied = copy.deepcopy(resources)
                for statement in copied["AlarmTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]:
                    statement.pop("Condition", None)
                self.assertEqual(len(service_resource_policy_problems(copied)), 2)


class LogReadsTest(_Templates):
    def test_no_role_reads_log_groups_it_does_not_own(self):
        for name, resources in self.templates.items():
            with self.subTest(name):
                self.assertEqual(log_grant_problems(resources), [])
                # Not vacuous: every function writes its own log group, both
                # state machines deliver theirs, API Gateway writes its own.
                granted = {
                    i
                    for i, s in statements(resources)
                    if any(str(a).startswith("logs:") for a in _as_list(s.get("Action", [])))
                }
                self.assertIn(API_GATEWAY_ACCOUNT_ROLE_POLICY, granted)
                self.assertIn("JobStateMachineRolePolicy", granted)
                self.assertIn("StartJobFunctionRolePolicy", granted)
                reads = [
                    (i, a)
                    for i, s in statements(resources)
                    for a in _as_list(s.get("Action", []))
                    if a in ("logs:GetLogEvents", "logs:FilterLogEvents", "logs:StartQuery", "logs:GetLogRecord")
                ]
                self.assertEqual(reads, [])

    def test_the_check_fails_on_a_read_beyond_the_stacks_log_groups(self):
        for name, resources in self.templates.items():
            with self.subTest(name):

                def with_statement(policy, statement):
                    copied = copy.deepcopy(resources)
                    copied[policy]["Properties"]["PolicyDocument"]["Statement"].append(statement)
                    return log_grant_problems(copied)

                def grant(action, resource):
                    return {"Effect": "Allow", "Action": action, "Resource": resource}

                account = {"Fn::Sub": ACCOUNT_LOG_GROUPS}
                own = {"Fn::GetAtt": ["ApiLogGroup", "Arn"]}
                # AWS's AmazonAPIGatewayPushToCloudWatchLogs reads as well.
                reads = grant(["logs:GetLogEvents", "logs:FilterLogEvents"], account)
                self.assertEqual(len(with_statement(API_GATEWAY_ACCOUNT_ROLE_POLICY, reads)), 2)
                self.assertEqual(len(with_statement("ApiFunctionRolePolicy", grant("logs:FilterLogEvents", "*"))), 1)
                self.assertEqual(len(with_statement("ApiFunctionRolePolicy", grant("logs:*", own))), 1)
                # A function reading its own log group reads no other's.
                self.assertEqual(with_statement("ApiFunctionRolePolicy", grant("logs:GetLogEvents", own)), [])


if __name__ == "__main__":
    unittest.main()
