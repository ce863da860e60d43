'use strict';
// The API's request template (infra/api/start-export.vtl) renders, for every
// body the model admits, a StartExecution request whose input is a valid
// export request. Rendered with velocityjs, after the CloudFormation Fn::Sub
// that the stack applies to it.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const Velocity = require('velocityjs');
const { INFRA, REQUIRED } = require('./helpers');

const template = fs.readFileSync(path.join(INFRA, 'api', 'start-export.vtl'), 'utf8').replace(/\n$/, '');
const schema = JSON.parse(fs.readFileSync(path.join(INFRA, 'api', 'export-request.schema.json'), 'utf8'));
const STATE_MACHINE = 'arn:aws:states:us-east-1:111122223333:stateMachine:ExportStateMachine-abc';
const substituted = template.replace(/\$\{(\w+)\}/g, (_, name) => {
  const values = {
    ExportStateMachine: STATE_MACHINE,
    DatastoreId: REQUIRED.datastoreId,
    ExportS3Uri: REQUIRED.exportS3Uri,
    KmsKeyArn: REQUIRED.kmsKeyArn,
    DataAccessRoleArn: REQUIRED.dataAccessRoleArn,
  };
  assert.ok(name in values, `unexpected substitution ${name}`);
  return values[name];
});

function start(body, requestId = 'c0ffee00-1234-4abc-8def-0123456789ab') {
  const out = Velocity.render(substituted, { input: { path: () => body }, context: { requestId } });
  const request = JSON.parse(out);
  return { ...request, input: JSON.parse(request.input) };
}

const EXECUTION_NAME = /^[0-9A-Za-z_-]{1,80}$/;
const base = {
  datastoreId: REQUIRED.datastoreId,
  s3Uri: REQUIRED.exportS3Uri,
  kmsKeyId: REQUIRED.kmsKeyArn,
  dataAccessRoleArn: REQUIRED.dataAccessRoleArn,
};

test('an empty body starts an export named after the request id', () => {
  const r = start({});
  assert.equal(r.stateMachineArn, STATE_MACHINE);
  assert.equal(r.name, 'api-c0ffee00-1234-4abc-8def-0123456789ab');
  assert.match(r.name, EXECUTION_NAME);
  assert.deepEqual(r.input, { ...base, trigger: 'api' });
});

test('exportName makes the start idempotent; jobName is passed on', () => {
  const r = start({ exportName: 'quarterly_2025-Q1', jobName: 'Quarterly export: Q1/2025 @ops+data=1%' });
  assert.equal(r.name, 'api-quarterly_2025-Q1');
  assert.deepEqual(r.input, { ...base, jobName: 'Quarterly export: Q1/2025 @ops+data=1%', trigger: 'api' });
});

test('the longest names the model admits stay within the execution name limit', () => {
  const r = start({ exportName: 'x'.repeat(64), jobName: 'j'.repeat(64) });
  assert.match(r.name, EXECUTION_NAME);
  assert.equal(r.input.jobName.length, 64);
});

test("the model's patterns keep quotes, backslashes and control characters out of the template", () => {
  for (const field of ['jobName', 'exportName']) {
    const pattern = new RegExp(schema.properties[field].pattern);
    for (const bad of ['a"b', 'a\\b', 'a\nb', '', 'x'.repeat(65)]) {
      assert.ok(!pattern.test(bad), `${field} refuses ${JSON.stringify(bad)}`);
    }
  }
  assert.equal(schema.additionalProperties, false, 'no field of the request can be overridden by a caller');
});
