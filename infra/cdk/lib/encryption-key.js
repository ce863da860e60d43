'use strict';
// The stack's customer-managed KMS key and its alias: it encrypts the job
// table, the log groups, the failure topic and the dead-letter queues.

const { Construct } = require('constructs');
const cdk = require('aws-cdk-lib');
const { Duration, RemovalPolicy } = cdk;
const iam = require('aws-cdk-lib/aws-iam');
const kms = require('aws-cdk-lib/aws-kms');
const { logicalId } = require('./common');

/** EncryptionKey and EncryptionKeyAlias. */
class EncryptionKey extends Construct {
  /**
   * @param {Construct} scope
   * @param {string} id
   */
  constructor(scope, id) {
    super(scope, id);
    /** @type {kms.Key} */
    this.key = logicalId(
      new kms.Key(this, 'EncryptionKey', {
        description: 'hlx - job table, log groups, failure topic and dead-letter queues',
        enableKeyRotation: true,
        pendingWindow: Duration.days(30),
        removalPolicy: RemovalPolicy.RETAIN,
        policy: new iam.PolicyDocument({
          statements: [
            new iam.PolicyStatement({
              sid: 'AccountAdministersKeyThroughIam',
              principals: [new iam.ArnPrincipal(`arn:${cdk.Aws.PARTITION}:iam::${cdk.Aws.ACCOUNT_ID}:root`)],
              actions: ['kms:*'],
              resources: ['*'],
            }),
            new iam.PolicyStatement({
              sid: 'CloudWatchLogsEncryptsThisAccountsLogGroups',
              principals: [new iam.ServicePrincipal(`logs.${cdk.Aws.REGION}.${cdk.Aws.URL_SUFFIX}`)],
              actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
              resources: ['*'],
              conditions: {
                ArnLike: {
                  'kms:EncryptionContext:aws:logs:arn': `arn:${cdk.Aws.PARTITION}:logs:${cdk.Aws.REGION}:${cdk.Aws.ACCOUNT_ID}:log-group:*`,
                },
              },
            }),
            new iam.PolicyStatement({
              sid: 'EventBridgeAndAlarmsWriteToTheEncryptedTopicAndQueue',
              principals: [
                new iam.ServicePrincipal('events.amazonaws.com'),
                new iam.ServicePrincipal('cloudwatch.amazonaws.com'),
              ],
              actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
              resources: ['*'],
            }),
          ],
        }),
      }),
      'EncryptionKey',
    );
    /** @type {kms.Alias} */
    this.alias = logicalId(
      new kms.Alias(this, 'EncryptionKeyAlias', { aliasName: `alias/${cdk.Aws.STACK_NAME}-hlx`, targetKey: this.key }),
      'EncryptionKeyAlias',
    );
  }
}

module.exports = { EncryptionKey };
