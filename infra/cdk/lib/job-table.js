'use strict';
// The job history: one DynamoDB table of job records (and the wait items of
// await-job and job-events, keys AWAIT#...), with the by-datastore index.

const { Construct } = require('constructs');
const { RemovalPolicy } = require('aws-cdk-lib');
const dynamodb = require('aws-cdk-lib/aws-dynamodb');
const { acknowledge, logicalId } = require('./common');

/** JobTable, under the stack's key. */
class JobTable extends Construct {
  /**
   * @param {Construct} scope
   * @param {string} id
   * @param {{key: import('aws-cdk-lib/aws-kms').IKey}} props
   */
  constructor(scope, id, { key }) {
    super(scope, id);
    /** @type {dynamodb.Table} */
    this.table = logicalId(
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
    this.table.addGlobalSecondaryIndex({
      indexName: 'by-datastore',
      partitionKey: { name: 'gsi1pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'gsi1sk', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
    acknowledge(this.table, [
      [
        'HIPAA.Security-DynamoDBInBackupPlan',
        'Point-in-time recovery (35 days) is on, and the table is retained and deletion-protected; ' +
          'an AWS Backup plan is an account-level choice this stack does not impose.',
      ],
    ]);
  }
}

module.exports = { JobTable };
