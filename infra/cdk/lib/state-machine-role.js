'use strict';
// The role of a state machine (the job state machine, the nightly launcher):
// a ServiceRole for states.amazonaws.com with log delivery and, with
// tracing, X-Ray on top of the machine's own statements.

const iam = require('aws-cdk-lib/aws-iam');
const { STATE_MACHINE_XRAY_ACTIONS, xrayStatement } = require('./common');
const { ServiceRole } = require('./service-role');

// Step Functions' log delivery: its developer guide ("IAM policies for
// logging to CloudWatch Logs", step-functions/latest/dg/cw-logs.html) grants
// these actions on Resource "*": the CloudWatch Logs delivery APIs have no
// resource-level permissions. None of them reads log events.
const STATE_MACHINE_LOG_DELIVERY_ACTIONS = [
  'logs:CreateLogDelivery',
  'logs:GetLogDelivery',
  'logs:UpdateLogDelivery',
  'logs:DeleteLogDelivery',
  'logs:ListLogDeliveries',
  'logs:PutResourcePolicy',
  'logs:DescribeResourcePolicies',
  'logs:DescribeLogGroups',
];

/** The role of a state machine: its own statements, log delivery and (with tracing) X-Ray. */
class StateMachineRole extends ServiceRole {
  /**
   * @param {import('constructs').Construct} scope
   * @param {string} logicalName
   * @param {{description: string, tracing: boolean, statements: iam.PolicyStatement[],
   *   nag?: [string, string][]}} props nag: acknowledgements of the machine's own statements
   */
  constructor(scope, logicalName, { description, tracing, statements, nag = [] }) {
    super(scope, logicalName, {
      description,
      service: 'states.amazonaws.com',
      statements: [
        ...statements,
        // Log delivery has no resource-level permissions.
        new iam.PolicyStatement({
          sid: 'DeliverLogsToCloudWatch',
          actions: STATE_MACHINE_LOG_DELIVERY_ACTIONS,
          resources: ['*'],
        }),
        ...(tracing ? [xrayStatement(STATE_MACHINE_XRAY_ACTIONS)] : []),
      ],
      nag: [
        [
          'AwsSolutions-IAM5[Resource::*]',
          'CloudWatch Logs delivery and X-Ray actions have no resource-level permissions.',
        ],
        ...nag,
      ],
    });
  }
}

module.exports = { StateMachineRole };
