'use strict';
// The jobs API: functions/api/openapi.yaml as an IAM-authorized REST API
// (stage v1) served by the api function, with its execution log group and
// its permission to invoke the function.
//
// The construct is the SpecRestApi itself, a direct child of the stack with
// id JobsApi, and not a wrapper around one: the logical ID of the API's
// deployment (JobsApiDeployment<hash>) hashes the RestApi resource, whose
// aws:cdk:path metadata (written by `cdk synth`) is its construct path. One
// more path segment would change the deployment's logical ID.

const cdk = require('aws-cdk-lib');
const apigw = require('aws-cdk-lib/aws-apigateway');
const lambda = require('aws-cdk-lib/aws-lambda');
const openapi = require('./openapi');
const { acknowledge, logGroup, logicalId } = require('./common');

const ACCESS_LOG_FORMAT = JSON.stringify({
  requestId: '$context.requestId',
  ip: '$context.identity.sourceIp',
  caller: '$context.identity.caller',
  userArn: '$context.identity.userArn',
  requestTime: '$context.requestTime',
  httpMethod: '$context.httpMethod',
  resourcePath: '$context.resourcePath',
  status: '$context.status',
  protocol: '$context.protocol',
  responseLength: '$context.responseLength',
  integrationStatus: '$context.integration.status',
  errorMessage: '$context.error.message',
});

/** JobsApi, its deployment, JobsApiv1Stage, JobsApiExecutionLogGroup, ApiFunctionInvokePermission. */
class JobsApi extends apigw.SpecRestApi {
  /**
   * @param {import('constructs').Construct} scope the stack
   * @param {string} id `JobsApi` (see above)
   * @param {{config: ReturnType<typeof import('./config').readConfig>,
   *   logging: {key: import('aws-cdk-lib/aws-kms').IKey, retention: number},
   *   handler: lambda.IFunction,
   *   accessLogs: import('aws-cdk-lib/aws-logs').ILogGroup,
   *   account: apigw.CfnAccount}} props handler: the api function; accessLogs: the stage's access
   *   log group; account: API Gateway's CloudWatch role setting, which the stage's logging needs
   */
  constructor(scope, id, { config, logging, handler, accessLogs, account }) {
    const tracing = config.tracing === 'Enabled';
    // The API is functions/api/openapi.yaml, with its integration URIs made
    // Fn::Sub of the function's ARN (lib/openapi.js); nothing else changes.
    super(scope, id, {
      apiDefinition: apigw.ApiDefinition.fromInline(
        openapi.forCdk(openapi.readOpenApi(), { ApiFunctionArn: handler.functionArn }),
      ),
      restApiName: `${cdk.Aws.STACK_NAME}-exports`,
      endpointTypes: [apigw.EndpointType.REGIONAL],
      cloudWatchRole: false,
      deployOptions: {
        stageName: 'v1',
        tracingEnabled: tracing,
        accessLogDestination: new apigw.LogGroupLogDestination(accessLogs),
        accessLogFormat: apigw.AccessLogFormat.custom(ACCESS_LOG_FORMAT),
        loggingLevel: apigw.MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        metricsEnabled: true,
        throttlingBurstLimit: 10,
        throttlingRateLimit: 5,
      },
    });
    logicalId(this, 'JobsApi');
    logicalId(this.deploymentStage, 'JobsApiv1Stage');
    // The API proper: the RestApi, its deployment and its stage, without the
    // execution log group and permission below. They wait for the account
    // setting, and the acknowledgements at the end are theirs.
    const restApi = [this.node.defaultChild, this.latestDeployment, this.deploymentStage];
    for (const part of restApi) part.node.addDependency(account);
    logGroup(this, 'JobsApiExecutionLogGroup', logging, {
      logGroupName: `API-Gateway-Execution-Logs_${this.restApiId}/v1`,
    });
    new lambda.CfnPermission(this, 'ApiFunctionInvokePermission', {
      action: 'lambda:InvokeFunction',
      functionName: handler.functionArn,
      principal: 'apigateway.amazonaws.com',
      sourceArn: `arn:${cdk.Aws.PARTITION}:execute-api:${cdk.Aws.REGION}:${cdk.Aws.ACCOUNT_ID}:${this.restApiId}/v1/*`,
    }).overrideLogicalId('ApiFunctionInvokePermission');
    // cdk-nag sees the RestApi and its stage, not the methods inside the
    // definition: test/stack.test.js checks that every operation is AWS_IAM.
    const acknowledgements = [
      [
        'AwsSolutions-APIG2',
        'The function validates every request (body fields, query parameters, headers) by the domain rules ' +
          'and answers 400 naming the field, in the API error shape; functions/api/openapi.yaml declares ' +
          'no API Gateway request validator, and the deployed definition is that file.',
      ],
      [
        'AwsSolutions-APIG3',
        'Every call must be SigV4-signed by an IAM principal of the account (AWS_IAM) and is throttled ' +
          'at the stage; a WAF web ACL would add cost without a public surface to protect.',
      ],
      [
        'HIPAA.Security-APIGWCacheEnabledAndEncrypted',
        'POST /exports starts an execution and GET answers job records that change while an export runs: ' +
          'nothing may be answered from a cache, so there is none.',
      ],
      [
        'HIPAA.Security-APIGWSSLEnabled',
        'The only backend is the api Lambda function, invoked by API Gateway through the Lambda API (proxy ' +
          'integration); a client certificate is for HTTP backends.',
      ],
      ...(tracing
        ? []
        : [['HIPAA.Security-APIGWXrayEnabled', 'Tracing was switched off by the deployment (tracing=Disabled).']]),
    ];
    for (const part of restApi) acknowledge(part, acknowledgements);
  }
}

module.exports = { ACCESS_LOG_FORMAT, JobsApi };
