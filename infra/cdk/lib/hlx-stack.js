'use strict';
// hlx as a CDK stack: resource for resource the stack of infra/sam/template.yaml,
// with the same logical IDs (overridden where CDK would hash them) so that the
// parity test can compare the two templates. Comments on the design choices
// live in the SAM template; here only what is CDK-specific.

const fs = require('node:fs');
const path = require('node:path');
const cdk = require('aws-cdk-lib');
const { Duration, RemovalPolicy, Stack, Validations } = cdk;
const apigw = require('aws-cdk-lib/aws-apigateway');
const cloudwatch = require('aws-cdk-lib/aws-cloudwatch');
const dynamodb = require('aws-cdk-lib/aws-dynamodb');
const events = require('aws-cdk-lib/aws-events');
const iam = require('aws-cdk-lib/aws-iam');
const kms = require('aws-cdk-lib/aws-kms');
const lambda = require('aws-cdk-lib/aws-lambda');
const logs = require('aws-cdk-lib/aws-logs');
const scheduler = require('aws-cdk-lib/aws-scheduler');
const sfn = require('aws-cdk-lib/aws-stepfunctions');
const sns = require('aws-cdk-lib/aws-sns');
const sqs = require('aws-cdk-lib/aws-sqs');

const INFRA = path.resolve(__dirname, '..', '..');
const REPO = path.resolve(INFRA, '..');
const EXPORT_ASL = path.join(REPO, 'statemachine', 'job.asl.json');
const LAUNCHER_ASL = path.join(INFRA, 'statemachine', 'nightly-launcher.asl.json');
const HEALTHLAKE_EVENTS_PATTERN = path.join(REPO, 'statemachine', 'healthlake-events.pattern.json');
const openapi = require('./openapi');

/**
 * The functions: logical ID prefix, Cargo binary, what they do, who invokes
 * them (the job state machine's Tasks, the jobs API, or EventBridge),
 * and whether their Errors metric has an alarm of its own.
 */
const FUNCTIONS = [
  {
    id: 'StartJob',
    binary: 'start-job',
    description: 'hlx start-job - validates the request and starts the HealthLake export or import, idempotently',
    roleDescription: 'hlx start-job - starts the HealthLake export or import job',
    invokedBy: 'states',
  },
  {
    id: 'CheckJob',
    binary: 'check-job',
    description: 'hlx check-job - reads the job status and says when to look again',
    roleDescription: 'hlx check-job - reads the HealthLake export or import job',
    invokedBy: 'states',
  },
  {
    id: 'RecordResult',
    binary: 'record-result',
    description: 'hlx record-result - writes the job record by the forward-only rule',
    roleDescription: 'hlx record-result - writes the job record',
    invokedBy: 'states',
  },
  {
    id: 'AwaitJob',
    binary: 'await-job',
    description:
      'hlx await-job - stores the task token until HealthLake\'s event for the job, wakes the execution if the job already moved on',
    roleDescription: "hlx await-job - stores the wait for the job's event, reads the export or import job",
    invokedBy: 'states',
    // When it keeps failing, the execution takes the poll path and still ends recorded.
    errorsAlarm: false,
  },
  {
    id: 'Api',
    binary: 'api',
    description: 'hlx api - starts exports and imports idempotently and reads their job records, behind JobsApi',
    roleDescription: 'hlx api - starts and describes job executions, reads job records',
    invokedBy: 'apigateway',
    // API Gateway stops waiting for a Lambda integration after 29 seconds.
    timeoutSeconds: 29,
  },
  {
    id: 'JobEvents',
    binary: 'job-events',
    description: 'hlx job-events - wakes the execution waiting for the job a HealthLake event names',
    roleDescription:
      'hlx job-events - reads and settles wait items, sends their task results to the job state machine',
    invokedBy: 'events',
    // An event it keeps failing on ends in JobEventsDeadLetterQueue, which has the alarm.
    errorsAlarm: false,
  },
];
/** The functions the job state machine's Tasks invoke. */
const TASK_FUNCTIONS = FUNCTIONS.filter((f) => f.invokedBy === 'states');

/** cdk-nag acknowledgements of the functions, by who invokes them. */
const FUNCTION_NAG = {
  states: [
    [
      'HIPAA.Security-LambdaConcurrency',
      'Step Functions runs at most a few invocations per export; a reservation would only take ' +
        'concurrency from the account (and fails on accounts with the minimum quota).',
    ],
    [
      'HIPAA.Security-LambdaDLQ',
      'Invoked synchronously by Step Functions, which retries and catches every failure and records it; ' +
        'a DLQ only applies to asynchronous invocations.',
    ],
    [
      'HIPAA.Security-LambdaInsideVPC',
      'The functions reach only AWS APIs (HealthLake, DynamoDB) over TLS with IAM; a VPC would add ' +
        'NAT or endpoint costs without narrowing access.',
    ],
  ],
  apigateway: [
    [
      'HIPAA.Security-LambdaConcurrency',
      'Reached only through the API stage, throttled at 5 requests per second (burst 10); a reservation ' +
        'would only take concurrency from the account (and fails on accounts with the minimum quota).',
    ],
    [
      'HIPAA.Security-LambdaDLQ',
      'Invoked synchronously by API Gateway, which returns every failure to the signed caller; ' +
        'a DLQ only applies to asynchronous invocations.',
    ],
    [
      'HIPAA.Security-LambdaInsideVPC',
      'The function reaches only AWS APIs (Step Functions, DynamoDB) over TLS with IAM; a VPC would add ' +
        'NAT or endpoint costs without narrowing access.',
    ],
  ],
  events: [
    [
      'HIPAA.Security-LambdaConcurrency',
      'Invoked once per HealthLake job status change of one data store, a handful a night; a reservation ' +
        'would only take concurrency from the account (and fails on accounts with the minimum quota).',
    ],
    [
      'HIPAA.Security-LambdaDLQ',
      'Its asynchronous invocations have an on-failure destination instead (JobEventsFunctionEventInvokeConfig ' +
        'to the encrypted, alarmed JobEventsDeadLetterQueue), which keeps the event, the error and the attempts; ' +
        'the rule reads only the older DeadLetterConfig.',
    ],
    [
      'HIPAA.Security-LambdaInsideVPC',
      'The function reaches only AWS APIs (DynamoDB, Step Functions, SQS) over TLS with IAM; a VPC would add ' +
        'NAT or endpoint costs without narrowing access.',
    ],
  ],
};

const ACCESS_LOG_FORMAT = JSON.stringify({
  requestId: '$context.requestId',
  ip: '$context.identity.sourceIp',
  caller: '$context.identity.caller',
  userArn: '$context.identity.userArn',
  requestTime: '$context.requestTime',
  httpMethod: '$context.httpMethod',
  resourcePath: '$context.resourcePath',
  status: '$context.status',
  protocol: '$context.protocol',
  responseLength: '$context.responseLength',
  integrationStatus: '$context.integration.status',
  errorMessage: '$context.error.message',
});

const STATE_MACHINE_LOG_DELIVERY_ACTIONS = [
  'logs:CreateLogDelivery',
  'logs:GetLogDelivery',
  'logs:UpdateLogDelivery',
  'logs:DeleteLogDelivery',
  'logs:ListLogDeliveries',
  'logs:PutResourcePolicy',
  'logs:DescribeResourcePolicies',
  'logs:DescribeLogGroups',
];
const LAMBDA_XRAY_ACTIONS = ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'];
const STATE_MACHINE_XRAY_ACTIONS = [...LAMBDA_XRAY_ACTIONS, 'xray:GetSamplingRules', 'xray:GetSamplingTargets'];
const XRAY_WILDCARD = [
  'AwsSolutions-IAM5[Resource::*]',
  'X-Ray trace and sampling actions have no resource-level permissions.',
];

/**
 * An EventBridge pattern file with its `${Name}` placeholders filled in from
 * `values`; a placeholder without a value is an error.
 */
function eventPattern(file, values) {
  const fill = (v) => {
    if (Array.isArray(v)) return v.map(fill);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fill(x)]));
    if (typeof v !== 'string') return v;
    return v.replace(/\$\{([A-Za-z0-9_]+)\}/g, (_, name) => {
      if (!(name in values)) throw new Error(`${path.basename(file)}: no value for \${${name}}`);
      return values[name];
    });
  };
  return fill(JSON.parse(fs.readFileSync(file, 'utf8')));
}

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

class HlxStack extends Stack {
  /**
   * @param {import('constructs').Construct} scope
   * @param {string} id
   * @param {cdk.StackProps & {config: ReturnType<typeof import('./config').readConfig>}} props
   */
  constructor(scope, id, props) {
    const { config, ...stackProps } = props;
    super(scope, id, {
      description:
        'hlx: nightly, API and manual AWS HealthLake FHIR exports (and imports, on a schedule of their own that ' +
        'is off unless set) orchestrated by one Step Functions ' +
        "Standard workflow of four Rust Lambda functions, woken by HealthLake's job events through a fifth, " +
        'an IAM-authorized REST API served by a sixth, and the job history in DynamoDB (CDK app; the same ' +
        'stack as infra/sam/template.yaml).',
      ...stackProps,
    });
    this.config = config;
    const tracing = config.tracing === 'Enabled';
    const retention = config.logRetentionDays;
    const datastoreArn = `arn:${cdk.Aws.PARTITION}:healthlake:${cdk.Aws.REGION}:${cdk.Aws.ACCOUNT_ID}:datastore/fhir/${config.datastoreId}`;

    // ------------------------------------------------------------ encryption
    const key = logicalId(
      new kms.Key(this, 'EncryptionKey', {
        description: 'hlx - job table, log groups, failure topic and dead-letter queues',
        enableKeyRotation: true,
        pendingWindow: Duration.days(30),
        removalPolicy: RemovalPolicy.RETAIN,
        policy: new iam.PolicyDocument({
          statements: [
            new iam.PolicyStatement({
              sid: 'AccountAdministersKeyThroughIam',
              principals: [new iam.ArnPrincipal(`arn:${cdk.Aws.PARTITION}:iam::${cdk.Aws.ACCOUNT_ID}:root`)],
              actions: ['kms:*'],
              resources: ['*'],
            }),
            new iam.PolicyStatement({
              sid: 'CloudWatchLogsEncryptsThisAccountsLogGroups',
              principals: [new iam.ServicePrincipal(`logs.${cdk.Aws.REGION}.${cdk.Aws.URL_SUFFIX}`)],
              actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
              resources: ['*'],
              conditions: {
                ArnLike: {
                  'kms:EncryptionContext:aws:logs:arn': `arn:${cdk.Aws.PARTITION}:logs:${cdk.Aws.REGION}:${cdk.Aws.ACCOUNT_ID}:log-group:*`,
                },
              },
            }),
            new iam.PolicyStatement({
              sid: 'EventBridgeAndAlarmsWriteToTheEncryptedTopicAndQueue',
              principals: [
                new iam.ServicePrincipal('events.amazonaws.com'),
                new iam.ServicePrincipal('cloudwatch.amazonaws.com'),
              ],
              actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
              resources: ['*'],
            }),
          ],
        }),
      }),
      'EncryptionKey',
    );
    logicalId(
      new kms.Alias(this, 'EncryptionKeyAlias', { aliasName: `alias/${cdk.Aws.STACK_NAME}-hlx`, targetKey: key }),
      'EncryptionKeyAlias',
    );

    const logGroup = (logicalName, props = {}) =>
      logicalId(
        new logs.LogGroup(this, logicalName, {
          retention,
          encryptionKey: key,
          removalPolicy: RemovalPolicy.DESTROY,
          ...props,
        }),
        logicalName,
      );

    // ------------------------------------------------------------- job table
    const table = logicalId(
      new dynamodb.Table(this, 'JobTable', {
        partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        timeToLiveAttribute: 'expiresAt',
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
        encryptionKey: key,
        deletionProtection: true,
        removalPolicy: RemovalPolicy.RETAIN,
      }),
      'JobTable',
    );
    table.addGlobalSecondaryIndex({
      indexName: 'by-datastore',
      partitionKey: { name: 'gsi1pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'gsi1sk', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
    acknowledge(table, [
      [
        'HIPAA.Security-DynamoDBInBackupPlan',
        'Point-in-time recovery (35 days) is on, and the table is retained and deletion-protected; ' +
          'an AWS Backup plan is an account-level choice this stack does not impose.',
      ],
    ]);

    // ------------------------------------------------------------- functions
    const pollEnvironment = {
      HLX_POLL_INITIAL_SECONDS: String(config.pollInitialSeconds),
      HLX_POLL_BACKOFF_RATE: String(config.pollBackoffRate),
      HLX_POLL_MAX_SECONDS: String(config.pollMaxSeconds),
      HLX_POLL_SUBMITTED_SECONDS: String(config.pollSubmittedSeconds),
      HLX_POLL_QUEUED_SECONDS: String(config.pollQueuedSeconds),
      HLX_MAX_RUN_HOURS: String(config.maxJobHours),
      HLX_MAX_QUEUE_HOURS: String(config.maxQueueHours),
      HLX_WAKE_BY: config.wakeBy,
      HLX_FALLBACK_INITIAL_SECONDS: String(config.fallbackInitialSeconds),
      HLX_FALLBACK_MAX_SECONDS: String(config.fallbackMaxSeconds),
    };
    const decryptThroughDynamoDb = () =>
      new iam.PolicyStatement({
        sid: 'DecryptJobRecordsThroughDynamoDB',
        actions: ['kms:Decrypt'],
        resources: [key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${cdk.Aws.REGION}.${cdk.Aws.URL_SUFFIX}` } },
      });
    /** A HealthLake read of the data store's jobs (check-job, await-job). */
    const describeJobs = (sid, action) => new iam.PolicyStatement({ sid, actions: [action], resources: [datastoreArn] });
    // Wait items (keys AWAIT#...) share the job table; these grants reach no job record.
    const waitItemsOnly = { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['AWAIT#*'] } };
    // `bucket/prefix` of the export location, split by CloudFormation at deploy (as in the SAM template).
    const exportLocation = cdk.Fn.select(1, cdk.Fn.split('s3://', config.exportS3Uri));
    const permissions = {
      StartJob: [
        new iam.PolicyStatement({
          sid: 'StartExportOfTheDatastore',
          actions: ['healthlake:StartFHIRExportJob'],
          resources: [datastoreArn],
        }),
        // Incremental and scoped exports: the FHIR REST $export kick-off, and
        // the job list by name that makes a retried kick-off find its job.
        new iam.PolicyStatement({
          sid: 'StartRestExportOfTheDatastore',
          actions: ['healthlake:StartFHIRExportJobWithPost', 'healthlake:ListFHIRExportJobs'],
          resources: [datastoreArn],
        }),
        // Imports go to the same function; HealthLake reads their input with
        // the data access role: nothing of this stack reads S3.
        new iam.PolicyStatement({
          sid: 'StartImportIntoTheDatastore',
          actions: ['healthlake:StartFHIRImportJob'],
          resources: [datastoreArn],
        }),
        new iam.PolicyStatement({
          sid: 'PassTheDataAccessRoleToHealthLake',
          actions: ['iam:PassRole'],
          resources: [config.dataAccessRoleArn],
          conditions: { StringEquals: { 'iam:PassedToService': 'healthlake.amazonaws.com' } },
        }),
        new iam.PolicyStatement({
          sid: 'UseTheExportKeyOnlyThroughHealthLake',
          actions: ['kms:DescribeKey', 'kms:GenerateDataKey'],
          resources: [config.kmsKeyArn],
          conditions: {
            StringEquals: { 'kms:ViaService': `healthlake.${cdk.Aws.REGION}.${cdk.Aws.URL_SUFFIX}` },
          },
        }),
        new iam.PolicyStatement({
          sid: 'ReadPastExportsOfTheDatastore',
          actions: ['dynamodb:Query'],
          resources: [`${table.tableArn}/index/by-datastore`],
        }),
        decryptThroughDynamoDb(),
      ],
      CheckJob: [
        describeJobs('DescribeExportsOfTheDatastore', 'healthlake:DescribeFHIRExportJob'),
        describeJobs('DescribeImportsOfTheDatastore', 'healthlake:DescribeFHIRImportJob'),
        // The REST status GET, and the cancel of an export hlx timed out.
        new iam.PolicyStatement({
          sid: 'DescribeAndCancelRestExportsOfTheDatastore',
          actions: ['healthlake:DescribeFHIRExportJobWithGet', 'healthlake:CancelFHIRExportJobWithDelete'],
          resources: [datastoreArn],
        }),
        // manifest.json next to each completed export's files, under the
        // export location only, and the listing of a full export's folder;
        // encrypted with the export key through S3 only. The same
        // intrinsics as the SAM template (the location is split at deploy).
        new iam.PolicyStatement({
          sid: 'WriteManifestsUnderTheExportLocation',
          actions: ['s3:PutObject'],
          resources: [cdk.Fn.sub('arn:${AWS::Partition}:s3:::${Location}*', { Location: exportLocation })],
        }),
        new iam.PolicyStatement({
          sid: 'ListExportFoldersUnderTheExportLocation',
          actions: ['s3:ListBucket'],
          resources: [
            cdk.Fn.sub('arn:${AWS::Partition}:s3:::${Bucket}', { Bucket: cdk.Fn.select(0, cdk.Fn.split('/', exportLocation)) }),
          ],
        }),
        new iam.PolicyStatement({
          sid: 'EncryptManifestsWithTheExportKeyThroughS3',
          actions: ['kms:GenerateDataKey'],
          resources: [config.kmsKeyArn],
          conditions: { StringEquals: { 'kms:ViaService': `s3.${cdk.Aws.REGION}.${cdk.Aws.URL_SUFFIX}` } },
        }),
      ],
      RecordResult: [
        new iam.PolicyStatement({
          sid: 'ReadAndWriteJobRecords',
          actions: ['dynamodb:GetItem', 'dynamodb:PutItem'],
          resources: [table.tableArn],
        }),
        // A table under a customer-managed key is read and written with the
        // caller's kms:Decrypt, through DynamoDB only (as for the api function).
        decryptThroughDynamoDb(),
      ],
      // Its states:SendTaskSuccess is AwaitJobFunctionTaskTokenPolicy, below.
      AwaitJob: [
        new iam.PolicyStatement({
          sid: 'WriteWaitItems',
          actions: ['dynamodb:PutItem'],
          resources: [table.tableArn],
          conditions: waitItemsOnly,
        }),
        describeJobs('DescribeExportsOfTheDatastore', 'healthlake:DescribeFHIRExportJob'),
        describeJobs('DescribeImportsOfTheDatastore', 'healthlake:DescribeFHIRImportJob'),
        decryptThroughDynamoDb(),
      ],
    };
    /** The environment of each task function, beyond RUST_LOG. */
    const environments = {
      StartJob: { ...pollEnvironment, HLX_TABLE_NAME: table.tableName },
      CheckJob: { ...pollEnvironment },
      RecordResult: { HLX_TABLE_NAME: table.tableName },
      AwaitJob: { HLX_TABLE_NAME: table.tableName },
    };

    /** A function with its own log group and role (one customer-managed policy). */
    const rustLambda = (f, statements, environment, nag = []) => {
      const fnLogs = logGroup(`${f.id}LogGroup`);
      const role = this.serviceRole(`${f.id}FunctionRole`, {
        description: f.roleDescription,
        service: 'lambda.amazonaws.com',
        sourceAccount: false,
        statements: [
          new iam.PolicyStatement({
            sid: 'WriteOwnLogs',
            actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
            resources: [fnLogs.logGroupArn],
          }),
          ...statements,
          ...(tracing ? [xrayStatement(LAMBDA_XRAY_ACTIONS)] : []),
        ],
        nag: [...nag, ...(tracing ? [XRAY_WILDCARD] : [])],
      });
      const fn = this.rustFunction(`${f.id}Function`, f.binary, {
        description: f.description,
        role: role.withoutPolicyUpdates(),
        memorySize: 128,
        timeout: Duration.seconds(f.timeoutSeconds ?? 30),
        architecture: config.architecture === 'x86_64' ? lambda.Architecture.X86_64 : lambda.Architecture.ARM_64,
        tracing: tracing ? lambda.Tracing.ACTIVE : lambda.Tracing.PASS_THROUGH,
        loggingFormat: lambda.LoggingFormat.JSON,
        logGroup: fnLogs,
        environment: { RUST_LOG: config.logLevel, ...environment },
      });
      logicalId(fn, `${f.id}Function`);
      acknowledge(fn, FUNCTION_NAG[f.invokedBy]);
      this.functions[f.id] = fn;
      this.functionRoles[f.id] = role;
      return fn;
    };

    this.functions = {};
    this.functionRoles = {};
    // The manifest objects are every key under the export location: a
    // prefix wildcard, the narrowest S3 grant that names no object in advance.
    const manifestObjects = JSON.stringify([
      'arn:${AWS::Partition}:s3:::${Location}*',
      { Location: config.exportS3Uri.replace(/^s3:\/\//, '') },
    ]);
    const nags = {
      CheckJob: [
        [
          `AwsSolutions-IAM5[Resource::${manifestObjects}]`,
          'check-job writes manifest.json next to each export; export folders are named by HealthLake job ids, known only at run time, all under the export location.',
        ],
      ],
    };
    for (const f of TASK_FUNCTIONS) {
      rustLambda(f, permissions[f.id], environments[f.id], nags[f.id] ?? []);
    }

    // ---------------------------------------------------- job state machine
    const stateMachineRole = (logicalName, description, statements) =>
      this.serviceRole(logicalName, {
        description,
        service: 'states.amazonaws.com',
        statements: [
          ...statements,
          // Log delivery has no resource-level permissions.
          new iam.PolicyStatement({
            sid: 'DeliverLogsToCloudWatch',
            actions: STATE_MACHINE_LOG_DELIVERY_ACTIONS,
            resources: ['*'],
          }),
          ...(tracing ? [xrayStatement(STATE_MACHINE_XRAY_ACTIONS)] : []),
        ],
        nag: [
          [
            'AwsSolutions-IAM5[Resource::*]',
            'CloudWatch Logs delivery and X-Ray actions have no resource-level permissions.',
          ],
        ],
      });

    const exportRole = stateMachineRole(
      'JobStateMachineRole',
      'hlx job state machine - invokes exactly the four task functions',
      [
        new iam.PolicyStatement({
          sid: 'InvokeTheTaskFunctions',
          actions: ['lambda:InvokeFunction'],
          resources: TASK_FUNCTIONS.map((f) => this.functions[f.id].functionArn),
        }),
      ],
    );
    const exportLogs = logGroup('JobStateMachineLogGroup', {
      logGroupName: `/aws/vendedlogs/states/${cdk.Aws.STACK_NAME}-export`,
    });
    const exportStateMachine = logicalId(
      new sfn.StateMachine(this, 'JobStateMachine', {
        stateMachineType: sfn.StateMachineType.STANDARD,
        definitionBody: sfn.DefinitionBody.fromFile(EXPORT_ASL),
        definitionSubstitutions: {
          StartJobFunctionArn: this.functions.StartJob.functionArn,
          CheckJobFunctionArn: this.functions.CheckJob.functionArn,
          RecordResultFunctionArn: this.functions.RecordResult.functionArn,
          AwaitJobFunctionArn: this.functions.AwaitJob.functionArn,
        },
        role: exportRole.withoutPolicyUpdates(),
        logs: { destination: exportLogs, level: sfn.LogLevel.ERROR, includeExecutionData: false },
        tracingEnabled: tracing,
      }),
      'JobStateMachine',
    );
    this.stateMachineNag(exportStateMachine);
    // Attached from the policy's side: the state machine depends on
    // AwaitJobFunction, so the function's role may not name the machine.
    logicalId(
      new iam.ManagedPolicy(this, 'AwaitJobFunctionTaskTokenPolicy', {
        description: 'hlx await-job - wakes its own execution when the job already moved on',
        roles: [this.functionRoles.AwaitJob],
        statements: [
          new iam.PolicyStatement({
            sid: 'WakeJobExecutions',
            actions: ['states:SendTaskSuccess'],
            resources: [exportStateMachine.stateMachineArn],
          }),
        ],
      }),
      'AwaitJobFunctionTaskTokenPolicy',
    );

    // ------------------------------------------------------ HealthLake events
    const jobEventsDeadLetters = logicalId(
      new sqs.Queue(this, 'JobEventsDeadLetterQueue', {
        encryption: sqs.QueueEncryption.KMS,
        encryptionMasterKey: key,
        dataKeyReuse: Duration.seconds(300),
        retentionPeriod: Duration.days(14),
        removalPolicy: RemovalPolicy.DESTROY,
      }),
      'JobEventsDeadLetterQueue',
    );
    acknowledge(jobEventsDeadLetters, [
      ['AwsSolutions-SQS3', 'This queue is itself the dead-letter queue of the job events rule and function.'],
    ]);
    const jobEventsFunction = rustLambda(
      FUNCTIONS.find((f) => f.id === 'JobEvents'),
      [
        new iam.PolicyStatement({
          sid: 'ReadAndSettleWaitItems',
          actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
          resources: [table.tableArn],
          conditions: waitItemsOnly,
        }),
        decryptThroughDynamoDb(),
        new iam.PolicyStatement({
          sid: 'WakeJobExecutions',
          actions: ['states:SendTaskSuccess', 'states:SendTaskFailure', 'states:SendTaskHeartbeat'],
          resources: [exportStateMachine.stateMachineArn],
        }),
        new iam.PolicyStatement({
          sid: 'DeadLetterUnhandledEvents',
          actions: ['sqs:SendMessage'],
          resources: [jobEventsDeadLetters.queueArn],
        }),
        new iam.PolicyStatement({
          sid: 'EncryptDeadLettersThroughSqs',
          actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
          resources: [key.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `sqs.${cdk.Aws.REGION}.${cdk.Aws.URL_SUFFIX}` } },
        }),
      ],
      { HLX_TABLE_NAME: table.tableName },
    );
    new lambda.CfnEventInvokeConfig(this, 'JobEventsFunctionEventInvokeConfig', {
      functionName: jobEventsFunction.functionName,
      qualifier: '$LATEST',
      maximumRetryAttempts: 2,
      maximumEventAgeInSeconds: 3600,
      destinationConfig: { onFailure: { destination: jobEventsDeadLetters.queueArn } },
    }).overrideLogicalId('JobEventsFunctionEventInvokeConfig');
    const jobEventsRule = new events.CfnRule(this, 'JobEventsRule', {
      description: 'hlx - HealthLake job status changes of the data store, to job-events',
      state: 'ENABLED',
      eventPattern: eventPattern(HEALTHLAKE_EVENTS_PATTERN, { DatastoreId: config.datastoreId }),
      targets: [
        {
          id: 'job-events-function',
          arn: jobEventsFunction.functionArn,
          retryPolicy: { maximumEventAgeInSeconds: 86400, maximumRetryAttempts: 185 },
          deadLetterConfig: { arn: jobEventsDeadLetters.queueArn },
        },
      ],
    });
    jobEventsRule.overrideLogicalId('JobEventsRule');
    new lambda.CfnPermission(this, 'JobEventsFunctionInvokePermission', {
      action: 'lambda:InvokeFunction',
      functionName: jobEventsFunction.functionArn,
      principal: 'events.amazonaws.com',
      sourceArn: jobEventsRule.attrArn,
    }).overrideLogicalId('JobEventsFunctionInvokePermission');
    new sqs.CfnQueuePolicy(this, 'JobEventsDeadLetterQueuePolicy', {
      queues: [jobEventsDeadLetters.queueUrl],
      policyDocument: new iam.PolicyDocument({
        statements: [
          new iam.PolicyStatement({
            sid: 'JobEventsRuleDeadLetters',
            principals: [new iam.ServicePrincipal('events.amazonaws.com')],
            actions: ['sqs:SendMessage'],
            resources: [jobEventsDeadLetters.queueArn],
            conditions: { ArnEquals: { 'aws:SourceArn': jobEventsRule.attrArn } },
          }),
          new iam.PolicyStatement({
            sid: 'DenyWithoutTls',
            effect: iam.Effect.DENY,
            principals: [new iam.AnyPrincipal()],
            actions: ['sqs:*'],
            resources: [jobEventsDeadLetters.queueArn],
            conditions: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ],
      }),
    }).overrideLogicalId('JobEventsDeadLetterQueuePolicy');

    // ---------------------------------------------------------- nightly trigger
    const launcherRole = stateMachineRole(
      'NightlyLauncherRole',
      'hlx nightly launcher - starts the job state machine under a deterministic name',
      [
        new iam.PolicyStatement({
          sid: 'StartTheJobStateMachine',
          actions: ['states:StartExecution'],
          resources: [exportStateMachine.stateMachineArn],
        }),
      ],
    );
    const launcherLogs = logGroup('NightlyLauncherLogGroup', {
      logGroupName: `/aws/vendedlogs/states/${cdk.Aws.STACK_NAME}-nightly-launcher`,
    });
    const launcher = logicalId(
      new sfn.StateMachine(this, 'NightlyLauncher', {
        stateMachineType: sfn.StateMachineType.STANDARD,
        definitionBody: sfn.DefinitionBody.fromFile(LAUNCHER_ASL),
        definitionSubstitutions: { JobStateMachineArn: exportStateMachine.stateMachineArn },
        role: launcherRole.withoutPolicyUpdates(),
        logs: { destination: launcherLogs, level: sfn.LogLevel.ERROR, includeExecutionData: false },
        tracingEnabled: tracing,
      }),
      'NightlyLauncher',
    );
    this.stateMachineNag(launcher);

    const deadLetters = logicalId(
      new sqs.Queue(this, 'ScheduleDeadLetterQueue', {
        encryption: sqs.QueueEncryption.KMS,
        encryptionMasterKey: key,
        dataKeyReuse: Duration.seconds(300),
        retentionPeriod: Duration.days(14),
        removalPolicy: RemovalPolicy.DESTROY,
      }),
      'ScheduleDeadLetterQueue',
    );
    new sqs.CfnQueuePolicy(this, 'ScheduleDeadLetterQueuePolicy', {
      queues: [deadLetters.queueUrl],
      policyDocument: new iam.PolicyDocument({
        statements: [
          new iam.PolicyStatement({
            sid: 'DenyWithoutTls',
            effect: iam.Effect.DENY,
            principals: [new iam.AnyPrincipal()],
            actions: ['sqs:*'],
            resources: [deadLetters.queueArn],
            conditions: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ],
      }),
    }).overrideLogicalId('ScheduleDeadLetterQueuePolicy');
    acknowledge(deadLetters, [
      ['AwsSolutions-SQS3', 'This queue is itself the dead-letter queue of the nightly schedule.'],
    ]);

    const scheduleRole = this.serviceRole('NightlyScheduleRole', {
      description: 'hlx schedules (nightly export, import) - start the launcher, dead-letter what they cannot deliver',
      service: 'scheduler.amazonaws.com',
      statements: [
        new iam.PolicyStatement({
          sid: 'StartTheLauncher',
          actions: ['states:StartExecution'],
          resources: [launcher.stateMachineArn],
        }),
        new iam.PolicyStatement({
          sid: 'DeadLetterUndeliveredStarts',
          actions: ['sqs:SendMessage'],
          resources: [deadLetters.queueArn],
        }),
        new iam.PolicyStatement({
          sid: 'EncryptDeadLetters',
          actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
          resources: [key.keyArn],
        }),
      ],
    });
    /** A schedule that starts the launcher with `namePrefix` and `request` (the launcher names the job). */
    const launcherSchedule = (logicalName, description, expression, namePrefix, request) =>
      new scheduler.CfnSchedule(this, logicalName, {
        description,
        scheduleExpression: expression,
        scheduleExpressionTimezone: config.scheduleTimezone,
        flexibleTimeWindow: { mode: 'OFF' },
        state: 'ENABLED',
        target: {
          arn: launcher.stateMachineArn,
          roleArn: scheduleRole.roleArn,
          input: JSON.stringify({ scheduledTime: '<aws.scheduler.scheduled-time>', namePrefix, request }),
          retryPolicy: { maximumRetryAttempts: 20, maximumEventAgeInSeconds: 14400 },
          deadLetterConfig: { arn: deadLetters.queueArn },
        },
      }).overrideLogicalId(logicalName);
    launcherSchedule('NightlySchedule', 'hlx nightly export', config.scheduleExpression, 'nightly', {
      datastoreId: config.datastoreId,
      s3Uri: config.exportS3Uri,
      kmsKeyId: config.kmsKeyArn,
      dataAccessRoleArn: config.dataAccessRoleArn,
      trigger: 'schedule',
      mode: config.nightlyExportMode,
    });
    // Off unless importScheduleExpression is set (config.js then requires both locations).
    if (config.importScheduleExpression) {
      launcherSchedule('ImportSchedule', 'hlx nightly import', config.importScheduleExpression, 'import', {
        kind: 'import',
        datastoreId: config.datastoreId,
        inputS3Uri: config.importInputS3Uri,
        outputS3Uri: config.importOutputS3Uri,
        kmsKeyId: config.kmsKeyArn,
        dataAccessRoleArn: config.dataAccessRoleArn,
        trigger: 'schedule',
      });
    }

    // -------------------------------------------------------------- API trigger
    const apiCloudWatchRole = this.serviceRole('ApiGatewayCloudWatchRole', {
      description: 'API Gateway account setting - writes API access and execution logs (kept on stack deletion)',
      service: 'apigateway.amazonaws.com',
      sourceAccount: false,
      statements: [
        new iam.PolicyStatement({
          sid: 'ApiGatewayLogsToAnyLogGroupOfThisAccountAndRegion',
          actions: [
            'logs:CreateLogGroup',
            'logs:CreateLogStream',
            'logs:DescribeLogGroups',
            'logs:DescribeLogStreams',
            'logs:PutLogEvents',
            'logs:GetLogEvents',
            'logs:FilterLogEvents',
          ],
          resources: [`arn:${cdk.Aws.PARTITION}:logs:${cdk.Aws.REGION}:${cdk.Aws.ACCOUNT_ID}:log-group:*`],
        }),
      ],
      nag: [
        [
          'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:*]',
          "API Gateway's logging role is account-wide: it writes the access and execution logs of every " +
            'REST API of the account and Region, whose log group names this stack cannot know.',
        ],
      ],
    });
    // The account setting outlives the stack: keep its role and policy so
    // that other APIs' logging keeps working after a delete.
    apiCloudWatchRole.applyRemovalPolicy(RemovalPolicy.RETAIN);
    this.node.findChild('ApiGatewayCloudWatchRolePolicy').applyRemovalPolicy(RemovalPolicy.RETAIN);
    const apiAccount = new apigw.CfnAccount(this, 'ApiGatewayAccount', {
      cloudWatchRoleArn: apiCloudWatchRole.roleArn,
    });
    apiAccount.overrideLogicalId('ApiGatewayAccount');

    const accessLogs = logGroup('JobsApiAccessLogGroup');
    const apiFunction = rustLambda(
      FUNCTIONS.find((f) => f.id === 'Api'),
      [
        new iam.PolicyStatement({
          sid: 'StartTheJobStateMachine',
          actions: ['states:StartExecution'],
          resources: [exportStateMachine.stateMachineArn],
        }),
        new iam.PolicyStatement({
          sid: 'DescribeJobExecutions',
          actions: ['states:DescribeExecution'],
          resources: [
            `arn:${cdk.Aws.PARTITION}:states:${cdk.Aws.REGION}:${cdk.Aws.ACCOUNT_ID}:execution:${exportStateMachine.stateMachineName}:*`,
          ],
        }),
        new iam.PolicyStatement({ sid: 'ReadJobRecords', actions: ['dynamodb:GetItem'], resources: [table.tableArn] }),
        new iam.PolicyStatement({
          sid: 'ListJobRecordsOfADatastore',
          actions: ['dynamodb:Query'],
          resources: [`${table.tableArn}/index/by-datastore`],
        }),
        // DELETE /exports/{id}: HealthLake's FHIR REST cancel of the job.
        new iam.PolicyStatement({
          sid: 'CancelExportsOfTheDatastore',
          actions: ['healthlake:CancelFHIRExportJobWithDelete'],
          resources: [datastoreArn],
        }),
        new iam.PolicyStatement({
          sid: 'DecryptJobRecordsThroughDynamoDB',
          actions: ['kms:Decrypt'],
          resources: [key.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${cdk.Aws.REGION}.${cdk.Aws.URL_SUFFIX}` } },
        }),
      ],
      {
        HLX_STATE_MACHINE_ARN: exportStateMachine.stateMachineArn,
        HLX_TABLE_NAME: table.tableName,
        HLX_DEFAULT_DATASTORE_ID: config.datastoreId,
        HLX_EXPORT_S3_URI: config.exportS3Uri,
        HLX_EXPORT_KMS_KEY_ID: config.kmsKeyArn,
        HLX_DATA_ACCESS_ROLE_ARN: config.dataAccessRoleArn,
        // POST /imports reads from (inside) the import input and logs to the
        // import output; empty (the default): the import routes answer that
        // imports are not configured, exports are unaffected.
        HLX_IMPORT_INPUT_S3_URI: config.importInputS3Uri,
        HLX_IMPORT_OUTPUT_S3_URI: config.importOutputS3Uri,
      },
      [
        [
          'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:<JobStateMachine.Name>:*]',
          'An execution ARN ends in the execution name, which is the export id chosen per request; the ' +
            "pattern admits the job state machine's executions and no other machine's.",
        ],
      ],
    );

    // The API is functions/api/openapi.yaml, with its integration URIs made
    // Fn::Sub of the function's ARN (lib/openapi.js); nothing else changes.
    const api = new apigw.SpecRestApi(this, 'JobsApi', {
      apiDefinition: apigw.ApiDefinition.fromInline(
        openapi.forCdk(openapi.readOpenApi(), { ApiFunctionArn: apiFunction.functionArn }),
      ),
      restApiName: `${cdk.Aws.STACK_NAME}-exports`,
      endpointTypes: [apigw.EndpointType.REGIONAL],
      cloudWatchRole: false,
      deployOptions: {
        stageName: 'v1',
        tracingEnabled: tracing,
        accessLogDestination: new apigw.LogGroupLogDestination(accessLogs),
        accessLogFormat: apigw.AccessLogFormat.custom(ACCESS_LOG_FORMAT),
        loggingLevel: apigw.MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        metricsEnabled: true,
        throttlingBurstLimit: 10,
        throttlingRateLimit: 5,
      },
    });
    logicalId(api, 'JobsApi');
    logicalId(api.deploymentStage, 'JobsApiv1Stage');
    api.node.addDependency(apiAccount);
    logGroup('JobsApiExecutionLogGroup', {
      logGroupName: `API-Gateway-Execution-Logs_${api.restApiId}/v1`,
    });
    new lambda.CfnPermission(this, 'ApiFunctionInvokePermission', {
      action: 'lambda:InvokeFunction',
      functionName: apiFunction.functionArn,
      principal: 'apigateway.amazonaws.com',
      sourceArn: `arn:${cdk.Aws.PARTITION}:execute-api:${cdk.Aws.REGION}:${cdk.Aws.ACCOUNT_ID}:${api.restApiId}/v1/*`,
    }).overrideLogicalId('ApiFunctionInvokePermission');
    // cdk-nag sees the RestApi and its stage, not the methods inside the
    // definition: test/stack.test.js checks that every operation is AWS_IAM.
    acknowledge(api, [
      [
        'AwsSolutions-APIG2',
        'The function validates every request (body fields, query parameters, headers) by the domain rules ' +
          'and answers 400 naming the field, in the API error shape; functions/api/openapi.yaml declares ' +
          'no API Gateway request validator, and the deployed definition is that file.',
      ],
      [
        'AwsSolutions-APIG3',
        'Every call must be SigV4-signed by an IAM principal of the account (AWS_IAM) and is throttled ' +
          'at the stage; a WAF web ACL would add cost without a public surface to protect.',
      ],
      [
        'HIPAA.Security-APIGWCacheEnabledAndEncrypted',
        'POST /exports starts an execution and GET answers job records that change while an export runs: ' +
          'nothing may be answered from a cache, so there is none.',
      ],
      [
        'HIPAA.Security-APIGWSSLEnabled',
        'The only backend is the api Lambda function, invoked by API Gateway through the Lambda API (proxy ' +
          'integration); a client certificate is for HTTP backends.',
      ],
      ...(tracing
        ? []
        : [['HIPAA.Security-APIGWXrayEnabled', 'Tracing was switched off by the deployment (tracing=Disabled).']]),
    ]);

    // ------------------------------------------------------------ notifications
    const topic = logicalId(
      new sns.Topic(this, 'AlarmTopic', { displayName: 'hlx export failures', masterKey: key }),
      'AlarmTopic',
    );
    const statusRule = new events.CfnRule(this, 'ExecutionStatusRule', {
      description: 'hlx - an export, import or launcher execution failed, timed out or was aborted',
      state: 'ENABLED',
      eventPattern: {
        source: ['aws.states'],
        'detail-type': ['Step Functions Execution Status Change'],
        detail: {
          status: ['FAILED', 'TIMED_OUT', 'ABORTED'],
          stateMachineArn: [exportStateMachine.stateMachineArn, launcher.stateMachineArn],
        },
      },
      targets: [
        {
          id: 'failure-topic',
          arn: topic.topicArn,
          inputTransformer: {
            inputPathsMap: {
              name: '$.detail.name',
              status: '$.detail.status',
              error: '$.detail.error',
              cause: '$.detail.cause',
              executionArn: '$.detail.executionArn',
            },
            inputTemplate:
              '"hlx: execution <name> ended <status> (<error>: <cause>). Execution: <executionArn>"',
          },
        },
      ],
    });
    statusRule.overrideLogicalId('ExecutionStatusRule');
    new sns.CfnTopicPolicy(this, 'AlarmTopicPolicy', {
      topics: [topic.topicArn],
      policyDocument: new iam.PolicyDocument({
        statements: [
          new iam.PolicyStatement({
            sid: 'ExecutionStatusRulePublishes',
            principals: [new iam.ServicePrincipal('events.amazonaws.com')],
            actions: ['sns:Publish'],
            resources: [topic.topicArn],
            conditions: { ArnEquals: { 'aws:SourceArn': statusRule.attrArn } },
          }),
          new iam.PolicyStatement({
            sid: 'AlarmsOfThisAccountPublish',
            principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
            actions: ['sns:Publish'],
            resources: [topic.topicArn],
            conditions: { StringEquals: { 'aws:SourceAccount': cdk.Aws.ACCOUNT_ID } },
          }),
          new iam.PolicyStatement({
            sid: 'DenyWithoutTls',
            effect: iam.Effect.DENY,
            principals: [new iam.AnyPrincipal()],
            actions: ['sns:Publish'],
            resources: [topic.topicArn],
            conditions: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ],
      }),
    }).overrideLogicalId('AlarmTopicPolicy');
    if (config.notificationEmail) {
      new sns.CfnSubscription(this, 'AlarmEmailSubscription', {
        topicArn: topic.topicArn,
        protocol: 'email',
        endpoint: config.notificationEmail,
      }).overrideLogicalId('AlarmEmailSubscription');
    }

    const alarm = (logicalName, description, namespace, metricName, dimension, statistic = 'Sum') =>
      new cloudwatch.CfnAlarm(this, logicalName, {
        alarmDescription: description,
        namespace,
        metricName,
        dimensions: [dimension],
        statistic,
        period: 300,
        evaluationPeriods: 1,
        threshold: 1,
        comparisonOperator: 'GreaterThanOrEqualToThreshold',
        treatMissingData: 'notBreaching',
        alarmActions: [topic.topicArn],
      }).overrideLogicalId(logicalName);
    alarm('ExecutionsFailedAlarm', 'hlx - an export or import execution failed', 'AWS/States', 'ExecutionsFailed', {
      name: 'StateMachineArn',
      value: exportStateMachine.stateMachineArn,
    });
    for (const f of FUNCTIONS.filter((fn) => fn.errorsAlarm !== false)) {
      alarm(`${f.id}ErrorsAlarm`, `hlx - ${f.binary} returned errors`, 'AWS/Lambda', 'Errors', {
        name: 'FunctionName',
        value: this.functions[f.id].functionName,
      });
    }
    alarm(
      'ScheduleDeadLetterAlarm',
      'hlx - a schedule (nightly export or import) could not start the launcher (see the dead-letter queue)',
      'AWS/SQS',
      'ApproximateNumberOfMessagesVisible',
      { name: 'QueueName', value: deadLetters.queueName },
      'Maximum',
    );
    alarm(
      'JobEventsDeadLetterAlarm',
      'hlx - a HealthLake job event could not be delivered or handled (see the job events dead-letter queue)',
      'AWS/SQS',
      'ApproximateNumberOfMessagesVisible',
      { name: 'QueueName', value: jobEventsDeadLetters.queueName },
      'Maximum',
    );

    // ------------------------------------------------------------------ outputs
    const output = (name, description, value) =>
      new cdk.CfnOutput(this, name, { description, value }).overrideLogicalId(name);
    output(
      'JobStateMachineArn',
      'The job state machine (start exports and imports manually here).',
      exportStateMachine.stateMachineArn,
    );
    output('NightlyLauncherArn', 'The launcher the nightly export and import schedules start.', launcher.stateMachineArn);
    output(
      'JobsApiUrl',
      'The exports API (POST and GET here, GET here/{id}), signed with SigV4 for execute-api.',
      `https://${api.restApiId}.execute-api.${cdk.Aws.REGION}.${cdk.Aws.URL_SUFFIX}/v1/exports`,
    );
    output('JobTableName', 'The job history table.', table.tableName);
    output('AlarmTopicArn', 'Failure notifications.', topic.topicArn);
    output(
      'ManualExecutionInput',
      'The input for a manual start (aws stepfunctions start-execution --input ...).',
      JSON.stringify({
        datastoreId: config.datastoreId,
        s3Uri: config.exportS3Uri,
        kmsKeyId: config.kmsKeyArn,
        dataAccessRoleArn: config.dataAccessRoleArn,
        trigger: 'manual',
      }).replace(/","/g, '", "').replace(/":"/g, '": "'),
    );
  }

  /** A function from prebuilt `cargo lambda build` output, or built now by cargo-lambda-cdk. */
  rustFunction(id, binary, props) {
    const common = { handler: 'bootstrap', ...props };
    if (this.config.assetDir) {
      const dir = path.resolve(this.config.assetDir, binary);
      if (!fs.existsSync(path.join(dir, 'bootstrap'))) {
        throw new Error(`assetDir: ${dir}/bootstrap is missing (run cargo lambda build --release)`);
      }
      return new lambda.Function(this, id, {
        runtime: lambda.Runtime.PROVIDED_AL2023,
        code: lambda.Code.fromAsset(dir),
        ...common,
      });
    }
    // Loaded only here: synthesizing from prebuilt assets needs no Rust tooling.
    const { RustFunction } = require('cargo-lambda-cdk');
    return new RustFunction(this, id, {
      runtime: 'provided.al2023',
      manifestPath: REPO,
      binaryName: binary,
      ...common,
    });
  }

  stateMachineNag(stateMachine) {
    acknowledge(stateMachine, [
      [
        'AwsSolutions-SF1',
        'Logging is at ERROR level without execution data on purpose: inputs, outputs and error causes ' +
          'of an export must not be copied into logs (PHI); the job table is the record of every execution.',
      ],
      ...(this.config.tracing === 'Enabled'
        ? []
        : [['AwsSolutions-SF2', 'Tracing was switched off by the deployment (tracing=Disabled).']]),
    ]);
  }

  /**
   * A role for one service with one customer-managed policy (the HIPAA pack
   * refuses inline policies). Pass it on as role.withoutPolicyUpdates(), so
   * that no construct slips statements of its own past this policy.
   */
  serviceRole(logicalName, { description, service, sourceAccount = true, statements, nag = [] }) {
    const policy = logicalId(
      new iam.ManagedPolicy(this, `${logicalName}Policy`, { description, statements }),
      `${logicalName}Policy`,
    );
    if (nag.length > 0) acknowledge(policy, nag);
    return logicalId(
      new iam.Role(this, logicalName, {
        description,
        assumedBy: assumedBy(service, { sourceAccount }),
        managedPolicies: [policy],
      }),
      logicalName,
    );
  }
}

module.exports = { HlxStack, FUNCTIONS, TASK_FUNCTIONS, ACCESS_LOG_FORMAT, HEALTHLAKE_EVENTS_PATTERN, eventPattern };
