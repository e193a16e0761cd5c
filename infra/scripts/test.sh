#!/usr/bin/env bash
# make test: tools, lint, then every test against a DynamoDB Local of its own.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$root"
bash infra/scripts/tools.sh test

echo "== cfn-lint"
cfn-lint template.yaml
echo "cfn-lint: no findings"

echo "== fmt and clippy"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

port=$(free_port)
pid=$(bash infra/scripts/dynamodb.sh "$port")
started_pids+=("$pid")
trap stop_started EXIT
echo "== DynamoDB Local on port $port (pid $pid)"
export DYNAMODB_ENDPOINT="http://127.0.0.1:$port"

echo "== tests"
cargo nextest run --workspace --no-fail-fast --failure-output final
