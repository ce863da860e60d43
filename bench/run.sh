#!/usr/bin/env bash
# hlx's benchmarks, in one command: bash bench/run.sh [hlx-bench options]
#
# Builds the release binaries (cargo build --release), makes sure of the two
# Python environments (the tests' .venv for moto's DynamoDB, bench/.venv with
# boto3 alone for the Python peer), runs hlx-bench, prints the tables and
# rewrites the generated part of bench/RESULTS.md. Not part of the tests:
# it prints figures and never fails on a timing.
#
# Options go to hlx-bench: --cold-runs N, --warm-runs N (default 20 each),
# --cost-only, --results FILE (default bench/RESULTS.md; --no-results to skip).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

python=${HLX_BENCH_PYTHON:-$(command -v python3.11 || command -v python3)}

echo "==> cargo build --release" >&2
cargo build --release >&2
# The binaries measured, copied so that another build in the shared target
# directory cannot replace them during the run.
bin_dir=target/hlx-bench/bin
mkdir -p "$bin_dir"
for f in start-job check-job record-result hlx-fake-lambda; do
  cp -f "target/release/$f" "$bin_dir/$f"
done

echo "==> .venv (moto, for DynamoDB)" >&2
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
if ! .venv/bin/python -c "import moto.server" 2>/dev/null; then
  .venv/bin/pip install --quiet --disable-pip-version-check -r tests/e2e/requirements.txt
fi

echo "==> bench/.venv (the peer: boto3 only)" >&2
if [ ! -x bench/.venv/bin/python ]; then
  "$python" -m venv bench/.venv
fi
bench/.venv/bin/pip install --quiet --disable-pip-version-check -r bench/peer/requirements.txt

results=(--results bench/RESULTS.md)
args=()
for arg in "$@"; do
  case "$arg" in
    --no-results) results=() ;;
    *) args+=("$arg") ;;
  esac
done
for arg in "${args[@]}"; do
  [ "$arg" = "--results" ] && results=()
done

echo "==> hlx-bench" >&2
exec target/release/hlx-bench --bin-dir "$bin_dir" "${results[@]}" "${args[@]}"
