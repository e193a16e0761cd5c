# Sourced by the other scripts: paths, a free port, a DynamoDB Local and an
# SQS emulator of our own, and stopping what we started.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export PATH="$root/.tools/venv/bin:$PATH"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# A random secret kept under .local/ (ignored by git), made on first use.
local_secret() {
  local file="$root/.local/$1"
  if [ ! -s "$file" ]; then
    mkdir -p "$root/.local"
    python3 -c 'import secrets; print(secrets.token_urlsafe(32))' > "$file"
    chmod 600 "$file"
  fi
  cat "$file"
}

# PIDs of processes we started, and of process groups we started (each led by
# the PID listed, as `setsid cmd &` makes them): stop_started ends them all.
started_pids=()
started_groups=()
stop_started() {
  for pgid in "${started_groups[@]}"; do
    kill -TERM -- "-$pgid" 2>/dev/null || true
  done
  for pid in "${started_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${started_groups[@]}" "${started_pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
}

# A DynamoDB Local of our own, in memory on a free port, stopped when the
# script exits (on failure too); DYNAMODB_ENDPOINT names it.
start_own_dynamodb() {
  local port pid
  port=$(free_port)
  pid=$(bash "$root/infra/scripts/dynamodb.sh" "$port")
  started_pids+=("$pid")
  trap stop_started EXIT
  export DYNAMODB_ENDPOINT="http://127.0.0.1:$port"
  echo "== DynamoDB Local on port $port (pid $pid)"
}

# An SQS emulator of our own (moto, in memory; see sqs.sh) on a free port of
# 127.0.0.1, stopped when the script exits (on failure too); SQS_ENDPOINT
# names it. The tests create their queues on it; make dev its webhook queue.
start_own_sqs() {
  local port pid
  port=$(free_port)
  pid=$(bash "$root/infra/scripts/sqs.sh" "$port")
  started_pids+=("$pid")
  trap stop_started EXIT
  export SQS_ENDPOINT="http://127.0.0.1:$port"
  echo "== SQS emulator (moto) on port $port (pid $pid)"
}
