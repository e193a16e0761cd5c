#!/usr/bin/env bash
# Starts the SQS emulator (moto_server, from the moto[server] PyPI package
# that tools.sh installs into .tools/moto) in the background, in memory,
# bound to 127.0.0.1 only, and waits until it answers.
#   sqs.sh PORT
# Prints the PID of the emulator; the caller stops it.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
port="$1"
server="$root/.tools/moto/bin/moto_server"
if [ ! -x "$server" ]; then
  echo "error: the SQS emulator is not installed; run infra/scripts/tools.sh" >&2
  exit 1
fi
# One line per request otherwise; SQS_LOG names a file to keep them in.
log="${SQS_LOG:-/dev/null}"
"$server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
pid=$!
# It answers within a second or two; its management API tells it is up.
for _ in $(seq 1 300); do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "error: the SQS emulator exited during start-up (port $port in use?)" >&2
    exit 1
  fi
  if python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
    "http://127.0.0.1:$port/moto-api/" 2>/dev/null; then
    echo "$pid"
    exit 0
  fi
  sleep 0.1
done
kill "$pid" 2>/dev/null || true
echo "error: the SQS emulator did not answer on port $port within 30 s" >&2
exit 1
