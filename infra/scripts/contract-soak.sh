#!/usr/bin/env bash
# make contract-soak: the Schemathesis contract test (tests/tests/schemathesis.rs)
# for far longer than make test runs it: CONTRACT_MAX_TIME seconds (default
# 1800, against make test's 150), from a random seed, printed first, against
# a DynamoDB Local of its own.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$root"
bash infra/scripts/tools.sh test
seed="${CONTRACT_SEED:-$(python3 -c 'import secrets; print(secrets.randbits(31))')}"
max_time="${CONTRACT_MAX_TIME:-1800}"
echo "== contract soak: CONTRACT_SEED=$seed CONTRACT_MAX_TIME=$max_time (replay with: CONTRACT_SEED=$seed CONTRACT_MAX_TIME=$max_time make contract-soak)"
start_own_dynamodb
start_own_sqs
CONTRACT_SEED="$seed" CONTRACT_MAX_TIME="$max_time" \
  cargo nextest run -p tests --test schemathesis --no-capture
