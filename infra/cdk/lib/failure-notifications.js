'use strict';
// Failure notifications: the encrypted SNS topic (with an email
// subscription when notificationEmail is set), the rule that publishes the
// failed, timed-out and aborted executions to it, and the CloudWatch alarms
// that notify it.

const { Construct } = require('constructs');
const cloudwatch = require('aws-cdk-lib/aws-cloudwatch');
const events = require('aws-cdk-lib/aws-events');
const iam = require('aws-cdk-lib/aws-iam');
const sns = require('aws-cdk-lib/aws-sns');
const { ALARMS_OF_THIS_ACCOUNT, denyWithoutTls, logicalId } = require('./common');
const { FUNCTIONS } = require('./hlx-function');

/**
 * AlarmTopic(Policy), ExecutionStatusRule, AlarmEmailSubscription,
 * ExecutionsFailedAlarm, <Function>ErrorsAlarm of each function whose
 * errorsAlarm is not false, ScheduleDeadLetterAlarm and JobEventsDeadLetterAlarm.
 */
/** The stack's topic (AlarmTopic): made before the job state machine, which publishes verdicts to it. */
function alarmTopic(scope, key) {
  return logicalId(new sns.Topic(scope, 'AlarmTopic', { displayName: 'hlx export failures', masterKey: key }), 'AlarmTopic');
}

class FailureNotifications extends Construct {
  /**
   * @param {Construct} scope
   * @param {string} id
   * @param {{config: ReturnType<typeof import('./config').readConfig>,
   *   key: import('aws-cdk-lib/aws-kms').IKey,
   *   jobStateMachine: import('aws-cdk-lib/aws-stepfunctions').IStateMachine,
   *   launcher: import('aws-cdk-lib/aws-stepfunctions').IStateMachine,
   *   functions: Record<string, import('aws-cdk-lib/aws-lambda').IFunction>,
   *   scheduleDeadLetterQueue: import('aws-cdk-lib/aws-sqs').IQueue,
   *   jobEventsDeadLetterQueue: import('aws-cdk-lib/aws-sqs').IQueue}} props functions: every
   *   function by its FUNCTIONS id
   */
  constructor(scope, id, props) {
    super(scope, id);
    const { config, key, jobStateMachine, launcher, functions } = props;
    /** @type {sns.ITopic} */
    this.topic = props.topic;
    const topic = this.topic;
    const statusRule = new events.CfnRule(this, 'ExecutionStatusRule', {
      description: 'hlx - an export, import or launcher execution failed, timed out or was aborted',
      state: 'ENABLED',
      eventPattern: {
        source: ['aws.states'],
        'detail-type': ['Step Functions Execution Status Change'],
        detail: {
          status: ['FAILED', 'TIMED_OUT', 'ABORTED'],
          stateMachineArn: [jobStateMachine.stateMachineArn, launcher.stateMachineArn],
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
            conditions: ALARMS_OF_THIS_ACCOUNT,
          }),
          denyWithoutTls(['sns:Publish'], topic.topicArn),
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
    // Exports read back and found SUSPECT or UNVERIFIABLE (record-result's
    // Embedded Metric Format line): no dimensions.
    new cloudwatch.CfnAlarm(this, 'ExportsNotVerifiedAlarm', {
      alarmDescription: 'hlx - an export was read back and found SUSPECT or UNVERIFIABLE',
      namespace: 'hlx',
      metricName: 'ExportsNotVerified',
      statistic: 'Sum',
      period: 300,
      evaluationPeriods: 1,
      threshold: 1,
      comparisonOperator: 'GreaterThanOrEqualToThreshold',
      treatMissingData: 'notBreaching',
      alarmActions: [topic.topicArn],
    }).overrideLogicalId('ExportsNotVerifiedAlarm');
    alarm('ExecutionsFailedAlarm', 'hlx - an export or import execution failed', 'AWS/States', 'ExecutionsFailed', {
      name: 'StateMachineArn',
      value: jobStateMachine.stateMachineArn,
    });
    for (const f of FUNCTIONS.filter((fn) => fn.errorsAlarm !== false)) {
      alarm(`${f.id}ErrorsAlarm`, `hlx - ${f.binary} returned errors`, 'AWS/Lambda', 'Errors', {
        name: 'FunctionName',
        value: functions[f.id].functionName,
      });
    }
    alarm(
      'ScheduleDeadLetterAlarm',
      'hlx - a schedule (nightly export or import) could not start the launcher (see the dead-letter queue)',
      'AWS/SQS',
      'ApproximateNumberOfMessagesVisible',
      { name: 'QueueName', value: props.scheduleDeadLetterQueue.queueName },
      'Maximum',
    );
    alarm(
      'JobEventsDeadLetterAlarm',
      'hlx - a HealthLake job event could not be delivered or handled (see the job events dead-letter queue)',
      'AWS/SQS',
      'ApproximateNumberOfMessagesVisible',
      { name: 'QueueName', value: props.jobEventsDeadLetterQueue.queueName },
      'Maximum',
    );
  }
}

module.exports = { FailureNotifications, alarmTopic };
