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
start_own_dynamodb
SEED="$seed" MODEL_CASES="$cases" \
  cargo nextest run -p tests --test model --no-capture
