'use strict';
// A role for one AWS service with one customer-managed policy (the HIPAA
// pack refuses inline policies).

const { Construct } = require('constructs');
const iam = require('aws-cdk-lib/aws-iam');
const { acknowledge, assumedBy, logicalId } = require('./common');

/**
 * The role (logical ID `logicalName`) and its policy (`<logicalName>Policy`).
 * Pass the role on as role.withoutPolicyUpdates(), so that no construct
 * slips statements of its own past this policy.
 */
class ServiceRole extends Construct {
  /**
   * @param {Construct} scope
   * @param {string} logicalName
   * @param {{description: string, service: string, sourceAccount?: boolean,
   *   statements: iam.PolicyStatement[], nag?: [string, string][]}} props
   */
  constructor(scope, logicalName, { description, service, sourceAccount = true, statements, nag = [] }) {
    super(scope, logicalName);
    /** @type {iam.ManagedPolicy} */
    this.policy = logicalId(new iam.ManagedPolicy(this, 'Policy', { description, statements }), `${logicalName}Policy`);
    if (nag.length > 0) acknowledge(this.policy, nag);
    /** @type {iam.Role} */
    this.role = logicalId(
      new iam.Role(this, 'Role', {
        description,
        assumedBy: assumedBy(service, { sourceAccount }),
        managedPolicies: [this.policy],
      }),
      logicalName,
    );
  }
}

module.exports = { ServiceRole };
