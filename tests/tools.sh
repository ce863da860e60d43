#!/usr/bin/env bash
# Installs every tool the tests and infra/check.sh use, into the checkout,
# the four installs side by side (they are mostly downloads and unpacking):
#   .venv                 boto3, moto, pytest, schemathesis, cfn-lint
#   tests/asl/node_modules asl-validator, statelint
#   infra/.venv-sam       aws-sam-cli (its boto3 pin clashes with the tests')
#   infra/cdk/node_modules aws-cdk-lib, cdk-nag, the CDK CLI (npm ci)
# pip skips compiling every installed module to bytecode (--no-compile): most
# of botocore's and moto's are never imported, and that compile was most of
# the installs' CPU, which they share with the cargo build beside them.
# Idempotent: a second run only confirms what is there. Prints each install's
# duration; on a failure, that install's output. tests/run.sh runs it beside
# the binaries' build; .ci/run beside clippy.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
python=${HLX_PYTHON_FOR_VENV:-python3}
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

venv() {
  [ -x .venv/bin/python ] || "$python" -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check --no-compile \
    -r tests/python/requirements.txt -r tests/python/requirements-api.txt \
    -r tests/e2e/requirements.txt -r infra/requirements.txt
}

asl_validators() {
  (cd tests/asl && npm install --no-audit --no-fund --loglevel=error)
}

sam_venv() {
  [ -x infra/.venv-sam/bin/python ] || "$python" -m venv infra/.venv-sam
  infra/.venv-sam/bin/pip install --quiet --disable-pip-version-check --no-compile -r infra/requirements-sam.txt
}

cdk_packages() {
  # npm ci only when node_modules does not match package-lock.json.
  if ! cmp -s infra/cdk/package-lock.json infra/cdk/node_modules/.hlx-package-lock.json; then
    (cd infra/cdk && npm ci --no-audit --no-fund --loglevel=error) &&
      cp infra/cdk/package-lock.json infra/cdk/node_modules/.hlx-package-lock.json
  fi
}

declare -A pids=()
for install in venv asl_validators sam_venv cdk_packages; do
  (
    start=$SECONDS
    if "$install" >"$logs/$install" 2>&1; then
      echo "  $install: $((SECONDS - start))s" >"$logs/$install.done"
    else
      exit 1
    fi
  ) &
  pids[$install]=$!
done
failed=0
for install in venv asl_validators sam_venv cdk_packages; do
  if wait "${pids[$install]}"; then
    cat "$logs/$install.done"
  else
    echo "  $install: FAILED" >&2
    cat "$logs/$install" >&2
    failed=1
  fi
done
exit "$failed"
