'use strict';
// The stack's customer-managed KMS key and its alias: it encrypts the job
// table, the log groups, the failure topic and the dead-letter queues.

const { Construct } = require('constructs');
const cdk = require('aws-cdk-lib');
const { Duration, RemovalPolicy } = cdk;
const iam = require('aws-cdk-lib/aws-iam');
const kms = require('aws-cdk-lib/aws-kms');
const { ALARMS_OF_THIS_ACCOUNT, logicalId } = require('./common');

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
            // EventBridge publishes to the topic and dead-letters job events.
            // Without aws:SourceAccount or aws:SourceArn: the SNS developer
            // guide (sns-key-management.html#compatibility-with-aws-services)
            // says adding them to a KMS key policy is not supported for
            // EventBridge-to-encrypted topics; with them, EventBridge's
            // deliveries fail. The topic and queue policies hold EventBridge
            // to this stack's rules (aws:SourceArn) instead.
            new iam.PolicyStatement({
              sid: 'EventBridgeWritesToTheEncryptedTopicAndQueue',
              principals: [new iam.ServicePrincipal('events.amazonaws.com')],
              actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
              resources: ['*'],
            }),
            // Alarms publish to the topic: alarms of this account and Region
            // only (their names are generated, and the key cannot name them).
            new iam.PolicyStatement({
              sid: 'AlarmsOfThisAccountWriteToTheEncryptedTopic',
              principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
              actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
              resources: ['*'],
              conditions: ALARMS_OF_THIS_ACCOUNT,
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
