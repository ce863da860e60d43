'use strict';
// Assertions on the synthesized CDK stack: the properties the design
// promises (PHI-safe logging, encryption, retention, least-privilege IAM).

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { Match, Template } = require('aws-cdk-lib/assertions');
const {
  DISTINCT,
  IMPORT_SCHEDULE,
  REPO,
  REQUIRED,
  INFRA,
  policiesAttachedTo,
  render,
  resourcesOfType,
  roleStatements,
  synth,
} = require('./helpers');
const { readConfig, ConfigError } = require('../lib/config');
const openapi = require('../lib/openapi');

const defaults = synth();
const t = Template.fromJSON(defaults.template);
const cfn = defaults.template;
const ON = { TracingOn: true };
const datastoreArn = `arn:\${AWS::Partition}:healthlake:\${AWS::Region}:\${AWS::AccountId}:datastore/fhir/${REQUIRED.datastoreId}`;

const FUNCTIONS = [
  'StartJobFunction',
  'CheckJobFunction',
  'RecordResultFunction',
  'AwaitJobFunction',
  'ApiFunction',
  'JobEventsFunction',
];
/** The functions with an Errors alarm of their own (await-job and job-events have other safety nets). */
const ALARMED_FUNCTIONS = ['StartJobFunction', 'CheckJobFunction', 'RecordResultFunction', 'ApiFunction'];
const POLL_VARIABLES = [
  'HLX_POLL_INITIAL_SECONDS',
  'HLX_POLL_BACKOFF_RATE',
  'HLX_POLL_MAX_SECONDS',
  'HLX_POLL_SUBMITTED_SECONDS',
  'HLX_POLL_QUEUED_SECONDS',
  'HLX_MAX_RUN_HOURS',
  'HLX_MAX_QUEUE_HOURS',
  'HLX_WAKE_BY',
  'HLX_FALLBACK_INITIAL_SECONDS',
  'HLX_FALLBACK_MAX_SECONDS',
  'HLX_MAX_JOBS_IN_FLIGHT',
];

/** Actions that AWS offers only on Resource "*". */
const NO_RESOURCE_LEVEL = new Set([
  'xray:PutTraceSegments',
  'xray:PutTelemetryRecords',
  'xray:GetSamplingRules',
  'xray:GetSamplingTargets',
  'logs:CreateLogDelivery',
  'logs:GetLogDelivery',
  'logs:UpdateLogDelivery',
  'logs:DeleteLogDelivery',
  'logs:ListLogDeliveries',
  'logs:PutResourcePolicy',
  'logs:DescribeResourcePolicies',
  'logs:DescribeLogGroups',
]);

const asList = (v) => (Array.isArray(v) ? v : [v]);
/** Statements of a role, keyed by Sid, Action and Resource as sorted lists. */
function statementsBySid(template, roleId, conditions = ON) {
  const out = {};
  for (const s of roleStatements(template, roleId, conditions)) {
    out[s.Sid] = { ...s, Action: asList(s.Action).sort(), Resource: asList(s.Resource).sort() };
  }
  return out;
}

test('functions: provided.al2023, bootstrap, arm64 by default, 128 MB (verify-export 1024 MB, 900 s), JSON logs to their own log group, active tracing', () => {
  for (const id of FUNCTIONS) {
    const fn = cfn.Resources[id];
    assert.equal(fn.Type, 'AWS::Lambda::Function');
    const p = fn.Properties;
    assert.equal(p.Runtime, 'provided.al2023');
    assert.equal(p.Handler, 'bootstrap');
    assert.deepEqual(p.Architectures, ['arm64']);
    if (id === 'VerifyExportFunction') {
      // It streams whole exports: its Tasks give it the 900 s Lambda maximum.
      assert.equal(p.MemorySize, 1024);
      assert.equal(p.Timeout, 900);
    } else {
      assert.equal(p.MemorySize, 128);
      assert.ok(p.Timeout < 60, 'below the 60 s Task timeout of the state machine');
    }
    assert.deepEqual(p.LoggingConfig, { LogFormat: 'JSON', LogGroup: { Ref: id.replace('Function', 'LogGroup') } });
    assert.deepEqual(p.TracingConfig, { Mode: 'Active' });
    assert.equal(p.Environment.Variables.RUST_LOG, 'info');
  }
});

test('functions: environment variables per function', () => {
  const env = (id) => cfn.Resources[id].Properties.Environment.Variables;
  assert.deepEqual(Object.keys(env('StartJobFunction')).sort(), ['RUST_LOG', 'HLX_TABLE_NAME', ...POLL_VARIABLES].sort());
  assert.deepEqual(env('StartJobFunction').HLX_TABLE_NAME, { Ref: 'JobTable' });
  assert.deepEqual(Object.keys(env('CheckJobFunction')).sort(), ['RUST_LOG', ...POLL_VARIABLES].sort());
  assert.deepEqual(env('RecordResultFunction'), { RUST_LOG: 'info', HLX_TABLE_NAME: { Ref: 'JobTable' } });
  assert.deepEqual(env('AwaitJobFunction'), { RUST_LOG: 'info', HLX_TABLE_NAME: { Ref: 'JobTable' } });
  assert.deepEqual(env('JobEventsFunction'), { RUST_LOG: 'info', HLX_TABLE_NAME: { Ref: 'JobTable' } });
  for (const id of ['StartJobFunction', 'CheckJobFunction']) {
    assert.equal(env(id).HLX_MAX_RUN_HOURS, '24', id);
    assert.equal(env(id).HLX_MAX_QUEUE_HOURS, '24', id);
    assert.equal(env(id).HLX_WAKE_BY, 'events', id);
    assert.equal(env(id).HLX_FALLBACK_INITIAL_SECONDS, '3600', id);
    assert.equal(env(id).HLX_FALLBACK_MAX_SECONDS, '14400', id);
  }
  const polled = synth({ wakeBy: 'poll', fallbackInitialSeconds: 1800, fallbackMaxSeconds: 7200 }).template;
  for (const id of ['StartJobFunction', 'CheckJobFunction']) {
    const v = polled.Resources[id].Properties.Environment.Variables;
    assert.deepEqual([v.HLX_WAKE_BY, v.HLX_FALLBACK_INITIAL_SECONDS, v.HLX_FALLBACK_MAX_SECONDS], ['poll', '1800', '7200'], id);
  }
  assert.throws(() => readConfig((k) => ({ ...REQUIRED, wakeBy: 'sometimes' })[k]), /wakeBy must be one of events, poll/);
  assert.deepEqual(env('ApiFunction'), {
    RUST_LOG: 'info',
    HLX_STATE_MACHINE_ARN: { Ref: 'JobStateMachine' },
    HLX_TABLE_NAME: { Ref: 'JobTable' },
    HLX_DEFAULT_DATASTORE_ID: REQUIRED.datastoreId,
    HLX_EXPORT_S3_URI: REQUIRED.exportS3Uri,
    HLX_EXPORT_KMS_KEY_ID: REQUIRED.kmsKeyArn,
    HLX_DATA_ACCESS_ROLE_ARN: REQUIRED.dataAccessRoleArn,
    // Imports are off by default: empty locations.
    HLX_IMPORT_INPUT_S3_URI: '',
    HLX_IMPORT_OUTPUT_S3_URI: '',
    HLX_MAX_JOBS_IN_FLIGHT: '8',
  });
  const withImports = synth({ importInputS3Uri: IMPORT_SCHEDULE.importInputS3Uri, importOutputS3Uri: IMPORT_SCHEDULE.importOutputS3Uri })
    .template.Resources.ApiFunction.Properties.Environment.Variables;
  assert.equal(withImports.HLX_IMPORT_INPUT_S3_URI, IMPORT_SCHEDULE.importInputS3Uri);
  assert.equal(withImports.HLX_IMPORT_OUTPUT_S3_URI, IMPORT_SCHEDULE.importOutputS3Uri);
});

test('functions: the api function gets exactly the variables its code reads', () => {
  // functions/api/src/config.rs names its settings; the table name is read by hlx_aws::config::table_name.
  const config = fs.readFileSync(path.join(REPO, 'functions', 'api', 'src', 'config.rs'), 'utf8');
  const read = [...config.matchAll(/^pub const ENV_[A-Z0-9_]+: &str = "(HLX_[A-Z0-9_]+)";$/gm)].map((m) => m[1]);
  assert.ok(read.length >= 5, `found ${read.join(', ')} in config.rs`);
  const aws = fs.readFileSync(path.join(REPO, 'functions', 'aws', 'src', 'config.rs'), 'utf8');
  assert.match(aws, /std::env::var\("HLX_TABLE_NAME"\)/);
  const expected = ['RUST_LOG', 'HLX_TABLE_NAME', ...read].sort();
  assert.deepEqual(Object.keys(cfn.Resources.ApiFunction.Properties.Environment.Variables).sort(), expected);
});

test('functions: the api function answers within API Gateway\'s 29-second integration timeout', () => {
  assert.equal(cfn.Resources.ApiFunction.Properties.Timeout, 29);
});

test('functions: x86_64 and tracing off are one context value away', () => {
  const other = synth({ architecture: 'x86_64', tracing: 'false' }).template;
  for (const id of FUNCTIONS) {
    assert.deepEqual(other.Resources[id].Properties.Architectures, ['x86_64']);
    assert.deepEqual(other.Resources[id].Properties.TracingConfig, { Mode: 'PassThrough' });
  }
  for (const id of ['JobStateMachine', 'NightlyLauncher']) {
    assert.deepEqual(other.Resources[id].Properties.TracingConfiguration, { Enabled: false });
  }
  assert.equal(other.Resources.JobsApiv1Stage.Properties.TracingEnabled, false);
  for (const [id, policy] of Object.entries(resourcesOfType(other, 'AWS::IAM::ManagedPolicy'))) {
    for (const s of policy.Properties.PolicyDocument.Statement) {
      assert.ok(!asList(s.Action).some((a) => a.startsWith('xray:')), `${id}: no X-Ray permission without tracing`);
    }
  }
});

test('log groups: retention (90 days by default) and the stack key', () => {
  const groups = resourcesOfType(cfn, 'AWS::Logs::LogGroup');
  assert.deepEqual(Object.keys(groups).sort(), [
    'ApiLogGroup',
    'AwaitJobLogGroup',
    'CheckJobLogGroup',
    'JobEventsLogGroup',
    'JobStateMachineLogGroup',
    'JobsApiAccessLogGroup',
    'JobsApiExecutionLogGroup',
    'NightlyLauncherLogGroup',
    'RecordResultLogGroup',
    'StartJobLogGroup',
    'VerifyExportLogGroup',
  ]);
  for (const [id, g] of Object.entries(groups)) {
    assert.equal(g.Properties.RetentionInDays, 90, id);
    assert.deepEqual(g.Properties.KmsKeyId, { 'Fn::GetAtt': ['EncryptionKey', 'Arn'] }, id);
  }
  const retained = synth({ logRetentionDays: 365 }).template;
  for (const g of Object.values(resourcesOfType(retained, 'AWS::Logs::LogGroup'))) {
    assert.equal(g.Properties.RetentionInDays, 365);
  }
});

test('encryption key: rotated, retained, usable by CloudWatch Logs, EventBridge and alarms', () => {
  t.hasResource('AWS::KMS::Key', {
    DeletionPolicy: 'Retain',
    Properties: Match.objectLike({ EnableKeyRotation: true, PendingWindowInDays: 30 }),
  });
  const statements = render(cfn.Resources.EncryptionKey.Properties.KeyPolicy.Statement);
  const bySid = Object.fromEntries(statements.map((s) => [s.Sid, s]));
  assert.deepEqual(Object.keys(bySid).sort(), [
    'AccountAdministersKeyThroughIam',
    'AlarmsOfThisAccountWriteToTheEncryptedTopic',
    'CloudWatchLogsEncryptsThisAccountsLogGroups',
    'EventBridgeWritesToTheEncryptedTopicAndQueue',
  ]);
  // One service principal per statement, each held by the condition its service documents.
  const services = statements.filter((s) => s.Principal.Service).map((s) => [s.Sid, s.Principal.Service]);
  assert.deepEqual(Object.fromEntries(services), {
    AlarmsOfThisAccountWriteToTheEncryptedTopic: 'cloudwatch.amazonaws.com',
    CloudWatchLogsEncryptsThisAccountsLogGroups: 'logs.${AWS::Region}.${AWS::URLSuffix}',
    EventBridgeWritesToTheEncryptedTopicAndQueue: 'events.amazonaws.com',
  });
  // CloudWatch Logs: the encryption context names the log group, of this account and Region.
  assert.deepEqual(bySid.CloudWatchLogsEncryptsThisAccountsLogGroups.Condition, {
    ArnLike: {
      'kms:EncryptionContext:aws:logs:arn': 'arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*',
    },
  });
  // Alarms: aws:SourceAccount and aws:SourceArn, alarms of this account and Region.
  assert.deepEqual(bySid.AlarmsOfThisAccountWriteToTheEncryptedTopic.Condition, {
    StringEquals: { 'aws:SourceAccount': '${AWS::AccountId}' },
    ArnLike: { 'aws:SourceArn': 'arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*' },
  });
  // EventBridge writes the job events dead letters and the failure messages
  // with this key: the key policy must let it, and without aws:SourceAccount
  // or aws:SourceArn, which AWS does not support in a key policy for
  // EventBridge-to-encrypted topics (the topic and queue policies carry them).
  const events = bySid.EventBridgeWritesToTheEncryptedTopicAndQueue;
  assert.deepEqual([].concat(events.Action).sort(), ['kms:Decrypt', 'kms:GenerateDataKey*']);
  assert.equal(events.Condition, undefined);
  for (const s of statements) assert.deepEqual([].concat(s.Resource), ['*'], `${s.Sid}: the key itself`);
});

test('job table: keys, index, TTL, on-demand, PITR, customer-managed SSE, deletion protection, retained', () => {
  t.hasResource('AWS::DynamoDB::Table', {
    DeletionPolicy: 'Retain',
    UpdateReplacePolicy: 'Retain',
    Properties: {
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: Match.arrayWith([
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'gsi1pk', AttributeType: 'S' },
        { AttributeName: 'gsi1sk', AttributeType: 'S' },
      ]),
      GlobalSecondaryIndexes: [
        {
          IndexName: 'by-datastore',
          KeySchema: [
            { AttributeName: 'gsi1pk', KeyType: 'HASH' },
            { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: {
        SSEEnabled: true,
        SSEType: 'KMS',
        KMSMasterKeyId: { 'Fn::GetAtt': ['EncryptionKey', 'Arn'] },
      },
      DeletionProtectionEnabled: true,
    },
  });
  assert.equal(cfn.Resources.JobTable.Properties.AttributeDefinitions.length, 3);
});

test('job state machine: Standard, ERROR logs without execution data, tracing, the ASL file with its substitutions', () => {
  const p = cfn.Resources.JobStateMachine.Properties;
  assert.equal(p.StateMachineType, 'STANDARD');
  assert.deepEqual(p.LoggingConfiguration, {
    Level: 'ERROR',
    IncludeExecutionData: false,
    Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': ['JobStateMachineLogGroup', 'Arn'] } } }],
  });
  assert.deepEqual(p.TracingConfiguration, { Enabled: true });
  assert.deepEqual(p.DefinitionSubstitutions, {
    StartJobFunctionArn: { 'Fn::GetAtt': ['StartJobFunction', 'Arn'] },
    CheckJobFunctionArn: { 'Fn::GetAtt': ['CheckJobFunction', 'Arn'] },
    RecordResultFunctionArn: { 'Fn::GetAtt': ['RecordResultFunction', 'Arn'] },
    AwaitJobFunctionArn: { 'Fn::GetAtt': ['AwaitJobFunction', 'Arn'] },
    VerifyExportFunctionArn: { 'Fn::GetAtt': ['VerifyExportFunction', 'Arn'] },
    AlarmTopicArn: { Ref: 'AlarmTopic' },
  });
  const key = p.DefinitionS3Location.Key;
  const asset = path.join(defaults.outdir, `asset.${key}`);
  assert.equal(
    fs.readFileSync(asset, 'utf8'),
    fs.readFileSync(path.join(REPO, 'statemachine', 'job.asl.json'), 'utf8'),
    'the deployed definition is statemachine/job.asl.json, byte for byte',
  );
});

test('nightly launcher: Standard, ERROR logs without execution data, starts the job state machine', () => {
  const p = cfn.Resources.NightlyLauncher.Properties;
  assert.equal(p.StateMachineType, 'STANDARD');
  assert.equal(p.LoggingConfiguration.Level, 'ERROR');
  assert.equal(p.LoggingConfiguration.IncludeExecutionData, false);
  assert.deepEqual(p.DefinitionSubstitutions, { JobStateMachineArn: { Ref: 'JobStateMachine' } });
  assert.equal(
    fs.readFileSync(path.join(defaults.outdir, `asset.${p.DefinitionS3Location.Key}`), 'utf8'),
    fs.readFileSync(path.join(INFRA, 'statemachine', 'nightly-launcher.asl.json'), 'utf8'),
  );
});

test('IAM: each role holds exactly its actions on exactly its resources', () => {
  const start = statementsBySid(cfn, 'StartJobFunctionRole');
  assert.deepEqual(Object.keys(start).sort(), [
    'DecryptJobRecordsThroughDynamoDB',
    'PassTheDataAccessRoleToHealthLake',
    'ReadPastExportsOfTheDatastore',
    'StartExportOfTheDatastore',
    'StartImportIntoTheDatastore',
    'StartRestExportOfTheDatastore',
    'TakeSlotsAndReadChains',
    'UseTheExportKeyOnlyThroughHealthLake',
    'WriteOwnLogs',
    'XRayHasNoResourceLevelPermissions',
  ]);
  const [byDatastore] = cfn.Resources.JobTable.Properties.GlobalSecondaryIndexes;
  // The data store's past exports, through the index only: no GetItem, no Query on the table itself.
  assert.deepEqual(start.ReadPastExportsOfTheDatastore.Action, ['dynamodb:Query']);
  assert.deepEqual(start.ReadPastExportsOfTheDatastore.Resource, [`\${JobTable.Arn}/index/${byDatastore.IndexName}`]);
  assert.equal(start.ReadPastExportsOfTheDatastore.Condition, undefined);
  assert.deepEqual(start.DecryptJobRecordsThroughDynamoDB.Action, ['kms:Decrypt']);
  assert.deepEqual(start.DecryptJobRecordsThroughDynamoDB.Resource, ['${EncryptionKey.Arn}']);
  assert.deepEqual(start.DecryptJobRecordsThroughDynamoDB.Condition, {
    StringEquals: { 'kms:ViaService': 'dynamodb.${AWS::Region}.${AWS::URLSuffix}' },
  });
  assert.deepEqual(start.StartExportOfTheDatastore.Action, ['healthlake:StartFHIRExportJob']);
  assert.deepEqual(start.StartExportOfTheDatastore.Resource, [datastoreArn]);
  assert.deepEqual(start.StartImportIntoTheDatastore.Action, ['healthlake:StartFHIRImportJob']);
  assert.deepEqual(start.StartImportIntoTheDatastore.Resource, [datastoreArn]);
  assert.equal(start.StartImportIntoTheDatastore.Condition, undefined);
  assert.deepEqual(start.PassTheDataAccessRoleToHealthLake.Action, ['iam:PassRole']);
  assert.deepEqual(start.PassTheDataAccessRoleToHealthLake.Resource, [REQUIRED.dataAccessRoleArn]);
  assert.deepEqual(start.PassTheDataAccessRoleToHealthLake.Condition, {
    StringEquals: { 'iam:PassedToService': 'healthlake.amazonaws.com' },
  });
  assert.deepEqual(start.UseTheExportKeyOnlyThroughHealthLake.Action, ['kms:DescribeKey', 'kms:GenerateDataKey']);
  assert.deepEqual(start.UseTheExportKeyOnlyThroughHealthLake.Resource, [REQUIRED.kmsKeyArn]);
  assert.deepEqual(start.UseTheExportKeyOnlyThroughHealthLake.Condition, {
    StringEquals: { 'kms:ViaService': 'healthlake.${AWS::Region}.${AWS::URLSuffix}' },
  });
  assert.deepEqual(start.WriteOwnLogs.Resource, ['${StartJobLogGroup.Arn}']);
  // Admission control and the chains: their own items of the table, never a job record.
  assert.deepEqual(start.TakeSlotsAndReadChains.Action, ['dynamodb:GetItem', 'dynamodb:PutItem']);
  assert.deepEqual(start.TakeSlotsAndReadChains.Condition, {
    'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['SLOTS#*', 'CHAIN#*'] },
  });

  const check = statementsBySid(cfn, 'CheckJobFunctionRole');
  assert.deepEqual(Object.keys(check).sort(), [
    'DescribeAndCancelRestExportsOfTheDatastore',
    'DescribeExportsOfTheDatastore',
    'DescribeImportsOfTheDatastore',
    'EncryptManifestsWithTheExportKeyThroughS3',
    'ListExportFoldersUnderTheExportLocation',
    'WriteManifestsUnderTheExportLocation',
    'WriteOwnLogs',
    'XRayHasNoResourceLevelPermissions',
  ]);
  assert.deepEqual(check.DescribeExportsOfTheDatastore.Action, ['healthlake:DescribeFHIRExportJob']);
  assert.deepEqual(check.DescribeExportsOfTheDatastore.Resource, [datastoreArn]);
  assert.deepEqual(check.DescribeImportsOfTheDatastore.Action, ['healthlake:DescribeFHIRImportJob']);
  assert.deepEqual(check.DescribeImportsOfTheDatastore.Resource, [datastoreArn]);
  // manifest.json: objects under the export location only, the export key through S3 only.
  assert.deepEqual(check.WriteManifestsUnderTheExportLocation.Action, ['s3:PutObject']);
  const location = REQUIRED.exportS3Uri.replace(/^s3:\/\//, '');
  assert.deepEqual(check.WriteManifestsUnderTheExportLocation.Resource, [`arn:\${AWS::Partition}:s3:::${location}*`]);
  assert.deepEqual(check.ListExportFoldersUnderTheExportLocation.Action, ['s3:ListBucket']);
  assert.deepEqual(check.ListExportFoldersUnderTheExportLocation.Resource, [
    `arn:\${AWS::Partition}:s3:::${location.split('/')[0]}`,
  ]);
  assert.deepEqual(check.EncryptManifestsWithTheExportKeyThroughS3.Resource, [REQUIRED.kmsKeyArn]);
  assert.deepEqual(check.EncryptManifestsWithTheExportKeyThroughS3.Condition, {
    StringEquals: { 'kms:ViaService': 's3.${AWS::Region}.${AWS::URLSuffix}' },
  });

  const record = statementsBySid(cfn, 'RecordResultFunctionRole');
  assert.deepEqual(Object.keys(record).sort(), [
    'DecryptJobRecordsThroughDynamoDB',
    'ReadAndWriteJobRecords',
    'ReadPastExportsOfTheDatastore',
    'WriteOwnLogs',
    'XRayHasNoResourceLevelPermissions',
  ]);
  assert.deepEqual(record.ReadPastExportsOfTheDatastore.Resource, [`\${JobTable.Arn}/index/${byDatastore.IndexName}`]);
  assert.deepEqual(record.DecryptJobRecordsThroughDynamoDB.Action, ['kms:Decrypt']);
  assert.deepEqual(record.ReadAndWriteJobRecords.Action, ['dynamodb:GetItem', 'dynamodb:PutItem']);
  assert.deepEqual(record.ReadAndWriteJobRecords.Resource, ['${JobTable.Arn}']);

  const machine = statementsBySid(cfn, 'JobStateMachineRole');
  assert.deepEqual(machine.InvokeTheTaskFunctions.Action, ['lambda:InvokeFunction']);
  assert.deepEqual(machine.InvokeTheTaskFunctions.Resource, [
    '${AwaitJobFunction.Arn}',
    '${CheckJobFunction.Arn}',
    '${RecordResultFunction.Arn}',
    '${StartJobFunction.Arn}',
    '${VerifyExportFunction.Arn}',
  ]);
  // VerifyFiles' ItemReader and ResultWriter: the export bucket's listing, the
  // results under hlx-verification/ only, the export key through S3 only.
  assert.deepEqual(machine.ListExportFoldersForTheDistributedMap.Action, ['s3:ListBucket']);
  assert.deepEqual(machine.ListExportFoldersForTheDistributedMap.Resource, [
    `arn:\${AWS::Partition}:s3:::${location.split('/')[0]}`,
  ]);
  assert.deepEqual(machine.WriteMapRunResults.Action, [
    's3:AbortMultipartUpload',
    's3:GetObject',
    's3:ListMultipartUploadParts',
    's3:PutObject',
  ]);
  assert.deepEqual(machine.WriteMapRunResults.Resource, [`arn:\${AWS::Partition}:s3:::${location}hlx-verification/*`]);
  assert.deepEqual(machine.EncryptMapRunResultsWithTheExportKeyThroughS3.Resource, [REQUIRED.kmsKeyArn]);
  assert.deepEqual(machine.EncryptMapRunResultsWithTheExportKeyThroughS3.Condition, {
    StringEquals: { 'kms:ViaService': 's3.${AWS::Region}.${AWS::URLSuffix}' },
  });
  // NotifyVerification: the stack's topic, its key through SNS only.
  assert.deepEqual(machine.PublishVerdictsToTheAlarmTopic.Action, ['sns:Publish']);
  assert.deepEqual(machine.PublishVerdictsToTheAlarmTopic.Resource, ['${AlarmTopic}']);
  assert.deepEqual(machine.EncryptVerdictsWithTheStackKeyThroughSns.Resource, ['${EncryptionKey.Arn}']);
  assert.deepEqual(machine.EncryptVerdictsWithTheStackKeyThroughSns.Condition, {
    StringEquals: { 'kms:ViaService': 'sns.${AWS::Region}.${AWS::URLSuffix}' },
  });
  // The Distributed Map's children: this machine's executions only.
  assert.deepEqual(cfn.Resources.JobStateMachineMapRunPolicy.Properties.Roles, [{ Ref: 'JobStateMachineRole' }]);
  const mapRun = machine;
  assert.deepEqual(mapRun.StartChildExecutions.Action, ['states:StartExecution']);
  assert.deepEqual(mapRun.StartChildExecutions.Resource, ['${JobStateMachine}']);
  assert.deepEqual(mapRun.DescribeAndStopChildExecutions.Action, ['states:DescribeExecution', 'states:StopExecution']);
  assert.deepEqual(mapRun.DescribeAndStopChildExecutions.Resource, [
    'arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${JobStateMachine.Name}/*',
  ]);

  const verify = statementsBySid(cfn, 'VerifyExportFunctionRole');
  assert.deepEqual(Object.keys(verify).sort(), [
    'DecryptExportsWithTheExportKeyThroughS3',
    'DecryptJobRecordsThroughDynamoDB',
    'ListExportFoldersUnderTheExportLocation',
    'ReadExportsUnderTheExportLocation',
    'ReadPastExportsOfTheDatastore',
    'WriteOwnLogs',
    'WriteVerificationResults',
    'XRayHasNoResourceLevelPermissions',
  ]);
  assert.deepEqual(verify.ReadExportsUnderTheExportLocation.Action, ['s3:GetObject']);
  assert.deepEqual(verify.ReadExportsUnderTheExportLocation.Resource, [`arn:\${AWS::Partition}:s3:::${location}*`]);
  assert.deepEqual(verify.WriteVerificationResults.Action, ['s3:DeleteObject', 's3:PutObject']);
  assert.deepEqual(verify.WriteVerificationResults.Resource, [
    `arn:\${AWS::Partition}:s3:::${location}hlx-verification/*`,
  ]);
  assert.deepEqual(verify.DecryptExportsWithTheExportKeyThroughS3.Action, ['kms:Decrypt', 'kms:GenerateDataKey']);
  assert.deepEqual(verify.DecryptExportsWithTheExportKeyThroughS3.Resource, [REQUIRED.kmsKeyArn]);
  assert.deepEqual(verify.ReadPastExportsOfTheDatastore.Action, ['dynamodb:Query']);
  assert.deepEqual(verify.ReadPastExportsOfTheDatastore.Resource, [`\${JobTable.Arn}/index/${byDatastore.IndexName}`]);
  const verifyFunction = cfn.Resources.VerifyExportFunction.Properties;
  assert.equal(verifyFunction.Timeout, 900);
  assert.equal(verifyFunction.MemorySize, 1024);
  assert.deepEqual(Object.keys(verifyFunction.Environment.Variables).sort(), [
    'HLX_TABLE_NAME',
    'HLX_VERIFY_MAX_DROP_SHARE',
    'HLX_VERIFY_SHARD_BYTES',
    'HLX_VERIFY_SINGLE_MAX_BYTES',
    'HLX_VERIFY_SINGLE_MAX_FILES',
    'RUST_LOG',
  ]);
  assert.equal(verifyFunction.Environment.Variables.HLX_VERIFY_MAX_DROP_SHARE, '0.2');
  const notVerified = cfn.Resources.ExportsNotVerifiedAlarm.Properties;
  assert.deepEqual(
    [notVerified.Namespace, notVerified.MetricName, notVerified.Statistic, notVerified.Threshold],
    ['hlx', 'ExportsNotVerified', 'Sum', 1],
  );
  assert.deepEqual(notVerified.AlarmActions, [{ Ref: 'AlarmTopic' }]);

  const launcher = statementsBySid(cfn, 'NightlyLauncherRole');
  assert.deepEqual(launcher.StartTheJobStateMachine.Action, ['states:StartExecution']);
  assert.deepEqual(launcher.StartTheJobStateMachine.Resource, ['${JobStateMachine}']);

  const schedule = statementsBySid(cfn, 'NightlyScheduleRole');
  assert.deepEqual(schedule.StartTheLauncher.Resource, ['${NightlyLauncher}']);
  assert.deepEqual(schedule.DeadLetterUndeliveredStarts.Action, ['sqs:SendMessage']);
  assert.deepEqual(schedule.DeadLetterUndeliveredStarts.Resource, ['${ScheduleDeadLetterQueue.Arn}']);
  assert.deepEqual(schedule.EncryptDeadLetters.Resource, ['${EncryptionKey.Arn}']);

  const api = statementsBySid(cfn, 'ApiFunctionRole');
  assert.deepEqual(Object.keys(api).sort(), [
    'CancelExportsOfTheDatastore',
    'DecryptJobRecordsThroughDynamoDB',
    'DescribeJobExecutions',
    'ListJobRecordsOfADatastore',
    'ReadJobRecords',
    'StartTheJobStateMachine',
    'TakeSlots',
    'WriteOwnLogs',
    'XRayHasNoResourceLevelPermissions',
  ]);
  assert.deepEqual(api.TakeSlots.Action, ['dynamodb:PutItem']);
  assert.deepEqual(api.TakeSlots.Condition, { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['SLOTS#*'] } });
  assert.deepEqual(api.WriteOwnLogs.Resource, ['${ApiLogGroup.Arn}']);
  assert.deepEqual(api.StartTheJobStateMachine.Action, ['states:StartExecution']);
  assert.deepEqual(api.StartTheJobStateMachine.Resource, ['${JobStateMachine}']);
  assert.deepEqual(api.DescribeJobExecutions.Action, ['states:DescribeExecution']);
  assert.deepEqual(api.DescribeJobExecutions.Resource, [
    'arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${JobStateMachine.Name}:*',
  ]);
  assert.deepEqual(api.ReadJobRecords.Action, ['dynamodb:GetItem']);
  assert.deepEqual(api.ReadJobRecords.Resource, ['${JobTable.Arn}']);
  assert.deepEqual(api.ListJobRecordsOfADatastore.Action, ['dynamodb:Query']);
  const [index] = cfn.Resources.JobTable.Properties.GlobalSecondaryIndexes;
  assert.deepEqual(api.ListJobRecordsOfADatastore.Resource, [`\${JobTable.Arn}/index/${index.IndexName}`]);
  assert.deepEqual(api.DecryptJobRecordsThroughDynamoDB.Action, ['kms:Decrypt']);
  assert.deepEqual(api.DecryptJobRecordsThroughDynamoDB.Resource, ['${EncryptionKey.Arn}']);
  assert.deepEqual(api.DecryptJobRecordsThroughDynamoDB.Condition, {
    StringEquals: { 'kms:ViaService': 'dynamodb.${AWS::Region}.${AWS::URLSuffix}' },
  });
  for (const [sid, statement] of Object.entries(api)) {
    if (!['DecryptJobRecordsThroughDynamoDB', 'TakeSlots'].includes(sid)) assert.equal(statement.Condition, undefined, sid);
  }
  assert.deepEqual(
    render(cfn.Resources.ApiFunctionRole.Properties.AssumeRolePolicyDocument.Statement),
    [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } }],
  );
});

const WAIT_ITEMS_ONLY = { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['AWAIT#*'] } };
const DECRYPT_THROUGH_DYNAMODB = {
  Action: ['kms:Decrypt'],
  Resource: ['${EncryptionKey.Arn}'],
  Condition: { StringEquals: { 'kms:ViaService': 'dynamodb.${AWS::Region}.${AWS::URLSuffix}' } },
};
const pick = (statement) => ({ Action: statement.Action, Resource: statement.Resource, Condition: statement.Condition });

test('IAM: await-job writes wait items only, reads the job, and may wake executions of the job state machine only', () => {
  const wait = statementsBySid(cfn, 'AwaitJobFunctionRole');
  assert.deepEqual(Object.keys(wait).sort(), [
    'DecryptJobRecordsThroughDynamoDB',
    'DescribeExportsOfTheDatastore',
    'DescribeImportsOfTheDatastore',
    'WakeJobExecutions',
    'WriteOwnLogs',
    'XRayHasNoResourceLevelPermissions',
    'WriteWaitItems',
  ].sort());
  assert.deepEqual(wait.WriteOwnLogs.Resource, ['${AwaitJobLogGroup.Arn}']);
  assert.deepEqual(pick(wait.WriteWaitItems), {
    Action: ['dynamodb:PutItem'],
    Resource: ['${JobTable.Arn}'],
    Condition: WAIT_ITEMS_ONLY,
  });
  assert.deepEqual(pick(wait.DescribeExportsOfTheDatastore), {
    Action: ['healthlake:DescribeFHIRExportJob'],
    Resource: [datastoreArn],
    Condition: undefined,
  });
  assert.deepEqual(pick(wait.DescribeImportsOfTheDatastore), {
    Action: ['healthlake:DescribeFHIRImportJob'],
    Resource: [datastoreArn],
    Condition: undefined,
  });
  assert.deepEqual(pick(wait.DecryptJobRecordsThroughDynamoDB), DECRYPT_THROUGH_DYNAMODB);
  assert.deepEqual(pick(wait.WakeJobExecutions), {
    Action: ['states:SendTaskSuccess'],
    Resource: ['${JobStateMachine}'],
    Condition: undefined,
  });

  // No cycle: the state machine names the function, so the policy that names
  // the state machine is attached from its own side (Roles), not listed in the
  // role's ManagedPolicyArns, which the function depends on.
  const role = cfn.Resources.AwaitJobFunctionRole.Properties;
  assert.deepEqual(role.ManagedPolicyArns, [{ Ref: 'AwaitJobFunctionRolePolicy' }]);
  assert.ok(!JSON.stringify(cfn.Resources.AwaitJobFunctionRolePolicy).includes('JobStateMachine'));
  assert.deepEqual(policiesAttachedTo(cfn, 'AwaitJobFunctionRole'), ['AwaitJobFunctionTaskTokenPolicy']);
  assert.deepEqual(cfn.Resources.AwaitJobFunctionTaskTokenPolicy.Properties.Roles, [{ Ref: 'AwaitJobFunctionRole' }]);
  assert.deepEqual(
    render(cfn.Resources.AwaitJobFunctionTaskTokenPolicy.Properties.PolicyDocument.Statement).map((st) => st.Sid),
    ['WakeJobExecutions'],
  );
});

test('IAM: job-events reads and settles wait items only, answers the job state machine\'s tasks, dead-letters what it cannot handle', () => {
  const events = statementsBySid(cfn, 'JobEventsFunctionRole');
  assert.deepEqual(Object.keys(events).sort(), [
    'DeadLetterUnhandledEvents',
    'DecryptJobRecordsThroughDynamoDB',
    'EncryptDeadLettersThroughSqs',
    'ReadAndSettleWaitItems',
    'WakeJobExecutions',
    'WriteOwnLogs',
    'XRayHasNoResourceLevelPermissions',
  ]);
  assert.deepEqual(events.WriteOwnLogs.Resource, ['${JobEventsLogGroup.Arn}']);
  assert.deepEqual(pick(events.ReadAndSettleWaitItems), {
    Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
    Resource: ['${JobTable.Arn}'],
    Condition: WAIT_ITEMS_ONLY,
  });
  assert.deepEqual(pick(events.DecryptJobRecordsThroughDynamoDB), DECRYPT_THROUGH_DYNAMODB);
  assert.deepEqual(pick(events.WakeJobExecutions), {
    Action: ['states:SendTaskFailure', 'states:SendTaskHeartbeat', 'states:SendTaskSuccess'],
    Resource: ['${JobStateMachine}'],
    Condition: undefined,
  });
  assert.deepEqual(pick(events.DeadLetterUnhandledEvents), {
    Action: ['sqs:SendMessage'],
    Resource: ['${JobEventsDeadLetterQueue.Arn}'],
    Condition: undefined,
  });
  assert.deepEqual(pick(events.EncryptDeadLettersThroughSqs), {
    Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
    Resource: ['${EncryptionKey.Arn}'],
    Condition: { StringEquals: { 'kms:ViaService': 'sqs.${AWS::Region}.${AWS::URLSuffix}' } },
  });
  assert.deepEqual(policiesAttachedTo(cfn, 'JobEventsFunctionRole'), []);

  // Only these two policies answer tasks, and only record-result writes job records.
  for (const [id, policy] of Object.entries(resourcesOfType(cfn, 'AWS::IAM::ManagedPolicy'))) {
    const statements = policy.Properties.PolicyDocument.Statement;
    const answers = statements.filter((st) => asList(st.Action).some((a) => a.startsWith('states:SendTask')));
    const expected = { AwaitJobFunctionTaskTokenPolicy: 1, JobEventsFunctionRolePolicy: 1 }[id] ?? 0;
    assert.equal(answers.length, expected, `${id} answers tasks`);
    const writesAnyKey = statements.filter(
      (st) =>
        asList(st.Action).some((a) => ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'].includes(a)) &&
        !st.Condition?.['ForAllValues:StringLike']?.['dynamodb:LeadingKeys'],
    );
    assert.equal(writesAnyKey.length, id === 'RecordResultFunctionRolePolicy' ? 1 : 0, `${id} writes job records`);
  }
});

test('IAM: "*" only where AWS offers nothing narrower, no AWS-managed or inline policies, only Allow', () => {
  for (const [id, policy] of Object.entries(resourcesOfType(cfn, 'AWS::IAM::ManagedPolicy'))) {
    for (const s of policy.Properties.PolicyDocument.Statement) {
      assert.equal(s.Effect, 'Allow', id);
      for (const action of asList(s.Action)) assert.ok(!action.includes('*'), `${id}: wildcard action ${action}`);
      if (asList(s.Resource).includes('*')) {
        for (const action of asList(s.Action)) {
          assert.ok(NO_RESOURCE_LEVEL.has(action), `${id}: ${action} on "*" although it has resource-level permissions`);
        }
      }
    }
  }
  for (const [id, role] of Object.entries(resourcesOfType(cfn, 'AWS::IAM::Role'))) {
    assert.equal(role.Properties.Policies, undefined, `${id} has no inline policy`);
    for (const arn of role.Properties.ManagedPolicyArns) {
      assert.ok(arn.Ref && cfn.Resources[arn.Ref].Type === 'AWS::IAM::ManagedPolicy', `${id}: only the stack's own policies`);
    }
  }
  assert.deepEqual(resourcesOfType(cfn, 'AWS::IAM::Policy'), {});
});

test('IAM: HealthLake on the data store only, exactly the job actions of each role; S3 only for the manifest', () => {
  // Imports and exports alike: start-job starts them, check-job and
  // await-job read them; nothing else may call HealthLake.
  const expected = {
    StartJobFunctionRolePolicy: [
      'healthlake:StartFHIRExportJob',
      'healthlake:StartFHIRExportJobWithPost',
      'healthlake:ListFHIRExportJobs',
      'healthlake:StartFHIRImportJob',
    ].sort(),
    CheckJobFunctionRolePolicy: [
      'healthlake:DescribeFHIRExportJob',
      'healthlake:DescribeFHIRImportJob',
      'healthlake:DescribeFHIRExportJobWithGet',
      'healthlake:CancelFHIRExportJobWithDelete',
    ].sort(),
    ApiFunctionRolePolicy: ['healthlake:CancelFHIRExportJobWithDelete'],
    AwaitJobFunctionRolePolicy: ['healthlake:DescribeFHIRExportJob', 'healthlake:DescribeFHIRImportJob'],
  };
  for (const template of [cfn, synth(IMPORT_SCHEDULE).template]) {
    const found = {};
    for (const [id, policy] of Object.entries(resourcesOfType(template, 'AWS::IAM::ManagedPolicy'))) {
      for (const st of render(policy.Properties.PolicyDocument.Statement, ON)) {
        const actions = asList(st.Action);
        // HealthLake reads the import input and writes every output with the
        // data access role (a parameter); the stack's only S3 grant is
        // check-job's manifest.json under the export location.
        const s3 = actions.filter((a) => a.startsWith('s3:'));
        // Beside it, verify-export reads the exports back and the job state
        // machine's Distributed Map lists them and writes its results.
        if (s3.length > 0) {
          const allowed = {
            CheckJobFunctionRolePolicy: ['s3:PutObject', 's3:ListBucket'],
            VerifyExportFunctionRolePolicy: ['s3:GetObject', 's3:ListBucket', 's3:DeleteObject,s3:PutObject'],
            JobStateMachineRolePolicy: [
              's3:ListBucket',
              's3:PutObject,s3:GetObject,s3:ListMultipartUploadParts,s3:AbortMultipartUpload',
            ],
          }[id];
          assert.ok(allowed, `${id}: ${actions.join(', ')}`);
          assert.ok(allowed.includes(s3.join()), `${id}: ${s3.join(', ')}`);
        }
        const healthlake = actions.filter((a) => a.startsWith('healthlake:'));
        if (healthlake.length === 0) continue;
        assert.deepEqual(asList(st.Resource), [datastoreArn], `${id} ${st.Sid}: the data store only`);
        assert.equal(st.Condition, undefined, `${id} ${st.Sid}`);
        found[id] = [...(found[id] ?? []), ...healthlake].sort();
      }
    }
    assert.deepEqual(found, expected);
  }
});

test('nightly schedule: expression, time zone, request input, retries and an encrypted dead-letter queue', () => {
  const p = cfn.Resources.NightlySchedule.Properties;
  assert.equal(p.ScheduleExpression, 'cron(0 2 * * ? *)');
  assert.equal(p.ScheduleExpressionTimezone, 'UTC');
  assert.deepEqual(p.FlexibleTimeWindow, { Mode: 'OFF' });
  assert.equal(p.State, 'ENABLED');
  assert.deepEqual(p.Target.Arn, { Ref: 'NightlyLauncher' });
  assert.deepEqual(p.Target.RetryPolicy, { MaximumRetryAttempts: 20, MaximumEventAgeInSeconds: 14400 });
  assert.deepEqual(p.Target.DeadLetterConfig, { Arn: { 'Fn::GetAtt': ['ScheduleDeadLetterQueue', 'Arn'] } });
  assert.deepEqual(JSON.parse(p.Target.Input), {
    scheduledTime: '<aws.scheduler.scheduled-time>',
    namePrefix: 'nightly',
    request: {
      datastoreId: REQUIRED.datastoreId,
      s3Uri: REQUIRED.exportS3Uri,
      kmsKeyId: REQUIRED.kmsKeyArn,
      dataAccessRoleArn: REQUIRED.dataAccessRoleArn,
      trigger: 'schedule',
      mode: 'incremental',
    },
  });
  // Incremental by default (the first night exports everything); full on request.
  const full = synth({ nightlyExportMode: 'full' }).template;
  assert.equal(JSON.parse(full.Resources.NightlySchedule.Properties.Target.Input).request.mode, 'full');
  assert.throws(() => synth({ nightlyExportMode: 'delta' }), /nightlyExportMode/);
  t.hasResourceProperties('AWS::SQS::Queue', {
    KmsMasterKeyId: { 'Fn::GetAtt': ['EncryptionKey', 'Arn'] },
    MessageRetentionPeriod: 1209600,
  });
  const other = synth({ scheduleExpression: 'cron(30 23 ? * MON-FRI *)', scheduleTimezone: 'America/New_York' }).template;
  assert.equal(other.Resources.NightlySchedule.Properties.ScheduleExpression, 'cron(30 23 ? * MON-FRI *)');
  assert.equal(other.Resources.NightlySchedule.Properties.ScheduleExpressionTimezone, 'America/New_York');
});

/** The name prefixes the launcher accepts (its CheckNamePrefix Choice). */
function launcherPrefixes() {
  const asl = JSON.parse(fs.readFileSync(path.join(INFRA, 'statemachine', 'nightly-launcher.asl.json'), 'utf8'));
  const choice = asl.States[asl.StartAt];
  assert.equal(choice.Type, 'Choice');
  return choice.Choices.filter((c) => c.Variable === '$.namePrefix' && 'StringEquals' in c).map((c) => c.StringEquals).sort();
}

test('import schedule: off by default; the settings alone do not switch it on', () => {
  assert.equal(cfn.Resources.ImportSchedule, undefined);
  assert.deepEqual(Object.keys(resourcesOfType(cfn, 'AWS::Scheduler::Schedule')), ['NightlySchedule']);
  const locationsOnly = synth({ importInputS3Uri: IMPORT_SCHEDULE.importInputS3Uri, importOutputS3Uri: IMPORT_SCHEDULE.importOutputS3Uri });
  assert.deepEqual(Object.keys(resourcesOfType(locationsOnly.template, 'AWS::Scheduler::Schedule')), ['NightlySchedule']);
  // Without a schedule nothing else changes: the same resources as the defaults.
  assert.deepEqual(Object.keys(locationsOnly.template.Resources).sort(), Object.keys(cfn.Resources).sort());
});

test('import schedule: when set, starts the launcher with kind import and the import name prefix, like the nightly export', () => {
  const on = synth(IMPORT_SCHEDULE).template;
  const nightly = on.Resources.NightlySchedule.Properties;
  const p = on.Resources.ImportSchedule.Properties;
  assert.equal(p.Description, 'hlx nightly import');
  assert.equal(p.ScheduleExpression, IMPORT_SCHEDULE.importScheduleExpression);
  assert.equal(p.ScheduleExpressionTimezone, 'UTC');
  assert.equal(p.State, 'ENABLED');
  assert.deepEqual(p.FlexibleTimeWindow, { Mode: 'OFF' });
  // The same launcher, role, retries and dead-letter queue as the nightly export.
  assert.deepEqual(p.Target.Arn, { Ref: 'NightlyLauncher' });
  for (const field of ['Arn', 'RoleArn', 'RetryPolicy', 'DeadLetterConfig']) {
    assert.deepEqual(p.Target[field], nightly.Target[field], field);
  }
  assert.deepEqual(JSON.parse(p.Target.Input), {
    scheduledTime: '<aws.scheduler.scheduled-time>',
    namePrefix: 'import',
    request: {
      kind: 'import',
      datastoreId: REQUIRED.datastoreId,
      inputS3Uri: IMPORT_SCHEDULE.importInputS3Uri,
      outputS3Uri: IMPORT_SCHEDULE.importOutputS3Uri,
      kmsKeyId: REQUIRED.kmsKeyArn,
      dataAccessRoleArn: REQUIRED.dataAccessRoleArn,
      trigger: 'schedule',
    },
  });
  // The launcher takes both prefixes, and the two schedules never share one.
  assert.deepEqual(launcherPrefixes(), ['import', 'nightly']);
  assert.equal(JSON.parse(nightly.Target.Input).namePrefix, 'nightly');
  // The time zone is the export schedule's setting.
  const berlin = synth({ ...IMPORT_SCHEDULE, scheduleTimezone: 'Europe/Berlin' }).template;
  assert.equal(berlin.Resources.ImportSchedule.Properties.ScheduleExpressionTimezone, 'Europe/Berlin');
  // Nothing else changes: one more resource, no new role or policy.
  assert.deepEqual(
    Object.keys(on.Resources).filter((id) => !(id in cfn.Resources)),
    ['ImportSchedule'],
  );
  for (const [id, policy] of Object.entries(resourcesOfType(on, 'AWS::IAM::ManagedPolicy'))) {
    assert.deepEqual(policy.Properties, cfn.Resources[id].Properties, id);
  }
});

/**
 * The authorization type API Gateway gives an operation of an imported
 * definition: from the operation's own `security` (API Gateway's import does
 * not apply a document-level `security` to the methods, so it is not
 * consulted); AWS_IAM when every scheme it names is SigV4, NONE when it names
 * none. infra/tests/check_iam_edges.py holds SAM's translation and the synth
 * to the same rule.
 */
function authorizationType(definition, operation) {
  const security = operation.security ?? [];
  if (security.length === 0 || security.some((requirement) => Object.keys(requirement).length === 0)) return 'NONE';
  const schemes = security.flatMap((requirement) => Object.keys(requirement));
  const sigv4 = (name) => {
    const scheme = definition.components?.securitySchemes?.[name];
    return scheme?.type === 'apiKey' && scheme.in === 'header' && scheme.name === 'Authorization' &&
      scheme['x-amazon-apigateway-authtype'] === 'awsSigv4';
  };
  return schemes.every(sigv4) ? 'AWS_IAM' : `OTHER(${schemes.join(', ')})`;
}

test('API: the routes of functions/api/openapi.yaml, every method AWS_IAM, every one a proxy to the api function', () => {
  const body = cfn.Resources.JobsApi.Properties.Body;
  const routes = (definition) => openapi.operations(definition).map(({ path: p, method }) => `${method} ${p}`).sort();
  assert.deepEqual(routes(body), routes(openapi.readOpenApi()));
  assert.deepEqual(routes(body), [
    'delete /exports/{id}',
    'get /exports',
    'get /exports/{id}',
    'get /imports',
    'get /imports/{id}',
    'post /exports',
    'post /imports',
    'x-amazon-apigateway-any-method /exports',
    'x-amazon-apigateway-any-method /exports/{id}',
    'x-amazon-apigateway-any-method /imports',
    'x-amazon-apigateway-any-method /imports/{id}',
  ]);
  for (const { path: p, method, operation } of openapi.operations(body)) {
    assert.equal(authorizationType(body, operation), 'AWS_IAM', `${method} ${p}`);
    const integration = operation['x-amazon-apigateway-integration'];
    assert.equal(integration.type, 'aws_proxy', `${method} ${p}`);
    assert.equal(integration.httpMethod, 'POST', `${method} ${p}`);
    assert.equal(
      render(integration.uri),
      'arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${ApiFunction.Arn}/invocations',
      `${method} ${p}`,
    );
    assert.equal(integration.credentials, undefined, 'API Gateway invokes through the function permission, not a role');
  }
  // No route, authorizer or validator outside the definition.
  for (const type of ['AWS::ApiGateway::Method', 'AWS::ApiGateway::Authorizer', 'AWS::ApiGateway::RequestValidator']) {
    t.resourceCountIs(type, 0);
  }
  assert.equal(body['x-amazon-apigateway-request-validators'], undefined, 'the description declares no validator');
  assert.equal(body['x-amazon-apigateway-api-key-source'], undefined);
});

test('API: the auth check refuses definitions that would let a method through unsigned', () => {
  const body = cfn.Resources.JobsApi.Properties.Body;
  const post = body.paths['/exports'].post;
  assert.equal(authorizationType(body, post), 'AWS_IAM');
  assert.equal(authorizationType(body, { ...post, security: [] }), 'NONE');
  assert.equal(authorizationType(body, { ...post, security: [{}] }), 'NONE');
  // The document-level requirement does not stand in for the operation's.
  assert.deepEqual(body.security, [{ sigv4: [] }]);
  assert.equal(authorizationType(body, { ...post, security: undefined }), 'NONE');
  assert.match(authorizationType(body, { ...post, security: [{ other: [] }] }), /^OTHER/);
});

test('API: API Gateway may invoke the api function, from this API\'s v1 stage only', () => {
  const permissions = resourcesOfType(cfn, 'AWS::Lambda::Permission');
  assert.deepEqual(Object.keys(permissions).sort(), ['ApiFunctionInvokePermission', 'JobEventsFunctionInvokePermission']);
  const p = permissions.ApiFunctionInvokePermission.Properties;
  assert.equal(p.Action, 'lambda:InvokeFunction');
  assert.deepEqual(p.FunctionName, { 'Fn::GetAtt': ['ApiFunction', 'Arn'] });
  assert.equal(p.Principal, 'apigateway.amazonaws.com');
  assert.equal(
    render(p.SourceArn),
    'arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${JobsApi}/v1/*',
  );
  t.resourceCountIs('AWS::Lambda::Url', 0);
  // The role API Gateway used to start executions directly is gone: one way in.
  assert.equal(cfn.Resources.JobsApiRole, undefined);
  for (const [id, policy] of Object.entries(resourcesOfType(cfn, 'AWS::IAM::ManagedPolicy'))) {
    const starts = policy.Properties.PolicyDocument.Statement.filter((s) => asList(s.Action).includes('states:StartExecution'));
    const expected =
      { ApiFunctionRolePolicy: 1, NightlyLauncherRolePolicy: 1, NightlyScheduleRolePolicy: 1, JobStateMachineMapRunPolicy: 1 }[
        id
      ] ?? 0;
    assert.equal(starts.length, expected, `${id} starts executions`);
  }
});

test('API: regional, v1 stage with tracing, access logs, ERROR execution logs without data, throttling', () => {
  const restApi = cfn.Resources.JobsApi;
  assert.deepEqual(restApi.Properties.EndpointConfiguration, { Types: ['REGIONAL'] });
  assert.deepEqual(restApi.DependsOn, ['ApiGatewayAccount']);
  const stage = cfn.Resources.JobsApiv1Stage.Properties;
  assert.equal(stage.StageName, 'v1');
  assert.equal(stage.TracingEnabled, true);
  assert.deepEqual(stage.AccessLogSetting.DestinationArn, { 'Fn::GetAtt': ['JobsApiAccessLogGroup', 'Arn'] });
  assert.deepEqual(stage.MethodSettings, [
    {
      DataTraceEnabled: false,
      HttpMethod: '*',
      LoggingLevel: 'ERROR',
      MetricsEnabled: true,
      ResourcePath: '/*',
      ThrottlingBurstLimit: 10,
      ThrottlingRateLimit: 5,
    },
  ]);
  t.hasResourceProperties('AWS::ApiGateway::Account', { CloudWatchRoleArn: { 'Fn::GetAtt': ['ApiGatewayCloudWatchRole', 'Arn'] } });
});

test('notifications: encrypted topic fed by a rule on failed, timed-out and aborted executions', () => {
  t.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': ['EncryptionKey', 'Arn'] } });
  const rule = cfn.Resources.ExecutionStatusRule.Properties;
  assert.deepEqual(rule.EventPattern, {
    source: ['aws.states'],
    'detail-type': ['Step Functions Execution Status Change'],
    detail: {
      status: ['FAILED', 'TIMED_OUT', 'ABORTED'],
      stateMachineArn: [{ Ref: 'JobStateMachine' }, { Ref: 'NightlyLauncher' }],
    },
  });
  assert.deepEqual(rule.Targets[0].Arn, { Ref: 'AlarmTopic' });
  assert.ok(!JSON.stringify(rule.Targets[0].InputTransformer).includes('$.detail.input'), 'no execution input in the message');
  t.resourceCountIs('AWS::SNS::Subscription', 0);
  const withEmail = Template.fromJSON(synth({ notificationEmail: 'ops@example.com' }).template);
  withEmail.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
});

test('alarms: failed executions and errors of each function notify the topic', () => {
  t.hasResourceProperties('AWS::CloudWatch::Alarm', {
    Namespace: 'AWS/States',
    MetricName: 'ExecutionsFailed',
    Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: 'JobStateMachine' } }],
    AlarmActions: [{ Ref: 'AlarmTopic' }],
  });
  for (const id of ALARMED_FUNCTIONS) {
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: id } }],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmActions: [{ Ref: 'AlarmTopic' }],
    });
  }
});

test('alarms: the job events dead-letter queue notifies the topic as soon as it holds a message', () => {
  const alarm = cfn.Resources.JobEventsDeadLetterAlarm.Properties;
  assert.deepEqual(
    { ...alarm, AlarmDescription: undefined },
    {
      AlarmDescription: undefined,
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': ['JobEventsDeadLetterQueue', 'QueueName'] } }],
      Statistic: 'Maximum',
      Period: 300,
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: 'AlarmTopic' }],
    },
  );
  // await-job and job-events have no Errors alarm of their own (see ALARMED_FUNCTIONS).
  const errorAlarms = Object.values(resourcesOfType(cfn, 'AWS::CloudWatch::Alarm')).filter((a) => a.Properties.MetricName === 'Errors');
  assert.deepEqual(errorAlarms.map((a) => a.Properties.Dimensions[0].Value.Ref).sort(), [...ALARMED_FUNCTIONS].sort());
});

test('HealthLake events: the rule takes statemachine/healthlake-events.pattern.json, for the deployed data store', () => {
  const rule = cfn.Resources.JobEventsRule.Properties;
  assert.equal(rule.State, 'ENABLED');
  assert.equal(rule.EventBusName, undefined, 'the default bus, where HealthLake sends its events');
  const file = fs.readFileSync(path.join(REPO, 'statemachine', 'healthlake-events.pattern.json'), 'utf8');
  assert.deepEqual(rule.EventPattern, JSON.parse(file.replaceAll('${DatastoreId}', REQUIRED.datastoreId)));
  assert.deepEqual(rule.EventPattern.detail.datastoreId, [REQUIRED.datastoreId]);
  assert.ok(!JSON.stringify(rule.EventPattern).includes('${'), 'every placeholder filled in');
  const other = synth({ datastoreId: 'fedcba9876543210fedcba9876543210' }).template;
  assert.deepEqual(other.Resources.JobEventsRule.Properties.EventPattern.detail.datastoreId, ['fedcba9876543210fedcba9876543210']);
});

test('HealthLake events: one target, job-events, retried for a day, then the encrypted dead-letter queue', () => {
  const { Targets } = cfn.Resources.JobEventsRule.Properties;
  assert.deepEqual(Targets, [
    {
      Id: 'job-events-function',
      Arn: { 'Fn::GetAtt': ['JobEventsFunction', 'Arn'] },
      RetryPolicy: { MaximumEventAgeInSeconds: 86400, MaximumRetryAttempts: 185 },
      DeadLetterConfig: { Arn: { 'Fn::GetAtt': ['JobEventsDeadLetterQueue', 'Arn'] } },
    },
  ]);
  const queue = cfn.Resources.JobEventsDeadLetterQueue.Properties;
  assert.deepEqual(queue.KmsMasterKeyId, { 'Fn::GetAtt': ['EncryptionKey', 'Arn'] });
  assert.equal(queue.MessageRetentionPeriod, 1209600);

  // EventBridge may send to the queue for this rule only; nobody without TLS.
  const policy = cfn.Resources.JobEventsDeadLetterQueuePolicy.Properties;
  assert.deepEqual(policy.Queues, [{ Ref: 'JobEventsDeadLetterQueue' }]);
  assert.deepEqual(render(policy.PolicyDocument.Statement), [
    {
      Sid: 'JobEventsRuleDeadLetters',
      Effect: 'Allow',
      Principal: { Service: 'events.amazonaws.com' },
      Action: 'sqs:SendMessage',
      Resource: '${JobEventsDeadLetterQueue.Arn}',
      Condition: { ArnEquals: { 'aws:SourceArn': '${JobEventsRule.Arn}' } },
    },
    {
      Sid: 'DenyWithoutTls',
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: 'sqs:*',
      Resource: '${JobEventsDeadLetterQueue.Arn}',
      Condition: { Bool: { 'aws:SecureTransport': 'false' } },
    },
  ]);

  // EventBridge may invoke job-events from this rule only.
  const permission = cfn.Resources.JobEventsFunctionInvokePermission.Properties;
  assert.deepEqual(permission, {
    Action: 'lambda:InvokeFunction',
    FunctionName: { 'Fn::GetAtt': ['JobEventsFunction', 'Arn'] },
    Principal: 'events.amazonaws.com',
    SourceArn: { 'Fn::GetAtt': ['JobEventsRule', 'Arn'] },
  });

  // Asynchronous invocations that keep failing land in the same queue.
  assert.deepEqual(cfn.Resources.JobEventsFunctionEventInvokeConfig.Properties, {
    FunctionName: { Ref: 'JobEventsFunction' },
    Qualifier: '$LATEST',
    MaximumRetryAttempts: 2,
    MaximumEventAgeInSeconds: 3600,
    DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': ['JobEventsDeadLetterQueue', 'Arn'] } } },
  });
  assert.deepEqual(Object.keys(resourcesOfType(cfn, 'AWS::Lambda::EventInvokeConfig')), ['JobEventsFunctionEventInvokeConfig']);
});

/** The logical IDs a resource refers to (Ref, GetAtt, Sub and DependsOn). */
function references(resource) {
  const out = new Set([].concat(resource.DependsOn ?? []));
  const walk = (v) => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (!v || typeof v !== 'object') return;
    if (typeof v.Ref === 'string') out.add(v.Ref);
    if (v['Fn::GetAtt']) out.add([].concat(v['Fn::GetAtt'])[0].split('.')[0]);
    if (v['Fn::Sub']) {
      const text = [].concat(v['Fn::Sub'])[0];
      for (const m of text.matchAll(/\$\{([A-Za-z0-9]+)[.}]/g)) out.add(m[1]);
    }
    Object.values(v).forEach(walk);
  };
  walk(resource.Properties);
  return out;
}

test('template: no circular dependency (the state machine, the callback function and its roles)', () => {
  const ids = new Set(Object.keys(cfn.Resources));
  const edges = Object.fromEntries(
    Object.entries(cfn.Resources).map(([id, r]) => [id, [...references(r)].filter((x) => ids.has(x))]),
  );
  const state = {};
  const visit = (id, trail) => {
    if (state[id] === 'done') return;
    assert.notEqual(state[id], 'open', `cycle: ${[...trail, id].join(' -> ')}`);
    state[id] = 'open';
    for (const next of edges[id]) visit(next, [...trail, id]);
    state[id] = 'done';
  };
  for (const id of ids) visit(id, []);
  assert.ok(edges.JobStateMachine.includes('AwaitJobFunction'));
  assert.ok(edges.AwaitJobFunctionTaskTokenPolicy.includes('JobStateMachine'));
});

test('settings: missing or malformed values are refused with their names', () => {
  assert.throws(() => readConfig(() => undefined), (err) => {
    assert.ok(err instanceof ConfigError);
    for (const key of ['datastoreId', 'exportS3Uri', 'kmsKeyArn', 'dataAccessRoleArn']) assert.match(err.message, new RegExp(key));
    return true;
  });
  const bad = { ...REQUIRED, datastoreId: 'has:colon', architecture: 'mips', maxJobHours: '40', kmsKeyArn: 'alias/x' };
  assert.throws(() => readConfig((k) => bad[k]), /datastoreId[\s\S]*kmsKeyArn[\s\S]*maxJobHours[\s\S]*architecture/);
  // An import schedule needs both of its locations, and well-formed ones.
  assert.throws(
    () => readConfig((k) => ({ ...REQUIRED, importScheduleExpression: 'cron(0 4 * * ? *)' })[k]),
    /importInputS3Uri=\.\.\. is required when importScheduleExpression is set[\s\S]*importOutputS3Uri=\.\.\. is required/,
  );
  assert.throws(() => readConfig((k) => ({ ...REQUIRED, ...IMPORT_SCHEDULE, importInputS3Uri: 'landing/fhir' })[k]), /importInputS3Uri must match/);
  // The export location ends in '/' and holds no IAM wildcard or policy
  // variable: it is built into check-job's S3 grants.
  for (const exportS3Uri of ['s3://exports', 's3://b-x/p', 's3://b-x/p/q', 's3://b-x/p*/', 's3://b-x/?/', 's3://b-x/${aws:username}/']) {
    assert.throws(() => readConfig((k) => ({ ...REQUIRED, exportS3Uri })[k]), /exportS3Uri must match/, exportS3Uri);
  }
  for (const exportS3Uri of ['s3://b-x/', 's3://b-x/p/', 's3://b-x/p/q/']) {
    assert.equal(readConfig((k) => ({ ...REQUIRED, exportS3Uri })[k]).exportS3Uri, exportS3Uri);
  }
  assert.throws(() => readConfig((k) => ({ ...REQUIRED, importScheduleExpression: 'nightly' })[k]), /importScheduleExpression must match/);
  const off = readConfig((k) => REQUIRED[k]);
  assert.deepEqual([off.importScheduleExpression, off.importInputS3Uri, off.importOutputS3Uri], ['', '', '']);
  const ok = readConfig((k) => ({ ...DISTINCT, tracing: 'false' })[k]);
  assert.equal(ok.tracing, 'Disabled');
  assert.equal(ok.maxJobHours, 31);
});
