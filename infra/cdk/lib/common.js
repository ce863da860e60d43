'use strict';
// Helpers shared by the stack's constructs: fixed logical IDs, cdk-nag
// acknowledgements, service principals, X-Ray grants and the encrypted log
// groups. Not a construct.
//
// Logical IDs: every resource is given the logical ID of its SAM twin with
// overrideLogicalId, so that the constructs' own path segments never show in
// the template (the parity test compares the two templates by logical ID).

const cdk = require('aws-cdk-lib');
const { RemovalPolicy, Validations } = cdk;
const iam = require('aws-cdk-lib/aws-iam');
const logs = require('aws-cdk-lib/aws-logs');

const LAMBDA_XRAY_ACTIONS = ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'];
const STATE_MACHINE_XRAY_ACTIONS = [...LAMBDA_XRAY_ACTIONS, 'xray:GetSamplingRules', 'xray:GetSamplingTargets'];
const XRAY_WILDCARD = [
  'AwsSolutions-IAM5[Resource::*]',
  'X-Ray trace and sampling actions have no resource-level permissions.',
];

function xrayStatement(actions) {
  return new iam.PolicyStatement({ sid: 'XRayHasNoResourceLevelPermissions', actions, resources: ['*'] });
}

/** Gives a construct's CloudFormation resource a fixed logical ID. */
function logicalId(construct, id) {
  const resource = construct.node.defaultChild ?? construct;
  resource.overrideLogicalId(id);
  return construct;
}

/** cdk-nag acknowledgements, each with its reason. */
function acknowledge(construct, rules) {
  Validations.of(construct).acknowledge(...rules.map(([id, reason]) => ({ id, reason })));
}

function assumedBy(service, { sourceAccount = true } = {}) {
  const principal = new iam.ServicePrincipal(service);
  return sourceAccount
    ? principal.withConditions({ StringEquals: { 'aws:SourceAccount': cdk.Aws.ACCOUNT_ID } })
    : principal;
}

/**
 * A log group of the stack, encrypted with its key and kept for the
 * configured retention, with logical ID `logicalName`.
 * @param {{key: import('aws-cdk-lib/aws-kms').IKey, retention: number}} logging
 */
function logGroup(scope, logicalName, logging, props = {}) {
  return logicalId(
    new logs.LogGroup(scope, logicalName, {
      retention: logging.retention,
      encryptionKey: logging.key,
      removalPolicy: RemovalPolicy.DESTROY,
      ...props,
    }),
    logicalName,
  );
}

/** The acknowledgements of a state machine's findings: ERROR-level logging, and tracing when it is off. */
function acknowledgeStateMachine(stateMachine, tracing) {
  acknowledge(stateMachine, [
    [
      'AwsSolutions-SF1',
      'Logging is at ERROR level without execution data on purpose: inputs, outputs and error causes ' +
        'of an export must not be copied into logs (PHI); the job table is the record of every execution.',
    ],
    ...(tracing ? [] : [['AwsSolutions-SF2', 'Tracing was switched off by the deployment (tracing=Disabled).']]),
  ]);
}

/** The ARN of the configured HealthLake data store. */
function datastoreArn(config) {
  return `arn:${cdk.Aws.PARTITION}:healthlake:${cdk.Aws.REGION}:${cdk.Aws.ACCOUNT_ID}:datastore/fhir/${config.datastoreId}`;
}

/** kms:Decrypt of the stack's key through DynamoDB only: how a table under a customer-managed key is read. */
function decryptThroughDynamoDb(key) {
  return new iam.PolicyStatement({
    sid: 'DecryptJobRecordsThroughDynamoDB',
    actions: ['kms:Decrypt'],
    resources: [key.keyArn],
    conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${cdk.Aws.REGION}.${cdk.Aws.URL_SUFFIX}` } },
  });
}

/** Wait items (keys AWAIT#...) share the job table; grants with this condition reach no job record. */
const WAIT_ITEMS_ONLY = { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['AWAIT#*'] } };

/** A queue policy statement that refuses every SQS or SNS action without TLS. */
function denyWithoutTls(actions, resource) {
  return new iam.PolicyStatement({
    sid: 'DenyWithoutTls',
    effect: iam.Effect.DENY,
    principals: [new iam.AnyPrincipal()],
    actions,
    resources: [resource],
    conditions: { Bool: { 'aws:SecureTransport': 'false' } },
  });
}

module.exports = {
  LAMBDA_XRAY_ACTIONS,
  STATE_MACHINE_XRAY_ACTIONS,
  WAIT_ITEMS_ONLY,
  XRAY_WILDCARD,
  acknowledge,
  acknowledgeStateMachine,
  assumedBy,
  datastoreArn,
  decryptThroughDynamoDb,
  denyWithoutTls,
  logGroup,
  logicalId,
  xrayStatement,
};
