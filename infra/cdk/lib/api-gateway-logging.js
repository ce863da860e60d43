'use strict';
// API Gateway's logging: the account's CloudWatch role setting (an
// account-wide setting that outlives the stack) and the jobs API's access
// log group.

const { Construct } = require('constructs');
const cdk = require('aws-cdk-lib');
const { RemovalPolicy } = cdk;
const apigw = require('aws-cdk-lib/aws-apigateway');
const iam = require('aws-cdk-lib/aws-iam');
const { logGroup } = require('./common');
const { ServiceRole } = require('./service-role');

/** ApiGatewayCloudWatchRole(Policy), ApiGatewayAccount, JobsApiAccessLogGroup. */
class ApiGatewayLogging extends Construct {
  /**
   * @param {Construct} scope
   * @param {string} id
   * @param {{logging: {key: import('aws-cdk-lib/aws-kms').IKey, retention: number}}} props
   */
  constructor(scope, id, { logging }) {
    super(scope, id);
    const cloudWatchRole = new ServiceRole(this, 'ApiGatewayCloudWatchRole', {
      description: 'API Gateway account setting - writes API access and execution logs (kept on stack deletion)',
      service: 'apigateway.amazonaws.com',
      sourceAccount: false,
      statements: [
        // API Gateway creates, looks up and writes the log groups of every
        // REST API of the account and Region; it never reads log events, so
        // the reads of AWS's AmazonAPIGatewayPushToCloudWatchLogs
        // (logs:GetLogEvents, logs:FilterLogEvents) are left out: no role of
        // this stack reads log groups it does not own.
        new iam.PolicyStatement({
          sid: 'ApiGatewayLogsToAnyLogGroupOfThisAccountAndRegion',
          actions: [
            'logs:CreateLogGroup',
            'logs:CreateLogStream',
            'logs:DescribeLogGroups',
            'logs:DescribeLogStreams',
            'logs:PutLogEvents',
          ],
          resources: [`arn:${cdk.Aws.PARTITION}:logs:${cdk.Aws.REGION}:${cdk.Aws.ACCOUNT_ID}:log-group:*`],
        }),
      ],
      nag: [
        [
          'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:*]',
          "API Gateway's logging role is account-wide: it writes the access and execution logs of every " +
            'REST API of the account and Region, whose log group names this stack cannot know.',
        ],
      ],
    });
    // The account setting outlives the stack: keep its role and policy so
    // that other APIs' logging keeps working after a delete.
    cloudWatchRole.role.applyRemovalPolicy(RemovalPolicy.RETAIN);
    cloudWatchRole.policy.applyRemovalPolicy(RemovalPolicy.RETAIN);
    /** @type {apigw.CfnAccount} */
    this.account = new apigw.CfnAccount(this, 'ApiGatewayAccount', {
      cloudWatchRoleArn: cloudWatchRole.role.roleArn,
    });
    this.account.overrideLogicalId('ApiGatewayAccount');

    /** @type {import('aws-cdk-lib/aws-logs').LogGroup} */
    this.accessLogs = logGroup(this, 'JobsApiAccessLogGroup', logging);
  }
}

module.exports = { ApiGatewayLogging };
