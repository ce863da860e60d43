'use strict';
// Builds the hlx CDK app: the stack from the context settings, and the
// cdk-nag AwsSolutions and HIPAA Security packs, whose unacknowledged
// findings fail the synthesis. Shared by bin/hlx.js and the tests.

const cdk = require('aws-cdk-lib');
const { AwsSolutionsChecks, HIPAASecurityChecks } = require('cdk-nag');
const { readConfig } = require('./config');
const { HlxStack } = require('./hlx-stack');

/**
 * @param {{context?: Record<string, unknown>, outdir?: string, nag?: boolean}} [options]
 */
function buildApp(options = {}) {
  const app = new cdk.App({ context: options.context, outdir: options.outdir });
  const config = readConfig(app.node);
  const stack = new HlxStack(app, config.stackName, { config });
  if (options.nag !== false) {
    cdk.Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new HIPAASecurityChecks(app));
  }
  return { app, stack, config };
}

module.exports = { buildApp };
