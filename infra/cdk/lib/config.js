'use strict';
// The CDK app's settings: one context value (`cdk deploy -c key=value`) per
// parameter of infra/sam/template.yaml, same meaning, same default, same
// rule. `samName` ties each to its SAM parameter; the parity test holds the
// two lists equal, so neither deployment can grow a setting the other lacks.

const S3_URI_PATTERN = '^s3://[a-z0-9][.a-z0-9-]{1,61}[a-z0-9](/.*)?$';
const OPTIONAL_S3_URI_PATTERN = `^$|${S3_URI_PATTERN}`;
// The export location is built into check-job's S3 grants
// (arn:...:s3:::bucket/prefix/*): it must end in '/', or s3://exports would
// cover every bucket whose name starts with exports and s3://b/p also
// b/p-other/; '*', '?' and '$' (IAM wildcards, policy variables) are refused.
const EXPORT_S3_URI_PATTERN = '^s3://[a-z0-9][.a-z0-9-]{1,61}[a-z0-9]/([^*?$]*/)?$';

const RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
  3288, 3653,
];

/** @type {Array<{key: string, samName: string, required?: boolean, default?: string|number,
 *   pattern?: string, allowed?: Array<string|number>, number?: boolean, min?: number, max?: number}>} */
const PARAMETERS = [
  { key: 'datastoreId', samName: 'DatastoreId', required: true, pattern: '^[A-Za-z0-9_-]{1,32}$' },
  {
    key: 'exportS3Uri',
    samName: 'ExportS3Uri',
    required: true,
    pattern: EXPORT_S3_URI_PATTERN,
  },
  {
    key: 'kmsKeyArn',
    samName: 'KmsKeyArn',
    required: true,
    pattern: '^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$',
  },
  {
    key: 'dataAccessRoleArn',
    samName: 'DataAccessRoleArn',
    required: true,
    pattern: '^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$',
  },
  { key: 'scheduleExpression', samName: 'ScheduleExpression', default: 'cron(0 2 * * ? *)' },
  {
    key: 'nightlyExportMode',
    samName: 'NightlyExportMode',
    default: 'incremental',
    allowed: ['incremental', 'full'],
  },
  { key: 'scheduleTimezone', samName: 'ScheduleTimezone', default: 'UTC' },
  // The import schedule: none unless importScheduleExpression is set; then
  // both locations are required (CROSS_CHECKS below, the SAM template's Rules).
  {
    key: 'importScheduleExpression',
    samName: 'ImportScheduleExpression',
    default: '',
    pattern: '^$|^(cron|rate|at)\\(.+\\)$',
  },
  { key: 'importInputS3Uri', samName: 'ImportInputS3Uri', default: '', pattern: OPTIONAL_S3_URI_PATTERN },
  { key: 'importOutputS3Uri', samName: 'ImportOutputS3Uri', default: '', pattern: OPTIONAL_S3_URI_PATTERN },
  { key: 'maxJobHours', samName: 'MaxJobHours', default: 24, number: true, min: 1, max: 36 },
  { key: 'maxJobsInFlight', samName: 'MaxJobsInFlight', default: 8, number: true, min: 0, max: 24 },
  { key: 'maxQueueHours', samName: 'MaxQueueHours', default: 24, number: true, min: 1, max: 36 },
  {
    key: 'notificationEmail',
    samName: 'NotificationEmail',
    default: '',
    pattern: '^$|^[^\\s@]+@[^\\s@]+\\.[^\\s@]+$',
  },
  { key: 'architecture', samName: 'Architecture', default: 'arm64', allowed: ['arm64', 'x86_64'] },
  {
    key: 'logRetentionDays',
    samName: 'LogRetentionDays',
    default: 90,
    number: true,
    allowed: RETENTION_DAYS,
  },
  { key: 'tracing', samName: 'Tracing', default: 'Enabled', allowed: ['Enabled', 'Disabled'] },
  {
    key: 'logLevel',
    samName: 'LogLevel',
    default: 'info',
    allowed: ['error', 'warn', 'info', 'debug', 'trace'],
  },
  { key: 'pollInitialSeconds', samName: 'PollInitialSeconds', default: 120, number: true, min: 1 },
  { key: 'pollBackoffRate', samName: 'PollBackoffRate', default: 2.0, number: true, min: 1, max: 10 },
  { key: 'pollMaxSeconds', samName: 'PollMaxSeconds', default: 3600, number: true, min: 1 },
  { key: 'pollSubmittedSeconds', samName: 'PollSubmittedSeconds', default: 60, number: true, min: 1 },
  { key: 'pollQueuedSeconds', samName: 'PollQueuedSeconds', default: 300, number: true, min: 1 },
  { key: 'wakeBy', samName: 'WakeBy', default: 'events', allowed: ['events', 'poll'] },
  { key: 'fallbackInitialSeconds', samName: 'FallbackInitialSeconds', default: 3600, number: true, min: 1 },
  { key: 'fallbackMaxSeconds', samName: 'FallbackMaxSeconds', default: 14400, number: true, min: 1 },
  { key: 'verifyMaxDropShare', samName: 'VerifyMaxDropShare', default: 0.2, number: true, min: 0, max: 1 },
  { key: 'verifySingleMaxFiles', samName: 'VerifySingleMaxFiles', default: 500, number: true, min: 1 },
  { key: 'verifySingleMaxBytes', samName: 'VerifySingleMaxBytes', default: 5368709120, number: true, min: 1 },
  { key: 'verifyShardBytes', samName: 'VerifyShardBytes', default: 8589934592, number: true, min: 1 },
];

/** Context keys that are not stack parameters. */
const APP_SETTINGS = {
  // Directory of prebuilt functions, laid out as `cargo lambda build` leaves
  // them (target/lambda): <assetDir>/<binary>/bootstrap. Without it the app
  // builds them with cargo-lambda-cdk's RustFunction at synth.
  assetDir: undefined,
  stackName: 'hlx',
};

class ConfigError extends Error {}

/**
 * Rules between settings, as the SAM template's Rules state them: each
 * `when` the settings hold, `requires` names a setting that must not be
 * empty. ImportScheduleNeedsItsLocations in infra/sam/template.yaml.
 */
const CROSS_CHECKS = [
  {
    when: (c) => c.importScheduleExpression !== '',
    requires: ['importInputS3Uri', 'importOutputS3Uri'],
    because: 'importScheduleExpression is set',
  },
];

function fromBool(value) {
  // `-c tracing=false` reads naturally on a command line; accept it.
  if (value === true || value === 'true') return 'Enabled';
  if (value === false || value === 'false') return 'Disabled';
  return value;
}

/**
 * Reads and checks the settings from a context lookup (`app.node.tryGetContext`).
 * Throws a ConfigError naming every missing or malformed value.
 */
function readConfig(lookup) {
  const get = typeof lookup === 'function' ? lookup : (k) => lookup.tryGetContext(k);
  const config = {};
  const problems = [];
  for (const p of PARAMETERS) {
    let value = get(p.key);
    if (p.key === 'tracing') value = fromBool(value);
    if (value === undefined || value === null) {
      if (p.required) {
        problems.push(`-c ${p.key}=... is required (SAM parameter ${p.samName})`);
        continue;
      }
      value = p.default;
    }
    if (p.number) {
      const n = typeof value === 'number' ? value : Number(String(value).trim());
      if (!Number.isFinite(n)) {
        problems.push(`${p.key} must be a number, got ${JSON.stringify(value)}`);
        continue;
      }
      if (p.min !== undefined && n < p.min) problems.push(`${p.key} must be >= ${p.min}, got ${n}`);
      if (p.max !== undefined && n > p.max) problems.push(`${p.key} must be <= ${p.max}, got ${n}`);
      value = n;
    } else {
      value = String(value);
      if (p.pattern && !new RegExp(p.pattern).test(value)) {
        problems.push(`${p.key} must match ${p.pattern}, got ${JSON.stringify(value)}`);
      }
    }
    if (p.allowed && !p.allowed.includes(value)) {
      problems.push(`${p.key} must be one of ${p.allowed.join(', ')}, got ${JSON.stringify(value)}`);
    }
    config[p.key] = value;
  }
  for (const check of CROSS_CHECKS) {
    // Only on settings that were read without problems of their own.
    if (problems.length > 0 || !check.when(config)) continue;
    for (const key of check.requires) {
      if (config[key] === '') {
        const samName = PARAMETERS.find((p) => p.key === key).samName;
        problems.push(`-c ${key}=... is required when ${check.because} (SAM parameter ${samName})`);
      }
    }
  }
  for (const [key, fallback] of Object.entries(APP_SETTINGS)) {
    const value = get(key);
    config[key] = value === undefined || value === null || value === '' ? fallback : String(value);
  }
  if (problems.length > 0) {
    throw new ConfigError(`hlx CDK app settings:\n  ${problems.join('\n  ')}`);
  }
  return config;
}

module.exports = { PARAMETERS, APP_SETTINGS, CROSS_CHECKS, RETENTION_DAYS, ConfigError, readConfig };
