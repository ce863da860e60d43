'use strict';
// cdk-nag's AwsSolutions and HIPAA Security packs run at every synthesis of
// the app; an unacknowledged finding fails it. These tests synthesize with
// the packs on, for the defaults and for every setting changed.

const test = require('node:test');
const assert = require('node:assert/strict');
const { Validations } = require('aws-cdk-lib');
const sqs = require('aws-cdk-lib/aws-sqs');
const { buildApp } = require('../lib/app');
const { DISTINCT, REQUIRED, placeholderAssets } = require('./helpers');

function app(context) {
  return buildApp({ context: { ...REQUIRED, assetDir: placeholderAssets(), ...context } });
}

test('cdk-nag: nothing unacknowledged with the defaults', () => {
  assert.doesNotThrow(() => app({}).app.synth());
});

test('cdk-nag: nothing unacknowledged with every setting changed (tracing off, email, x86_64)', () => {
  assert.doesNotThrow(() => app(DISTINCT).app.synth());
});

test('cdk-nag: the packs really run: an unencrypted queue fails the synthesis', () => {
  const { app: a, stack } = app({});
  new sqs.Queue(stack, 'Careless', { encryption: sqs.QueueEncryption.UNENCRYPTED });
  // The report of this deliberate failure would only clutter the test output.
  const quiet = ['log', 'error', 'warn'].map((level) => [level, console[level]]);
  for (const [level] of quiet) console[level] = () => {};
  try {
    assert.throws(() => a.synth(), /Validation failed/);
  } finally {
    for (const [level, original] of quiet) console[level] = original;
  }
});

test('cdk-nag: every acknowledgement says why', () => {
  const { stack } = app({});
  let count = 0;
  for (const construct of stack.node.findAll()) {
    for (const entry of construct.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      // Recorded as { "<kind>::<rule id>": reason }.
      for (const [id, reason] of Object.entries(entry.data)) {
        count += 1;
        assert.match(id, /(AwsSolutions|HIPAA\.Security)-/, construct.node.path);
        assert.ok(typeof reason === 'string' && reason.length >= 40, `${construct.node.path} ${id}: reason too thin`);
      }
    }
  }
  assert.ok(count > 0, 'acknowledgements are recorded');
});
