'use strict';
// The api function behind the jobs API: starts and describes job
// executions, reads job records, cancels exports.

const cdk = require('aws-cdk-lib');
const iam = require('aws-cdk-lib/aws-iam');
const { datastoreArn, decryptThroughDynamoDb } = require('./common');
const { HlxFunction } = require('./hlx-function');

/** The Api function of FUNCTIONS (ApiLogGroup, ApiFunctionRole(Policy), ApiFunction). */
class JobsApiFunction extends HlxFunction {
  /**
   * @param {import('constructs').Construct} scope
   * @param {string} id `Api`, its id in FUNCTIONS
   * @param {{config: ReturnType<typeof import('./config').readConfig>,
   *   logging: {key: import('aws-cdk-lib/aws-kms').IKey, retention: number},
   *   table: import('aws-cdk-lib/aws-dynamodb').ITable,
   *   jobStateMachine: import('aws-cdk-lib/aws-stepfunctions').IStateMachine}} props
   */
  constructor(scope, id, { config, logging, table, jobStateMachine }) {
    super(scope, id, {
      config,
      logging,
      statements: [
        new iam.PolicyStatement({
          sid: 'StartTheJobStateMachine',
          actions: ['states:StartExecution'],
          resources: [jobStateMachine.stateMachineArn],
        }),
        new iam.PolicyStatement({
          sid: 'DescribeJobExecutions',
          actions: ['states:DescribeExecution'],
          resources: [
            `arn:${cdk.Aws.PARTITION}:states:${cdk.Aws.REGION}:${cdk.Aws.ACCOUNT_ID}:execution:${jobStateMachine.stateMachineName}:*`,
          ],
        }),
        new iam.PolicyStatement({ sid: 'ReadJobRecords', actions: ['dynamodb:GetItem'], resources: [table.tableArn] }),
        new iam.PolicyStatement({
          sid: 'ListJobRecordsOfADatastore',
          actions: ['dynamodb:Query'],
          resources: [`${table.tableArn}/index/by-datastore`],
        }),
        // POST takes the new job's slot of its data store: the slots items only.
        new iam.PolicyStatement({
          sid: 'TakeSlots',
          actions: ['dynamodb:PutItem'],
          resources: [table.tableArn],
          conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['SLOTS#*'] } },
        }),
        // DELETE /exports/{id}: HealthLake's FHIR REST cancel of the job.
        new iam.PolicyStatement({
          sid: 'CancelExportsOfTheDatastore',
          actions: ['healthlake:CancelFHIRExportJobWithDelete'],
          resources: [datastoreArn(config)],
        }),
        decryptThroughDynamoDb(logging.key),
      ],
      environment: {
        HLX_STATE_MACHINE_ARN: jobStateMachine.stateMachineArn,
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
        HLX_MAX_JOBS_IN_FLIGHT: String(config.maxJobsInFlight),
      },
      nag: [
        [
          'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:<JobStateMachine.Name>:*]',
          'An execution ARN ends in the execution name, which is the export id chosen per request; the ' +
            "pattern admits the job state machine's executions and no other machine's.",
        ],
      ],
    });
  }
}

module.exports = { JobsApiFunction };
