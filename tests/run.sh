#!/usr/bin/env bash
# Runs every test of hlx: the README's test command, and what .ci/run calls.
#
# It installs what the tests need into the checkout itself (a Python virtual
# environment in .venv, npm packages under tests/asl/node_modules), builds the
# binaries the end-to-end tests run (the `local` profile, target/local: cheap
# to build, panic = "abort" like the deployed ones; see Cargo.toml), then runs
# the Rust tests, the Python tests, the state-machine validators and the
# infrastructure checks (infra/check.sh). Each step prints its duration; the
# last lines sum up. The tuned release build (LTO) is for deployment and
# bench/run.sh, not for the tests.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

declare -a summary=()
step() {
  local name=$1; shift
  local start=$SECONDS
  echo "==> $name"
  if "$@"; then
    summary+=("$(printf '%-34s %4ss  ok   target/ %s' "$name" $((SECONDS - start)) "$(du -sh target 2>/dev/null | cut -f1)")")
  else
    summary+=("$(printf '%-34s %4ss  FAILED' "$name" $((SECONDS - start)))")
    printf '%s\n' "${summary[@]}"
    echo "step failed: $name" >&2
    exit 1
  fi
}

python_env() {
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
  fi
  .venv/bin/pip install --quiet --disable-pip-version-check \
    -r tests/python/requirements.txt -r tests/python/requirements-api.txt -r tests/e2e/requirements.txt
}

node_tools() {
  (cd tests/asl && npm install --no-audit --no-fund --loglevel=error)
}

binaries() {
  # Every binary the tests run; the benchmark harness (bench/run.sh builds it) is left out.
  cargo build --profile local --workspace --bins --exclude hlx-bench
}

rust_tests() {
  HLX_BIN_DIR="$root/target/local" HLX_PYTHON="$root/.venv/bin/python" \
    cargo test --workspace --no-fail-fast
}

python_tests() {
  HLX_BIN_DIR="$root/target/local" .venv/bin/python -m pytest -q tests/python
}

step "python venv (boto3, moto, schemathesis)" python_env
step "npm (asl-validator, statelint)" node_tools
step "cargo build --profile local" binaries
step "cargo test --workspace" rust_tests
step "pytest tests/python" python_tests
step "validate statemachine/*.asl.json" tests/asl/check.sh
step "infra/check.sh (SAM, CDK, cdk-nag)" bash infra/check.sh

echo
echo "Test steps:"
printf '%s\n' "${summary[@]}"
