#!/usr/bin/env bash
# make test: tools, lint, then every test against a DynamoDB Local and an
# SQS emulator of its own (SQS_ENDPOINT: the webhook tests' queues).
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$root"
bash infra/scripts/tools.sh test

echo "== cfn-lint"
cfn-lint template.yaml
echo "cfn-lint: no findings"
echo "== sam validate --lint"
SAM_CLI_TELEMETRY=0 .tools/sam/bin/sam validate --lint --region us-east-1

echo "== fmt and clippy"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

start_own_dynamodb
start_own_sqs

echo "== tests"
cargo nextest run --workspace --no-fail-fast --failure-output final
