#!/usr/bin/env bash
# make dev: tools, DynamoDB Local with data kept in .dynamodb/, the table from
# template.yaml with its stream, every function served by cargo lambda watch
# on an internal port, and the local API Gateway (infra/src/gateway.rs) in
# front of it on 127.0.0.1:$API_PORT, which also polls the table's stream and
# hands its records to events and purge-user (infra/src/streams.rs). An SQS
# emulator (moto) holds the webhook queue and its dead-letter queue, as
# template.yaml declares them; the gateway polls the queue and hands its
# messages to deliver-webhooks (infra/src/queues.rs). The local identity
# provider (infra/idp/idp.mjs, oidc-provider) signs the operators in, one per
# role, seeded once into .local/operators.json. Secrets reach the functions
# in a file under .local/, never on a command line.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$root"
bash infra/scripts/tools.sh dev

api_port="${API_PORT:-9000}"
dynamodb_port="${DYNAMODB_PORT:-8000}"
table="${TABLE_NAME:-users}"
public_base_url="http://127.0.0.1:$api_port"

pid=$(bash infra/scripts/dynamodb.sh "$dynamodb_port" "$root/.dynamodb")
started_pids+=("$pid")
trap stop_started EXIT
trap 'exit 130' INT TERM
echo "DynamoDB Local: http://127.0.0.1:$dynamodb_port (data in .dynamodb/)"

export DYNAMODB_ENDPOINT="http://127.0.0.1:$dynamodb_port"
export TABLE_NAME="$table"
# With its stream (new and old images), as deployed: the gateway's poller
# delivers it. A table kept from before gets its stream turned on.
cargo run --quiet -p infra -- create-table --stream

# The webhook queue lives in memory: created afresh on every start.
start_own_sqs
webhook_queue_url=$(cargo run --quiet -p infra -- create-queues)
echo "Webhook queue: $webhook_queue_url (dead letters in webhooks-dead)"

# The operators' identity provider on 127.0.0.1:$IDP_PORT (9100 unless set),
# redirecting back to the dashboard; its operators are seeded once and kept,
# as the API key is. start_own_idp exports the OIDC_* settings.
export IDP_OPERATORS_FILE="$root/.local/operators.json"
export IDP_REDIRECT_URIS="${IDP_REDIRECT_URIS:-$public_base_url/}"
start_own_idp "${IDP_PORT:-9100}"

# A local API key on first start; only its digest is in the table.
if [ ! -s "$root/.local/api-key" ]; then
  mkdir -p "$root/.local"
  cargo run --quiet -p infra -- api-key > "$root/.local/api-key"
  chmod 600 "$root/.local/api-key"
  echo "Created a local API key (kept in .local/api-key): $(cat "$root/.local/api-key")"
else
  # Kept from before: stored again if the table does not know it.
  API_KEY_FILE="$root/.local/api-key" cargo run --quiet -p infra -- api-key
fi
echo "Operators (sign in to the dashboard; kept in .local/operators.json):"
print_operators "$IDP_OPERATORS_FILE"

# The functions' environment, secrets included, in a file only we can read.
# Written by shell builtins, so no secret is ever an argument of a process.
env_file="$root/.local/functions.env"
cursor_key=$(local_secret cursor-key)
token_secret=$(local_secret token-secret)
webhook_key=$(local_secret webhook-key)
rm -f "$env_file"
(
  umask 077
  printf '%s\n' \
    "TABLE_NAME=$table" \
    "DYNAMODB_ENDPOINT=$DYNAMODB_ENDPOINT" \
    "CURSOR_KEY=$cursor_key" \
    "TOKEN_SECRET=$token_secret" \
    "PUBLIC_BASE_URL=$public_base_url" \
    "SQS_ENDPOINT=$SQS_ENDPOINT" \
    "WEBHOOK_QUEUE_URL=$webhook_queue_url" \
    "WEBHOOK_KEY=$webhook_key" \
    "WEBHOOK_LOCAL_TARGETS=1" \
    "OIDC_ISSUER=$OIDC_ISSUER" \
    "OIDC_AUDIENCE=$OIDC_AUDIENCE" \
    "OIDC_CLIENT_ID=$OIDC_CLIENT_ID" \
    "OIDC_ROLE_CLAIM=$OIDC_ROLE_CLAIM" \
    "RUST_LOG=${RUST_LOG:-info}" > "$env_file"
)
unset cursor_key token_secret webhook_key

# cargo lambda watch on an internal port, 127.0.0.1 only. Clients call the
# gateway; the watcher's own routes (invoke API, function URLs) stay internal.
# It runs in a process group of its own (setsid), which is stopped whole:
# it starts cargo and the function processes.
watch_port=$(free_port)
setsid cargo lambda watch -A 127.0.0.1 -P "$watch_port" --disable-cors \
  --env-file "$env_file" </dev/null &
watch_pid=$!
started_groups+=("$watch_pid")
until (exec 3<>"/dev/tcp/127.0.0.1/$watch_port") 2>/dev/null; do
  if ! kill -0 "$watch_pid" 2>/dev/null; then
    echo "error: cargo lambda watch exited during start-up" >&2
    exit 1
  fi
  sleep 0.1
done

cargo build --quiet -p infra --bin gateway
echo "API: $public_base_url  (each function compiles on its first request)"
echo "Dashboard: $public_base_url/  (sign in through the identity provider at $OIDC_ISSUER as one of the operators above)"
echo "Stream: table $table has its stream; the gateway polls it every 200 ms and hands its records to events and purge-user (lines starting streams:)"
echo "Webhooks: the gateway long-polls the webhook queue and hands its messages to deliver-webhooks (lines starting queues:); local receivers (http://127.0.0.1:...) are allowed"
echo "Get a token:  curl -X POST $public_base_url/token -H \"Authorization: Basic \$(cat .local/api-key)\" -H 'basiq-version: 3.0' -d scope=SERVER_ACCESS"
# The gateway in the foreground, as far as the user can tell: this script
# waits on it, and Ctrl-C (or any exit) stops it and the rest by PID. It
# reads TABLE_NAME and DYNAMODB_ENDPOINT (exported above) to find the
# stream, and SQS_ENDPOINT (exported by start_own_sqs) with
# WEBHOOK_QUEUE_URL to poll the webhook queue.
API_PORT="$api_port" WATCH_URL="http://127.0.0.1:$watch_port" PUBLIC_BASE_URL="$public_base_url" \
  WEBHOOK_QUEUE_URL="$webhook_queue_url" cargo run --quiet -p infra --bin gateway &
started_pids+=("$!")
wait "$!"
