'use strict';
// The job state machine (statemachine/job.asl.json): one Standard workflow
// per export or import, whose Tasks are the five task functions; its role,
// its log group, await-job's permission to wake its executions, and its
// Distributed Map's permission to run child executions of it.

const path = require('node:path');
const { Construct } = require('constructs');
const cdk = require('aws-cdk-lib');
const iam = require('aws-cdk-lib/aws-iam');
const sfn = require('aws-cdk-lib/aws-stepfunctions');
const { acknowledge, acknowledgeStateMachine, logGroup, logicalId } = require('./common');
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
   *   tasks: Record<string, import('./hlx-function').HlxFunction>,
   *   exports: {listExportFolders: (sid: string) => iam.PolicyStatement, exportLocation: string},
   *   key: import('aws-cdk-lib/aws-kms').IKey,
   *   topic: import('aws-cdk-lib/aws-sns').ITopic}} props tasks: the task functions by id; exports:
   *   the export location's statements (TaskFunctions); topic: the stack's alarm topic (NotifyVerification)
   */
  constructor(scope, id, { config, logging, tasks, exports, key, topic }) {
    super(scope, id);
    const tracing = config.tracing === 'Enabled';
    const results = cdk.Fn.sub('arn:${AWS::Partition}:s3:::${Location}hlx-verification/*', {
      Location: exports.exportLocation,
    });
    const resultObjects = JSON.stringify([
      'arn:${AWS::Partition}:s3:::${Location}hlx-verification/*',
      { Location: config.exportS3Uri.replace(/^s3:\/\//, '') },
    ]);
    const role = new StateMachineRole(this, 'JobStateMachineRole', {
      description: 'hlx job state machine - invokes exactly the five task functions',
      tracing,
      statements: [
        new iam.PolicyStatement({
          sid: 'InvokeTheTaskFunctions',
          actions: ['lambda:InvokeFunction'],
          resources: TASK_FUNCTIONS.map((f) => tasks[f.id].function.functionArn),
        }),
        // VerifyFiles (a Distributed Map): ItemReader and ResultWriter.
        exports.listExportFolders('ListExportFoldersForTheDistributedMap'),
        new iam.PolicyStatement({
          sid: 'WriteMapRunResults',
          actions: ['s3:PutObject', 's3:GetObject', 's3:ListMultipartUploadParts', 's3:AbortMultipartUpload'],
          resources: [results],
        }),
        new iam.PolicyStatement({
          sid: 'EncryptMapRunResultsWithTheExportKeyThroughS3',
          actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
          resources: [config.kmsKeyArn],
          conditions: { StringEquals: { 'kms:ViaService': `s3.${cdk.Aws.REGION}.${cdk.Aws.URL_SUFFIX}` } },
        }),
        // NotifyVerification: verdicts to the stack's encrypted topic.
        new iam.PolicyStatement({
          sid: 'PublishVerdictsToTheAlarmTopic',
          actions: ['sns:Publish'],
          resources: [topic.topicArn],
        }),
        new iam.PolicyStatement({
          sid: 'EncryptVerdictsWithTheStackKeyThroughSns',
          actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
          resources: [key.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `sns.${cdk.Aws.REGION}.${cdk.Aws.URL_SUFFIX}` } },
        }),
      ],
      nag: [
        [
          `AwsSolutions-IAM5[Resource::${resultObjects}]`,
          "The Distributed Map's ResultWriter writes each Map Run's results under the export location's hlx-verification/ folder, named by run, known only at run time.",
        ],
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
          VerifyExportFunctionArn: tasks.VerifyExport.function.functionArn,
          AlarmTopicArn: topic.topicArn,
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
    // The Distributed Map's child executions, attached from the policy's
    // side for the same reason: the machine depends on its role.
    const mapRun = logicalId(
      new iam.ManagedPolicy(this, 'JobStateMachineMapRunPolicy', {
        description: 'hlx job state machine - runs the child executions of its Distributed Map',
        roles: [role],
        statements: [
          new iam.PolicyStatement({
            sid: 'StartChildExecutions',
            actions: ['states:StartExecution'],
            resources: [this.stateMachine.stateMachineArn],
          }),
          new iam.PolicyStatement({
            sid: 'DescribeAndStopChildExecutions',
            actions: ['states:DescribeExecution', 'states:StopExecution'],
            resources: [
              cdk.Fn.sub(
                'arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${JobStateMachine.Name}/*',
              ),
            ],
          }),
        ],
      }),
      'JobStateMachineMapRunPolicy',
    );
    acknowledge(mapRun, [
      [
        'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:<JobStateMachine.Name>/*]',
        "A Map Run's child executions are named at run time; the grant is this machine's executions only.",
      ],
    ]);
  }
}

module.exports = { JobStateMachine };
