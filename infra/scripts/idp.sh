#!/usr/bin/env bash
# Starts the local identity provider (infra/idp/idp.mjs: oidc-provider, whose
# modules tools.sh installs into .tools/idp) in the background on 127.0.0.1
# and waits until its discovery document answers.
#   idp.sh PORT
# It reads IDP_OPERATORS_FILE, IDP_REDIRECT_URIS, IDP_TTL_ID_TOKEN, IDP_ALG
# and IDP_ADMIN from the environment (see the top of idp.mjs): the operators'
# passwords stay in their file, never on a command line.
# Prints the PID of the provider; the caller stops it.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
port="$1"
if [ ! -f "$root/.tools/idp/node_modules/oidc-provider/package.json" ]; then
  echo "error: the local identity provider is not installed; run infra/scripts/tools.sh" >&2
  exit 1
fi
[ -n "${IDP_OPERATORS_FILE:-}" ] || { echo "error: IDP_OPERATORS_FILE names no operators file" >&2; exit 1; }
# Its few lines (listening, rotations, errors) go to our stderr unless IDP_LOG
# names a file: never to stdout, which carries the PID to the caller.
if [ -n "${IDP_LOG:-}" ]; then
  IDP_PORT="$port" node "$root/infra/idp/idp.mjs" >>"$IDP_LOG" 2>&1 &
else
  IDP_PORT="$port" node "$root/infra/idp/idp.mjs" >&2 &
fi
pid=$!
issuer="http://127.0.0.1:$port"
for _ in $(seq 1 300); do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "error: the identity provider exited during start-up (port $port in use?)" >&2
    exit 1
  fi
  if python3 -c 'import json, sys, urllib.request
doc = json.load(urllib.request.urlopen(sys.argv[1] + "/.well-known/openid-configuration", timeout=1))
sys.exit(doc.get("issuer") != sys.argv[1])' "$issuer" 2>/dev/null; then
    echo "$pid"
    exit 0
  fi
  sleep 0.1
done
kill "$pid" 2>/dev/null || true
echo "error: the identity provider did not answer on port $port within 30 s" >&2
exit 1
