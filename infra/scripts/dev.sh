#!/usr/bin/env bash
# make dev: tools, DynamoDB Local with data kept in .dynamodb/, the table from
# template.yaml, and every function served by cargo lambda watch.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$root"
bash infra/scripts/tools.sh dev

api_port="${API_PORT:-9000}"
dynamodb_port="${DYNAMODB_PORT:-8000}"
table="${TABLE_NAME:-users}"

pid=$(bash infra/scripts/dynamodb.sh "$dynamodb_port" "$root/.dynamodb")
started_pids+=("$pid")
trap stop_started EXIT
trap 'exit 130' INT TERM
echo "DynamoDB Local: http://127.0.0.1:$dynamodb_port (data in .dynamodb/)"

export DYNAMODB_ENDPOINT="http://127.0.0.1:$dynamodb_port"
export TABLE_NAME="$table"
cargo run --quiet -p infra -- create-table

cursor_key=$(local_secret cursor-key)
token_secret=$(local_secret token-secret)
# A local API key on first start; only its digest is in the table.
if [ ! -s "$root/.local/api-key" ]; then
  mkdir -p "$root/.local"
  cargo run --quiet -p infra -- api-key > "$root/.local/api-key"
  chmod 600 "$root/.local/api-key"
  echo "Created a local API key (kept in .local/api-key): $(cat "$root/.local/api-key")"
fi
echo "API: http://127.0.0.1:$api_port  (each function compiles on its first request)"
echo "Dashboard: http://127.0.0.1:$api_port/  (sign in with the key in .local/api-key)"
echo "Get a token:  curl -X POST http://127.0.0.1:$api_port/token -H \"Authorization: Basic \$(cat .local/api-key)\" -H 'basiq-version: 3.0' -d scope=SERVER_ACCESS"
cargo lambda watch -P "$api_port" \
  --env-vars "TABLE_NAME=$table,DYNAMODB_ENDPOINT=$DYNAMODB_ENDPOINT,CURSOR_KEY=$cursor_key,TOKEN_SECRET=$token_secret,RUST_LOG=${RUST_LOG:-info}"
