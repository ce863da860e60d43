'use strict';
// The schedules' side: the nightly launcher state machine
// (infra/statemachine/nightly-launcher.asl.json), which starts the job state
// machine under a deterministic name; the EventBridge Scheduler schedules
// that start it (the nightly export, and the import schedule when set);
// their role and dead-letter queue.

const path = require('node:path');
const { Construct } = require('constructs');
const cdk = require('aws-cdk-lib');
const { Duration, RemovalPolicy } = cdk;
const iam = require('aws-cdk-lib/aws-iam');
const scheduler = require('aws-cdk-lib/aws-scheduler');
const sfn = require('aws-cdk-lib/aws-stepfunctions');
const sqs = require('aws-cdk-lib/aws-sqs');
const { acknowledge, acknowledgeStateMachine, denyWithoutTls, logGroup, logicalId } = require('./common');
const { ServiceRole } = require('./service-role');
const { StateMachineRole } = require('./state-machine-role');

const INFRA = path.resolve(__dirname, '..', '..');
const LAUNCHER_ASL = path.join(INFRA, 'statemachine', 'nightly-launcher.asl.json');

/**
 * NightlyLauncher(Role, LogGroup), ScheduleDeadLetterQueue(Policy),
 * NightlyScheduleRole, NightlySchedule and (if importScheduleExpression is
 * set) ImportSchedule.
 */
class NightlyLauncher extends Construct {
  /**
   * @param {Construct} scope
   * @param {string} id
   * @param {{config: ReturnType<typeof import('./config').readConfig>,
   *   logging: {key: import('aws-cdk-lib/aws-kms').IKey, retention: number},
   *   jobStateMachine: import('aws-cdk-lib/aws-stepfunctions').IStateMachine}} props
   */
  constructor(scope, id, { config, logging, jobStateMachine }) {
    super(scope, id);
    const tracing = config.tracing === 'Enabled';
    const { key } = logging;
    const launcherRole = new StateMachineRole(this, 'NightlyLauncherRole', {
      description: 'hlx nightly launcher - starts the job state machine under a deterministic name',
      tracing,
      statements: [
        new iam.PolicyStatement({
          sid: 'StartTheJobStateMachine',
          actions: ['states:StartExecution'],
          resources: [jobStateMachine.stateMachineArn],
        }),
      ],
    }).role;
    const launcherLogs = logGroup(this, 'NightlyLauncherLogGroup', logging, {
      logGroupName: `/aws/vendedlogs/states/${cdk.Aws.STACK_NAME}-nightly-launcher`,
    });
    /** @type {sfn.StateMachine} */
    this.stateMachine = logicalId(
      new sfn.StateMachine(this, 'NightlyLauncher', {
        stateMachineType: sfn.StateMachineType.STANDARD,
        definitionBody: sfn.DefinitionBody.fromFile(LAUNCHER_ASL),
        definitionSubstitutions: { JobStateMachineArn: jobStateMachine.stateMachineArn },
        role: launcherRole.withoutPolicyUpdates(),
        logs: { destination: launcherLogs, level: sfn.LogLevel.ERROR, includeExecutionData: false },
        tracingEnabled: tracing,
      }),
      'NightlyLauncher',
    );
    const launcher = this.stateMachine;
    acknowledgeStateMachine(launcher, tracing);

    /** @type {sqs.Queue} */
    this.deadLetterQueue = logicalId(
      new sqs.Queue(this, 'ScheduleDeadLetterQueue', {
        encryption: sqs.QueueEncryption.KMS,
        encryptionMasterKey: key,
        dataKeyReuse: Duration.seconds(300),
        retentionPeriod: Duration.days(14),
        removalPolicy: RemovalPolicy.DESTROY,
      }),
      'ScheduleDeadLetterQueue',
    );
    const deadLetters = this.deadLetterQueue;
    new sqs.CfnQueuePolicy(this, 'ScheduleDeadLetterQueuePolicy', {
      queues: [deadLetters.queueUrl],
      policyDocument: new iam.PolicyDocument({ statements: [denyWithoutTls(['sqs:*'], deadLetters.queueArn)] }),
    }).overrideLogicalId('ScheduleDeadLetterQueuePolicy');
    acknowledge(deadLetters, [
      ['AwsSolutions-SQS3', 'This queue is itself the dead-letter queue of the nightly schedule.'],
    ]);

    const scheduleRole = new ServiceRole(this, 'NightlyScheduleRole', {
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
    }).role;
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
  }
}

module.exports = { NightlyLauncher };
