'use strict';
// The five functions the job state machine's Tasks invoke (start-job,
// check-job, record-result, await-job, verify-export), each with its
// permissions and environment.

const { Construct } = require('constructs');
const cdk = require('aws-cdk-lib');
const iam = require('aws-cdk-lib/aws-iam');
const { WAIT_ITEMS_ONLY, datastoreArn, decryptThroughDynamoDb } = require('./common');
const { HlxFunction, TASK_FUNCTIONS } = require('./hlx-function');

/** StartJob, CheckJob, RecordResult and AwaitJob (see HlxFunction for their logical IDs). */
class TaskFunctions extends Construct {
  /**
   * @param {Construct} scope
   * @param {string} id
   * @param {{config: ReturnType<typeof import('./config').readConfig>,
   *   logging: {key: import('aws-cdk-lib/aws-kms').IKey, retention: number},
   *   table: import('aws-cdk-lib/aws-dynamodb').ITable}} props
   */
  constructor(scope, id, { config, logging, table }) {
    super(scope, id);
    const datastore = datastoreArn(config);
    const { key } = logging;
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
      HLX_MAX_JOBS_IN_FLIGHT: String(config.maxJobsInFlight),
    };
    /** A HealthLake read of the data store's jobs (check-job, await-job). */
    const describeJobs = (sid, action) => new iam.PolicyStatement({ sid, actions: [action], resources: [datastore] });
    // `bucket/prefix/` of the export location, split by CloudFormation at deploy (as in the SAM
    // template); it ends in '/' (config.js), so `${Location}*` stops at the prefix.
    const exportLocation = cdk.Fn.select(1, cdk.Fn.split('s3://', config.exportS3Uri));
    /** The listing of export folders: the export bucket (keys under the location only, by the callers' use). */
    const listExportFolders = (sid = 'ListExportFoldersUnderTheExportLocation') =>
      new iam.PolicyStatement({
        sid,
        actions: ['s3:ListBucket'],
        resources: [
          cdk.Fn.sub('arn:${AWS::Partition}:s3:::${Bucket}', { Bucket: cdk.Fn.select(0, cdk.Fn.split('/', exportLocation)) }),
        ],
      });
    this.listExportFolders = listExportFolders;
    this.exportLocation = exportLocation;
    const permissions = {
      StartJob: [
        new iam.PolicyStatement({
          sid: 'StartExportOfTheDatastore',
          actions: ['healthlake:StartFHIRExportJob'],
          resources: [datastore],
        }),
        // Incremental and scoped exports: the FHIR REST $export kick-off, and
        // the job list by name that makes a retried kick-off find its job.
        new iam.PolicyStatement({
          sid: 'StartRestExportOfTheDatastore',
          actions: ['healthlake:StartFHIRExportJobWithPost', 'healthlake:ListFHIRExportJobs'],
          resources: [datastore],
        }),
        // Imports go to the same function; HealthLake reads their input with
        // the data access role: nothing of this stack reads S3.
        new iam.PolicyStatement({
          sid: 'StartImportIntoTheDatastore',
          actions: ['healthlake:StartFHIRImportJob'],
          resources: [datastore],
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
        // The data store's slots (admission control) and its chains' points only.
        new iam.PolicyStatement({
          sid: 'TakeSlotsAndReadChains',
          actions: ['dynamodb:GetItem', 'dynamodb:PutItem'],
          resources: [table.tableArn],
          conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['SLOTS#*', 'CHAIN#*'] } },
        }),
        decryptThroughDynamoDb(key),
      ],
      CheckJob: [
        describeJobs('DescribeExportsOfTheDatastore', 'healthlake:DescribeFHIRExportJob'),
        describeJobs('DescribeImportsOfTheDatastore', 'healthlake:DescribeFHIRImportJob'),
        // The REST status GET, and the cancel of an export hlx timed out.
        new iam.PolicyStatement({
          sid: 'DescribeAndCancelRestExportsOfTheDatastore',
          actions: ['healthlake:DescribeFHIRExportJobWithGet', 'healthlake:CancelFHIRExportJobWithDelete'],
          resources: [datastore],
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
        listExportFolders(),
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
        // A chain without its item yet: its point is found once from the records.
        new iam.PolicyStatement({
          sid: 'ReadPastExportsOfTheDatastore',
          actions: ['dynamodb:Query'],
          resources: [`${table.tableArn}/index/by-datastore`],
        }),
        // A table under a customer-managed key is read and written with the
        // caller's kms:Decrypt, through DynamoDB only (as for the api function).
        decryptThroughDynamoDb(key),
      ],
      // The export's files under the export location, its folder's listing,
      // the children's id lists under hlx-verification/ only (written, and
      // deleted once the verdict is in), and the data
      // store's past exports (the previous full one of the same scope).
      VerifyExport: [
        new iam.PolicyStatement({
          sid: 'ReadExportsUnderTheExportLocation',
          actions: ['s3:GetObject'],
          resources: [cdk.Fn.sub('arn:${AWS::Partition}:s3:::${Location}*', { Location: exportLocation })],
        }),
        listExportFolders(),
        new iam.PolicyStatement({
          sid: 'WriteVerificationResults',
          actions: ['s3:DeleteObject', 's3:PutObject'],
          resources: [
            cdk.Fn.sub('arn:${AWS::Partition}:s3:::${Location}hlx-verification/*', { Location: exportLocation }),
          ],
        }),
        new iam.PolicyStatement({
          sid: 'DecryptExportsWithTheExportKeyThroughS3',
          actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
          resources: [config.kmsKeyArn],
          conditions: { StringEquals: { 'kms:ViaService': `s3.${cdk.Aws.REGION}.${cdk.Aws.URL_SUFFIX}` } },
        }),
        new iam.PolicyStatement({
          sid: 'ReadPastExportsOfTheDatastore',
          actions: ['dynamodb:Query'],
          resources: [`${table.tableArn}/index/by-datastore`],
        }),
        decryptThroughDynamoDb(key),
      ],
      // Its states:SendTaskSuccess is AwaitJobFunctionTaskTokenPolicy (JobStateMachine).
      AwaitJob: [
        new iam.PolicyStatement({
          sid: 'WriteWaitItems',
          actions: ['dynamodb:PutItem'],
          resources: [table.tableArn],
          conditions: WAIT_ITEMS_ONLY,
        }),
        describeJobs('DescribeExportsOfTheDatastore', 'healthlake:DescribeFHIRExportJob'),
        describeJobs('DescribeImportsOfTheDatastore', 'healthlake:DescribeFHIRImportJob'),
        decryptThroughDynamoDb(key),
      ],
    };
    /** The environment of each task function, beyond RUST_LOG. */
    const environments = {
      StartJob: { ...pollEnvironment, HLX_TABLE_NAME: table.tableName },
      CheckJob: { ...pollEnvironment },
      RecordResult: { HLX_TABLE_NAME: table.tableName },
      AwaitJob: { HLX_TABLE_NAME: table.tableName },
      VerifyExport: {
        HLX_TABLE_NAME: table.tableName,
        HLX_VERIFY_MAX_DROP_SHARE: String(config.verifyMaxDropShare),
        HLX_VERIFY_SINGLE_MAX_FILES: String(config.verifySingleMaxFiles),
        HLX_VERIFY_SINGLE_MAX_BYTES: String(config.verifySingleMaxBytes),
        HLX_VERIFY_SHARD_BYTES: String(config.verifyShardBytes),
      },
    };
    // The manifest objects are every key under the export location: a
    // prefix wildcard, the narrowest S3 grant that names no object in advance.
    const manifestObjects = JSON.stringify([
      'arn:${AWS::Partition}:s3:::${Location}*',
      { Location: config.exportS3Uri.replace(/^s3:\/\//, '') },
    ]);
    const resultObjects = JSON.stringify([
      'arn:${AWS::Partition}:s3:::${Location}hlx-verification/*',
      { Location: config.exportS3Uri.replace(/^s3:\/\//, '') },
    ]);
    const nags = {
      CheckJob: [
        [
          `AwsSolutions-IAM5[Resource::${manifestObjects}]`,
          'check-job writes manifest.json next to each export; export folders are named by HealthLake job ids, known only at run time, all under the export location.',
        ],
      ],
      VerifyExport: [
        [
          `AwsSolutions-IAM5[Resource::${manifestObjects}]`,
          "verify-export reads every file of each export; export folders are named by HealthLake job ids, known only at run time, all under the export location.",
        ],
        [
          `AwsSolutions-IAM5[Resource::${resultObjects}]`,
          "verify-export keeps each file's id list under the export location's hlx-verification/ folder, named by execution, known only at run time.",
        ],
      ],
    };

    /** @type {Record<string, HlxFunction>} by FUNCTIONS id */
    this.byId = {};
    for (const f of TASK_FUNCTIONS) {
      this.byId[f.id] = new HlxFunction(this, f.id, {
        config,
        logging,
        statements: permissions[f.id],
        environment: environments[f.id],
        nag: nags[f.id] ?? [],
      });
    }
  }
}

module.exports = { TaskFunctions };
