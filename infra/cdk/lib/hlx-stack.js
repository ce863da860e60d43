'use strict';
// hlx as a CDK stack: resource for resource the stack of infra/sam/template.yaml,
// with the same logical IDs (overridden where CDK would derive them from the
// construct path) so that the parity test can compare the two templates.
// Comments on the design choices live in the SAM template; here only what is
// CDK-specific. The parts are constructs of their own (one file each); the
// stack composes them in the order of the template's resources.

const cdk = require('aws-cdk-lib');
const { Stack } = cdk;
const { ApiGatewayLogging } = require('./api-gateway-logging');
const { EncryptionKey } = require('./encryption-key');
const { FailureNotifications, alarmTopic } = require('./failure-notifications');
const { HEALTHLAKE_EVENTS_PATTERN, HealthLakeEvents, eventPattern } = require('./healthlake-events');
const { FUNCTIONS, TASK_FUNCTIONS } = require('./hlx-function');
const { ACCESS_LOG_FORMAT, JobsApi } = require('./jobs-api');
const { JobsApiFunction } = require('./jobs-api-function');
const { JobStateMachine } = require('./job-state-machine');
const { JobTable } = require('./job-table');
const { NightlyLauncher } = require('./nightly-launcher');
const { TaskFunctions } = require('./task-functions');

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
        "Standard workflow of five Rust Lambda functions, woken by HealthLake's job events through a sixth, " +
        'an IAM-authorized REST API served by a seventh, and the job history in DynamoDB (CDK app; the same ' +
        'stack as infra/sam/template.yaml).',
      ...stackProps,
    });
    this.config = config;

    const { key } = new EncryptionKey(this, 'Encryption');
    /** How every log group of the stack is kept: encrypted with the key, for the configured retention. */
    const logging = { key, retention: config.logRetentionDays };
    const { table } = new JobTable(this, 'JobTable', { key });
    const taskFunctions = new TaskFunctions(this, 'TaskFunctions', { config, logging, table });
    const tasks = taskFunctions.byId;
    const alarms = alarmTopic(this, key);
    const jobStateMachine = new JobStateMachine(this, 'JobStateMachine', {
      config,
      logging,
      tasks,
      exports: taskFunctions,
      key,
      topic: alarms,
    }).stateMachine;
    const healthLakeEvents = new HealthLakeEvents(this, 'HealthLakeEvents', {
      config,
      logging,
      table,
      jobStateMachine,
    });
    const nightly = new NightlyLauncher(this, 'NightlyLauncher', { config, logging, jobStateMachine });
    const apiLogging = new ApiGatewayLogging(this, 'ApiGatewayLogging', { logging });
    const apiFunction = new JobsApiFunction(this, 'Api', { config, logging, table, jobStateMachine });
    // Its id must stay JobsApi: lib/jobs-api.js says why.
    const jobsApi = new JobsApi(this, 'JobsApi', {
      config,
      logging,
      handler: apiFunction.function,
      accessLogs: apiLogging.accessLogs,
      account: apiLogging.account,
    });

    const hlxFunctions = { ...tasks, JobEvents: healthLakeEvents.jobEvents, Api: apiFunction };
    /** The functions by their FUNCTIONS id, and their roles. */
    this.functions = Object.fromEntries(FUNCTIONS.map((f) => [f.id, hlxFunctions[f.id].function]));
    this.functionRoles = Object.fromEntries(FUNCTIONS.map((f) => [f.id, hlxFunctions[f.id].role]));

    const { topic } = new FailureNotifications(this, 'FailureNotifications', {
      config,
      key,
      topic: alarms,
      jobStateMachine,
      launcher: nightly.stateMachine,
      functions: this.functions,
      scheduleDeadLetterQueue: nightly.deadLetterQueue,
      jobEventsDeadLetterQueue: healthLakeEvents.deadLetterQueue,
    });

    this.addOutputs({ jobStateMachine, launcher: nightly.stateMachine, jobsApi, table, topic });
  }

  /** The stack's outputs (logical IDs as in the SAM template). */
  addOutputs({ jobStateMachine, launcher, jobsApi, table, topic }) {
    const { config } = this;
    const output = (name, description, value) =>
      new cdk.CfnOutput(this, name, { description, value }).overrideLogicalId(name);
    output(
      'JobStateMachineArn',
      'The job state machine (start exports and imports manually here).',
      jobStateMachine.stateMachineArn,
    );
    output('NightlyLauncherArn', 'The launcher the nightly export and import schedules start.', launcher.stateMachineArn);
    output(
      'JobsApiUrl',
      'The exports API (POST and GET here, GET here/{id}), signed with SigV4 for execute-api.',
      `https://${jobsApi.restApiId}.execute-api.${cdk.Aws.REGION}.${cdk.Aws.URL_SUFFIX}/v1/exports`,
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
}

module.exports = { HlxStack, FUNCTIONS, TASK_FUNCTIONS, ACCESS_LOG_FORMAT, HEALTHLAKE_EVENTS_PATTERN, eventPattern };
