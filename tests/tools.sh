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
# Idempotent: each install leaves a stamp (the sha256 of the files that
# define it) and is skipped while the stamp matches, so a second run costs
# nothing. Prints each install's duration; on a failure, that install's
# output. tests/run.sh runs it beside the binaries' build, .ci/run beside
# clippy, infra/check.sh as its set-up.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
python=${HLX_PYTHON_FOR_VENV:-python3}
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# Runs an install unless DIR holds a stamp of exactly these FILES.
stamped() {
  local dir=$1 files=$2; shift 2
  local stamp="$dir/.hlx-tools-stamp" want
  # shellcheck disable=SC2086
  want=$(sha256sum $files)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  "$@" && echo "$want" >"$stamp"
}

pip_into() {
  local venv=$1; shift
  [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-compile "$@"
}

venv() {
  stamped .venv "tests/python/requirements.txt tests/python/requirements-api.txt tests/e2e/requirements.txt infra/requirements.txt" \
    pip_into .venv -r tests/python/requirements.txt -r tests/python/requirements-api.txt \
    -r tests/e2e/requirements.txt -r infra/requirements.txt
}

asl_validators() {
  stamped tests/asl/node_modules "tests/asl/package.json tests/asl/package-lock.json" \
    sh -c 'cd tests/asl && npm install --no-audit --no-fund --loglevel=error'
}

sam_venv() {
  stamped infra/.venv-sam infra/requirements-sam.txt pip_into infra/.venv-sam -r infra/requirements-sam.txt
}

cdk_packages() {
  stamped infra/cdk/node_modules infra/cdk/package-lock.json \
    sh -c 'cd infra/cdk && npm ci --no-audit --no-fund --loglevel=error'
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
