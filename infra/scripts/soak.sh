#!/usr/bin/env bash
# make soak: the model test, many more sequences than make test runs, from a
# random seed (printed first), against a DynamoDB Local of its own.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$root"
bash infra/scripts/tools.sh test
seed="${SEED:-$(python3 -c 'import secrets; print(secrets.randbits(48))')}"
cases="${MODEL_CASES:-2400}"
echo "== soak: SEED=$seed MODEL_CASES=$cases (replay with: SEED=$seed MODEL_CASES=$cases make soak)"
port=$(free_port)
pid=$(bash infra/scripts/dynamodb.sh "$port")
started_pids+=("$pid")
trap stop_started EXIT
DYNAMODB_ENDPOINT="http://127.0.0.1:$port" SEED="$seed" MODEL_CASES="$cases" \
  cargo nextest run -p tests --test model --no-capture
