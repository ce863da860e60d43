'use strict';
// HealthLake's job events: the rule on the data store's job status changes,
// the job-events function it invokes (which wakes the execution waiting for
// the job), and the dead-letter queue of both.

const fs = require('node:fs');
const path = require('node:path');
const { Construct } = require('constructs');
const cdk = require('aws-cdk-lib');
const { Duration, RemovalPolicy } = cdk;
const events = require('aws-cdk-lib/aws-events');
const iam = require('aws-cdk-lib/aws-iam');
const lambda = require('aws-cdk-lib/aws-lambda');
const sqs = require('aws-cdk-lib/aws-sqs');
const { WAIT_ITEMS_ONLY, acknowledge, decryptThroughDynamoDb, denyWithoutTls, logicalId } = require('./common');
const { HlxFunction } = require('./hlx-function');

const REPO = path.resolve(__dirname, '..', '..', '..');
const HEALTHLAKE_EVENTS_PATTERN = path.join(REPO, 'statemachine', 'healthlake-events.pattern.json');

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

/**
 * JobEventsDeadLetterQueue(Policy), the JobEvents function (HlxFunction)
 * with its JobEventsFunctionEventInvokeConfig and
 * JobEventsFunctionInvokePermission, and JobEventsRule.
 */
class HealthLakeEvents extends Construct {
  /**
   * @param {Construct} scope
   * @param {string} id
   * @param {{config: ReturnType<typeof import('./config').readConfig>,
   *   logging: {key: import('aws-cdk-lib/aws-kms').IKey, retention: number},
   *   table: import('aws-cdk-lib/aws-dynamodb').ITable,
   *   jobStateMachine: import('aws-cdk-lib/aws-stepfunctions').IStateMachine}} props
   */
  constructor(scope, id, { config, logging, table, jobStateMachine }) {
    super(scope, id);
    const { key } = logging;
    /** @type {sqs.Queue} */
    this.deadLetterQueue = logicalId(
      new sqs.Queue(this, 'JobEventsDeadLetterQueue', {
        encryption: sqs.QueueEncryption.KMS,
        encryptionMasterKey: key,
        dataKeyReuse: Duration.seconds(300),
        retentionPeriod: Duration.days(14),
        removalPolicy: RemovalPolicy.DESTROY,
      }),
      'JobEventsDeadLetterQueue',
    );
    const deadLetters = this.deadLetterQueue;
    acknowledge(deadLetters, [
      ['AwsSolutions-SQS3', 'This queue is itself the dead-letter queue of the job events rule and function.'],
    ]);
    const jobEvents = new HlxFunction(this, 'JobEvents', {
      config,
      logging,
      statements: [
        new iam.PolicyStatement({
          sid: 'ReadAndSettleWaitItems',
          actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
          resources: [table.tableArn],
          conditions: WAIT_ITEMS_ONLY,
        }),
        decryptThroughDynamoDb(key),
        new iam.PolicyStatement({
          sid: 'WakeJobExecutions',
          actions: ['states:SendTaskSuccess', 'states:SendTaskFailure', 'states:SendTaskHeartbeat'],
          resources: [jobStateMachine.stateMachineArn],
        }),
        new iam.PolicyStatement({
          sid: 'DeadLetterUnhandledEvents',
          actions: ['sqs:SendMessage'],
          resources: [deadLetters.queueArn],
        }),
        new iam.PolicyStatement({
          sid: 'EncryptDeadLettersThroughSqs',
          actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
          resources: [key.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `sqs.${cdk.Aws.REGION}.${cdk.Aws.URL_SUFFIX}` } },
        }),
      ],
      environment: { HLX_TABLE_NAME: table.tableName },
    });
    /** @type {HlxFunction} */
    this.jobEvents = jobEvents;
    const fn = jobEvents.function;
    new lambda.CfnEventInvokeConfig(this, 'JobEventsFunctionEventInvokeConfig', {
      functionName: fn.functionName,
      qualifier: '$LATEST',
      maximumRetryAttempts: 2,
      maximumEventAgeInSeconds: 3600,
      destinationConfig: { onFailure: { destination: deadLetters.queueArn } },
    }).overrideLogicalId('JobEventsFunctionEventInvokeConfig');
    const rule = new events.CfnRule(this, 'JobEventsRule', {
      description: 'hlx - HealthLake job status changes of the data store, to job-events',
      state: 'ENABLED',
      eventPattern: eventPattern(HEALTHLAKE_EVENTS_PATTERN, { DatastoreId: config.datastoreId }),
      targets: [
        {
          id: 'job-events-function',
          arn: fn.functionArn,
          retryPolicy: { maximumEventAgeInSeconds: 86400, maximumRetryAttempts: 185 },
          deadLetterConfig: { arn: deadLetters.queueArn },
        },
      ],
    });
    rule.overrideLogicalId('JobEventsRule');
    new lambda.CfnPermission(this, 'JobEventsFunctionInvokePermission', {
      action: 'lambda:InvokeFunction',
      functionName: fn.functionArn,
      principal: 'events.amazonaws.com',
      sourceArn: rule.attrArn,
    }).overrideLogicalId('JobEventsFunctionInvokePermission');
    new sqs.CfnQueuePolicy(this, 'JobEventsDeadLetterQueuePolicy', {
      queues: [deadLetters.queueUrl],
      policyDocument: new iam.PolicyDocument({
        statements: [
          new iam.PolicyStatement({
            sid: 'JobEventsRuleDeadLetters',
            principals: [new iam.ServicePrincipal('events.amazonaws.com')],
            actions: ['sqs:SendMessage'],
            resources: [deadLetters.queueArn],
            conditions: { ArnEquals: { 'aws:SourceArn': rule.attrArn } },
          }),
          denyWithoutTls(['sqs:*'], deadLetters.queueArn),
        ],
      }),
    }).overrideLogicalId('JobEventsDeadLetterQueuePolicy');
  }
}

module.exports = { HEALTHLAKE_EVENTS_PATTERN, HealthLakeEvents, eventPattern };
