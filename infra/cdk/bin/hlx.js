#!/usr/bin/env node
'use strict';
// The hlx CDK app. Settings come from context: see infra/README.md, e.g.
//   npx cdk deploy -c datastoreId=... -c exportS3Uri=s3://bucket/prefix/ \
//     -c kmsKeyArn=arn:aws:kms:... -c dataAccessRoleArn=arn:aws:iam::...:role/...

const { buildApp } = require('../lib/app');
const { ConfigError } = require('../lib/config');

try {
  buildApp();
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(2);
  }
  throw err;
}
