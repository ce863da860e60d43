#!/usr/bin/env node
'use strict';
// Writes infra/sam/jobs-api.openapi.yaml, the SAM template's API
// definition, from functions/api/openapi.yaml (see lib/openapi.js for why
// SAM needs a copy). With --check, writes nothing and exits 1 if the file
// differs from what it would write.

const fs = require('node:fs');
const path = require('node:path');
const REPO = path.resolve(__dirname, '..', '..', '..');
const { SAM_INCLUDE, samIncludeText } = require('../lib/openapi');

const expected = samIncludeText();
const relative = path.relative(REPO, SAM_INCLUDE);
if (process.argv.includes('--check')) {
  const actual = fs.existsSync(SAM_INCLUDE) ? fs.readFileSync(SAM_INCLUDE, 'utf8') : '';
  if (actual !== expected) {
    console.error(`${relative} is not functions/api/openapi.yaml's current definition: run node infra/cdk/bin/sam-openapi.js`);
    process.exit(1);
  }
  console.log(`${relative} is up to date with functions/api/openapi.yaml`);
} else {
  fs.writeFileSync(SAM_INCLUDE, expected);
  console.log(`wrote ${relative}`);
}
