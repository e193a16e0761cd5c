# Sourced by the other scripts: paths, a free port, a DynamoDB Local, an SQS
# emulator and an identity provider of our own, and stopping what we started.
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

# seed_operators FILE: one operator per role for the local identity provider
# (admin@, editor@, viewer@example.test), each with a random password, written
# as idp.mjs reads them, mode 600. Python makes the passwords (secrets, from
# the OS's urandom) and writes the file, so no password is ever an argument
# of a process. A file that exists is kept: seeded once.
seed_operators() {
  local file="$1"
  [ -s "$file" ] && return 0
  mkdir -p "$(dirname "$file")"
  python3 - "$file" <<'PY'
import json, os, secrets, sys
path = sys.argv[1]
operators = [
    {"email": f"{role}@example.test", "password": secrets.token_urlsafe(18), "name": name, "role": role}
    for role, name in (("admin", "Ada Admin"), ("editor", "Eddie Editor"), ("viewer", "Vera Viewer"))
]
partial = f"{path}.{os.getpid()}.tmp"
fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
with os.fdopen(fd, "w") as out:
    json.dump(operators, out, indent=2)
    out.write("\n")
os.replace(partial, path)
PY
}

# Prints the operators of FILE, one a line: email, password, role.
print_operators() {
  python3 - "$1" <<'PY'
import json, sys
for op in json.load(open(sys.argv[1])):
    print(f"  {op['email']:<24} {op['password']:<26} {op['role']}")
PY
}

# start_own_idp [PORT]: the local identity provider (infra/idp/idp.mjs, a real
# OpenID provider; see idp.sh) on PORT of 127.0.0.1, or a free one, stopped
# when the script exits (on failure too). Its operators come from
# IDP_OPERATORS_FILE, by default .local/operators.json, seeded on first use;
# the dashboard's redirect URIs from IDP_REDIRECT_URIS (idp.mjs's default
# otherwise). Exports what the functions need to accept its ID tokens
# (OIDC_*, see the README) and where it is (IDP_PORT, IDP_OPERATORS_FILE).
start_own_idp() {
  local port="${1:-$(free_port)}" pid
  export IDP_OPERATORS_FILE="${IDP_OPERATORS_FILE:-$root/.local/operators.json}"
  seed_operators "$IDP_OPERATORS_FILE"
  pid=$(bash "$root/infra/scripts/idp.sh" "$port")
  started_pids+=("$pid")
  trap stop_started EXIT
  export IDP_PORT="$port"
  export OIDC_ISSUER="http://127.0.0.1:$port"
  export OIDC_AUDIENCE=dashboard
  export OIDC_CLIENT_ID=dashboard
  export OIDC_ROLE_CLAIM=groups
  echo "== identity provider (oidc-provider) on $OIDC_ISSUER (pid $pid)"
}
