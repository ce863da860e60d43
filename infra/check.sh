#!/usr/bin/env bash
# Offline checks of hlx's deployment: the SAM template and the CDK app, and
# that the two declare the same stack. Installs what it needs through
# tests/tools.sh, idempotently: cfn-lint and moto into the checkout's .venv,
# aws-sam-cli into infra/.venv-sam (its boto3 pin clashes with the tests'),
# the CDK app's npm packages into infra/cdk/node_modules (npm ci from
# package-lock.json).
# Prints each check's result; exits non-zero if any failed.
set -uo pipefail
infra=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$infra/.." && pwd)
cd "$root"

# sam validate needs a Region and credentials-shaped values; nothing calls AWS.
export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
export SAM_CLI_TELEMETRY=0 CDK_DISABLE_CLI_TELEMETRY=true CDK_DISABLE_VERSION_CHECK=true
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION=1

declare -a summary=()
failed=0
started=$SECONDS

setup() {
  local name=$1; shift
  local start=$SECONDS
  echo "==> setup: $name"
  if ! "$@"; then
    echo "setup failed: $name" >&2
    exit 1
  fi
  summary+=("$(printf '%-52s %4ss  ok' "setup: $name" $((SECONDS - start)))")
}

check() {
  local name=$1; shift
  local start=$SECONDS
  echo "==> $name"
  if "$@"; then
    summary+=("$(printf '%-52s %4ss  ok' "$name" $((SECONDS - start)))")
    echo "<== $name: ok"
  else
    summary+=("$(printf '%-52s %4ss  FAILED' "$name" $((SECONDS - start)))")
    echo "<== $name: FAILED"
    failed=$((failed + 1))
  fi
}

# The CDK app synthesizes from prebuilt function assets: placeholders here,
# so that no Rust build and no Docker are needed.
assets=$(mktemp -d)
trap 'rm -rf "$assets"' EXIT
for binary in start-job check-job record-result await-job verify-export job-events api; do
  mkdir -p "$assets/$binary"
  printf '#!/bin/sh\n# placeholder: infra/check.sh synthesizes without building Rust\n' >"$assets/$binary/bootstrap"
done
cdk_context=(
  -c datastoreId=0123456789abcdef0123456789abcdef
  -c exportS3Uri=s3://hlx-exports-example/nightly/
  -c kmsKeyArn=arn:aws:kms:us-east-1:111122223333:key/11111111-2222-3333-4444-555555555555
  -c dataAccessRoleArn=arn:aws:iam::111122223333:role/hlx-healthlake-export
  -c notificationEmail=ops@example.com
  # The import schedule (off by default) on, so that cfn-lint and the SAM
  # translation check see it too.
  -c 'importScheduleExpression=cron(0 4 * * ? *)'
  -c importInputS3Uri=s3://hlx-landing-example/fhir/
  -c importOutputS3Uri=s3://hlx-exports-example/import-logs/
  -c assetDir="$assets"
)

sam_openapi() {
  # The SAM template includes infra/sam/jobs-api.openapi.yaml, generated
  # from functions/api/openapi.yaml (infra/cdk/lib/openapi.js says why).
  node infra/cdk/bin/sam-openapi.js --check
}

cfn_lint_sam() {
  .venv/bin/cfn-lint infra/sam/template.yaml
}

sam_validate() {
  infra/.venv-sam/bin/sam validate --lint --template-file infra/sam/template.yaml
}

launcher_asl() {
  # The job state machine's ASL is validated by tests/asl/check.sh; this is the
  # launcher's, with its placeholder filled in as at deployment.
  local def="$assets/nightly-launcher.asl.json"
  sed 's/\${JobStateMachineArn}/arn:aws:states:us-east-1:111122223333:stateMachine:hlx-job/' \
    infra/statemachine/nightly-launcher.asl.json >"$def"
  ! grep -q '\${' "$def" &&
    infra/cdk/node_modules/.bin/asl-validator --json-path "$def" &&
    infra/cdk/node_modules/.bin/statelint "$def"
}

launcher_on_moto() {
  .venv/bin/python -m unittest discover -s infra/tests -v 2>&1 |
    grep -v 'encountered an unhandled exception that lead to a State.Runtime error'
  return "${PIPESTATUS[0]}"
}

cdk_synth() {
  # cdk-nag's AwsSolutions and HIPAA Security packs run here: an
  # unacknowledged finding fails the synthesis.
  (cd infra/cdk && rm -rf cdk.out && npx --no-install cdk synth --quiet --no-notices "${cdk_context[@]}")
}

cfn_lint_cdk() {
  # W3005 (a DependsOn that a GetAtt already implies): CDK adds DependsOn on
  # the role of every function and state machine that also references the
  # role's ARN; redundant and harmless, and not ours to remove.
  .venv/bin/cfn-lint --ignore-checks W3005 -- infra/cdk/cdk.out/hlx.template.json
}

sam_translation() {
  # The SAM template through SAM's own translator, AWS::Include expanded as
  # CloudFormation does: the same API definition and resources as the synth.
  HLX_CDK_TEMPLATE=infra/cdk/cdk.out/hlx.template.json \
    infra/.venv-sam/bin/python -m unittest discover -s infra/tests -p 'check_sam_translation.py' -v 2>&1 |
    grep -v -e "normalized_open_api_version" -e "unpublished metrics"
  return "${PIPESTATUS[0]}"
}

iam_edges() {
  # Over SAM's translation and the synth alike: every API method AWS_IAM
  # (each operation's own SigV4 requirement), S3 grants that stop at the
  # export prefix's '/', the key policy's service principals held as their
  # services document, and no role reading log groups it does not own.
  HLX_CDK_TEMPLATE=infra/cdk/cdk.out/hlx.template.json \
    infra/.venv-sam/bin/python -m unittest discover -s infra/tests -p 'check_iam_edges.py' -v 2>&1 |
    grep -v -e "normalized_open_api_version" -e "unpublished metrics"
  return "${PIPESTATUS[0]}"
}

cdk_tests() {
  (cd infra/cdk && node --test test/*.test.js)
}

setup "tests/tools.sh (.venv, infra/.venv-sam, npm packages)" bash tests/tools.sh

check "SAM API definition = functions/api/openapi.yaml" sam_openapi
check "cfn-lint infra/sam/template.yaml" cfn_lint_sam
check "sam validate --lint" sam_validate
check "nightly launcher ASL (asl-validator, statelint)" launcher_asl
check "nightly launcher on moto (unittest)" launcher_on_moto
check "cdk synth with cdk-nag (AwsSolutions, HIPAA)" cdk_synth
check "cfn-lint CDK synth output" cfn_lint_cdk
check "SAM translation = CDK synth (API, resources)" sam_translation
check "IAM edges (API auth, S3, KMS, logs): SAM + CDK" iam_edges
check "CDK tests: assertions, nag, parity (node --test)" cdk_tests

echo
echo "infra checks:"
printf '%s\n' "${summary[@]}"
echo "total: $((SECONDS - started))s"
if [ "$failed" -gt 0 ]; then
  echo "$failed infra check(s) failed" >&2
  exit 1
fi
