'use strict';
// The job state machine (statemachine/job.asl.json): one Standard workflow
// per export or import, whose Tasks are the four task functions; its role,
// its log group, and await-job's permission to wake its executions.

const path = require('node:path');
const { Construct } = require('constructs');
const cdk = require('aws-cdk-lib');
const iam = require('aws-cdk-lib/aws-iam');
const sfn = require('aws-cdk-lib/aws-stepfunctions');
const { acknowledgeStateMachine, logGroup, logicalId } = require('./common');
const { TASK_FUNCTIONS } = require('./hlx-function');
const { StateMachineRole } = require('./state-machine-role');

const REPO = path.resolve(__dirname, '..', '..', '..');
const JOB_ASL = path.join(REPO, 'statemachine', 'job.asl.json');

/** JobStateMachine, JobStateMachineRole(Policy), JobStateMachineLogGroup, AwaitJobFunctionTaskTokenPolicy. */
class JobStateMachine extends Construct {
  /**
   * @param {Construct} scope
   * @param {string} id
   * @param {{config: ReturnType<typeof import('./config').readConfig>,
   *   logging: {key: import('aws-cdk-lib/aws-kms').IKey, retention: number},
   *   tasks: Record<string, import('./hlx-function').HlxFunction>}} props tasks: the task functions by id
   */
  constructor(scope, id, { config, logging, tasks }) {
    super(scope, id);
    const tracing = config.tracing === 'Enabled';
    const role = new StateMachineRole(this, 'JobStateMachineRole', {
      description: 'hlx job state machine - invokes exactly the four task functions',
      tracing,
      statements: [
        new iam.PolicyStatement({
          sid: 'InvokeTheTaskFunctions',
          actions: ['lambda:InvokeFunction'],
          resources: TASK_FUNCTIONS.map((f) => tasks[f.id].function.functionArn),
        }),
      ],
    }).role;
    const stateMachineLogs = logGroup(this, 'JobStateMachineLogGroup', logging, {
      logGroupName: `/aws/vendedlogs/states/${cdk.Aws.STACK_NAME}-export`,
    });
    /** @type {sfn.StateMachine} */
    this.stateMachine = logicalId(
      new sfn.StateMachine(this, 'JobStateMachine', {
        stateMachineType: sfn.StateMachineType.STANDARD,
        definitionBody: sfn.DefinitionBody.fromFile(JOB_ASL),
        definitionSubstitutions: {
          StartJobFunctionArn: tasks.StartJob.function.functionArn,
          CheckJobFunctionArn: tasks.CheckJob.function.functionArn,
          RecordResultFunctionArn: tasks.RecordResult.function.functionArn,
          AwaitJobFunctionArn: tasks.AwaitJob.function.functionArn,
        },
        role: role.withoutPolicyUpdates(),
        logs: { destination: stateMachineLogs, level: sfn.LogLevel.ERROR, includeExecutionData: false },
        tracingEnabled: tracing,
      }),
      'JobStateMachine',
    );
    acknowledgeStateMachine(this.stateMachine, tracing);
    // Attached from the policy's side: the state machine depends on
    // AwaitJobFunction, so the function's role may not name the machine.
    logicalId(
      new iam.ManagedPolicy(this, 'AwaitJobFunctionTaskTokenPolicy', {
        description: 'hlx await-job - wakes its own execution when the job already moved on',
        roles: [tasks.AwaitJob.role],
        statements: [
          new iam.PolicyStatement({
            sid: 'WakeJobExecutions',
            actions: ['states:SendTaskSuccess'],
            resources: [this.stateMachine.stateMachineArn],
          }),
        ],
      }),
      'AwaitJobFunctionTaskTokenPolicy',
    );
  }
}

module.exports = { JobStateMachine };
