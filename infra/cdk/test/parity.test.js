'use strict';
// SAM and CDK deploy the same stack. Both templates are rendered (intrinsic
// functions spelled out, SAM conditions decided, CDK's literal settings
// turned back into ${Parameter}) and compared resource by resource, with
// every setting away from its default so that a value can only match if it
// comes from the same parameter. The functions, state machines and API,
// which SAM declares in its own resource types, are compared field by field;
// the API's definition is functions/api/openapi.yaml in both.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { CROSS_CHECKS, PARAMETERS, readConfig } = require('../lib/config');
const YAML = require('yaml');
const { FUNCTIONS, HEALTHLAKE_EVENTS_PATTERN } = require('../lib/hlx-stack');
const openapi = require('../lib/openapi');
const {
  DISTINCT,
  IMPORT_SCHEDULE,
  INFRA,
  REPO,
  REQUIRED,
  canonical,
  parameterize,
  placeholders,
  render,
  samParameterValues,
  samTemplate,
  synth,
} = require('./helpers');

const SAM_DIR = path.join(INFRA, 'sam');
const sam = samTemplate();
const cdkRun = synth(DISTINCT);
const cdk = cdkRun.template;
const values = samParameterValues(cdkRun.config);
const conditions = {
  TracingOn: values.Tracing === 'Enabled',
  HasNotificationEmail: values.NotificationEmail !== '',
  HasImportSchedule: values.ImportScheduleExpression !== '',
};

/** Parses strings that hold JSON objects, so that whitespace does not matter. */
function parseJsonStrings(v) {
  if (Array.isArray(v)) return v.map(parseJsonStrings);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, parseJsonStrings(x)]));
  if (typeof v === 'string' && v.startsWith('{')) {
    try {
      return parseJsonStrings(JSON.parse(v));
    } catch {
      return v;
    }
  }
  return v;
}
const fromSam = (v) => canonical(parseJsonStrings(render(v, conditions, values)));
const fromCdk = (v) => canonical(parameterize(parseJsonStrings(render(v)), values));

/** CDK's own resources, or those SAM generates from AWS::Serverless::Api. */
const CDK_ONLY = /^(CDKMetadata|JobsApiDeployment|JobsApiv1Stage$)/;
const activeSam = Object.entries(sam.Resources).filter(([, r]) => !r.Condition || conditions[r.Condition]);

test('parity: the SAM parameters are the CDK settings (names, defaults, rules)', () => {
  const samParams = sam.Parameters;
  assert.deepEqual(Object.keys(samParams).sort(), PARAMETERS.map((p) => p.samName).sort());
  for (const p of PARAMETERS) {
    const s = samParams[p.samName];
    const where = `${p.samName} / -c ${p.key}`;
    assert.equal(s.Type, p.number ? 'Number' : 'String', where);
    if (p.required) assert.equal(s.Default, undefined, `${where} is required in both`);
    else if (p.number) assert.equal(Number(s.Default), p.default, where);
    else assert.equal(s.Default, p.default, where);
    assert.equal(s.AllowedPattern, p.pattern, where);
    assert.deepEqual(s.AllowedValues, p.allowed, where);
    assert.equal(s.MinValue, p.min, where);
    assert.equal(s.MaxValue, p.max, where);
  }
});

test('parity: the SAM template\'s Rules are the CDK settings\' cross-checks (an import schedule needs both locations)', () => {
  // SAM: each rule is "when <parameter> is not empty, <parameters> must not be empty".
  const notEmpty = (condition) => {
    const [equals, ...more] = condition['Fn::Not'];
    assert.deepEqual(more, []);
    const [ref, empty] = equals['Fn::Equals'];
    assert.equal(empty, '');
    return ref.Ref;
  };
  const samRules = Object.values(sam.Rules).map((rule) => ({
    when: notEmpty(rule.RuleCondition),
    requires: rule.Assertions.map((a) => notEmpty(a.Assert)).sort(),
  }));
  const samName = (key) => PARAMETERS.find((p) => p.key === key).samName;
  assert.deepEqual(samRules, [{ when: 'ImportScheduleExpression', requires: ['ImportInputS3Uri', 'ImportOutputS3Uri'] }]);
  assert.equal(CROSS_CHECKS.length, samRules.length);
  assert.deepEqual(CROSS_CHECKS[0].requires.map(samName).sort(), samRules[0].requires);
  // CDK refuses what SAM's rule refuses, and takes what it takes.
  for (const missing of samRules[0].requires) {
    const key = PARAMETERS.find((p) => p.samName === missing).key;
    const settings = { ...REQUIRED, ...IMPORT_SCHEDULE, [key]: '' };
    assert.throws(() => readConfig((k) => settings[k]), new RegExp(`-c ${key}=\\.\\.\\. is required when importScheduleExpression is set`));
  }
  assert.doesNotThrow(() => readConfig((k) => ({ ...REQUIRED, ...IMPORT_SCHEDULE })[k]));
  assert.doesNotThrow(() => readConfig((k) => ({ ...REQUIRED, importInputS3Uri: IMPORT_SCHEDULE.importInputS3Uri })[k]));
});

test('parity: the poll schedule defaults are the code defaults (functions/core/src/poll.rs)', () => {
  const source = fs.readFileSync(path.join(REPO, 'functions', 'core', 'src', 'poll.rs'), 'utf8');
  const documented = Object.fromEntries(
    [...source.matchAll(/"(HLX_[A-Z_]+)",\s*"[^"]*\(default ([0-9.]+)\)"/g)].map((m) => [m[1], Number(m[2])]),
  );
  const byVariable = {
    HLX_POLL_INITIAL_SECONDS: 'PollInitialSeconds',
    HLX_POLL_BACKOFF_RATE: 'PollBackoffRate',
    HLX_POLL_MAX_SECONDS: 'PollMaxSeconds',
    HLX_POLL_SUBMITTED_SECONDS: 'PollSubmittedSeconds',
    HLX_POLL_QUEUED_SECONDS: 'PollQueuedSeconds',
    HLX_MAX_RUN_HOURS: 'MaxJobHours',
    HLX_MAX_QUEUE_HOURS: 'MaxQueueHours',
    HLX_FALLBACK_INITIAL_SECONDS: 'FallbackInitialSeconds',
    HLX_FALLBACK_MAX_SECONDS: 'FallbackMaxSeconds',
    HLX_MAX_JOBS_IN_FLIGHT: 'MaxJobsInFlight',
  };
  assert.deepEqual(Object.keys(documented).sort(), Object.keys(byVariable).sort(), 'every schedule variable is a parameter');
  for (const [variable, parameter] of Object.entries(byVariable)) {
    assert.equal(Number(sam.Parameters[parameter].Default), documented[variable], `${parameter} = ${variable}'s default`);
  }

  // HLX_WAKE_BY is a word: WakeBy allows exactly the values the code reads, and defaults to the code's default.
  assert.match(source, /"HLX_WAKE_BY"/);
  const accepted = [...source.matchAll(/Some\("([a-z]+)"\)\s*=>\s*WakeBy::/g)].map((m) => m[1]);
  assert.deepEqual([...sam.Parameters.WakeBy.AllowedValues].sort(), accepted.sort(), 'WakeBy = the values HLX_WAKE_BY takes');
  const variant = /enum WakeBy \{[\s\S]*?#\[default\](?:\s*\/\/\/[^\n]*)*\s*([A-Z][A-Za-z]*)/.exec(source)?.[1];
  assert.ok(variant, 'the default WakeBy variant');
  const word = new RegExp(`WakeBy::${variant}\\s*=>\\s*"([a-z]+)"`).exec(source)?.[1];
  assert.equal(sam.Parameters.WakeBy.Default, word, `WakeBy defaults to WakeBy::${variant}`);
});

test('parity: the same resources under the same logical IDs', () => {
  const samIds = activeSam.map(([id]) => id).sort();
  const cdkIds = Object.keys(cdk.Resources).filter((id) => !CDK_ONLY.test(id)).sort();
  assert.deepEqual(cdkIds, samIds);
  assert.deepEqual(Object.keys(cdk.Outputs).filter((o) => !o.startsWith('JobsApiEndpoint')).sort(), Object.keys(sam.Outputs).sort());
});

test('parity: every plain CloudFormation resource has the same properties and policies', () => {
  let compared = 0;
  for (const [id, s] of activeSam) {
    if (s.Type.startsWith('AWS::Serverless::')) continue;
    const c = cdk.Resources[id];
    assert.equal(c.Type, s.Type, id);
    const props = (r) => {
      const p = { ...r.Properties };
      if (r.Type === 'AWS::IAM::ManagedPolicy' && p.Path === '/') delete p.Path;
      return p;
    };
    assert.deepEqual(fromCdk(props(c)), fromSam(props(s)), `${id} (${s.Type})`);
    assert.equal(c.DeletionPolicy ?? 'Delete', s.DeletionPolicy ?? 'Delete', `${id} DeletionPolicy`);
    assert.equal(c.UpdateReplacePolicy ?? 'Delete', s.UpdateReplacePolicy ?? 'Delete', `${id} UpdateReplacePolicy`);
    compared += 1;
  }
  assert.ok(compared >= 35, `compared ${compared} resources`);
  for (const [name, o] of Object.entries(sam.Outputs)) {
    assert.deepEqual(fromCdk(cdk.Outputs[name].Value), fromSam(o.Value), `output ${name}`);
  }
});

test('parity: the same functions (binaries, runtime, architecture, memory, timeout, logging, environment)', () => {
  const globals = sam.Globals.Function;
  const samFunctions = Object.entries(sam.Resources).filter(([, r]) => r.Type === 'AWS::Serverless::Function');
  assert.deepEqual(samFunctions.map(([id]) => id).sort(), FUNCTIONS.map((f) => `${f.id}Function`).sort());
  assert.equal(path.resolve(SAM_DIR, globals.CodeUri), REPO, 'SAM builds from the Cargo workspace root');
  assert.match(fs.readFileSync(path.join(REPO, 'Cargo.toml'), 'utf8'), /^\[workspace\]/m);
  for (const f of FUNCTIONS) {
    const id = `${f.id}Function`;
    const s = sam.Resources[id];
    assert.deepEqual(s.Metadata, { BuildMethod: 'rust-cargolambda', BuildProperties: { Binary: f.binary } }, id);
    const manifest = path.join(REPO, 'functions', f.binary, 'Cargo.toml');
    assert.ok(fs.existsSync(manifest), `${id}: binary ${f.binary} needs its crate, functions/${f.binary}/Cargo.toml`);
    const crate = fs.readFileSync(manifest, 'utf8');
    assert.match(crate, new RegExp(`^name = "${f.binary}"$`, 'm'), `functions/${f.binary} is the crate of binary ${f.binary}`);
    assert.ok(fs.existsSync(path.join(REPO, 'functions', f.binary, 'src', 'main.rs')), `${f.binary} is a binary crate`);
    // A crate with several binaries must name this one after itself, on src/main.rs.
    if (crate.includes('[[bin]]')) {
      assert.match(crate, new RegExp(`\\[\\[bin\\]\\]\\s*name = "${f.binary}"\\s*path = "src/main.rs"`), `${f.binary}: [[bin]] ${f.binary}`);
    }

    const merged = { ...globals, ...s.Properties };
    const expected = {
      Runtime: merged.Runtime,
      Handler: merged.Handler,
      Architectures: merged.Architectures,
      MemorySize: merged.MemorySize,
      Timeout: merged.Timeout,
      TracingConfig: { Mode: merged.Tracing },
      Role: merged.Role,
      LoggingConfig: merged.LoggingConfig,
      Environment: merged.Environment,
      Description: merged.Description,
    };
    const { Code, ...cdkProps } = cdk.Resources[id].Properties;
    assert.ok(Code, `${id} has code`);
    assert.deepEqual(fromCdk(cdkProps), fromSam(expected), id);
  }
  // The defaults: arm64 and provided.al2023 in both.
  assert.equal(sam.Parameters.Architecture.Default, 'arm64');
  assert.deepEqual(synth({}).template.Resources.StartJobFunction.Properties.Architectures, ['arm64']);
  assert.equal(globals.Runtime, 'provided.al2023');
});

test('parity: the same state machines, from the same definition files, with substitutions covering every placeholder', () => {
  const machines = Object.entries(sam.Resources).filter(([, r]) => r.Type === 'AWS::Serverless::StateMachine');
  assert.deepEqual(machines.map(([id]) => id).sort(), ['JobStateMachine', 'NightlyLauncher']);
  const substitutedFromRepo = new Set();
  for (const [id, s] of machines) {
    const p = s.Properties;
    const file = path.resolve(SAM_DIR, p.DefinitionUri);
    const c = cdk.Resources[id].Properties;
    assert.equal(
      fs.readFileSync(path.join(cdkRun.outdir, `asset.${c.DefinitionS3Location.Key}`), 'utf8'),
      fs.readFileSync(file, 'utf8'),
      `${id}: CDK deploys ${path.relative(REPO, file)} too`,
    );
    assert.deepEqual(
      fromCdk({
        StateMachineType: c.StateMachineType,
        RoleArn: c.RoleArn,
        LoggingConfiguration: c.LoggingConfiguration,
        TracingConfiguration: c.TracingConfiguration,
        DefinitionSubstitutions: c.DefinitionSubstitutions,
      }),
      fromSam({
        StateMachineType: p.Type,
        RoleArn: p.Role,
        LoggingConfiguration: p.Logging,
        TracingConfiguration: p.Tracing,
        DefinitionSubstitutions: p.DefinitionSubstitutions,
      }),
      id,
    );
    assert.deepEqual(
      Object.keys(p.DefinitionSubstitutions).sort(),
      [...placeholders(file)].sort(),
      `${id}: the substitutions are exactly the placeholders of ${path.basename(file)}`,
    );
    if (path.dirname(file) === path.join(REPO, 'statemachine')) {
      for (const k of Object.keys(p.DefinitionSubstitutions)) substitutedFromRepo.add(k);
    }
  }
  const repoPlaceholders = new Set();
  for (const name of fs.readdirSync(path.join(REPO, 'statemachine')).filter((n) => n.endsWith('.asl.json'))) {
    for (const k of placeholders(path.join(REPO, 'statemachine', name))) repoPlaceholders.add(k);
  }
  assert.deepEqual([...substitutedFromRepo].sort(), [...repoPlaceholders].sort(), 'statemachine/*.asl.json placeholders');
});

test('parity: JobEventsRule matches statemachine/healthlake-events.pattern.json in both (SAM inlines it)', () => {
  const file = JSON.parse(fs.readFileSync(HEALTHLAKE_EVENTS_PATTERN, 'utf8'));
  // Its placeholders are SAM parameters (CDK fills in the same settings).
  const names = [...placeholders(HEALTHLAKE_EVENTS_PATTERN)];
  assert.deepEqual(names, ['DatastoreId']);
  for (const name of names) assert.ok(sam.Parameters[name], `\${${name}} is a SAM parameter`);
  // SAM: the inlined pattern, each !Ref P rendered as ${P}, is the file as it is.
  assert.deepEqual(
    render(sam.Resources.JobEventsRule.Properties.EventPattern, conditions),
    file,
    'infra/sam/template.yaml JobEventsRule.EventPattern differs from statemachine/healthlake-events.pattern.json',
  );
  // CDK: the file with the settings' values, which map back to the same parameters.
  assert.deepEqual(parameterize(cdk.Resources.JobEventsRule.Properties.EventPattern, values), file);
});

test('parity: the same API definition, functions/api/openapi.yaml, with only its integration URIs substituted', () => {
  const body = sam.Resources.JobsApi.Properties.DefinitionBody;
  assert.deepEqual(Object.keys(body), ['Fn::Transform'], 'SAM includes the definition (AWS::Include)');
  assert.equal(body['Fn::Transform'].Name, 'AWS::Include');
  const included = path.resolve(SAM_DIR, body['Fn::Transform'].Parameters.Location);
  assert.equal(included, openapi.SAM_INCLUDE);
  assert.equal(
    fs.readFileSync(included, 'utf8'),
    openapi.samIncludeText(),
    `${path.relative(REPO, included)} is out of date: run node infra/cdk/bin/sam-openapi.js`,
  );

  // What each deployment sends to API Gateway, intrinsic functions unresolved.
  const samBody = YAML.parse(fs.readFileSync(included, 'utf8'));
  const cdkBody = cdk.Resources.JobsApi.Properties.Body;
  assert.deepEqual(cdkBody, samBody, 'CDK deploys the same definition as SAM');

  // ... which is the description with each integration uri made an Fn::Sub of it.
  const description = openapi.readOpenApi();
  assert.deepEqual(samBody, openapi.substituted(description, openapi.cfnSub));
  const uris = [];
  openapi.operations(samBody).forEach(({ operation }) => uris.push(operation[openapi.INTEGRATION].uri));
  assert.equal(uris.length, openapi.operations(description).length);
  for (const uri of uris) {
    const [text, variables] = uri['Fn::Sub'];
    assert.ok(openapi.placeholdersOf(text).includes('ApiFunctionArn'), text);
    assert.deepEqual(variables, { ApiFunctionArn: { 'Fn::GetAtt': ['ApiFunction', 'Arn'] } });
  }
  // Every placeholder the stack fills in names a function both templates declare.
  for (const { logicalId } of Object.values(openapi.SUBSTITUTIONS)) {
    assert.equal(sam.Resources[logicalId].Type, 'AWS::Serverless::Function', logicalId);
    assert.equal(cdk.Resources[logicalId].Type, 'AWS::Lambda::Function', logicalId);
  }

  // The definition is the only source of routes: CDK declares no method of its own.
  for (const type of ['AWS::ApiGateway::Method', 'AWS::ApiGateway::Resource', 'AWS::ApiGateway::Model', 'AWS::ApiGateway::RequestValidator']) {
    assert.equal(Object.values(cdk.Resources).filter((r) => r.Type === type).length, 0, type);
  }
});

test('parity: the same REST API and stage (name, endpoint, tracing, access logs, throttling)', () => {
  const api = sam.Resources.JobsApi.Properties;
  const restApi = cdk.Resources.JobsApi;
  const stage = cdk.Resources.JobsApiv1Stage.Properties;
  assert.deepEqual(restApi.Properties.EndpointConfiguration.Types, [api.EndpointConfiguration.Type]);
  assert.deepEqual(fromCdk(restApi.Properties.Name), fromSam(api.Name));
  assert.deepEqual(restApi.DependsOn, [sam.Resources.JobsApi.DependsOn]);
  assert.equal(stage.StageName, api.StageName);
  assert.deepEqual(
    fromCdk({ TracingEnabled: stage.TracingEnabled, AccessLogSetting: stage.AccessLogSetting, MethodSettings: stage.MethodSettings }),
    fromSam({ TracingEnabled: api.TracingEnabled, AccessLogSetting: api.AccessLogSetting, MethodSettings: api.MethodSettings }),
  );
  // The stage name is also in the invoke permission's source ARN and the execution log group's name.
  assert.match(fromSam(sam.Resources.ApiFunctionInvokePermission.Properties.SourceArn), new RegExp(`/${api.StageName}/\\*$`));
  assert.match(fromSam(sam.Resources.JobsApiExecutionLogGroup.Properties.LogGroupName), new RegExp(`/${api.StageName}$`));
});
