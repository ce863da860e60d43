'use strict';
// The exports API is defined by functions/api/openapi.yaml, the api crate's
// own description (held to its router by `cargo test -p api --test openapi`).
// Its integration URIs are written as Fn::Sub takes them:
//   arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${ApiFunctionArn}/invocations
// No deployment fills such placeholders in a file on its own: SAM's
// DefinitionUri uploads the file as it is, and AWS::Include evaluates only the
// intrinsic functions written into the snippet. So both deployments wrap each
// integration URI (and credentials, if any) in Fn::Sub and change nothing else:
// - CDK: the parsed document with Fn.sub tokens, inline (SpecRestApi);
// - SAM: the same document written to infra/sam/jobs-api.openapi.yaml with
//   long-form {"Fn::Sub": [...]} values, included with AWS::Include. That file
//   is generated (bin/sam-openapi.js); check.sh and the parity test fail when
//   it no longer matches the description.

const fs = require('node:fs');
const path = require('node:path');
const YAML = require('yaml');

const INFRA = path.resolve(__dirname, '..', '..');
const REPO = path.resolve(INFRA, '..');
const OPENAPI = path.join(REPO, 'functions', 'api', 'openapi.yaml');
const SAM_INCLUDE = path.join(INFRA, 'sam', 'jobs-api.openapi.yaml');

/** Placeholders the stack fills in: the resource attribute each stands for. */
const SUBSTITUTIONS = { ApiFunctionArn: { logicalId: 'ApiFunction', attribute: 'Arn' } };
/** Pseudo parameters Fn::Sub resolves by itself. */
const PSEUDO_PARAMETERS = new Set(['AWS::Partition', 'AWS::Region', 'AWS::AccountId', 'AWS::URLSuffix']);
/** Integration fields that hold ARNs; request templates (VTL) are never touched. */
const SUBSTITUTED_FIELDS = ['uri', 'credentials'];
const INTEGRATION = 'x-amazon-apigateway-integration';
const ANY_METHOD = 'x-amazon-apigateway-any-method';
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** The description as a plain object. */
function readOpenApi(file = OPENAPI) {
  return YAML.parse(fs.readFileSync(file, 'utf8'), { uniqueKeys: true });
}

/** Every operation of a document: [{path, method, operation}], `x-amazon-apigateway-any-method` included. */
function operations(spec) {
  const out = [];
  for (const [p, item] of Object.entries(spec.paths ?? {})) {
    for (const [method, operation] of Object.entries(item)) {
      if (HTTP_METHODS.includes(method) || method === ANY_METHOD) out.push({ path: p, method, operation });
    }
  }
  return out;
}

/** The `${Name}` placeholders of a string. */
function placeholdersOf(text) {
  return [...text.matchAll(/\$\{([^}!]+)\}/g)].map((m) => m[1]);
}

/**
 * Calls `visit(integration, field, value)` for each substituted field of each
 * operation's integration, after checking its placeholders are known.
 */
function forEachSubstitutedField(spec, visit) {
  for (const { path: p, method, operation } of operations(spec)) {
    const integration = operation[INTEGRATION];
    if (!integration) throw new Error(`${method} ${p}: no ${INTEGRATION}`);
    for (const field of SUBSTITUTED_FIELDS) {
      const value = integration[field];
      if (typeof value !== 'string' || !value.includes('${')) continue;
      for (const name of placeholdersOf(value)) {
        if (!PSEUDO_PARAMETERS.has(name) && !(name in SUBSTITUTIONS)) {
          throw new Error(`${method} ${p}: ${INTEGRATION}.${field} uses \${${name}}, which the stack does not provide`);
        }
      }
      visit(integration, field, value);
    }
  }
}

/** The stack's placeholders (not pseudo parameters) the description uses. */
function usedSubstitutions(spec) {
  const used = new Set();
  forEachSubstitutedField(spec, (_i, _f, value) => {
    for (const name of placeholdersOf(value)) if (name in SUBSTITUTIONS) used.add(name);
  });
  return [...used].sort();
}

/** The variables map of an Fn::Sub of `text`, built by `valueOf(name)`. */
function variablesOf(text, valueOf) {
  const names = [...new Set(placeholdersOf(text).filter((n) => n in SUBSTITUTIONS))].sort();
  return Object.fromEntries(names.map((n) => [n, valueOf(n)]));
}

/** A copy of the document with each substituted field replaced by `wrap(value)`. */
function substituted(spec, wrap) {
  const copy = structuredClone(spec);
  forEachSubstitutedField(copy, (integration, field, value) => {
    integration[field] = wrap(value);
  });
  return copy;
}

/** The long-form Fn::Sub a CloudFormation template (or an AWS::Include snippet) takes for `text`. */
function cfnSub(text) {
  const variables = variablesOf(text, (n) => ({
    'Fn::GetAtt': [SUBSTITUTIONS[n].logicalId, SUBSTITUTIONS[n].attribute],
  }));
  return Object.keys(variables).length === 0 ? { 'Fn::Sub': text } : { 'Fn::Sub': [text, variables] };
}

/**
 * The document for CDK's ApiDefinition.fromInline: `values` maps each
 * placeholder of SUBSTITUTIONS to its token (e.g. the function's ARN).
 */
function forCdk(spec, values) {
  const { Fn } = require('aws-cdk-lib');
  for (const name of usedSubstitutions(spec)) {
    if (values[name] === undefined) throw new Error(`openapi: no value for \${${name}}`);
  }
  return substituted(spec, (text) => Fn.sub(text, variablesOf(text, (n) => values[n])));
}

const SAM_HEADER = [
  ' Generated from functions/api/openapi.yaml by infra/cdk/bin/sam-openapi.js: do not edit.',
  ' The description, with each integration uri wrapped in Fn::Sub (long form: AWS::Include',
  ' evaluates intrinsic functions, not placeholders in plain strings). infra/sam/template.yaml',
  ' includes it as the JobsApi definition. Regenerate with: node infra/cdk/bin/sam-openapi.js',
].join('\n');

/**
 * The SAM include's text: the description's own YAML (comments, order and
 * quoting kept), with each substituted field made a long-form Fn::Sub.
 */
function samIncludeText(source = fs.readFileSync(OPENAPI, 'utf8')) {
  const doc = YAML.parseDocument(source, { uniqueKeys: true });
  if (doc.errors.length > 0) throw doc.errors[0];
  // Validates the placeholders, on the plain object.
  usedSubstitutions(doc.toJS());
  for (const pathItem of doc.get('paths').items) {
    for (const op of pathItem.value.items) {
      const method = String(op.key.value ?? op.key);
      if (!HTTP_METHODS.includes(method) && method !== ANY_METHOD) continue;
      const integration = op.value.get(INTEGRATION);
      for (const field of SUBSTITUTED_FIELDS) {
        const value = integration.get(field);
        if (typeof value !== 'string' || !value.includes('${')) continue;
        const node = doc.createNode(cfnSub(value));
        // Fn::GetAtt: [ApiFunction, Arn], as a template would write it.
        YAML.visit(node, {
          Pair(_key, pair) {
            if (pair.key.value === 'Fn::GetAtt') pair.value.flow = true;
          },
        });
        integration.set(field, node);
      }
    }
  }
  doc.commentBefore = doc.commentBefore ? `${SAM_HEADER}\n\n${doc.commentBefore}` : SAM_HEADER;
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}

module.exports = {
  ANY_METHOD,
  HTTP_METHODS,
  INTEGRATION,
  OPENAPI,
  SAM_INCLUDE,
  SUBSTITUTED_FIELDS,
  SUBSTITUTIONS,
  cfnSub,
  forCdk,
  operations,
  placeholdersOf,
  readOpenApi,
  samIncludeText,
  substituted,
  usedSubstitutions,
};
