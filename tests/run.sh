#!/usr/bin/env bash
# Runs every test of hlx: the README's test command, and what .ci/run calls.
#
# It installs what the tests need into the checkout itself (tests/tools.sh:
# Python virtual environments and npm packages), builds the
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
    summary+=("$(printf '%-42s %4ss  ok   target/ %s' "$name" $((SECONDS - start)) "$(du -sh target 2>/dev/null | cut -f1)")")
  else
    summary+=("$(printf '%-42s %4ss  FAILED' "$name" $((SECONDS - start)))")
    printf '%s\n' "${summary[@]}"
    echo "step failed: $name" >&2
    exit 1
  fi
}

# The tools (tests/tools.sh: Python and npm packages) install in the
# background while the binaries build; the steps that need them come after.
tools_log=$(mktemp)
trap 'rm -f "$tools_log"' EXIT
bash tests/tools.sh >"$tools_log" 2>&1 &
tools_pid=$!

tools() {
  local status=0
  wait "$tools_pid" || status=$?
  cat "$tools_log"
  return "$status"
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

step "cargo build --profile local" binaries
step "tools (tests/tools.sh, beside the build)" tools
step "cargo test --workspace" rust_tests
step "pytest tests/python" python_tests
step "validate statemachine/*.asl.json" tests/asl/check.sh
step "infra/check.sh (SAM, CDK, cdk-nag)" bash infra/check.sh

echo
echo "Test steps:"
printf '%s\n' "${summary[@]}"
