'use strict';
// Shared by the tests: a synthesized CDK stack from placeholder assets (no
// Rust build, no Docker), the SAM template parsed with its short-form
// intrinsics, and a renderer that turns intrinsic functions of either
// template into plain strings so that the two can be compared.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const YAML = require('yaml');
const { buildApp } = require('../lib/app');
const { FUNCTIONS } = require('../lib/hlx-stack');

const INFRA = path.resolve(__dirname, '..', '..');
const REPO = path.resolve(INFRA, '..');
const SAM_TEMPLATE = path.join(INFRA, 'sam', 'template.yaml');
/** The Cargo binaries of the stack's functions (infra/check.sh lists the same for its placeholders). */
const BINARIES = FUNCTIONS.map((f) => f.binary);

/** The required settings, shaped like a real deployment's. */
const REQUIRED = {
  datastoreId: '0123456789abcdef0123456789abcdef',
  exportS3Uri: 's3://hlx-exports-example/nightly/',
  kmsKeyArn: 'arn:aws:kms:us-east-1:111122223333:key/11111111-2222-3333-4444-555555555555',
  dataAccessRoleArn: 'arn:aws:iam::111122223333:role/hlx-healthlake-export',
};

/**
 * Every setting away from its default, each value distinct from any other
 * number or string in the templates, so that a CDK value can be mapped back
 * to the SAM parameter it came from.
 */
const DISTINCT = {
  ...REQUIRED,
  scheduleExpression: 'cron(7 3 * * ? *)',
  scheduleTimezone: 'Europe/Berlin',
  nightlyExportMode: 'full',
  importScheduleExpression: 'cron(11 4 * * ? *)',
  importInputS3Uri: 's3://hlx-landing-example/fhir/',
  importOutputS3Uri: 's3://hlx-import-logs-example/import-logs/',
  maxJobHours: 31,
  maxQueueHours: 27,
  notificationEmail: 'parity-check@example.com',
  architecture: 'x86_64',
  logRetentionDays: 545,
  tracing: 'Disabled',
  logLevel: 'debug',
  pollInitialSeconds: 121,
  pollBackoffRate: 1.7,
  pollMaxSeconds: 3599,
  pollSubmittedSeconds: 61,
  pollQueuedSeconds: 301,
  wakeBy: 'poll',
  fallbackInitialSeconds: 3601,
  fallbackMaxSeconds: 14399,
  verifyMaxDropShare: 0.35,
  verifySingleMaxFiles: 499,
  verifySingleMaxBytes: 5368709119,
  verifyShardBytes: 8589934591,
};

let assetDir;
/** A directory laid out like `cargo lambda build` output, with placeholder bootstraps. */
function placeholderAssets() {
  if (!assetDir) {
    assetDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hlx-assets-'));
    for (const binary of BINARIES) {
      fs.mkdirSync(path.join(assetDir, binary));
      fs.writeFileSync(path.join(assetDir, binary, 'bootstrap'), '#!/bin/sh\n# placeholder for tests\n');
    }
    process.on('exit', () => fs.rmSync(assetDir, { recursive: true, force: true }));
  }
  return assetDir;
}

/** The import schedule's settings, switched on (they are off by default). */
const IMPORT_SCHEDULE = {
  importScheduleExpression: 'cron(0 4 * * ? *)',
  importInputS3Uri: 's3://hlx-landing-example/fhir/',
  importOutputS3Uri: 's3://hlx-exports-example/import-logs/',
};

/** Synthesizes the app; returns the stack's template and the assembly directory. */
function synth(context = {}, { nag = false } = {}) {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'hlx-cdk-out-'));
  process.on('exit', () => fs.rmSync(outdir, { recursive: true, force: true }));
  const { app, stack, config } = buildApp({
    context: { ...REQUIRED, assetDir: placeholderAssets(), ...context },
    outdir,
    nag,
  });
  const assembly = app.synth();
  const template = assembly.getStackByName(stack.stackName).template;
  return { template, outdir: assembly.directory, stack, config };
}

const SHORT_FORMS = [
  'Ref', 'Condition', 'Base64', 'GetAZs', 'ImportValue',
  'GetAtt', 'Sub', 'If', 'Equals', 'Not', 'And', 'Or', 'Join', 'Select', 'Split', 'FindInMap', 'Cidr',
  'ToJsonString',
];

function cfnTags() {
  const full = (name) => (name === 'Ref' || name === 'Condition' ? name : `Fn::${name}`);
  const tags = [];
  for (const name of SHORT_FORMS) {
    const key = full(name);
    tags.push({
      tag: `!${name}`,
      resolve: (value) => ({ [key]: name === 'GetAtt' ? value.split('.') : value }),
    });
    tags.push({ tag: `!${name}`, collection: 'seq', resolve: (seq) => ({ [key]: seq.toJSON() }) });
    tags.push({ tag: `!${name}`, collection: 'map', resolve: (map) => ({ [key]: map.toJSON() }) });
  }
  return tags;
}

/** infra/sam/template.yaml as a plain object (short-form intrinsics made long-form). */
function samTemplate() {
  return YAML.parse(fs.readFileSync(SAM_TEMPLATE, 'utf8'), { customTags: cfnTags(), uniqueKeys: true });
}

/** The SAM parameters' values for a CDK context (defaults filled in). */
function samParameterValues(config) {
  const { PARAMETERS } = require('../lib/config');
  const values = {};
  for (const p of PARAMETERS) values[p.samName] = config[p.key];
  return values;
}

const NO_VALUE = Symbol('AWS::NoValue');

/**
 * Renders intrinsic functions into strings: Ref X -> ${X}, GetAtt X.Y ->
 * ${X.Y}, Sub and Join spelled out; If decided by `conditions`. What it
 * cannot decide is left as it is.
 */
function render(value, conditions = {}, params = {}) {
  const again = (v) => render(v, conditions, params);
  if (Array.isArray(value)) {
    return value.map(again).filter((v) => v !== NO_VALUE);
  }
  if (value === null || typeof value !== 'object') return value;
  const keys = Object.keys(value);
  if (keys.length === 1) {
    const [k] = keys;
    const arg = value[k];
    if (k === 'Ref') return arg === 'AWS::NoValue' ? NO_VALUE : `\${${arg}}`;
    if (k === 'Fn::GetAtt') return `\${${Array.isArray(arg) ? arg.join('.') : arg}}`;
    if (k === 'Fn::Join') return again(arg[1]).join(arg[0]);
    // Split and Select of a parameter's value (given in `params`), as
    // CloudFormation evaluates them at deploy and CDK at synth.
    if (k === 'Fn::Split') {
      const source = again(arg[1]);
      const named = typeof source === 'string' && /^\$\{([^}]+)\}$/.exec(source);
      const text = named && named[1] in params ? String(params[named[1]]) : source;
      return typeof text === 'string' && !/\$\{/.test(text) ? text.split(arg[0]) : value;
    }
    if (k === 'Fn::Select') {
      const list = again(arg[1]);
      return Array.isArray(list) ? list[arg[0]] : value;
    }
    if (k === 'Fn::Sub') {
      if (typeof arg === 'string') return arg;
      const [text, vars] = arg;
      return text.replace(/\$\{([^}!]+)\}/g, (whole, name) =>
        Object.prototype.hasOwnProperty.call(vars, name) ? String(again(vars[name])) : whole,
      );
    }
    if (k === 'Fn::If') {
      const [condition, whenTrue, whenFalse] = arg;
      if (!(condition in conditions)) throw new Error(`render: unknown condition ${condition}`);
      return again(conditions[condition] ? whenTrue : whenFalse);
    }
  }
  const out = {};
  for (const [k, v] of Object.entries(value)) {
    const r = again(v);
    if (r !== NO_VALUE) out[k] = r;
  }
  return out;
}

/** Replaces the values of `byName` (parameter -> value) with ${parameter} in a rendered tree. */
function parameterize(value, byName) {
  const entries = Object.entries(byName).filter(([, v]) => v !== '' && v !== undefined);
  const long = entries.filter(([, v]) => typeof v === 'string' && v.length >= 12).sort((a, b) => b[1].length - a[1].length);
  const walk = (v) => {
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    for (const [name, literal] of entries) {
      if (v === literal || (typeof v === 'string' && typeof literal === 'number' && v === String(literal))) {
        return `\${${name}}`;
      }
      if (typeof v === 'number' && typeof literal === 'number' && v === literal) return `\${${name}}`;
    }
    if (typeof v === 'string') {
      let s = v;
      for (const [name, literal] of long) s = s.split(literal).join(`\${${name}}`);
      return s;
    }
    return v;
  };
  return walk(value);
}

/**
 * Order-insensitive canonical form: arrays sorted by their canonical JSON,
 * IAM Action/Resource strings made one-element lists, object keys sorted.
 */
function canonical(value) {
  if (Array.isArray(value)) {
    return value.map(canonical).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  }
  if (value && typeof value === 'object') {
    const out = {};
    for (const k of Object.keys(value).sort()) {
      let v = value[k];
      if (['Action', 'Resource', 'NotAction', 'NotResource', 'Service', 'AWS'].includes(k) && !Array.isArray(v)) {
        v = [v];
      }
      out[k] = canonical(v);
    }
    return out;
  }
  return value;
}

/** The `${Name}` placeholders of an ASL file. */
function placeholders(file) {
  return new Set([...fs.readFileSync(file, 'utf8').matchAll(/\$\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1]));
}

function resourcesOfType(template, type) {
  return Object.fromEntries(Object.entries(template.Resources).filter(([, r]) => r.Type === type));
}

/** The customer-managed policies that name a role in their own Roles (attached from the policy's side). */
function policiesAttachedTo(template, roleId) {
  return Object.entries(template.Resources)
    .filter(([, r]) => r.Type === 'AWS::IAM::ManagedPolicy')
    .filter(([, r]) => (r.Properties.Roles ?? []).some((ref) => ref && ref.Ref === roleId))
    .map(([id]) => id);
}

/**
 * All statements of the customer-managed policies attached to a role, by
 * role: those of its ManagedPolicyArns and those naming it in their Roles.
 */
function roleStatements(template, roleId, conditions) {
  const role = template.Resources[roleId];
  const arns = render(role.Properties.ManagedPolicyArns ?? [], conditions);
  const statements = [];
  const policyIds = arns.map((arn) => {
    const policyId = /^\$\{([A-Za-z0-9]+)\}$/.exec(arn)?.[1];
    const policy = template.Resources[policyId];
    if (!policy || policy.Type !== 'AWS::IAM::ManagedPolicy') throw new Error(`${roleId}: ${arn} is not a policy of the stack`);
    return policyId;
  });
  for (const policyId of [...policyIds, ...policiesAttachedTo(template, roleId)]) {
    statements.push(...render(template.Resources[policyId].Properties.PolicyDocument.Statement, conditions));
  }
  for (const inline of role.Properties.Policies ?? []) statements.push(...render(inline.PolicyDocument.Statement, conditions));
  return statements;
}

module.exports = {
  BINARIES,
  DISTINCT,
  IMPORT_SCHEDULE,
  INFRA,
  NO_VALUE,
  REPO,
  REQUIRED,
  SAM_TEMPLATE,
  canonical,
  parameterize,
  placeholderAssets,
  placeholders,
  policiesAttachedTo,
  render,
  resourcesOfType,
  roleStatements,
  samParameterValues,
  samTemplate,
  synth,
};
