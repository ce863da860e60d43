'use strict';
// The stack's Rust Lambda functions: what each is (FUNCTIONS), and the
// construct of one function with its own log group and role.

const fs = require('node:fs');
const path = require('node:path');
const { Construct } = require('constructs');
const { Duration } = require('aws-cdk-lib');
const iam = require('aws-cdk-lib/aws-iam');
const lambda = require('aws-cdk-lib/aws-lambda');
const { LAMBDA_XRAY_ACTIONS, XRAY_WILDCARD, acknowledge, logGroup, logicalId, xrayStatement } = require('./common');
const { ServiceRole } = require('./service-role');

const REPO = path.resolve(__dirname, '..', '..', '..');

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
    id: 'VerifyExport',
    binary: 'verify-export',
    description:
      'hlx verify-export - reads a completed export back from S3 and judges it (VERIFIED, SUSPECT, UNVERIFIABLE)',
    roleDescription: "hlx verify-export - reads the export's files back and its data store's past exports",
    invokedBy: 'states',
    // It streams GBs from S3: the Lambda maximum, and memory for the network
    // and CPU share it buys (its own memory is flat in a file's size).
    timeoutSeconds: 900,
    memorySize: 1024,
    // A verification that cannot run ends UNVERIFIABLE: ExportsNotVerifiedAlarm.
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

/**
 * One function of FUNCTIONS (the construct's id is its `id` there) with its
 * own log group (`<id>LogGroup`) and role (`<id>FunctionRole`, one
 * customer-managed policy: its log stream, `statements`, and X-Ray when
 * tracing). The function is `<id>Function`.
 */
class HlxFunction extends Construct {
  /**
   * @param {Construct} scope
   * @param {string} id one of FUNCTIONS' ids
   * @param {{config: ReturnType<typeof import('./config').readConfig>,
   *   logging: {key: import('aws-cdk-lib/aws-kms').IKey, retention: number},
   *   statements: iam.PolicyStatement[], environment: Record<string, string>,
   *   nag?: [string, string][]}} props
   */
  constructor(scope, id, { config, logging, statements, environment, nag = [] }) {
    super(scope, id);
    const spec = FUNCTIONS.find((f) => f.id === id);
    if (!spec) throw new Error(`HlxFunction: no function ${id} in FUNCTIONS`);
    const tracing = config.tracing === 'Enabled';
    /** @type {import('aws-cdk-lib/aws-logs').LogGroup} */
    this.logGroup = logGroup(this, `${id}LogGroup`, logging);
    /** @type {iam.Role} */
    this.role = new ServiceRole(this, `${id}FunctionRole`, {
      description: spec.roleDescription,
      service: 'lambda.amazonaws.com',
      sourceAccount: false,
      statements: [
        new iam.PolicyStatement({
          sid: 'WriteOwnLogs',
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [this.logGroup.logGroupArn],
        }),
        ...statements,
        ...(tracing ? [xrayStatement(LAMBDA_XRAY_ACTIONS)] : []),
      ],
      nag: [...nag, ...(tracing ? [XRAY_WILDCARD] : [])],
    }).role;
    /** @type {lambda.Function} */
    this.function = this.rustFunction(`${id}Function`, spec.binary, config.assetDir, {
      description: spec.description,
      role: this.role.withoutPolicyUpdates(),
      memorySize: spec.memorySize ?? 128,
      timeout: Duration.seconds(spec.timeoutSeconds ?? 30),
      architecture: config.architecture === 'x86_64' ? lambda.Architecture.X86_64 : lambda.Architecture.ARM_64,
      tracing: tracing ? lambda.Tracing.ACTIVE : lambda.Tracing.PASS_THROUGH,
      loggingFormat: lambda.LoggingFormat.JSON,
      logGroup: this.logGroup,
      environment: { RUST_LOG: config.logLevel, ...environment },
    });
    logicalId(this.function, `${id}Function`);
    acknowledge(this.function, FUNCTION_NAG[spec.invokedBy]);
  }

  /** A function from prebuilt `cargo lambda build` output, or built now by cargo-lambda-cdk. */
  rustFunction(id, binary, assetDir, props) {
    const common = { handler: 'bootstrap', ...props };
    if (assetDir) {
      const dir = path.resolve(assetDir, binary);
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
}

module.exports = { FUNCTIONS, HlxFunction, TASK_FUNCTIONS };
